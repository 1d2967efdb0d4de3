// copy() on real trees built from data: the destination must hold the same paths, content,
// modes, times and owners, and the same hard-link topology by inode number and nlink — links
// across snapshots and inside one, names that are bytes rather than text, symlinks (dangling
// ones too), fifos, read-only directories. Per-file failures are counted and the run goes on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import {
  buildTree, dir, expectSameTopology, fifo, file, inodeClasses, inodeKey, link, readTree, symlink, tempDirs, type TreeSpec,
} from '../helpers/tree.js';

const temp = tempDirs();
const asRoot = process.getuid?.() === 0;

/** A source built from spec under a fresh temp dir, and a destination path beside it (not made). */
function setup(spec: TreeSpec): { base: string; src: string; dst: string } {
  const base = temp();
  const src = path.join(base, 'src');
  buildTree(src, spec);
  return { base, src, dst: path.join(base, 'dst') };
}

/** The nlink of each destination path, by printable key. */
function nlinks(root: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of readTree(root)) if (n.type !== 'dir') out[key] = n.nlink;
  return out;
}

/** Names of whatever is left in the state folder's temp area (it should be gone). */
const tmpLeft = (dst: string) => {
  const t = path.join(dst, '.linkmirror', 'tmp');
  return fs.existsSync(t) ? fs.readdirSync(t) : [];
};

const T = (s: number) => 1_500_000_000 + s; // mtimes in seconds, far from "now"

