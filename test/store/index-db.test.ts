// The index keeps dev and ino as 64-bit values end to end: inode numbers above 2^53 (and above
// 2^63, which SQLite stores as negative) must come back exactly, as bigint, and two inodes that
// would collide as JS numbers must stay two groups.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLinkmirrorError, LinkmirrorError } from '../../src/errors.js';
import { createPrng } from '../../fixtures/prng.js';
import { EntryType, type Entry } from '../../src/store/entry.js';
import { Index, mirrorRowFor, type MirrorRow } from '../../src/store/index-db.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

function entry(p: string | Buffer, type: EntryType, dev: bigint, ino: bigint, more: Partial<Entry> = {}): Entry {
  return {
    path: typeof p === 'string' ? Buffer.from(p) : p,
    type,
    dev,
    ino,
    nlink: 1,
    size: 0n,
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtimeNs: 1_700_000_000_123_456_789n,
    atimeNs: 1_700_000_001_000_000_000n,
    birthNs: 0n,
    target: null,
    rdev: 0n,
    ...more,
  };
}

function withIndexAt(file: string, fn: (index: Index) => void): void {
  const index = Index.open(file);
  try {
    fn(index);
  } finally {
    index.close();
  }
}

/** Give the src rows named, in order, the ids right after the row of `anchor`: no id left between them. */
function packAfter(file: string, anchor: string, names: readonly string[]): void {
  const db = new Database(file);
  try {
    const id = Number(db.prepare('SELECT id FROM src WHERE path = CAST(? AS BLOB)').pluck().get(anchor));
    names.forEach((name, i) => db.prepare('UPDATE src SET id = ? WHERE path = CAST(? AS BLOB)').run(id + 1 + i, name));
  } finally {
    db.close();
  }
}

function withIndex(fn: (index: Index) => void): void {
  withIndexAt(path.join(temp(), '.linkmirror', 'index.db'), fn);
}

const all = <T>(gen: Generator<T[]>): T[] => [...gen].flat();

const BIG = [2n ** 63n + 5n, 2n ** 64n - 1n, 2n ** 64n - 2n, 2n ** 53n + 1n, 2n ** 53n];

