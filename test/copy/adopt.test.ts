// --adopt: taking over a destination that `rsync -a` (no -H) filled, so every hard link of the
// source became a copy of its own. Files that match (size and mtime; with --checksum the bytes
// too) are kept, the other copies of a group become links to the kept one, and the space they
// took is reported and given back (du shrinks). A file that does not match is replaced through
// a temp name and a rename — its old inode is never written, as a link to it kept outside DST
// shows. Without --adopt such a destination is refused (exit 2) and nothing is written.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { expectExit, runCli } from '../helpers/cli.js';
import { freeBytes, leaveFree, useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, expectSameTopology, file, inodeClasses, link, readTree, symlink, tempDirs, utimesSeconds, type TreeNode } from '../helpers/tree.js';

const temp = tempDirs();
const KiB = 1024;

/** Three snapshots whose files are mostly links to each other, and an internal link in one. */
function source(src: string): void {
  buildTree(src, {
    'snap.0/big': file(Buffer.alloc(256 * KiB, 1), { mtime: 1_600_000_000 }),
    'snap.0/doc': file('document, version 1\n'.repeat(100), { mtime: 1_600_000_001 }),
    'snap.0/mode': file('mode differs in the copy', { mtime: 1_600_000_002, mode: 0o640 }),
    'snap.0/s': symlink('doc', { mtime: 1_600_000_004 }),
    'snap.1/big': link('snap.0/big'),
    'snap.1/doc': link('snap.0/doc'),
    'snap.1/big-alias': link('snap.0/big'),
    'snap.1/mode': link('snap.0/mode'),
    'snap.1/new': file('only in snap.1', { mtime: 1_600_000_003 }),
    'snap.2/big': link('snap.0/big'),
    'snap.2/doc': link('snap.0/doc'),
    'snap.2/new': link('snap.1/new'),
  });
}

/** `rsync -a` without -H: the same tree, but every path a file of its own. */
function rsyncCopy(src: string, dst: string): void {
  execFileSync('rsync', ['-a', `${src}/`, `${dst}/`]);
  const classes = inodeClasses(dst);
  expect(classes.every((c) => c.length === 1)).toBe(true); // no links survived
}

const duKiB = (p: string) => Number(execFileSync('du', ['-sk', p]).toString().split('\t')[0]);

