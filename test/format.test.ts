// The human forms of numbers in messages and summaries.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatCountOf } from '../src/format.js';

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

describe('formatCountOf', () => {
  it('one of a thing, many of others (the summary said "1 hard links")', () => {
    expect(formatCountOf(1, 'hard link')).toBe('1 hard link');
    expect(formatCountOf(0, 'hard link')).toBe('0 hard links');
    expect(formatCountOf(1n, 'inode')).toBe('1 inode');
    expect(formatCountOf(12345, 'directory', 'directories')).toBe('12,345 directories');
  });
});
