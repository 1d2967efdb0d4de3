// A symlink planted in a mirror (by whoever else can write to the drive) must never lead the
// next run to write outside DST: a directory replaced by a symlink to an outside folder is
// replaced by a real directory again, a file replaced by a symlink to an outside file gets its
// content back without the outside file being touched, and the state folder's own entries are
// not followed either.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { isLinkmirrorError } from '../../src/errors.js';
import { buildTree, dir, expectSameTopology, file, inodeKey, link, readTree, symlink, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** Every entry under root with its identity, content and times: any write shows. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, n] of readTree(root)) out[key] = `${n.type} ${n.ino} ${n.nlink} ${n.size} ${n.mode} ${n.mtimeNs} ${n.sha256 ?? ''}`;
  return out;
}

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

/** A source, a finished first mirror of it, and an outside folder with decoys of the same names. */
async function mirrored() {
  const base = temp();
  const src = path.join(base, 'src');
  const dst = path.join(base, 'dst');
  const outside = path.join(base, 'outside');
  buildTree(src, {
    'a/f': file('f content', { mtime: 1_600_000_000 }),
    'a/g': link('a/f'),
    'a/b/deep': file('deep content', { mtime: 1_600_000_001 }),
    'a/b/deep-twin': link('a/b/deep'),
    'c/f-again': link('a/f'),
    'c/s': symlink('../a/f'),
    a: dir({ mtime: 1_600_000_002 }),
  });
  await copy(src, dst);
  expectSameTopology(src, dst);
  buildTree(outside, {
    f: file('decoy f, must stay', { mode: 0o600 }),
    g: file('decoy g, must stay'),
    'b/deep': file('decoy deep'),
    other: file('unrelated'),
  });
  return { base, src, dst, outside, outsideBefore: snapshot(outside) };
}

/** Replace a path in dst with a symlink to target. */
function plant(at: string, target: string): void {
  fs.rmSync(at, { recursive: true, force: true });
  fs.symlinkSync(target, at);
}