describe('--adopt', () => {
  // The plan counted a block and an inode for every source folder, though rsync had made them
  // all: on the nearly full drive that is the reason to adopt, --adopt was refused (DST_TOO_SMALL).
  it('counts the folders already there as made: a nearly full drive that rsync -a filled is adopted', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 48);
    const src = path.join(temp(), 'src');
    const spec: Record<string, TreeNode> = {};
    for (let d = 0; d < 4000; d++) spec[`snap/d${String(d).padStart(4, '0')}/f`] = file(`f ${d}`, { mtime: 1_600_000_000 });
    buildTree(src, spec);
    const dst = path.join(m.dir, 'mirror');
    rsyncCopy(src, dst);
    // Leave 3 MiB free: room for the index, not for a block per folder (4,000 of 1 KiB).
    expect(Number(fs.statfsSync(m.dir, { bigint: true }).bsize)).toBe(KiB);
    leaveFree(m.dir, 3 * KiB * KiB);
    expect(freeBytes(m.dir)).toBeLessThan(4 * KiB * KiB);

    const r = runCli(['copy', '--adopt', '-q', src, dst]);
    expectExit(r, ExitCode.ok);
    expectSameTopology(src, dst);
    const dry = runCli(['copy', '-n', src, dst]);
    expectExit(dry, ExitCode.ok);
    expect(dry.stdout).toMatch(/space needed +0 B, 0 inodes/);
  });

  it('keeps the matching files, links the duplicates, ends with the source’s topology and gives the space back', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    source(src);
    rsyncCopy(src, dst);
    for (const p of ['snap.0/mode', 'snap.1/mode']) fs.chmodSync(path.join(dst, p), 0o600);
    const before = readTree(dst);
    const duBefore = duKiB(dst);

    const summary = await copy(src, dst, { adopt: true });
    expect(summary.problemCount).toBe(0);
    // Every file and symlink matched; nothing needed copying from the source.
    expect(summary.adopted).toBe(12);
    expect(summary.placed).toMatchObject({ inodesCopied: 0, bytesCopied: 0n });
    // big has 4 paths (3 duplicates), doc 3 (2), mode 2 (1), new 2 (1).
    expect(summary.placed.deduplicated).toBe(7);
    expect(summary.placed.replaced).toBe(0); // a duplicate linked is not counted as content replaced too
    expect(summary.placed.bytesReclaimed).toBe(3n * 256n * 1024n + 2n * 2000n + 24n + 14n);
    expectSameTopology(src, dst);
    // The group's kept copy is the one that was there: its inode did not change.
    const after = readTree(dst);
    const kept = ['snap.0/big', 'snap.1/big', 'snap.2/big', 'snap.1/big-alias'].filter((p) => after.get(p)!.ino === before.get(p)!.ino);
    expect(kept).toHaveLength(1);
    expect(duKiB(dst)).toBeLessThan(duBefore - 700); // three 256 KiB copies gone
    // A mode that differed in the copy was fixed on the adopted inode.
    expect(after.get('snap.0/mode')!.mode).toBe(0o640);
    expect(summary.placed.metadataFixed).toBe(1);

    // From now on it is an ordinary mirror.
    const again = await copy(src, dst);
    expect(again).toMatchObject({ resumed: true, adopted: 0, problemCount: 0 });
    expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0, deduplicated: 0 });
  });

  it('a file that does not match (other content, same size, other mtime) is replaced by temp + rename; its old inode is not written', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    source(src);
    rsyncCopy(src, dst);
    const stale = path.join(dst, 'snap.2/doc');
    const staleContent = 'document, version 0\n'.repeat(100); // same size as version 1
    fs.writeFileSync(stale, staleContent);
    // A name for the stale inode outside DST: an in-place rewrite would show through it.
    const outside = path.join(base, 'outside-link');
    fs.linkSync(stale, outside);
    const staleIno = fs.statSync(stale).ino;

    const summary = await copy(src, dst, { adopt: true });
    expect(summary.problemCount).toBe(0);
    expect(summary.adopted).toBe(11);
    expect(summary.placed.inodesCopied).toBe(0); // the group's content was adopted elsewhere
    expectSameTopology(src, dst);
    expect(fs.readFileSync(stale, 'utf8')).toBe('document, version 1\n'.repeat(100));
    expect(fs.statSync(stale).ino).not.toBe(staleIno);
    expect(fs.readFileSync(outside, 'utf8')).toBe(staleContent);
    expect(fs.statSync(outside).nlink).toBe(1);
  });

  it('a same-size, same-mtime file with other bytes: kept without --checksum (size and mtime agree) but hashed from the source, replaced with it', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    source(src);
    const wrong = 'document, version 9\n'.repeat(100);
    const mtime = fs.statSync(path.join(src, 'snap.0/doc'), { bigint: true }).mtimeNs;
    const plant = (dst: string) => {
      rsyncCopy(src, dst);
      // Every copy of the group lies the same way: nothing else in the tree has the right bytes.
      for (const p of ['snap.0/doc', 'snap.1/doc', 'snap.2/doc']) {
        fs.writeFileSync(path.join(dst, p), wrong);
        fs.utimesSync(path.join(dst, p), utimesSeconds(mtime), utimesSeconds(mtime));
      }
    };

    // The documented limit of the quick check: trusted as it is.
    const quick = path.join(base, 'quick');
    plant(quick);
    const q = await copy(src, quick, { adopt: true });
    expect(q.problemCount).toBe(0);
    expect(fs.readFileSync(path.join(quick, 'snap.0/doc'), 'utf8')).toBe(wrong);
    // But the manifest holds the source's hash of it, not the mirror's: verify DST shows the
    // difference, and copy --recheck --checksum repairs it.
    const found = await verifyMirror(quick);
    expect(found.differences.map((d) => [d.category, d.path])).toEqual([['content', 'snap.0/doc']]);
    const repaired = await copy(src, quick, { recheck: true, checksum: true });
    expect(repaired.problemCount).toBe(0);
    expect(fs.readFileSync(path.join(quick, 'snap.0/doc'), 'utf8')).not.toBe(wrong);
    expect((await verifyMirror(quick)).match).toBe(true);
    expect((await verifyAgainstSource(src, quick)).match).toBe(true);

    // An adoption whose hash pass could not read that source file (EIO, injected): the next
    // plain run, which adopts nothing, still hashes it from the source, not from the mirror.
    const unread = path.join(base, 'unread');
    plant(unread);
    const eio = faultyOps(realFsOps, { op: 'openRead', code: 'EIO', path: /\/src\/snap\.\d\/doc$/ });
    expect((await copy(src, unread, { adopt: true, ops: eio })).problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^cannot hash for the manifest snap\.\d\/doc: /),
    ]);
    expect((await copy(src, unread)).problemCount).toBe(0);
    expect((await verifyMirror(unread)).differences.map((d) => [d.category, d.path])).toEqual([['content', 'snap.0/doc']]);

    const checked = path.join(base, 'checked');
    plant(checked);
    const outside = path.join(base, 'outside-link');
    fs.linkSync(path.join(checked, 'snap.1/doc'), outside);
    const c = await copy(src, checked, { adopt: true, checksum: true });
    expect(c.problemCount).toBe(0);
    expect(c.adopted).toBe(9);
    expect(c.placed.inodesCopied).toBe(1);
    expectSameTopology(src, checked);
    expect(fs.readFileSync(outside, 'utf8')).toBe(wrong); // replaced, not rewritten
  });

  it('a destination made by cp -al of the source on its own drive: nothing of it is taken, every file is copied', async () => {
    // Its files are the source's own inodes: taken, the mirror would be no copy at all (verify
    // SRC DST reports them as source-inode). Their link count gives them away: more than the
    // destination has paths on them (see adopt.ts, GroupCandidates).
    const base = temp();
    const src = path.join(base, 'src');
    source(src);
    const dst = path.join(base, 'dst');
    execFileSync('cp', ['-al', src, dst]);
    const s = await copy(src, dst, { adopt: true });
    expect(s.adopted).toBe(0);
    expectSameTopology(src, dst);
    const srcInodes = new Set([...readTree(src).values()].filter((n) => n.type === 'file').map((n) => n.ino));
    for (const [key, n] of readTree(dst)) if (n.type === 'file') expect(srcInodes.has(n.ino), key).toBe(false);
    expect((await verifyAgainstSource(src, dst)).match).toBe(true);
  });

  // rsync -a leaves a symlink's own mtime as it made it when the source's is within the same
  // second (and cp -r never keeps it); the target matches, the mtime does not. Adopted as it
  // was, the row claimed the source's mtime and no later run fixed it.
  it('a symlink with the right target but another mtime ends with the source’s mtime', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    source(src);
    rsyncCopy(src, dst);
    const t = utimesSeconds(1_700_000_000_123_456_000n);
    fs.lutimesSync(path.join(dst, 'snap.0/s'), t, t);
    const summary = await copy(src, dst, { adopt: true });
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
  });

  it('paths of the wrong type, missing paths and extras: the source wins, extras are kept or, with --delete, removed', async () => {
    const { src, dst } = rsyncedWithFolderOnFile('inside', 'x');
    fs.rmSync(path.join(dst, 'snap.2'), { recursive: true });
    fs.writeFileSync(path.join(dst, 'snap.1/stray'), 'not in the source');

    const summary = await copy(src, dst, { adopt: true, delete: true });
    expect(summary.problemCount).toBe(0);
    expect(summary.deleted).toBe(2); // snap.1/stray, and the folder's 'inside' removed to place the file
    expectSameTopology(src, dst);
  });
});

