// scan on real trees built from data: the totals it derives (paths, inodes, link groups,
// logical vs physical bytes), names that are bytes rather than text, the mirror's own state
// folder left out, and per-path read errors reported while the scan goes on.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLinkmirrorError } from '../../src/errors.js';
import { realFsOps } from '../../src/fs/ops.js';
import { scan } from '../../src/scan/scan.js';
import { EntryType, type StoredEntry } from '../../src/store/entry.js';
import { Index } from '../../src/store/index-db.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { buildTree, dir, fifo, file, link, readTree, symlink, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const open: Index[] = [];
afterEach(() => {
  for (const index of open.splice(0)) index.close();
});

/** A source tree under a temp dir, and an index kept outside it. */
function setup(spec: Parameters<typeof buildTree>[1]): { src: string; index: Index } {
  const base = temp();
  const src = path.join(base, 'src');
  buildTree(src, spec);
  const index = Index.open(path.join(base, 'state', 'index.db'));
  open.push(index);
  return { src, index };
}

const entries = (index: Index): StoredEntry[] => [...index.srcAll()].flat();
const paths = (index: Index): string[] => entries(index).map((e) => e.path.toString('latin1'));

describe('scan', async () => {
  it('counts paths, inodes, link groups and logical vs physical bytes', async () => {
    const { src, index } = setup({
      'a/b.txt': file('hello', { mode: 0o640 }),
      'a/c.txt': link('a/b.txt'),
      'd/e.txt': link('a/b.txt'),
      'd/f.bin': file(Buffer.alloc(1000, 7)),
      'd/g.bin': link('d/f.bin'),
      empty: file(''),
      h: symlink('a/b.txt'),
      'empty-dir': dir(),
      p: fifo(),
    });
    const { totals, problemCount } = await scan(src, index);
    expect(problemCount).toBe(0);
    expect(totals).toEqual({
      paths: 12, // ., a, d, empty-dir, b, c, e, f, g, empty, h, p
      dirs: 4,
      files: 6,
      symlinks: 1,
      specials: 1,
      inodes: 5, // hello, 1000×7, empty, the symlink, the fifo
      linkGroups: 2,
      largestGroup: 3,
      logicalBytes: 3n * 5n + 2n * 1000n,
      physicalBytes: 5n + 1000n,
    });
  });

  it('records each entry as lstat sees it: bigint dev and ino, nlink, mode, mtime, symlink target', async () => {
    const mtime = 1_600_000_000_123_456_000n;
    const { src, index } = setup({
      'x/y': file('abc', { mode: 0o600, mtime }),
      'x/z': link('x/y'),
      s: symlink('../outside'),
    });
    await scan(src, index);
    const disk = readTree(src);
    const y = index.srcByPath(Buffer.from('x/y'))!;
    expect(y.type).toBe(EntryType.file);
    expect(y.ino).toBe(disk.get('x/y')!.ino);
    expect(y.dev).toBe(disk.get('x/y')!.dev);
    expect(index.srcByPath(Buffer.from('x/z'))!.ino).toBe(y.ino);
    expect(y.nlink).toBe(2);
    expect(y.mode).toBe(0o600);
    expect(y.mtimeNs).toBe(mtime);
    expect(y.size).toBe(3n);
    const s = index.srcByPath(Buffer.from('s'))!;
    expect(s.type).toBe(EntryType.symlink);
    expect(s.target).toEqual(Buffer.from('../outside'));
    // Directories come before their contents, and the root is the empty path.
    expect(paths(index)).toEqual(['', 's', 'x', 'x/y', 'x/z']);
  });

  it('keeps a non-UTF-8 name and a name with a newline byte-exact', async () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1: not UTF-8
    const badDir = Buffer.from([0x64, 0xff, 0xfe]);
    const newline = Buffer.from('two\nlines');
    const target = Buffer.from([0x2e, 0x2f, 0x80]);
    const { src, index } = setup([
      [latin1, file('l')],
      [Buffer.concat([badDir, Buffer.from('/'), newline]), file('n')],
      [Buffer.concat([badDir, Buffer.from('/hard')]), link(Buffer.concat([badDir, Buffer.from('/'), newline]))],
      ['sym', symlink(target)],
    ]);
    const { totals, problemCount } = await scan(src, index);
    expect(problemCount).toBe(0);
    expect(totals.linkGroups).toBe(1);
    const stored = entries(index).map((e) => e.path);
    for (const p of [latin1, badDir, Buffer.concat([badDir, Buffer.from('/'), newline])]) {
      expect(stored.some((s) => s.equals(p))).toBe(true);
      expect(index.srcByPath(p)?.path.equals(p)).toBe(true);
    }
    expect(index.srcByPath(Buffer.from('sym'))!.target!.equals(target)).toBe(true);
    // The text form of the non-UTF-8 name must not be what was stored.
    expect(index.srcByPath(Buffer.from(latin1.toString('utf8')))).toBeUndefined();
  });

  it('leaves out a top-level .linkmirror, but not one deeper down', async () => {
    const { src, index } = setup({
      '.linkmirror/index.db': file('state'),
      '.linkmirror/sub/x': file('more'),
      'a/.linkmirror/kept': file('data'),
      '.linkmirrorx': file('kept too'),
    });
    const { totals } = await scan(src, index);
    expect(paths(index)).toEqual(['', '.linkmirrorx', 'a', 'a/.linkmirror', 'a/.linkmirror/kept']);
    expect(totals.paths).toBe(5);
  });

  it('reports an unreadable directory as a problem and goes on', async () => {
    const { src, index } = setup({
      'a/one': file('1'),
      'locked/secret': file('s'),
      'locked/deeper/more': file('m'),
      'z/last': file('z'),
    });
    // chmod 000 does not stop root: make readdir of that one directory fail instead.
    const ops = faultyOps(realFsOps, { op: 'readdir', path: path.join(src, 'locked'), code: 'EACCES' });
    const result = await scan(src, index, { ops });
    expect(result.problemCount).toBe(1);
    expect(result.problems).toEqual([expect.objectContaining({ path: 'locked', code: 'EACCES' })]);
    expect(ops.failures.readdir).toBe(1);
    // The directory itself is recorded; what is below it could not be seen; siblings after it are.
    expect(paths(index)).toEqual(['', 'a', 'a/one', 'locked', 'z', 'z/last']);
    expect(result.totals.files).toBe(2);
  });

  it('reports an entry that vanished between readdir and lstat, and goes on', async () => {
    const { src, index } = setup({ a: file('1'), b: file('2'), c: file('3') });
    const ops = faultyOps(realFsOps, { op: 'lstat', path: path.join(src, 'b'), code: 'ENOENT' });
    const result = await scan(src, index, { ops });
    expect(result.problems).toEqual([expect.objectContaining({ path: 'b', code: 'ENOENT' })]);
    expect(paths(index)).toEqual(['', 'a', 'c']);
  });

  it('fails with SRC_MISSING for a source that does not exist', async () => {
    const base = temp();
    const index = Index.open(path.join(base, 'index.db'));
    open.push(index);
    await expect(scan(path.join(base, 'nowhere'), index)).rejects.toThrow(expect.objectContaining({ code: 'SRC_MISSING' }));
  });

  it('fails with SRC_NOT_DIR for a source that is a file', async () => {
    const base = temp();
    fs.writeFileSync(path.join(base, 'file'), 'x');
    const index = Index.open(path.join(base, 'index.db'));
    open.push(index);
    let caught: unknown;
    try {
      await scan(path.join(base, 'file'), index);
    } catch (err) {
      caught = err;
    }
    expect(isLinkmirrorError(caught, 'SRC_NOT_DIR')).toBe(true);
  });

  it('forgets the previous scan when it scans again', async () => {
    const { src, index } = setup({ a: file('1'), b: link('a') });
    await scan(src, index);
    fs.unlinkSync(path.join(src, 'b'));
    fs.writeFileSync(path.join(src, 'c'), 'new');
    const { totals } = await scan(src, index);
    expect(paths(index)).toEqual(['', 'a', 'c']);
    expect(totals.linkGroups).toBe(0);
    expect(totals.inodes).toBe(2);
  });

  it('gives the same result whatever the batch size', async () => {
    const spec = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d${i % 5}/f${i}`, i % 3 === 0 || i < 3 ? file(`c${i}`) : link(`d${(i - 3) % 5}/f${i - 3}`)]));
    const { src, index } = setup(spec);
    const big = (await scan(src, index)).totals;
    const small = (await scan(src, index, { batch: 3 })).totals;
    expect(small).toEqual(big);
    expect(big.paths).toBe(56);
  });
});