describe('Index', () => {
  it('keeps 64-bit inode and device numbers exact through insertSrc and srcByInode', () => {
    withIndex((index) => {
      const dev = 2n ** 64n - 3n;
      index.insertSrc([
        entry('', EntryType.dir, dev, 2n),
        // Two paths per inode; each pair of neighbours collides as a JS number.
        ...BIG.flatMap((ino, i) => [
          entry(`f${i}a`, EntryType.file, dev, ino, { nlink: 2, size: BigInt(i + 1) }),
          entry(`f${i}b`, EntryType.file, dev, ino, { nlink: 2, size: BigInt(i + 1) }),
        ]),
        entry('small', EntryType.file, 7n, 12n),
      ]);
      index.finishScan();

      // A page size of 1 makes every row go through the keyset continuation.
      const rows = all(index.srcByInode(1));
      expect(rows.map((r) => [r.path.toString(), r.dev, r.ino])).toEqual(
        expect.arrayContaining([
          ['small', 7n, 12n],
          ...BIG.flatMap((ino, i) => [
            [`f${i}a`, dev, ino],
            [`f${i}b`, dev, ino],
          ]),
        ]),
      );
      expect(rows).toHaveLength(BIG.length * 2 + 1);
      for (const r of rows) {
        expect(typeof r.ino).toBe('bigint');
        expect(typeof r.dev).toBe('bigint');
      }
      // The paths of one inode come together.
      const order = rows.map((r) => `${r.dev}:${r.ino}`);
      const seen = new Set<string>();
      for (let i = 0; i < order.length; i++) {
        if (i > 0 && order[i] !== order[i - 1]) expect(seen.has(order[i])).toBe(false);
        seen.add(order[i]);
      }

      const t = index.scanTotals();
      expect(t.inodes).toBe(BIG.length + 1);
      expect(t.linkGroups).toBe(BIG.length);
      expect(t.largestGroup).toBe(2);
      expect(t.physicalBytes).toBe(BigInt(BIG.length * (BIG.length + 1)) / 2n + 0n);
      expect(t.logicalBytes).toBe(BigInt(BIG.length * (BIG.length + 1)));
    });
  });

  it('reads back every field of an entry by path, byte-exact', () => {
    withIndex((index) => {
      const name = Buffer.from([0x66, 0xff, 0x0a, 0x2e]);
      const target = Buffer.from([0x2e, 0x2e, 0x2f, 0xfe]);
      const e = entry(name, EntryType.symlink, 2n ** 63n, 2n ** 64n - 1n, { target, size: 4n, rdev: 2n ** 64n - 7n, birthNs: 5n });
      index.insertSrc([entry('', EntryType.dir, 1n, 2n), e]);
      index.finishScan();
      const back = index.srcByPath(name)!;
      expect({ ...back, id: undefined }).toEqual({ ...e, id: undefined });
      expect(all(index.srcAll()).map((r) => r.path)).toEqual([Buffer.alloc(0), name]);
    });
  });

  it('round-trips mirror rows, with 64-bit inode numbers, and updates a path in place', () => {
    withIndex((index) => {
      const row = (p: string, srcIno: bigint, dstIno: bigint, written: boolean): MirrorRow => ({
        path: Buffer.from(p),
        type: EntryType.file,
        srcDev: 2n ** 64n - 1n,
        srcIno,
        birthNs: 0n,
        size: 3n,
        mtimeNs: 1_700_000_000_000_001_000n,
        mode: 0o4755,
        uid: 2 ** 32 - 2,
        gid: 7,
        dstIno,
        written,
      });
      const a = row('a', 2n ** 63n + 5n, 2n ** 64n - 1n, true);
      const b = row('b', 2n ** 63n + 5n, 2n ** 64n - 1n, false);
      const c = row('c', 2n ** 63n + 6n, 9n, true);
      index.putMirror([a, b, c]);
      expect(index.mirrorByPath(Buffer.from('a'))).toEqual(a);
      expect(index.mirrorByPath(Buffer.from('b'))).toEqual(b);
      expect(index.mirrorCount()).toBe(3);
      // One row per destination inode that holds the source inode (a and b share one).
      expect(index.mirrorInodesOf(2n ** 64n - 1n, 2n ** 63n + 5n)).toEqual([a]);
      expect(index.mirrorInodesOf(2n ** 64n - 1n, 2n ** 63n + 6n)).toEqual([c]);

      const b2 = { ...b, dstIno: 2n ** 63n, written: true };
      index.putMirror([b2]);
      expect(index.mirrorByPath(Buffer.from('b'))).toEqual(b2);
      expect(index.mirrorCount()).toBe(3);
      // Split onto a second destination inode: both parts are listed.
      const parts = index.mirrorInodesOf(2n ** 64n - 1n, 2n ** 63n + 5n).map((r) => [r.path.toString(), r.dstIno]);
      expect(parts.sort()).toEqual([['a', 2n ** 64n - 1n], ['b', 2n ** 63n]]);
      expect(index.mirrorByPath(Buffer.from('missing'))).toBeUndefined();
    });
  });

  it('reads the lean by-inode pages in the same order, each inode\'s first path as its whole row, and a full row by id', () => {
    withIndex((index) => {
      const dev = 2n ** 64n - 3n;
      const odd = { size: 2n ** 62n + 1n, mode: 0o7777, uid: 2 ** 32 - 2, gid: 2 ** 32 - 3, mtimeNs: -1_234_567_891n, atimeNs: 2n ** 62n, birthNs: 5n, rdev: 2n ** 64n - 7n };
      index.insertSrc([
        entry('', EntryType.dir, dev, 2n),
        ...BIG.flatMap((ino, i) => [entry(`f${i}a`, EntryType.file, dev, ino, { size: 9n, ...(i === 0 ? odd : {}) }), entry(`f${i}b`, EntryType.symlink, dev, ino)]),
        // Names with the bytes the page format uses (digits, ' ', '-'), a newline, not UTF-8; one inode on another device.
        entry(Buffer.from([0x2d, 0x31, 0x20, 0xff, 0x0a]), EntryType.file, 7n, 2n ** 64n - 1n),
        entry(Buffer.from('12 34 -5 '), EntryType.file, 7n, 2n ** 64n - 1n),
        entry(Buffer.from([0x20]), EntryType.file, 7n, 2n ** 64n - 1n),
        // Symlinks first of their inodes: a target with those bytes, and an empty one.
        entry('s1', EntryType.symlink, 7n, 3n, { target: Buffer.from([0x31, 0x20, 0x2d, 0xfe, 0x0a, 0x20]) }),
        entry('s2', EntryType.symlink, 7n, 4n, { target: Buffer.alloc(0) }),
        entry('c', EntryType.char, 7n, 5n, { rdev: 2n ** 63n + 3n }),
      ]);
      index.finishScan();
      const full = all(index.srcByInode(1));
      expect(full.length).toBe(2 * BIG.length + 6);
      const firsts = full.filter((e, i) => i === 0 || e.dev !== full[i - 1].dev || e.ino !== full[i - 1].ino);
      expect(firsts.length).toBe(BIG.length + 4);
      for (const size of [1, 2, 3, 4096]) {
        const lean = all(index.srcByInodeLean(size));
        // Whole rows for the first paths even where a page starts inside a group.
        expect(lean).toEqual(full.map((e) => (firsts.includes(e) ? e : { id: e.id, path: e.path, type: e.type, dev: e.dev, ino: e.ino })));
      }
      expect(index.srcById(full[0].id)).toEqual(full[0]);
      expect(() => index.srcById(10_000)).toThrow(expect.objectContaining({ code: 'INDEX_BROKEN' }));
    });
  });

  it('folds placed rows into mirror with their src data, before a new scan replaces src', () => {
    const file = path.join(temp(), 'index.db');
    const index = Index.open(file);
    const dev = 2n ** 64n - 1n;
    index.insertSrc([
      entry('', EntryType.dir, dev, 2n),
      entry('a', EntryType.file, dev, 2n ** 63n + 5n, { size: 3n, mode: 0o4755, uid: 2 ** 32 - 2 }),
      entry('b', EntryType.file, dev, 2n ** 63n + 5n, { size: 3n, mode: 0o4755, uid: 2 ** 32 - 2 }),
    ]);
    index.finishScan();
    const [a, b] = all(index.srcByInode());
    index.putPlaced([{ srcId: a.id, dstIno: 2n ** 64n - 2n, written: true }, { srcId: b.id, dstIno: 2n ** 64n - 2n, written: false }]);
    expect(index.mirrorCount()).toBe(0); // appended, not folded yet
    index.close();

    // The next run opens the index and scans again: the rows of the old scan must reach mirror first.
    const again = Index.open(file);
    try {
      again.beginScan();
      expect(again.mirrorCount()).toBe(2);
      expect(again.mirrorByPath(Buffer.from('a'))).toEqual({
        path: Buffer.from('a'), type: EntryType.file, srcDev: dev, srcIno: 2n ** 63n + 5n, birthNs: 0n, size: 3n,
        mtimeNs: a.mtimeNs, mode: 0o4755, uid: 2 ** 32 - 2, gid: 0, dstIno: 2n ** 64n - 2n, written: true,
      });
      expect(again.mirrorByPath(Buffer.from('b'))?.written).toBe(false);
      // The by-source index was rebuilt after filling the empty mirror.
      expect(again.mirrorInodesOf(dev, 2n ** 63n + 5n).map((r) => r.dstIno)).toEqual([2n ** 64n - 2n]);
      expect(again.foldPlaced()).toBe(0);
    } finally {
      again.close();
    }
  });

  it('folds a path placed twice by one pass with its last row', () => {
    const index = Index.open(path.join(temp(), 'index.db'));
    try {
      index.insertSrc([entry('', EntryType.dir, 1n, 2n), entry('a', EntryType.file, 1n, 10n), entry('b', EntryType.file, 1n, 11n)]);
      index.finishScan();
      const [a, b] = all(index.srcByInode());
      // Many rows of one path between others, in two batches (one of several many-row inserts and
      // a rest, one short of one): the order they were put in decides.
      const rows = Array.from({ length: 800 }, (_, i) => ({ srcId: i % 2 === 0 ? a.id : b.id, dstIno: BigInt(100 + i), written: i % 3 === 0 }));
      index.putPlaced(rows.slice(0, 545));
      index.putPlaced(rows.slice(545));
      expect(index.foldPlaced()).toBe(800);
      expect(index.mirrorByPath(Buffer.from('a'))?.dstIno).toBe(898n);
      expect(index.mirrorByPath(Buffer.from('b'))).toMatchObject({ dstIno: 899n, written: false });
      expect(index.mirrorCount()).toBe(2);
      expect([0, 1, 2, 3].map((n) => index.mirrorCountUpTo(n))).toEqual([0, 1, 2, 2]);
    } finally {
      index.close();
    }
  });

  it('moves the records of a source device to a new number, unless that number has rows already (a mount inside the source)', () => {
    const dir = temp();
    const index = Index.open(path.join(dir, 'index.db'));
    try {
      index.insertSrc([entry('', EntryType.dir, 1n, 2n), entry('a', EntryType.file, 1n, 10n), entry('m', EntryType.dir, 7n, 2n), entry('m/b', EntryType.file, 7n, 10n)]);
      index.finishScan();
      const [a] = all(index.srcByInode());
      index.putPlaced([{ srcId: a.id, dstIno: 500n, written: true }]);
      index.foldPlaced();
      expect(index.remapSourceDevice(1n, 7n)).toBe(0); // 7 is the mount's: the keys would collide
      expect(index.srcRoot()?.dev).toBe(1n);
      expect(index.remapSourceDevice(1n, 2n ** 64n - 5n)).toBe(2);
      expect(index.srcRoot()?.dev).toBe(2n ** 64n - 5n);
      expect(index.mirrorByPath(Buffer.from('a'))).toMatchObject({ srcDev: 2n ** 64n - 5n, srcIno: 10n, dstIno: 500n });
      expect(index.mirrorInodesOf(2n ** 64n - 5n, 10n)).toHaveLength(1);
      expect(all(index.srcByInode()).map((e) => `${e.path} ${e.dev}`)).toContain('m/b 7');
    } finally {
      index.close();
    }
  });

  it("copies a mirror's rows for a dry run, its rows not folded yet included, a path's last row winning", () => {
    const dir = temp();
    const index = Index.open(path.join(dir, 'index.db'));
    index.insertSrc([entry('', EntryType.dir, 1n, 2n), entry('a', EntryType.file, 1n, 10n), entry('b', EntryType.file, 1n, 11n)]);
    index.finishScan();
    const [a, b] = all(index.srcByInode());
    index.putPlaced([{ srcId: b.id, dstIno: 7n, written: true }]);
    index.foldPlaced();
    // An interrupted run's rows, never folded: b placed again, a placed twice.
    index.putPlaced([{ srcId: a.id, dstIno: 20n, written: true }, { srcId: b.id, dstIno: 21n, written: false }, { srcId: a.id, dstIno: 22n, written: false }]);
    index.close();

    const plan = Index.open(path.join(dir, 'plan.db'));
    try {
      plan.copyMirrorFrom(path.join(dir, 'index.db'));
      expect(plan.mirrorCount()).toBe(2);
      expect(plan.mirrorByPath(Buffer.from('a'))).toMatchObject({ dstIno: 22n, written: false });
      expect(plan.mirrorByPath(Buffer.from('b'))).toMatchObject({ dstIno: 21n, written: false });
    } finally {
      plan.close();
    }
  });

  it('keeps the data across close and open', () => {
    const file = path.join(temp(), 'index.db');
    const index = Index.open(file);
    index.insertSrc([entry('', EntryType.dir, 1n, 2n), entry('x', EntryType.file, 1n, 2n ** 64n - 1n)]);
    index.finishScan();
    index.setMeta('src', '/some/where');
    index.close();
    const again = Index.open(file);
    try {
      expect(again.getMeta('src')).toBe('/some/where');
      expect(again.srcByPath(Buffer.from('x'))?.ino).toBe(2n ** 64n - 1n);
    } finally {
      again.close();
    }
  });

  it('refuses a file that is not SQLite with INDEX_BROKEN', () => {
    const file = path.join(temp(), 'index.db');
    fs.writeFileSync(file, 'this is not a database, just text that is long enough to fill a header page'.repeat(20));
    let caught: unknown;
    try {
      Index.open(file).close();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LinkmirrorError);
    expect(isLinkmirrorError(caught, 'INDEX_BROKEN')).toBe(true);
    expect((caught as LinkmirrorError).kind).toBe('fatal');
    expect((caught as LinkmirrorError).cause).toBeDefined();
  });

  it('refuses an index written by a newer schema with INDEX_BROKEN', () => {
    const file = path.join(temp(), 'index.db');
    Index.open(file).close();
    // Raise user_version directly, as a newer linkmirror would have.
    const bytes = fs.readFileSync(file);
    bytes.writeUInt32BE(99, 60);
    fs.writeFileSync(file, bytes);
    expect(() => Index.open(file).close()).toThrow(expect.objectContaining({ code: 'INDEX_BROKEN', message: expect.stringContaining('schema 99') }));
  });
});

