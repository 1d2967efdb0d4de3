// A rescan's page of old rows (see store/old-rows.ts): its rows are read from the page's own copy
// of SQLite's BLOB, so that the BLOB is garbage as soon as it is loaded, and a smaller page
// loaded after a larger one shows only its own rows.
import { describe, expect, it } from 'vitest';
import { OldPage } from '../../src/store/old-rows.js';
import { inodePrefix, scanSig, type Entry } from '../../src/store/entry.js';

function entry(path: string, ino: bigint, target: Buffer | null = null): Entry {
  return {
    path: Buffer.from(path, 'latin1'), type: target ? 3 : 1, dev: 2049n, ino, nlink: 1, size: 5n, mode: 0o644, uid: 0, gid: 0,
    mtimeNs: 1_700_000_000_000_000_001n, atimeNs: 0n, birthNs: 0n, target, rdev: 0n,
  };
}

/** The rows as oldPageSql() gives them: "id pathLength targetLength sig|path target" each. */
function blob(rows: [number, Entry][], inodeOnly = false): Buffer {
  return Buffer.concat(rows.map(([id, e]) =>
    Buffer.concat([
      Buffer.from(`${id} ${e.path.length} ${e.target ? e.target.length : -1} ${inodeOnly ? inodePrefix(e) : scanSig(e)}|`, 'latin1'), e.path, e.target ?? Buffer.alloc(0),
    ])));
}

const sigOf = (e: Entry) => Buffer.from(scanSig(e), 'latin1');

describe('a page of old rows', () => {
  it('keeps its rows when SQLite\'s buffer is reused, and a smaller page after a larger one has only its own', () => {
    const a = entry('hourly.0/a', 11n);
    const b = entry('hourly.0/b\xff', 12n, Buffer.from([0x2e, 0xfe]));
    const c = entry('hourly.0/c', 13n);
    const page = new OldPage(4);
    const first = blob([[256, a], [512, b], [768, c]]);
    page.load(first);
    first.fill(0x20); // SQLite's buffer, gone or reused: the page must not read it any more
    expect(page.count).toBe(3);
    expect([page.id(0), page.id(1), page.id(2)]).toEqual([256, 512, 768]);
    expect(page.comparePath(1, b.path)).toBe(0);
    expect(page.same(1, sigOf(b), b.target)).toBe(true);
    expect(page.same(1, sigOf(b), Buffer.from('x'))).toBe(false);
    expect(page.same(2, sigOf(a), null)).toBe(false); // another inode

    const d = entry('hourly.1/d', 14n);
    page.load(blob([[1024, d]])); // shorter: the rest of the copy holds the last page's bytes
    expect(page.count).toBe(1);
    expect(page.id(0)).toBe(1024);
    expect(page.comparePath(0, d.path)).toBe(0);
    expect(page.same(0, sigOf(d), null)).toBe(true);
    expect(page.columns(0)).toEqual([1n, 2049n, 14n, 5n, 0o644n, 0n, 0n, 1_700_000_000_000_000_001n, 0n, 0n]);

    page.load(Buffer.alloc(0)); // past the last row
    expect(page.count).toBe(0);
  });

  it('a row read with its inode only answers for its inode, and refuses to say whether it is the same', () => {
    const a = entry('hourly.0/a', 11n);
    const link = entry('hourly.0/l', 12n, Buffer.from('a'));
    const page = new OldPage(4);
    page.load(Buffer.concat([blob([[256, a], [512, link]], true), blob([[768, entry('hourly.0/z', 13n)]])]));
    expect(page.count).toBe(3);
    expect(page.comparePath(1, link.path)).toBe(0); // the path and target still parse after the shorter text
    expect([page.complete(0), page.complete(1), page.complete(2)]).toEqual([false, false, true]);
    expect(page.sameInode(0, Buffer.from(inodePrefix(a), 'latin1'))).toBe(true);
    expect(page.sameInode(0, Buffer.from(inodePrefix({ ...a, ino: 1n }), 'latin1'))).toBe(false);
    expect(page.sameInode(0, Buffer.from(inodePrefix({ ...a, ino: 111n }), 'latin1'))).toBe(false);
    expect(page.columns(0)).toEqual([1n, 2049n, 11n]);
    expect(() => page.same(0, sigOf(a), null)).toThrow(/inode only/);
    expect(page.same(2, sigOf(entry('hourly.0/z', 13n)), null)).toBe(true);
  });
});