describe('copy', () => {
  it('keeps links across snapshots and inside one snapshot, in a three-level tree', async () => {
    const { src, dst } = setup({
      'daily.0/home/ann/notes.txt': file('notes v2', { mtime: T(10) }),
      'daily.0/home/ann/photo.jpg': file(Buffer.alloc(5000, 1), { mtime: T(1) }),
      'daily.0/home/ann/photo-copy.jpg': link('daily.0/home/ann/photo.jpg'), // inside one snapshot
      'daily.0/etc/hosts': file('127.0.0.1 localhost\n', { mtime: T(2) }),
      'daily.1/home/ann/notes.txt': file('notes v1', { mtime: T(5) }),
      'daily.1/home/ann/photo.jpg': link('daily.0/home/ann/photo.jpg'), // across snapshots
      'daily.1/home/ann/photo-copy.jpg': link('daily.0/home/ann/photo.jpg'),
      'daily.1/etc/hosts': link('daily.0/etc/hosts'),
      'daily.2/home/ann/photo.jpg': link('daily.0/home/ann/photo.jpg'),
      'daily.2/etc/hosts': link('daily.0/etc/hosts'),
      'daily.2/etc/passwd': file('root:x:0:0\n', { mtime: T(3) }),
    });
    const summary = await copy(src, dst);

    const topo = expectSameTopology(src, dst);
    expect(topo).toMatchObject({ srcInodes: 5, srcLinkGroups: 2, dstInodes: 5, splitGroups: 0 });
    expect(inodeClasses(dst)).toEqual([
      ['daily.0/etc/hosts', 'daily.1/etc/hosts', 'daily.2/etc/hosts'],
      ['daily.0/home/ann/notes.txt'],
      [
        'daily.0/home/ann/photo-copy.jpg', 'daily.0/home/ann/photo.jpg', 'daily.1/home/ann/photo-copy.jpg',
        'daily.1/home/ann/photo.jpg', 'daily.2/home/ann/photo.jpg',
      ],
      ['daily.1/home/ann/notes.txt'],
      ['daily.2/etc/passwd'],
    ]);
    expect(nlinks(dst)).toMatchObject({ 'daily.2/home/ann/photo.jpg': 5, 'daily.2/etc/hosts': 3, 'daily.1/home/ann/notes.txt': 1 });
    // The destination's inodes are its own, not the source's.
    const s = readTree(src);
    const d = readTree(dst);
    expect(d.get('daily.0/etc/hosts')!.dev).not.toBe(undefined);
    expect(inodeKey(d.get('daily.0/etc/hosts')!)).not.toBe(inodeKey(s.get('daily.0/etc/hosts')!));

    expect(summary).toMatchObject({ dryRun: false, resumed: false, interrupted: false, problemCount: 0, problems: [] });
    expect(summary.placed).toMatchObject({ inodesCopied: 5, linksMade: 6, splits: 0, failedPaths: 0 });
    expect(summary.placed.bytesCopied).toBe(8n + 5000n + 20n + 8n + 11n);
    expect(summary.dirsMade).toBe(12); // 3 snapshots × (home, home/ann, etc) + the 3 snapshot dirs
    expect(summary.scan).toMatchObject({ inodes: 5, linkGroups: 2, largestGroup: 5 });
    expect(tmpLeft(dst)).toEqual([]);
  });

  it('copies empty files and empty directories', async () => {
    const { src, dst } = setup({
      empty: file(''),
      'empty-link': link('empty'),
      'a/b/c/empty-dir': dir({ mtime: T(7) }),
      'lonely-dir': dir({ mode: 0o700, mtime: T(8) }),
    });
    const summary = await copy(src, dst);
    expectSameTopology(src, dst);
    const d = readTree(dst);
    expect(d.get('empty')).toMatchObject({ type: 'file', size: 0n, nlink: 2 });
    expect(d.get('a/b/c/empty-dir')!.type).toBe('dir');
    expect(fs.readdirSync(path.join(dst, 'a/b/c/empty-dir'))).toEqual([]);
    expect(summary.placed).toMatchObject({ inodesCopied: 1, linksMade: 1, bytesCopied: 0n });
  });

  it('copies symlinks as symlinks, dangling and absolute ones included, never following them', async () => {
    const outside = temp();
    fs.writeFileSync(path.join(outside, 'secret'), 'outside data');
    const { src, dst } = setup({
      'real.txt': file('real'),
      'rel-ok': symlink('real.txt', { mtime: T(1) }),
      'sub/up': symlink('../real.txt'),
      dangling: symlink('does/not/exist', { mtime: T(2) }),
      'abs-outside': symlink(path.join(outside, 'secret')),
      'dir-link': symlink(outside),
      'self-loop': symlink('self-loop'),
      // A hard link to a symlink: two names, one symlink inode.
      'dangling-twin': link('dangling'),
    });
    await copy(src, dst);
    expectSameTopology(src, dst);
    const d = readTree(dst);
    expect(d.get('dangling')).toMatchObject({ type: 'symlink', nlink: 2 });
    expect(d.get('dangling')!.target!.toString()).toBe('does/not/exist');
    expect(inodeKey(d.get('dangling')!)).toBe(inodeKey(d.get('dangling-twin')!));
    expect(d.get('abs-outside')!.type).toBe('symlink');
    expect(d.get('dir-link')!.type).toBe('symlink');
    // Nothing behind the links was copied or touched.
    expect([...d.keys()].some((k) => k.startsWith('dir-link/'))).toBe(false);
    expect(fs.readdirSync(outside)).toEqual(['secret']);
    expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('outside data');
  });

  it('keeps a non-UTF-8 name and a name with a newline byte-exact, in links and directories', async () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
    const badDir = Buffer.from([0x64, 0xff, 0xfe]);
    const newline = Buffer.from('two\nlines');
    const slash = Buffer.from('/');
    const inBad = (name: Buffer | string) => Buffer.concat([badDir, slash, Buffer.from(name)]);
    const { src, dst } = setup([
      [latin1, file('latin-1 name')],
      [inBad(newline), file('newline name')],
      [inBad('hard'), link(inBad(newline))],
      [Buffer.concat([Buffer.from('nl\ndir'), slash, latin1]), link(latin1)],
      ['sym', symlink(Buffer.from([0x2e, 0x2f, 0x80]))],
    ]);
    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
    // Look the names up as bytes on disk, not through the helper's printable keys.
    const names = fs.readdirSync(Buffer.from(dst), { encoding: 'buffer' }).filter((n) => n.toString() !== '.linkmirror');
    expect(names.map((n) => n.toString('hex')).sort()).toEqual(
      [latin1, badDir, Buffer.from('nl\ndir'), Buffer.from('sym')].map((n) => n.toString('hex')).sort(),
    );
    const a = fs.lstatSync(Buffer.concat([Buffer.from(dst), slash, inBad(newline)]), { bigint: true });
    const b = fs.lstatSync(Buffer.concat([Buffer.from(dst), slash, inBad('hard')]), { bigint: true });
    expect(a.ino).toBe(b.ino);
    expect(a.nlink).toBe(2n);
    expect(fs.readFileSync(Buffer.concat([Buffer.from(dst), slash, latin1]), 'utf8')).toBe('latin-1 name');
  });

  it('keeps modes and mtimes, directory mtimes set after their contents, read-only directories filled', async () => {
    const { src, dst } = setup({
      'ro/inside.txt': file('in a read-only dir', { mode: 0o444, mtime: T(1) }),
      'ro/deeper/x': file('x', { mode: 0o600, mtime: T(2) }),
      'ro/deeper': dir({ mode: 0o555, mtime: T(3) }),
      ro: dir({ mode: 0o500, mtime: T(4) }),
      'sticky/f': file('f', { mtime: T(5) }),
      sticky: dir({ mode: 0o1777, mtime: T(6) }),
      'setuid-bin': file('#!/bin/true\n', { mode: 0o4755, mtime: T(7) }),
      'setgid-link': link('setuid-bin'),
      'exec.sh': file('echo hi\n', { mode: 0o750, mtime: 1_234_567_890.123456 }),
      'none': file('no permissions at all', { mode: 0o000, mtime: T(8) }),
      'old': file('before the epoch', { mtime: -86_400 }),
      'precise': file('µs', { mtime: 1_700_000_000_987_654_000n }),
    });
    fs.chmodSync(src, 0o750);
    fs.lutimesSync(src, T(9), T(9));
    await copy(src, dst);
    expectSameTopology(src, dst); // modes, mtimes (µs), owners, the root's too
    const d = readTree(dst);
    expect(d.get('ro')).toMatchObject({ mode: 0o500, mtimeNs: BigInt(T(4)) * 1_000_000_000n });
    expect(d.get('ro/deeper')!.mode).toBe(0o555);
    expect(d.get('sticky')!.mode).toBe(0o1777);
    expect(d.get('setuid-bin')).toMatchObject({ mode: 0o4755, nlink: 2 });
    expect(d.get('precise')!.mtimeNs).toBe(1_700_000_000_987_654_000n);
    expect(d.get('old')!.mtimeNs).toBe(-86_400_000_000_000n);
    expect(d.get('.')).toMatchObject({ mode: 0o750, mtimeNs: BigInt(T(9)) * 1_000_000_000n });
  });

  it.skipIf(!asRoot)('keeps owners and groups by number (as root), of files, links, symlinks and dirs', async () => {
    const { src, dst } = setup({
      'u/a': file('a'),
      'u/b': link('u/a'),
      'u/s': symlink('a'),
      'u/p': fifo(),
      'v/c': file('c'),
      'v/suid': file('#!/bin/true\n', { mode: 0o6755 }),
    });
    const own = (rel: string, uid: number, gid: number) => fs.lchownSync(path.join(src, rel), uid, gid);
    own('u/a', 1234, 5678);
    own('u/s', 4321, 8765);
    own('u/p', 99, 98);
    own('v', 4000, 4001);
    own('v/c', 65534, 65534);
    own('u', 1, 2);
    own('v/suid', 1234, 5678);
    fs.chmodSync(path.join(src, 'v/suid'), 0o6755); // chown cleared the set-id bits
    fs.lutimesSync(path.join(src, 'u'), T(1), T(1));
    fs.lutimesSync(path.join(src, 'v'), T(2), T(2));
    await copy(src, dst);
    expectSameTopology(src, dst, { owner: true });
    const d = readTree(dst);
    expect(d.get('u/b')).toMatchObject({ uid: 1234, gid: 5678, nlink: 2 });
    expect(d.get('u/s')).toMatchObject({ uid: 4321, gid: 8765 });
    expect(d.get('v')).toMatchObject({ uid: 4000, gid: 4001 });
    expect(d.get('u')).toMatchObject({ uid: 1, gid: 2 });
    // Owner first, then mode: chown would have cleared the set-uid and set-gid bits.
    expect(d.get('v/suid')).toMatchObject({ uid: 1234, gid: 5678, mode: 0o6755 });
  });

  it('copies fifos as fifos, hard-linked ones as one inode, without opening them', async () => {
    const { src, dst } = setup({
      'pipes/p': fifo({ mode: 0o620, mtime: T(1) }),
      'pipes/p-twin': link('pipes/p'),
      'pipes/q': fifo(),
      // Sticky and set-id bits, which coreutils' mknod refuses in its -m (the chmod after it sets them).
      'pipes/sticky': fifo({ mode: 0o1777 }),
      'pipes/setid': fifo({ mode: 0o6640 }),
      'pipes/regular': file('r'),
    });
    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
    const d = readTree(dst);
    expect(d.get('pipes/p')).toMatchObject({ type: 'fifo', mode: 0o620, nlink: 2 });
    expect(inodeKey(d.get('pipes/p')!)).toBe(inodeKey(d.get('pipes/p-twin')!));
    expect(d.get('pipes/q')!.type).toBe('fifo');
    expect(d.get('pipes/sticky')).toMatchObject({ type: 'fifo', mode: 0o1777 });
    expect(d.get('pipes/setid')).toMatchObject({ type: 'fifo', mode: 0o6640 });
    expect(summary.placed).toMatchObject({ inodesCopied: 5, linksMade: 1 });
  });

  it.skipIf(!asRoot)('copies device nodes (as root) with their numbers, hard-linked ones as one inode', async () => {
    const { src, dst } = setup({ 'dev/readme': file('devices') });
    execFileSync('mknod', ['-m', '640', path.join(src, 'dev/null-like'), 'c', '1', '3']);
    execFileSync('mknod', ['-m', '600', path.join(src, 'dev/loop-like'), 'b', '7', '200']);
    execFileSync('mknod', ['-m', '600', path.join(src, 'dev/big-minor'), 'c', '240', '70000']);
    fs.linkSync(path.join(src, 'dev/null-like'), path.join(src, 'dev/null-twin'));
    for (const n of ['null-like', 'loop-like', 'big-minor']) fs.lutimesSync(path.join(src, 'dev', n), T(1), T(1));
    fs.lutimesSync(path.join(src, 'dev'), T(2), T(2));
    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
    for (const n of ['null-like', 'loop-like', 'big-minor']) {
      const s = fs.lstatSync(path.join(src, 'dev', n), { bigint: true });
      const d = fs.lstatSync(path.join(dst, 'dev', n), { bigint: true });
      expect(d.mode, n).toBe(s.mode); // type and permission bits
      expect(d.rdev, n).toBe(s.rdev);
    }
    const d = readTree(dst);
    expect(d.get('dev/null-like')).toMatchObject({ type: 'char', nlink: 2 });
    expect(inodeKey(d.get('dev/null-twin')!)).toBe(inodeKey(d.get('dev/null-like')!));
    expect(d.get('dev/loop-like')!.type).toBe('block');
  });

  it('skips sockets and counts them, without calling them problems', async () => {
    const { src, dst } = setup({ 'run/keep.txt': file('kept') });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(src, 'run/sock'), resolve));
    try {
      const summary = await copy(src, dst);
      expect(summary.problemCount).toBe(0);
      expect(summary.placed.skippedSockets).toBe(1);
      expect(fs.existsSync(path.join(dst, 'run/sock'))).toBe(false);
      expect(fs.readFileSync(path.join(dst, 'run/keep.txt'), 'utf8')).toBe('kept');
      // Every run counts it as skipped, and no plan counts it as work or a run as already there.
      const plan = await copy(src, dst, { dryRun: true });
      expect(plan.plan).toMatchObject({ pathsToPlace: 0, inodesToCopy: 0 });
      const again = await copy(src, dst);
      expect(again.placed).toMatchObject({ skippedSockets: 1, alreadyPresent: 1, inodesCopied: 0 });
      expect(again.plan.pathsToPlace).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps atimes as they were before the copy read the source', async () => {
    const { src, dst } = setup({
      'a/read-me': file('content the copy reads', { mtime: T(1) }),
      'a/also': link('a/read-me'),
      'a/empty': file('', { mtime: T(2) }),
    });
    // Distinct atimes, older than the mtimes: under relatime the copy's read then moves the
    // source's atime to now, so the destination must take what the scan saw.
    const atimes: Record<string, number> = { 'a/read-me': T(-100), 'a/empty': T(-200), a: T(-300) };
    for (const [rel, at] of Object.entries(atimes)) {
      const st = fs.lstatSync(path.join(src, rel));
      fs.utimesSync(path.join(src, rel), at, st.mtimeMs / 1000);
    }
    await copy(src, dst);
    for (const [rel, at] of Object.entries(atimes)) {
      expect(fs.lstatSync(path.join(dst, rel), { bigint: true }).atimeNs, rel).toBe(BigInt(at) * 1_000_000_000n);
    }
    expectSameTopology(src, dst);
  });

  it('writes each inode’s content once, from the source, and links the rest', async () => {
    const spec: Record<string, ReturnType<typeof file>> = { 'snap.0/big': file(Buffer.alloc(64 * 1024, 9)) };
    for (let i = 1; i < 8; i++) spec[`snap.${i}/big`] = link('snap.0/big');
    const { src, dst } = setup(spec);
    const copied: string[] = [];
    const ops = faultyOps(realFsOps, {
      op: 'copyFile', code: 'EIO', when: (from: Buffer | string) => (copied.push(from.toString()), false),
    });
    const summary = await copy(src, dst, { ops });
    expectSameTopology(src, dst);
    // One copyFile from the source (the probe copies /dev/null): content once, seven links.
    expect(copied.filter((p) => p !== '/dev/null')).toEqual([path.join(fs.realpathSync(src), 'snap.0/big')]);
    expect(summary.placed).toMatchObject({ inodesCopied: 1, linksMade: 7, bytesCopied: 64n * 1024n });
    expect(nlinks(dst)['snap.7/big']).toBe(8);
  });

  it('counts a file that cannot be read as one problem and copies the rest', async () => {
    const { src, dst } = setup({
      'a/ok.txt': file('fine'),
      'a/denied.txt': file('cannot be read'),
      'a/ok-link': link('a/ok.txt'),
      'b/other': file('other'),
      a: dir({ mtime: T(1) }),
    });
    const denied = path.join(fs.realpathSync(src), 'a/denied.txt');
    const ops = faultyOps(realFsOps, { op: 'copyFile', path: denied, code: 'EACCES' });
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(1);
    expect(summary.problems).toHaveLength(1);
    expect(summary.problems[0]).toMatchObject({ path: 'a/denied.txt', code: 'EACCES' });
    expect(summary.problems[0].message).toMatch(/a\/denied\.txt/);
    expect(summary.placed.failedPaths).toBe(1);
    expect(fs.existsSync(path.join(dst, 'a/denied.txt'))).toBe(false);
    // Everything else is there, with its links; directory times were still set.
    const d = readTree(dst);
    expect(d.get('a/ok-link')).toMatchObject({ nlink: 2, content: Buffer.from('fine') });
    expect(d.get('b/other')!.content!.toString()).toBe('other');
    expect(d.get('a')!.mtimeNs).toBe(BigInt(T(1)) * 1_000_000_000n);
    expect(tmpLeft(dst)).toEqual([]);
  });

  it('reports every path of a group whose content could not be read, and no path of it is placed', async () => {
    const { src, dst } = setup({
      'g/1': file('group'),
      'g/2': link('g/1'),
      'g/3': link('g/1'),
      'h/solo': file('solo'),
    });
    const ops = faultyOps(realFsOps, { op: 'copyFile', path: /\/src\/g\/[123]$/, code: 'EACCES' });
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(3);
    expect(summary.problems.map((p) => p.path).sort()).toEqual(['g/1', 'g/2', 'g/3']);
    expect(fs.readdirSync(path.join(dst, 'g'))).toEqual([]);
    expect(fs.readFileSync(path.join(dst, 'h/solo'), 'utf8')).toBe('solo');
  });

  // SQLite's unix VFS takes paths of at most 512 bytes (it resolves /proc/self/fd aliases and
  // relative names back to the full path, so there is no way round it): a destination deeper
  // than that is refused up front with a clear word, before anything is written.
  it('refuses a destination whose path is longer than SQLite’s 512-byte path limit, writing nothing', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    buildTree(src, { a: file('a'), b: link('a') });
    const parent = path.join(base, 'd'.repeat(250), 'e'.repeat(250));
    fs.mkdirSync(parent, { recursive: true });
    const dst = path.join(parent, 'mirror');
    expect(dst.length).toBeGreaterThan(512);
    await expect(copy(src, dst)).rejects.toMatchObject({ code: 'DST_PATH_TOO_LONG', kind: 'usage' });
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('run again on a finished mirror: nothing is rewritten and the inodes stay', async () => {
    const { src, dst } = setup({
      'x.0/a': file('a'),
      'x.1/a': link('x.0/a'),
      'x.1/b': file('b'),
    });
    await copy(src, dst);
    const before = readTree(dst);
    const again = await copy(src, dst);
    expect(again.resumed).toBe(true);
    expect(again.problemCount).toBe(0);
    expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0, alreadyPresent: 3 });
    expectSameTopology(src, dst);
    const after = readTree(dst);
    for (const [key, n] of before) expect(inodeKey(after.get(key)!), key).toBe(inodeKey(n));
  });
});
