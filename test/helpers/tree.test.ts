// The tree helpers are what every other test trusts: they must build exactly what the data
// says, and expectSameTopology must catch each way a mirror can be wrong.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { utimesSeconds } from './build-tree.js';
import { buildTree, dir, expectSameTopology, fifo, file, inodeClasses, link, readTree, symlink, tempDirs, type TreeSpec } from './tree.js';

const temp = tempDirs();

const SPEC: TreeSpec = [
  ['a/b.txt', file('content', { mode: 0o640, mtime: 1_600_000_000_123_456_789n })],
  ['a/c.txt', link('a/b.txt')],
  ['x/y/z', link('a/c.txt')],
  ['d', symlink('../x', { mtime: new Date(1_500_000_000_000) })],
  ['d2', link('d')],
  ['e', dir({ mode: 0o700, mtime: 1_400_000_000.25 })],
  ['e/empty', file()],
  ['p', fifo({ mode: 0o600 })],
  [Buffer.from([0x6e, 0xff, 0x0a]), file('bytes')],
];

/** Give `to` the mtime of `from`, to the microsecond. */
function copyTime(from: string, to: string): void {
  const s = utimesSeconds(fs.lstatSync(from, { bigint: true }).mtimeNs);
  fs.lutimesSync(to, s, s);
}

/** A copy that keeps everything, hard links included (cp -a does). */
function mirror(src: string): string {
  const dst = path.join(temp(), 'dst');
  execFileSync('cp', ['-a', src, dst]);
  return dst;
}

describe('buildTree and readTree', () => {
  it('builds files, hard links, symlinks, fifos and byte names with their modes and times', () => {
    const root = temp();
    buildTree(root, SPEC);
    const t = readTree(root);
    expect([...t.keys()]).toEqual(['.', 'a', 'a/b.txt', 'a/c.txt', 'd', 'd2', 'e', 'e/empty', 'n\\xff\\x0a', 'p', 'x', 'x/y', 'x/y/z']);
    const b = t.get('a/b.txt')!;
    expect(b).toMatchObject({ type: 'file', nlink: 3, size: 7n, mode: 0o640, mtimeNs: 1_600_000_000_123_456_000n });
    expect(b.content!.toString()).toBe('content');
    expect(t.get('a/c.txt')!.ino).toBe(b.ino);
    expect(t.get('x/y/z')!.ino).toBe(b.ino);
    expect(typeof b.ino).toBe('bigint');
    expect(t.get('d')).toMatchObject({ type: 'symlink', nlink: 2, mtimeNs: 1_500_000_000_000_000_000n });
    expect(t.get('d')!.target!.toString()).toBe('../x');
    expect(t.get('e')).toMatchObject({ type: 'dir', mode: 0o700, mtimeNs: 1_400_000_000_250_000_000n });
    expect(t.get('e/empty')).toMatchObject({ type: 'file', size: 0n, mode: 0o644 });
    expect(t.get('p')).toMatchObject({ type: 'fifo', mode: 0o600 });
    expect(t.get('x/y')).toMatchObject({ type: 'dir', mode: 0o755 });
    expect(t.get('n\\xff\\x0a')!.path).toEqual(Buffer.from([0x6e, 0xff, 0x0a]));
    expect(fs.readdirSync(root, { encoding: 'buffer' }).some((n) => n.equals(Buffer.from([0x6e, 0xff, 0x0a])))).toBe(true);
  });

  it('sets microsecond mtimes exactly, where the plain seconds double would be one off', () => {
    const root = temp();
    const times = Array.from({ length: 200 }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567_000n + 389_169_000n);
    buildTree(root, Object.fromEntries(times.map((t, i) => [`f${i}`, file('', { mtime: t })])));
    const t = readTree(root);
    expect(times.filter((ns, i) => t.get(`f${i}`)!.mtimeNs !== ns)).toEqual([]);
  });

  it('leaves out a top-level .linkmirror', () => {
    const root = temp();
    buildTree(root, { '.linkmirror/index.db': file('x'), 'a/.linkmirror': file('kept') });
    expect([...readTree(root).keys()]).toEqual(['.', 'a', 'a/.linkmirror']);
  });

  it('lists hard-link classes', () => {
    const root = temp();
    buildTree(root, SPEC);
    expect(inodeClasses(root)).toEqual([['a/b.txt', 'a/c.txt', 'x/y/z'], ['d', 'd2'], ['e/empty'], ['n\\xff\\x0a'], ['p']]);
  });

  it('rejects a link to a path the spec does not have', () => {
    expect(() => buildTree(temp(), { a: link('nope') })).toThrow(/no such path/);
  });
});

