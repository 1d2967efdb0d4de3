// The words of a difference: here, a device node whose numbers differ, as major:minor.
import { describe, expect, it } from 'vitest';
import { differenceFrom } from '../../src/verify/differences.js';

describe('differenceFrom', () => {
  it('names device numbers as major:minor, not as the raw dev_t', () => {
    // 259 and 261 are 1:3 (/dev/null) and 1:5 (/dev/zero).
    const d = differenceFrom({ category: 'type', path: Buffer.from('dev/null-like'), paths: 1, expected: 'device 259', actual: 'device 261', other: null });
    expect(d).toEqual({ category: 'type', path: 'dev/null-like', paths: 1, expected: 'device 1:3', actual: 'device 1:5' });
    // A type that changed keeps its name.
    expect(differenceFrom({ category: 'type', path: Buffer.from('x'), paths: 1, expected: 'char', actual: 'file', other: null })).toMatchObject({ expected: 'char', actual: 'file' });
  });
});