describe('a symlink planted in the mirror', () => {
  it('a directory replaced by a symlink to an outside folder: nothing written outside, the directory restored', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    plant(path.join(dst, 'a'), outside);
    const summary = await copy(src, dst);
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(fs.lstatSync(path.join(dst, 'a')).isDirectory()).toBe(true);
    expectSameTopology(src, dst);
    expect(summary.problemCount).toBe(0);
    // The restored files are linked to the paths that stayed (c/f-again), as in the source.
    const d = readTree(dst);
    expect(inodeKey(d.get('a/f')!)).toBe(inodeKey(d.get('c/f-again')!));
    expect(d.get('a/f')!.nlink).toBe(3);
  });

  it('a deeper directory replaced by a relative symlink that climbs out of DST', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    plant(path.join(dst, 'a/b'), path.relative(path.join(dst, 'a'), path.join(outside, 'b')));
    await copy(src, dst);
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(fs.lstatSync(path.join(dst, 'a/b')).isDirectory()).toBe(true);
    expectSameTopology(src, dst);
  });

  it('a file replaced by a symlink to an outside file: the outside file untouched, the path back in its group (--recheck)', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    plant(path.join(dst, 'a/g'), path.join(outside, 'g'));
    plant(path.join(dst, 'a/b/deep'), path.join(outside, 'b/deep'));
    // A plain re-run trusts the index for paths whose source did not change, beyond one path per
    // inode (a/f and a/b/deep-twin are intact): it leaves the planted links alone, writing nothing.
    await copy(src, dst);
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(fs.lstatSync(path.join(dst, 'a/g')).isSymbolicLink()).toBe(true);
    // --recheck looks at every path, and puts the files back without following the links.
    await copy(src, dst, { recheck: true });
    expect(snapshot(outside)).toEqual(outsideBefore);
    expectSameTopology(src, dst);
    const d = readTree(dst);
    expect(d.get('a/g')).toMatchObject({ type: 'file', nlink: 3 });
    expect(inodeKey(d.get('a/g')!)).toBe(inodeKey(d.get('a/f')!));
    expect(inodeKey(d.get('a/b/deep')!)).toBe(inodeKey(d.get('a/b/deep-twin')!));
  });

  it('with delete: a planted symlink the source does not have is removed as a link, never followed', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    fs.symlinkSync(outside, path.join(dst, 'extra-link'));
    fs.symlinkSync(outside, path.join(dst, 'a/extra-link'));
    plant(path.join(dst, 'c'), outside);
    // Planted by hand, so not in the index: --recheck has --delete walk the destination.
    const summary = await copy(src, dst, { delete: true, recheck: true });
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(fs.existsSync(path.join(dst, 'extra-link'))).toBe(false);
    expect(fs.existsSync(path.join(dst, 'a/extra-link'))).toBe(false);
    expect(summary.deleted).toBe(2);
    expectSameTopology(src, dst);
  });

  it('with delete, from the index: a folder the source lost, replaced by a symlink, goes as a link; nothing below it is followed', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    fs.rmSync(path.join(src, 'a/b'), { recursive: true });
    plant(path.join(dst, 'a/b'), path.join(outside, 'b')); // outside/b/deep has the name of a row below a/b
    const ops = faultyOps(realFsOps, []);
    const summary = await copy(src, dst, { delete: true, ops });
    expect(ops.calls.readdirKinds).toBe(0); // the index, not a walk
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(fs.existsSync(path.join(dst, 'a/b'))).toBe(false);
    expect(summary.deleted).toBe(1);
    expectSameTopology(src, dst);
  });

  it('the state folder’s tmp replaced by a symlink to an outside folder: no temp file lands there', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    fs.writeFileSync(path.join(src, 'new-file'), 'written through tmp');
    plant(path.join(dst, '.linkmirror/tmp'), outside);
    await copy(src, dst);
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(fs.readFileSync(path.join(dst, 'new-file'), 'utf8')).toBe('written through tmp');
    expectSameTopology(src, dst, { root: false });
  });

  it('the state folder replaced by a symlink: refused, nothing written through it', async () => {
    const { src, dst, outside, outsideBefore } = await mirrored();
    plant(path.join(dst, '.linkmirror'), outside);
    const err = await copy(src, dst).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(err, 'DST_UNUSABLE'), String(err)).toBe(true);
    expect(snapshot(outside)).toEqual(outsideBefore);
  });

  // Regression: SQLite followed a symlink planted as index.db and wrote the database it points
  // to (and created its -wal beside it), outside the destination. (SQLite opens each of these by name.)
  for (const name of ['index.db', 'index.db-journal', 'index.db-wal', 'index.db-shm']) {
    it(`the state folder’s ${name} replaced by a symlink to a file outside: refused, that file not written`, async () => {
      const { src, dst, base } = await mirrored();
      // A valid index elsewhere (a copy of this mirror's own), linked in place of the real file.
      const elsewhere = path.join(base, 'elsewhere');
      fs.mkdirSync(elsewhere);
      const foreign = path.join(elsewhere, 'some.db');
      fs.copyFileSync(path.join(dst, '.linkmirror/index.db'), foreign);
      const before = sha(foreign);
      plant(path.join(dst, '.linkmirror', name), foreign);
      fs.writeFileSync(path.join(src, 'new-file'), 'new');
      const err = await copy(src, dst).then(() => undefined, (e: unknown) => e);
      expect(isLinkmirrorError(err, 'DST_UNUSABLE'), String(err)).toBe(true);
      expect((err as Error).message).toContain(name);
      expect(sha(foreign)).toBe(before);
      expect(fs.readdirSync(elsewhere)).toEqual(['some.db']);
      expect(fs.existsSync(path.join(dst, 'new-file'))).toBe(false);
    });
  }
});
