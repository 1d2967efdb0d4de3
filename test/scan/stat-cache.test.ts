// A stat thread's cache of lstats by inode number (src/scan/stat-cache.ts): exact 64-bit values
// back, fixed memory, and the entry used longest ago in a set is the one that goes.
import { describe, expect, it } from 'vitest';
import { StatCache } from '../../src/scan/stat-cache.js';
import type { StatFields } from '../../src/scan/walk.js';

function facts(ino: bigint, more: Partial<StatFields> = {}): StatFields {
  return {
    dev: 2n ** 64n - 3n, ino, mode: 0o100644n, nlink: 2n, uid: 2n ** 32n - 2n, gid: 7n, rdev: 2n ** 63n + 1n, size: 2n ** 62n + 5n,
    atimeNs: 1_700_000_001_000_000_000n, mtimeNs: -1_234_567_891n, birthtimeNs: 0n, ...more,
  };
}

describe('the stat cache', () => {
  it('gives back what was put, 64-bit values exact, and nothing for an inode never put', () => {
    const cache = new StatCache(64);
    for (const ino of [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 5n]) cache.put(facts(ino, { nlink: ino % 1000n }));
    for (const ino of [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 5n]) expect(cache.get(ino)).toEqual(facts(ino, { nlink: ino % 1000n }));
    expect(cache.get(2n ** 53n)).toBeUndefined();
    expect(cache.get(0n)).toBeUndefined(); // empty slots hold 0 as ino: not a hit
    // Put again: the entry is replaced, not doubled.
    cache.put(facts(5n, { size: 9n }));
    expect(cache.get(5n)?.size).toBe(9n);
  });

  it('keeps at most its slots, and evicts the entry of a set used longest ago', () => {
    // One set of four: the fifth inode put replaces the one not used for longest.
    const cache = new StatCache(4);
    for (const ino of [1n, 2n, 3n, 4n]) cache.put(facts(ino));
    expect(cache.get(1n)).toBeDefined(); // 1 used again: 2 is now the oldest
    cache.put(facts(5n));
    expect([1n, 2n, 3n, 4n, 5n].map((ino) => cache.get(ino) !== undefined)).toEqual([true, false, true, true, true]);

    // Many more inodes than slots: never more than the slots are found again.
    const big = new StatCache(256);
    for (let i = 1n; i <= 10_000n; i++) big.put(facts(i * 7919n));
    let found = 0;
    for (let i = 1n; i <= 10_000n; i++) if (big.get(i * 7919n)) found++;
    expect(found).toBeLessThanOrEqual(256);
    expect(found).toBeGreaterThan(0);
  });
});
