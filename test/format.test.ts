// The human forms of numbers in messages and summaries.
import { describe, expect, it } from 'vitest';
import { formatBytes } from '../src/format.js';

describe('formatBytes', () => {
  it('whole bytes below a KiB, a rate included (verify printed "666.6666666666666 B/s")', () => {
    expect(formatBytes(0n)).toBe('0 B');
    expect(formatBytes(1023n)).toBe('1023 B');
    expect(formatBytes(2 / 0.003)).toBe('667 B');
  });

  it('binary units above', () => {
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(545n * 1024n * 1024n)).toBe('545.0 MiB');
  });
});
