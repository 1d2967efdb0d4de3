// The --max-delete arithmetic on its own: the share is of the mirror (what goes plus what the
// source still has), a count is a count, and an empty source passes any share below 100%.
import { describe, expect, it } from 'vitest';
import { deleteRefusal, overDeleteLimit, parseDeleteLimit } from '../../src/copy/delete-limit.js';

describe('overDeleteLimit', () => {
  it('a share: exactly that share passes, one path more does not', () => {
    // 10 paths go, the source has 10: half of the mirror.
    expect(overDeleteLimit(10, 10, { share: 0.5 })).toBe(false);
    expect(overDeleteLimit(11, 10, { share: 0.5 })).toBe(true);
    expect(overDeleteLimit(0, 1, { share: 0 })).toBe(false);
  });

  it('an empty source (its top folder only) passes any share below 100%, however small the mirror', () => {
    expect(overDeleteLimit(1, 1, { share: 0.5 })).toBe(true);
    expect(overDeleteLimit(1, 1, { share: 0.99 })).toBe(true);
    expect(overDeleteLimit(1, 1, { share: 1 })).toBe(false);
    expect(deleteRefusal(1, 1, { share: 0.5 }, '/mnt/src')?.message).toMatch(/^--delete would empty the mirror \(1 path\): the source \/mnt\/src is empty; is its drive mounted\?/);
  });

  it('a dry run\'s refusal does not tell the user to make a dry run', () => {
    const real = deleteRefusal(8, 2, { share: 0.5 }, '/mnt/src')!.message;
    expect(real).toMatch(/mounted \(--dry-run shows the plan\); to remove them anyway/);
    expect(deleteRefusal(8, 2, { share: 0.5 }, '/mnt/src', true)!.message).toBe(real.replace(' (--dry-run shows the plan)', ''));
  });

  it('a count is a number of paths, whatever the source has', () => {
    expect(overDeleteLimit(12, 1, { count: 12 })).toBe(false);
    expect(overDeleteLimit(13, 1_000_000, { count: 12 })).toBe(true);
  });

  it('parses paths and shares, and nothing else', () => {
    expect(parseDeleteLimit('500')).toEqual({ count: 500 });
    expect(parseDeleteLimit(' 10% ')).toEqual({ share: 0.1 });
    expect(parseDeleteLimit('100%')).toEqual({ share: 1 });
    for (const bad of ['', 'lots', '150%', '-1', '1e3', '5 paths']) expect(parseDeleteLimit(bad), bad).toBeUndefined();
  });
});