describe('expectSameTopology', () => {
  it('passes for a faithful copy and counts groups', () => {
    const src = temp();
    buildTree(src, SPEC);
    const dst = mirror(src);
    fs.mkdirSync(path.join(dst, '.linkmirror'));
    fs.writeFileSync(path.join(dst, '.linkmirror', 'index.db'), 'state');
    // Writing into .linkmirror changed the root's mtime: put it back as a mirror would.
    copyTime(src, dst);
    expect(expectSameTopology(src, dst)).toEqual({ paths: 13, srcInodes: 5, srcLinkGroups: 2, dstInodes: 5, splitGroups: 0 });
  });

  const broken: [string, (dst: string) => void, RegExp][] = [
    ['a broken hard link', (d) => { fs.unlinkSync(path.join(d, 'a/c.txt')); fs.copyFileSync(path.join(d, 'a/b.txt'), path.join(d, 'a/c.txt')); fs.chmodSync(path.join(d, 'a/c.txt'), 0o640); }, /split over 2 dst inodes/],
    ['two groups joined', (d) => { fs.unlinkSync(path.join(d, 'e/empty')); fs.linkSync(path.join(d, 'a/b.txt'), path.join(d, 'e/empty')); }, /joins paths of 2 src inodes/],
    ['changed content', (d) => fs.writeFileSync(path.join(d, 'a/b.txt'), 'CONTENT'), /content differs/],
    ['a changed mode', (d) => fs.chmodSync(path.join(d, 'e'), 0o755), /e: mode 700 in src, 755 in dst/],
    ['an mtime off by a microsecond', (d) => fs.lutimesSync(path.join(d, 'e'), utimesSeconds(1_400_000_000_250_001_000n), utimesSeconds(1_400_000_000_250_001_000n)), /e: mtime/],
    ['a missing path', (d) => fs.unlinkSync(path.join(d, 'p')), /p: missing in dst/],
    ['an extra path', (d) => fs.writeFileSync(path.join(d, 'e/new'), ''), /e\/new: extra in dst/],
    ['a different symlink target', (d) => { fs.unlinkSync(path.join(d, 'd2')); fs.unlinkSync(path.join(d, 'd')); fs.symlinkSync('../y', path.join(d, 'd')); fs.linkSync(path.join(d, 'd'), path.join(d, 'd2')); }, /symlink to \.\.\/x in src, to \.\.\/y in dst/],
    ['a stray link outside the tree', (d) => fs.linkSync(path.join(d, 'a/b.txt'), path.join(d, '..', 'stray')), /has nlink 4 but 3 paths/],
  ];
  for (const [what, breakIt, message] of broken) {
    it(`catches ${what}`, () => {
      const src = temp();
      buildTree(src, SPEC);
      const dst = mirror(src);
      breakIt(dst);
      // Undo the mtime changes that breaking made in parent directories.
      for (const sub of ['.', 'a', 'e']) {
        if (!/mtime/.test(String(message)) || sub !== 'e') copyTime(path.join(src, sub), path.join(dst, sub));
      }
      expect(() => expectSameTopology(src, dst)).toThrow(message);
    });
  }

  it('accepts a split with allowSplits, and checks linkMax', () => {
    const src = temp();
    buildTree(src, { a: file('x'), b: link('a'), c: link('a'), d: link('a') });
    const dst = temp();
    buildTree(dst, { a: file('x'), b: link('a'), c: file('x'), d: link('c') });
    copyTime(src, dst);
    for (const n of ['a', 'c']) copyTime(path.join(src, 'a'), path.join(dst, n));
    expect(() => expectSameTopology(src, dst)).toThrow(/split over 2 dst inodes/);
    expect(expectSameTopology(src, dst, { allowSplits: true, linkMax: 2 })).toMatchObject({ srcInodes: 1, dstInodes: 2, splitGroups: 1 });
    expect(() => expectSameTopology(src, src, { linkMax: 3 })).toThrow(/more than linkMax 3/);
  });
});
