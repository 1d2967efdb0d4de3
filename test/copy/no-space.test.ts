// A destination too small: the pre-flight refuses (DST_TOO_SMALL) before writing data; forced,
// the copy runs into a real ENOSPC on a loop-mounted 8 MiB ext4 and stops with NO_SPACE. Either
// way exit 3 with one clear line, and never a half-written file under a final name: every file
// in DST has its full content, temp files stay in (or are removed from) DST/.linkmirror/tmp.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { isLinkmirrorError } from '../../src/errors.js';
import { errnoCode } from '../../src/fs/errno.js';
import { realFsOps } from '../../src/fs/ops.js';
import { expectExit, lines, runCli } from '../helpers/cli.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { freeBytes, leaveFree, useLoopMount } from '../helpers/loop-mount.js';
import { buildLongNameLinks, buildTree, expectSameTopology, file, inodeKey, link, readTree, tempDirs, type TreeNode } from '../helpers/tree.js';

const temp = tempDirs();
const MiB = 1024 * 1024;

const FILES = 48;

/**
 * 12 MiB of distinct content in 48 files, each with a second path in another snapshot. A quarter
 * MiB each: the copies run ahead (16 at a time, PREFETCH_DEPTH) fill 4 MiB, so the first are in
 * place before the 8 MiB drive is full however the copies interleave (with 1 MiB files, a loaded
 * machine could have all of them half-written when it filled up, and none placed).
 */
function bigSource(src: string): void {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < FILES; i++) {
    const name = `f${String(i).padStart(2, '0')}`;
    spec[`snap.0/${name}`] = file(randomBytes(MiB / 4));
    spec[`snap.1/${name}`] = link(`snap.0/${name}`);
  }
  spec['snap.0/small'] = file('small');
  buildTree(src, spec);
}

/**
 * What a stopped copy may leave: every path outside the state folder is complete (same size
 * and content as its source path), and paths that share a dst inode share a source inode.
 */
function expectNoHalfFiles(src: string, dst: string): number {
  const s = readTree(src);
  const d = readTree(dst);
  let files = 0;
  for (const [key, n] of d) {
    if (n.type === 'dir') continue;
    const orig = s.get(key);
    expect(orig, `${key} is in dst but not in src`).toBeDefined();
    expect(n.size, `${key}: size`).toBe(orig!.size);
    expect(n.sha256, `${key}: content`).toBe(orig!.sha256);
    files++;
  }
  const srcOfDst = new Map<string, string>();
  for (const [key, n] of d) {
    if (n.type === 'dir') continue;
    const si = inodeKey(s.get(key)!);
    const seen = srcOfDst.get(inodeKey(n));
    if (seen) expect(seen, `${key} joins two source inodes`).toBe(si);
    else srcOfDst.set(inodeKey(n), si);
  }
  const tmp = path.join(dst, '.linkmirror', 'tmp');
  expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([]);
  return files;
}