/** An rsync -a copy of the source in which the file snap.1/new is a folder holding `name`. */
function rsyncedWithFolderOnFile(name: string, content: string): { src: string; dst: string } {
  const base = temp();
  const src = path.join(base, 'src');
  const dst = path.join(base, 'dst');
  source(src);
  rsyncCopy(src, dst);
  fs.rmSync(path.join(dst, 'snap.1/new'));
  fs.mkdirSync(path.join(dst, 'snap.1/new'));
  fs.writeFileSync(path.join(dst, 'snap.1/new', name), content);
  return { src, dst };
}

describe('a folder of the destination where the source has a file', () => {
  it('without --delete it is kept with what it holds, and the path reported (exit 1); with --delete the source wins', async () => {
    const { src, dst } = rsyncedWithFolderOnFile('precious', 'a file the user keeps here');

    const r = runCli(['copy', '--adopt', src, dst]);
    expectExit(r, ExitCode.problems);
    expect(r.stdout).toMatch(/^ {2}cannot put in place snap\.1\/new: a folder is in its way that holds snap\.1\/new\/precious, which linkmirror did not copy; move that folder away, then run again$/m);
    expect(fs.readFileSync(path.join(dst, 'snap.1/new/precious'), 'utf8')).toBe('a file the user keeps here');

    const deleting = await copy(src, dst, { delete: true });
    expect(deleting.problemCount).toBe(0);
    expect(fs.existsSync(path.join(dst, 'snap.1/new/precious'))).toBe(false);
    expectSameTopology(src, dst);
  });
});