describe('a scan written over the last one', () => {
  const tree = (mtimeOfB = 1n): Entry[] => [
    entry('', EntryType.dir, 1n, 1n),
    entry('a', EntryType.file, 1n, 10n, { size: 1n }),
    entry('b', EntryType.file, 1n, 11n, { mtimeNs: mtimeOfB }),
    entry('c', EntryType.file, 1n, 10n, { size: 1n }), // a link of a
    entry('d', EntryType.symlink, 1n, 12n, { target: Buffer.from('a') }),
  ];
  /** One scan, handed over two entries at a time (or `batch`) as the walk hands over batches. */
  const rescan = (index: Index, entries: Entry[], changeLimit?: number, batch = 2): number => {
    index.beginScan(changeLimit);
    for (let i = 0; i < entries.length; i += batch) index.writeScanned(entries.slice(i, i + batch));
    return index.endScan();
  };
  /**
   * Rows in id order without their ids, groups (each inode's paths, first path first) and
   * totals. Compared with a fresh scan's (rows in walk order), this says the ids follow the walk.
   */
  const state = (index: Index) => {
    const rows = all(index.srcAll());
    const noId = ({ id, ...rest }: { id: number }) => rest;
    return [rows.map(noId), all(index.srcByInode()).map(noId), index.scanTotals()];
  };
  /** What a scan of `entries` into a new index holds. */
  const fresh = (entries: Entry[]) => {
    let rows: unknown[] = [];
    withIndex((other) => {
      other.insertSrc(entries);
      other.finishScan();
      rows = state(other);
    });
    return rows;
  };
  const digest = (rows: unknown) =>
    createHash('sha256').update(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).digest('hex');
  const ids = (index: Index) => new Map(all(index.srcAll()).map((r) => [r.path.toString('latin1'), r.id]));

  it('writes no row when the entries are what the last scan recorded (nlink and atime are not compared)', () => {
    withIndex((index) => {
      expect(rescan(index, tree())).toBe(5);
      const before = state(index);
      expect(rescan(index, tree().map((e) => ({ ...e, nlink: 7, atimeNs: 5n })))).toBe(0);
      expect(state(index)).toEqual(before);
      expect(before).toEqual(fresh(tree()));
    });
  });

  it('compares names, targets and 64-bit fields byte for byte through the pages it reads back; any one change writes its row', () => {
    // Names and targets with the bytes the page format uses (' ', '|', digits, '-') or that are not UTF-8.
    const awkward = (over: Partial<Entry> = {}, targetOver?: Buffer): Entry[] => [
      entry('', EntryType.dir, 2n ** 64n - 1n, 2n),
      entry(Buffer.from([0x31, 0x32, 0x20, 0x7c, 0x2d, 0xff, 0x0a]), EntryType.file, 2n ** 64n - 1n, 2n ** 63n + 5n, {
        size: 2n ** 40n + 3n, uid: 2 ** 32 - 2, gid: 7, mtimeNs: -1_000_000_001n, birthNs: 2n ** 62n, mode: 0o4755, ...over,
      }),
      entry('c', EntryType.char, 2n ** 64n - 1n, 9n, { rdev: 2n ** 64n - 7n }),
      entry('l', EntryType.symlink, 5n, 2n ** 64n - 2n, { target: targetOver ?? Buffer.from([0x20, 0x7c, 0x31, 0xfe, 0x2f]) }),
      entry('l2', EntryType.symlink, 5n, 12n, { target: Buffer.from('-1 |') }),
    ];
    const changes: [Partial<Entry>, Buffer?][] = [
      [{ type: EntryType.fifo }], [{ dev: 2n ** 64n - 2n }], [{ ino: 2n ** 63n + 6n }], [{ size: 2n ** 40n + 4n }], [{ mode: 0o755 }],
      [{ uid: 2 ** 32 - 3 }], [{ gid: 8 }], [{ mtimeNs: -1_000_000_002n }], [{ birthNs: 2n ** 62n + 1n }],
      [{}, Buffer.from([0x20, 0x7c, 0x31, 0xfe])], [{}, Buffer.from([0x20, 0x7c, 0x31, 0xfe, 0x2f, 0x2f])],
    ];
    withIndex((index) => {
      expect(rescan(index, awkward())).toBe(5);
      expect(rescan(index, awkward())).toBe(0);
      for (const [over, target] of changes) {
        expect(rescan(index, awkward(over, target))).toBe(1);
        expect(state(index)).toEqual(fresh(awkward(over, target)));
        expect(rescan(index, awkward())).toBe(1);
      }
      expect(rescan(index, awkward().map((e) => (e.type === EntryType.char ? { ...e, rdev: 1n } : e)))).toBe(1);
      expect(state(index)).toEqual(fresh(awkward().map((e) => (e.type === EntryType.char ? { ...e, rdev: 1n } : e))));
    });
  });

  it('a source row that is not as linkmirror writes it (a path stored as text) stops a rescan and the by-inode pass with INDEX_BROKEN', () => {
    const file = path.join(temp(), 'index.db');
    const index = Index.open(file);
    try {
      rescan(index, tree());
    } finally {
      index.close();
    }
    // Another program's write: a path as TEXT with a two-byte character (length() counts it once).
    const db = new Database(file);
    db.prepare(`UPDATE src SET path = CAST(path AS TEXT) || 'é' WHERE path = CAST('a' AS BLOB)`).run();
    db.close();
    withIndexAt(file, (reopened) => {
      expect(() => rescan(reopened, tree())).toThrow(expect.objectContaining({ code: 'INDEX_BROKEN', message: expect.stringContaining('remove it to start over') }));
    });
    withIndexAt(file, (reopened) => {
      expect(() => all(reopened.srcByInodeLean())).toThrow(expect.objectContaining({ code: 'INDEX_BROKEN' }));
    });
  });

  it('updates a changed row in place and deletes the rows of paths gone; the other rows keep their ids', () => {
    withIndex((index) => {
      rescan(index, tree());
      const first = ids(index);
      expect(rescan(index, tree(2n))).toBe(1); // b only
      expect(state(index)).toEqual(fresh(tree(2n)));
      expect(ids(index)).toEqual(first);
      expect(rescan(index, tree(2n).slice(0, 3))).toBe(2); // c and d gone
      expect(state(index)).toEqual(fresh(tree(2n).slice(0, 3)));
      expect(rescan(index, tree(2n))).toBe(2);
      expect(state(index)).toEqual(fresh(tree(2n)));
    });
  });

  it('inserts new paths between old rows in walk order, where "a/x" comes before "a.x"', () => {
    const before = [
      entry('', EntryType.dir, 1n, 1n),
      entry('a', EntryType.dir, 1n, 2n),
      entry('a/z', EntryType.file, 1n, 10n),
      entry('a.x', EntryType.file, 1n, 10n),
      entry('b', EntryType.file, 1n, 11n),
    ];
    const after = [
      before[0], before[1],
      entry('a/m', EntryType.dir, 1n, 3n), // a new folder, and its files
      entry('a/m/1', EntryType.file, 1n, 11n), // a new link of b
      entry('a/m/2', EntryType.file, 1n, 13n),
      before[2], before[3],
      entry('a.y', EntryType.file, 1n, 14n),
      before[4],
      entry('c', EntryType.file, 1n, 10n), // appended: a new link of a/z
    ];
    withIndex((index) => {
      rescan(index, before);
      const first = ids(index);
      expect(rescan(index, after)).toBe(5);
      expect(state(index)).toEqual(fresh(after));
      for (const [p, id] of first) expect(ids(index).get(p)).toBe(id);
      // A directory replaced by a file at the same path: its row is updated, its children deleted.
      const flat = after.filter((e) => !e.path.toString().startsWith('a/m/')).map((e) => (e.path.toString() === 'a/m' ? entry('a/m', EntryType.file, 1n, 13n) : e));
      expect(rescan(index, flat)).toBe(3);
      expect(state(index)).toEqual(fresh(flat));
    });
  });

  it('diverges past its limit of changes, makes room when no id is left between two rows, and ends as a fresh scan', () => {
    const files = (n: number, ino = 100n) => Array.from({ length: n }, (_, i) => entry(`m/${String(i).padStart(6, '0')}`, EntryType.file, 1n, ino + BigInt(i % 50)));
    const before = [entry('', EntryType.dir, 1n, 1n), entry('a', EntryType.file, 1n, 10n), entry('m', EntryType.dir, 1n, 2n), entry('z', EntryType.file, 1n, 10n)];
    const after = (n: number) => [...before.slice(0, 3), ...files(n), before[3]];
    withIndex((index) => {
      rescan(index, before);
      expect(rescan(index, after(10), 5)).toBe(11); // past 5 changes: the rest, z included, inserted as fresh
      expect(state(index)).toEqual(fresh(after(10)));
    });
    withIndex((index) => {
      rescan(index, before);
      const z = ids(index).get('z')!;
      // 93,848 ids fit between two rows ID_GAP apart (walk-order.ts); then z, the row after
      // them, is moved up once (see Index.makeRoom), and the rest fit below it.
      index.markMirrorSynced(false);
      const written = rescan(index, after(100_000), 10 ** 9, 4096);
      expect(written).toBeGreaterThan(100_000); // z included
      expect(written).toBeLessThan(100_100); // z moved, and not the scan diverging
      expect(index.getMeta('mirror_synced')).toBe('modes');
      // 100k rows: compared by a digest (a structural comparison of them takes seconds).
      expect(digest(state(index))).toBe(digest(fresh(after(100_000))));
      expect(ids(index).get('z')).toBeGreaterThan(z);
    });
  });

  it('makes room for rows inserted before the last one inserted, rescan after rescan, without diverging', () => {
    // An rsnapshot rotation carries each added file through the same gaps of every hourly
    // snapshot. Here each rescan adds a path just before the one the last rescan added, between
    // the same two old rows. New ids take 1/16384 of the space left, so the third finds no id
    // left: rows after it get new ids (Index.makeRoom), where the scan used to diverge, rewriting
    // every row from there on. A divergence marks the mirror unsynced: that is what is checked.
    const base = [entry('', EntryType.dir, 1n, 1n), entry('a', EntryType.file, 1n, 10n), entry('z', EntryType.file, 1n, 11n)];
    withIndex((index) => {
      rescan(index, base);
      const added: Entry[] = [];
      const written: number[] = [];
      for (let k = 0; k < 40; k++) {
        added.unshift(entry(`m${String(1000 - k).padStart(4, '0')}`, EntryType.file, 1n, 100n + BigInt(k)));
        const entries = [...base.slice(0, 2), ...added, base[2]];
        index.markMirrorSynced(false);
        written.push(rescan(index, entries, undefined, 64));
        expect(index.getMeta('mirror_synced')).toBe('modes');
        expect(state(index)).toEqual(fresh(entries));
      }
      expect(written.slice(0, 2)).toEqual([1, 1]);
      expect(Math.max(...written)).toBeGreaterThan(1); // room was made
    });
  });

  it('adds rows one after another in the same gap, rescan after rescan, one row written each', () => {
    // Names that sort by date: each rescan adds one after the last one added.
    const base = [entry('', EntryType.dir, 1n, 1n), entry('a', EntryType.file, 1n, 10n), entry('z', EntryType.file, 1n, 11n)];
    withIndex((index) => {
      rescan(index, base);
      const added: Entry[] = [];
      for (let k = 0; k < 30; k++) {
        added.push(entry(`m${String(k).padStart(3, '0')}`, EntryType.file, 1n, 100n + BigInt(k)));
        const entries = [...base.slice(0, 2), ...added, base[2]];
        expect(rescan(index, entries, undefined, 64)).toBe(1);
        expect(state(index)).toEqual(fresh(entries));
      }
    });
  });

  it('diverges when no window of rows can make room, or when moving them passes the change limit', () => {
    // The ids of b00..b69 are set by hand to follow a's one by one: no id is left after a, and
    // the 64 rows a window may move leave none either (see Index.makeRoom).
    const base = [
      entry('', EntryType.dir, 1n, 1n),
      entry('a', EntryType.file, 1n, 10n),
      ...Array.from({ length: 70 }, (_, i) => entry(`b${String(i).padStart(2, '0')}`, EntryType.file, 1n, 20n + BigInt(i))),
      entry('z', EntryType.file, 1n, 12n),
    ];
    const entries = [...base.slice(0, 2), entry('am', EntryType.file, 1n, 13n), ...base.slice(2)];
    const file = path.join(temp(), '.linkmirror', 'index.db');
    withIndexAt(file, (index) => rescan(index, base));
    packAfter(file, 'a', base.slice(2, 72).map((e) => e.path.toString()));
    withIndexAt(file, (index) => {
      index.markMirrorSynced(false);
      expect(rescan(index, entries)).toBe(72); // am, and every row after it written again
      expect(index.getMeta('mirror_synced')).toBe('no');
      expect(state(index)).toEqual(fresh(entries));
    });
    // Room there is (z, far away, can move), but not within a limit of one change.
    const few = [...base.slice(0, 2), base[2], base.at(-1)!];
    const other = path.join(temp(), '.linkmirror', 'index.db');
    withIndexAt(other, (index) => rescan(index, few));
    packAfter(other, 'a', ['b00']);
    const fewMore = [...few.slice(0, 2), entry('am', EntryType.file, 1n, 13n), ...few.slice(2)];
    withIndexAt(other, (index) => {
      index.markMirrorSynced(false);
      expect(rescan(index, fewMore, 1)).toBe(3);
      expect(index.getMeta('mirror_synced')).toBe('no');
      expect(state(index)).toEqual(fresh(fewMore));
    });
  });

  it('makes room across a page of old rows: the rows moved past the page are read back with their new ids', () => {
    // Old rows are read 1024 at a time (RESCAN_PAGE): rows 1015..1034 packed one id apart after
    // row 1014, so the window that makes room begins in one page and ends in the next.
    const names = Array.from({ length: 1100 }, (_, i) => `r${String(i).padStart(4, '0')}`);
    const base = [entry('', EntryType.dir, 1n, 1n), ...names.map((n, i) => entry(n, EntryType.file, 1n, 100n + BigInt(i % 300)))];
    const file = path.join(temp(), '.linkmirror', 'index.db');
    withIndexAt(file, (index) => rescan(index, base, undefined, 256));
    packAfter(file, 'r1014', names.slice(1015, 1035));
    const entries = [...base.slice(0, 1016), entry('r1014x', EntryType.file, 1n, 999n), ...base.slice(1016)];
    expect(entries[1015].path.toString()).toBe('r1014');
    withIndexAt(file, (index) => {
      index.markMirrorSynced(false);
      const written = rescan(index, entries, undefined, 256);
      expect(index.getMeta('mirror_synced')).toBe('modes');
      expect(written).toBeGreaterThan(1);
      expect(written).toBeLessThanOrEqual(1 + 20);
      expect(state(index)).toEqual(fresh(entries));
      // The next rescan of the same entries finds every row as it is.
      expect(rescan(index, entries, undefined, 256)).toBe(0);
    });
  });

  it('random trees, each rescanned after random edits, end as a fresh scan of the edited tree (seeded)', () => {
    // A tree as nested maps; its walk order comes from a depth-first walk with names sorted
    // bytewise, as the real walk does (not from compareWalkOrder, which the merge relies on).
    type Node = { ino: bigint; kids?: Map<string, Node> };
    const prng = createPrng(2026);
    const names = ['a', 'a.x', 'a-b', 'ab', 'b', 'é', 'z'];
    let nextIno = 100n;
    const grow = (depth: number): Map<string, Node> => {
      const kids = new Map<string, Node>();
      for (const name of names) {
        if (prng.int(0, 2) === 0) continue;
        kids.set(name, depth < 2 && prng.int(0, 2) === 0 ? { ino: nextIno++, kids: grow(depth + 1) } : { ino: BigInt(prng.int(1, 40)) });
      }
      return kids;
    };
    const entriesOf = (root: Map<string, Node>): Entry[] => {
      const out: Entry[] = [entry('', EntryType.dir, 1n, 1n)];
      const walk = (kids: Map<string, Node>, prefix: string) => {
        const sorted = [...kids.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        for (const name of sorted) {
          const n = kids.get(name)!;
          const p = prefix + name;
          out.push(n.kids ? entry(p, EntryType.dir, 1n, n.ino) : entry(p, EntryType.file, 1n, n.ino, { size: n.ino }));
          if (n.kids) walk(n.kids, `${p}/`);
        }
      };
      walk(root, '');
      return out;
    };
    const edit = (kids: Map<string, Node>, depth: number) => {
      for (const name of names) {
        const n = kids.get(name);
        const roll = prng.int(0, 9);
        if (roll === 0) kids.delete(name);
        else if (roll === 1) kids.set(name, { ino: BigInt(prng.int(1, 40)) }); // new file (or a folder replaced by one)
        else if (roll === 2 && depth < 2) kids.set(name, { ino: nextIno++, kids: grow(depth + 1) }); // new folder
        else if (n?.kids) edit(n.kids, depth + 1);
      }
    };
    for (let tree = 0; tree < 20; tree++) {
      const root = grow(0);
      withIndex((index) => {
        rescan(index, entriesOf(root));
        for (let round = 0; round < 4; round++) {
          edit(root, 0);
          const now = entriesOf(root);
          rescan(index, now, prng.int(0, 1) === 0 ? 3 : undefined); // sometimes diverging
          expect(state(index), `tree ${tree}, round ${round}`).toEqual(fresh(now));
        }
      });
    }
  });

  it('a scan cut off after it changed rows (a kill) is completed by the next one, groups included', () => {
    const file = path.join(temp(), 'index.db');
    const index = Index.open(file);
    rescan(index, tree());
    index.beginScan();
    index.writeScanned(tree(2n).slice(0, 3)); // b updated; no endScan: the process died
    index.close();
    const again = Index.open(file);
    try {
      // b's row was committed; the scan still says the source differs from the last complete one.
      expect(rescan(again, tree(2n))).toBe(1);
      expect(state(again)).toEqual(fresh(tree(2n)));
      expect(rescan(again, tree())).toBe(1);
      expect(state(again)).toEqual(fresh(tree()));
    } finally {
      again.close();
    }
  });
});

describe('the work list of an incremental pass', () => {
  const tree = (inoOfB = 11n): Entry[] => [
    entry('', EntryType.dir, 1n, 1n),
    entry('a', EntryType.file, 1n, 10n),
    entry('b', EntryType.file, 1n, inoOfB),
    entry('c', EntryType.file, 1n, 12n),
  ];
  const scanOf = (index: Index, entries: Entry[]) => {
    index.beginScan();
    index.writeScanned(entries);
    return index.endScan();
  };
  /** The mirror as a pass leaves it: every path of `entries` at its own destination inode. */
  const mirrorAll = (index: Index, entries: Entry[]) =>
    index.putMirror(entries.filter((e) => e.type !== EntryType.dir).map((e, i) => mirrorRowFor(e, 100n + BigInt(i), true)));
  const todo = (index: Index, owner = false) => {
    index.markTodoGroups(owner);
    return all(index.srcByInodeTodo()).map((e) => e.path.toString()).sort();
  };

  it('after a complete pass, holds only the groups whose rows the scans changed since', () => {
    withIndex((index) => {
      scanOf(index, tree());
      mirrorAll(index, tree());
      // A row the mirror disagrees with (c), which no scan changed: not known to a synced pass.
      index.putMirror([mirrorRowFor(entry('c', EntryType.file, 1n, 99n), 102n, true)]);
      expect(index.mirrorSynced(false)).toBe(false);
      expect(todo(index)).toEqual(['c']);
      index.markMirrorSynced(false);
      expect(todo(index)).toEqual([]);
      scanOf(index, tree(13n)); // b is another inode now
      expect(todo(index)).toEqual(['b']);
      // A pass run as root compares owners, which a pass that did not left unchecked.
      expect(index.mirrorSynced(true)).toBe(false);
      expect(todo(index, true)).toEqual(['b', 'c']);
      // The changes stay listed until a pass completes: the next scan (nothing new) keeps them.
      expect(scanOf(index, tree(13n))).toBe(0);
      expect(todo(index)).toEqual(['b']);
      index.markMirrorSynced(true);
      expect(index.mirrorSynced(false)).toBe(true);
      expect(todo(index)).toEqual([]);
      // A group a pass put on its list (its sample path was wrong on disk) stays listed until a pass completes.
      index.addTodoGroups([{ dev: 1n, ino: 12n }]);
      expect(todo(index)).toEqual(['c']);
    });
  });

  it('a scan that rewrites src from scratch leaves the mirror not known in sync', () => {
    withIndex((index) => {
      scanOf(index, tree());
      mirrorAll(index, tree());
      index.markMirrorSynced(false);
      index.putMirror([mirrorRowFor(entry('c', EntryType.file, 1n, 99n), 102n, true)]);
      index.beginScan(0); // diverges at its first change
      index.writeScanned(tree(13n));
      index.endScan();
      expect(index.mirrorSynced(false)).toBe(false);
      expect(todo(index)).toEqual(['b', 'c']);
    });
  });
});