describe('a destination too small', () => {
  it('counts the index: room for the content but not for the index is refused before any file is placed', async (ctx) => {
    // 28 MiB of ext4: the scan's 12 MB of index fit, the 22 MB it grows by while the paths are
    // placed do not. Before the plan counted the index it passed the pre-flight (0.3 MiB needed)
    // and ran into ENOSPC partway through the files.
    const m = useLoopMount(ctx, 'ext4', 28);
    const src = path.join(temp(), 'src');
    buildLongNameLinks(src); // 33 MB of index in the end, 160 KiB of content
    const dst = path.join(m.dir, 'mirror');

    const dry = runCli(['copy', '--dry-run', src, dst]);
    expectExit(dry, ExitCode.fatal); // as the real run then exits
    // The plan says the copy would stop, as the real run then does.
    expect(dry.stdout).toMatch(/^the copy would stop before writing anything: destination has .* free; the copy needs /m);
    const needed = /space needed +(.+), .* inodes \((.+) of it for the index\)/.exec(dry.stdout);
    expect(needed, dry.stdout).not.toBeNull();
    expect(needed![2]).toMatch(/MiB$/);
    expect(Number.parseFloat(needed![2]!)).toBeGreaterThan(25);

    const err = await copy(src, dst).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(err, 'DST_TOO_SMALL'), String(err)).toBe(true);
    expect(fs.existsSync(dst)).toBe(false); // made by the run, removed with its refusal

    // With the room the estimate asks for, the same copy goes through.
    const big = useLoopMount(ctx, 'ext4', 64);
    const fits = path.join(big.dir, 'mirror');
    await copy(src, fits);
    expectSameTopology(src, fits);
  });

  it('the pre-flight refuses with DST_TOO_SMALL before writing data; the CLI exits 3 with one line', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 8);
    const src = path.join(temp(), 'src');
    bigSource(src);
    const dst = path.join(m.dir, 'mirror');

    const err = await copy(src, dst).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(err, 'DST_TOO_SMALL'), String(err)).toBe(true);
    expect(exitCodeFor(err)).toBe(ExitCode.fatal);
    expect((err as Error).message).toMatch(/--force/);
    // The destination the run made is gone again: no empty mirror is left on the small drive.
    expect(fs.existsSync(dst)).toBe(false);

    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.fatal);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^linkmirror: destination has .* free; the copy needs .*--force/);
    expect(fs.existsSync(dst)).toBe(false);

    // A destination folder that was there before the refusal stays, as it was (empty).
    fs.mkdirSync(dst);
    expectExit(runCli(['copy', src, dst]), ExitCode.fatal);
    expect(fs.readdirSync(dst).filter((n) => n !== '.linkmirror')).toEqual([]);
  });

  it('forced: a real ENOSPC stops the copy with NO_SPACE, and no file is half-written under its name', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 8);
    const src = path.join(temp(), 'src');
    bigSource(src);
    const dst = path.join(m.dir, 'mirror');

    const err = await copy(src, dst, { force: true }).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(err, 'NO_SPACE'), String(err)).toBe(true);
    expect(exitCodeFor(err)).toBe(ExitCode.fatal);
    expect((err as Error).message).toMatch(/full/);
    expect((err as Error).message).not.toMatch(/\n/);
    expect(errnoCode((err as Error).cause)).toBe('ENOSPC'); // the kernel's, not an injected one
    const placed = expectNoHalfFiles(src, dst);
    expect(placed).toBeGreaterThan(0); // it did get some way before the disk filled
    expect(placed).toBeLessThan(2 * FILES + 1); // and stopped before the end

    // The next run, not forced: the plan counts every inode the index has no row for, some of
    // which the stopped run left complete on the drive. The refusal says so, and what to do.
    const again = await copy(src, dst).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(again, 'DST_TOO_SMALL'), String(again)).toBe(true);
    expect((again as Error).message).toMatch(/Part of that may be on the drive already: the interrupted run's files .* Pass --force to go on/);
  });

  it('forced through the CLI: exit 3, one line saying the destination is full', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 8);
    const src = path.join(temp(), 'src');
    bigSource(src);
    const dst = path.join(m.dir, 'mirror');
    const r = runCli(['copy', '--force', src, dst]);
    expectExit(r, ExitCode.fatal);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^linkmirror: .*full.*run the same command again/);
    expectNoHalfFiles(src, dst);
  });

  // The index lives on the destination, in WAL mode once a first copy is done. Its WAL index
  // used to be a -shm file mapped into memory: on a drive already full when a run started,
  // touching a page of that mapping the filesystem could not back killed linkmirror with SIGBUS
  // ("Bus error", exit 135).
  it('a drive so full that not even the lock file can be written: exit 3, one line, no empty lock left', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 8);
    const src = path.join(temp(), 'src');
    buildTree(src, { 'a/f': file('first') });
    const dst = path.join(m.dir, 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    // Every block, down to the last one a small file would take.
    const fd = fs.openSync(path.join(m.dir, 'ballast'), 'w');
    try {
      for (const size of [64 * 1024, 1024, 1]) {
        try {
          for (;;) fs.writeSync(fd, Buffer.alloc(size));
        } catch (err) {
          expect(errnoCode(err)).toBe('ENOSPC');
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    const r = runCli(['copy', '--json', src, dst]);
    expectExit(r, ExitCode.fatal);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'NO_SPACE', exitCode: 3 });
    expect(JSON.parse(r.stdout).error.message).toMatch(/^destination is full: not even the lock file .* could be written; free space and run the same command again$/);
    expect(fs.existsSync(path.join(dst, '.linkmirror', 'lock'))).toBe(false);
  });

  it('a mirror whose drive is already full: exit 3, one line saying to free space; once there is room the same command completes', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 8);
    const src = path.join(temp(), 'src');
    buildTree(src, { 'a/f': file('first'), 'a/g': link('a/f') });
    const dst = path.join(m.dir, 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    const ballast = path.join(m.dir, 'ballast');
    const fd = fs.openSync(ballast, 'w');
    try {
      const chunk = Buffer.alloc(64 * 1024);
      for (;;) fs.writeSync(fd, chunk);
    } catch (err) {
      expect(errnoCode(err)).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    buildTree(src, { 'a/h': file('added while the drive was full') });

    const r = runCli(['copy', '-q', src, dst]);
    expect(r.signal, r.stderr).toBeNull();
    expectExit(r, ExitCode.fatal);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^linkmirror: .*full; free space and run the same command again/);

    fs.rmSync(ballast);
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    expectSameTopology(src, dst);
  });

  // The plan counted a block and an inode for every source directory, on every run: a mirror of
  // 2,000 directories on a drive with less than 8 MiB free was refused each time (DST_TOO_SMALL),
  // however little the source had changed.
  it('a re-run counts only the directories it has to make: a mirror of many folders on a nearly full drive takes a small change', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 48);
    const src = path.join(temp(), 'src');
    const spec: Record<string, TreeNode> = {};
    for (let d = 0; d < 2000; d++) spec[`snap/d${String(d).padStart(4, '0')}/f`] = file(`f ${d}`);
    buildTree(src, spec);
    const dst = path.join(m.dir, 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    // Leave some 2 MiB free: room for the change, not for a block per source folder (8 MiB).
    leaveFree(m.dir, 2 * MiB);
    expect(freeBytes(m.dir)).toBeLessThan(3 * MiB);
    buildTree(src, { 'snap/d0007/new': file('added'), 'snap/new-folder/g': file('in a new folder') });

    const r = runCli(['copy', '-q', src, dst]);
    expectExit(r, ExitCode.ok);
    expectSameTopology(src, dst);
    const dry = runCli(['copy', '-n', src, dst]);
    expectExit(dry, ExitCode.ok);
    expect(dry.stdout).toMatch(/space needed +0 B, 0 inodes/);
  });

  it('an ENOSPC half-way through a file (injected) leaves the half in no final name', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    // Three single-path inodes: whichever order their inode numbers give, the first is placed
    // whole and the second fails half-way (a linked group first would place two paths).
    buildTree(src, { a: file('a'.repeat(1000)), b: file('b'.repeat(1000)), c: file('c'.repeat(1000)) });
    // copyFiles #1 and #2 are the hard-link probes (before a new mirror's index is made, and
    // after the scan); #4 fails after writing half its content.
    const ops = faultyOps(realFsOps, { op: 'copyFile', nth: 4, code: 'ENOSPC', partial: true });
    const err = await copy(src, dst, { ops }).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(err, 'NO_SPACE'), String(err)).toBe(true);
    expect(ops.failures.copyFile).toBe(1);
    expect(expectNoHalfFiles(src, dst)).toBe(1);
  });
});