describe('without --adopt', () => {
  it('a non-empty destination that is not a mirror is refused: exit 2, one line, nothing written', () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    source(src);
    rsyncCopy(src, dst);
    const before = [...readTree(dst)].map(([k, n]) => `${k} ${n.ino} ${n.nlink} ${n.mtimeNs}`);
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.usage);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^linkmirror: destination .* is not empty and is not a linkmirror mirror;.*--adopt.*\n$/);
    expect(fs.existsSync(path.join(dst, '.linkmirror'))).toBe(false);
    expect([...readTree(dst)].map(([k, n]) => `${k} ${n.ino} ${n.nlink} ${n.mtimeNs}`)).toEqual(before);

    const adopted = runCli(['copy', '--adopt', '--json', src, dst]);
    expectExit(adopted, ExitCode.ok);
    const s = JSON.parse(adopted.stdout);
    expect(s.placed.bytesReclaimed).toBeGreaterThan(0);
    expectSameTopology(src, dst);
  });
});

describe('a destination inode shared with something else', () => {
  const MTIME = 1_600_000_000;

  it('two source files a deduplicated drive holds on one inode are not merged, and neither mode is set on the other', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, { 'a': file('same bytes', { mode: 0o644, mtime: MTIME }), 'x': file('same bytes', { mode: 0o600, mtime: MTIME }) });
    // What `hardlink` or `rdfind -makehardlinks` leaves: one inode for both.
    buildTree(dst, { 'a': file('same bytes', { mode: 0o644, mtime: MTIME }) });
    fs.linkSync(path.join(dst, 'a'), path.join(dst, 'x'));

    const summary = await copy(src, dst, { adopt: true });
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
    expect(fs.statSync(path.join(dst, 'a')).mode & 0o777).toBe(0o644);
    expect(fs.statSync(path.join(dst, 'x')).mode & 0o777).toBe(0o600);
    expect((await verifyAgainstSource(src, dst)).match).toBe(true);
  });

  it('a file also linked from outside the mirror is not adopted: the outside path keeps its inode as it was', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, { 'f': file('content', { mode: 0o600, mtime: MTIME }) });
    buildTree(dst, { 'f': file('content', { mode: 0o644, mtime: MTIME }) });
    const outside = path.join(base, 'outside');
    fs.linkSync(path.join(dst, 'f'), outside);

    const summary = await copy(src, dst, { adopt: true });
    expect(summary.problemCount).toBe(0);
    expect(fs.statSync(outside).mode & 0o777).toBe(0o644);
    expect(fs.statSync(outside).nlink).toBe(1);
    expect(fs.statSync(path.join(dst, 'f')).mode & 0o777).toBe(0o600);
    expectSameTopology(src, dst);
  });
});
