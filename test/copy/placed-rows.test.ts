// The content pass's rows waiting for a flush, in typed arrays (see copy/placed-rows.ts): what
// goes in comes out, in order, past the arrays' first growth, with 64-bit inode numbers whole.
import { describe, expect, it } from 'vitest';
import { PlacedRows } from '../../src/copy/placed-rows.js';
import type { PlacedRow } from '../../src/store/index-db.js';

describe('placed rows', () => {
  it('give back every row pushed, in order, past their first growth, with 64-bit inodes whole', () => {
    const rows = new PlacedRows();
    const pushed: PlacedRow[] = [];
    for (let i = 0; i < 2500; i++) {
      // ids as the index gives them (up to 2^53), inodes near the top of the 64-bit range
      const row = { srcId: 2 ** 52 + i * 4096, dstIno: 2n ** 64n - 1n - BigInt(i % 7), written: i % 3 === 0 };
      rows.push(row.srcId, row.dstIno, row.written);
      pushed.push(row);
    }
    expect(rows.length).toBe(2500);
    expect([...rows]).toEqual(pushed);
    expect([...new PlacedRows()]).toEqual([]);
  });
});
