// The destination drive unplugged, simulated on a loop-mounted ext4 with the shutdown ioctl
// (xfs_io -x -c shutdown): from that instant every I/O fails with EIO, and what the disk keeps
// is what the journal had committed — as after pulling the cable or a power cut. Then the
// drive is "plugged back in" (unmounted, mounted again: the journal is replayed) and the same
// command runs again. The mirror must end identical to the source, and no file may be kept
// that is not whole — in particular not one the index vouches for while its data never
// reached the disk.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { generateSnapshotTree } from '../../fixtures/snapshot-tree.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { BIN, expectExit, heldSync, lines, runCli } from '../helpers/cli.js';
import { remount, useLoopMount, type LoopMount } from '../helpers/loop-mount.js';
import { countFiles, lightTree } from '../helpers/mirror-state.js';
import { expectSameTopology, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

const XFS_IO = ['/usr/sbin/xfs_io', '/sbin/xfs_io', '/usr/bin/xfs_io'].find((p) => fs.existsSync(p));

/** A loop-mounted ext4 that can be unplugged and plugged back, or the test is skipped. */
function drive(ctx: TestContext): LoopMount & { unplug(flushJournal?: boolean): void; plugIn(): void } {
  if (!XFS_IO) return ctx.skip('xfs_io not found (apt-get install xfsprogs)');
  const m = useLoopMount(ctx, 'ext4', 128);
  return {
    ...m,
    /** Every I/O fails from now on; with flushJournal, the journal is committed first. */
    unplug: (flushJournal = false) => void execFileSync(XFS_IO, ['-x', '-c', flushJournal ? 'shutdown -f' : 'shutdown', m.dir]),
    plugIn: () => remount(m),
  };
}

/** Files under dst that are not whole: another size or content than the same path in src. */
function brokenFiles(src: string, dst: string): string[] {
  const s = lightTree(src);
  const bad: string[] = [];
  for (const [key, n] of lightTree(dst)) {
    if (n.type !== 'file') continue;
    const o = s.get(key);
    if (!o || o.size !== n.size || o.sha256 !== n.sha256) bad.push(`${key}: ${n.size} bytes, ${o?.size ?? '?'} in src`);
  }
  return bad;
}

function source(): string {
  const src = path.join(temp(), 'src');
  generateSnapshotTree(src, { paths: 4000, seed: 41, snapshots: 4 });
  return src;
}

/**
 * Start `linkmirror copy src dst` and wait until dst holds `files` files (or 30 s, or the run
 * ended), so that the drive can be pulled under a copy that is still running.
 */
async function copyUntil(src: string, dst: string, files: number, pollMs = 10, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [BIN, 'copy', src, dst], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let exited = false;
  child.on('exit', () => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!exited && countFiles(dst) < files && Date.now() < deadline) await new Promise((r) => setTimeout(r, pollMs));
  return { exited: () => exited, stderr: () => stderr, done };
}

describe('the destination drive unplugged', () => {
  it('mid-copy: the run stops with exit 3; plugged back in, the same command finishes an identical mirror', async (ctx) => {
    const d = drive(ctx);
    const src = source();
    const dst = path.join(d.dir, 'mirror');
    const run = await copyUntil(src, dst, 300);
    expect(run.exited(), 'the copy ended before the unplug').toBe(false);
    d.unplug();
    expect(await run.done, run.stderr()).toBe(ExitCode.fatal);

    d.plugIn();
    const again = runCli(['copy', '--json', src, dst]);
    expectExit(again, ExitCode.ok);
    expect(JSON.parse(again.stdout).problemCount).toBe(0);
    expect(brokenFiles(src, dst)).toEqual([]);
    expectSameTopology(src, dst);
  });

  // A pulled drive answers EIO, which a bad source sector gives too: the state folder is looked at
  // to tell them apart, and cleanup on the dead drive cannot hide the error that stopped the run.
  it('mid-copy: one line on stderr says the destination stopped working, no stack trace', async (ctx) => {
    const d = drive(ctx);
    const src = source();
    const dst = path.join(d.dir, 'mirror');
    const run = await copyUntil(src, dst, 300);
    d.unplug();
    expect(await run.done).toBe(ExitCode.fatal);
    const stderr = run.stderr();
    expect(stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(lines(stderr).filter((l) => l.startsWith('linkmirror:')), stderr).toEqual([expect.stringMatching(/destination/)]);
  });

  // Every file is in place and the pass's last commit waits for its sync: a drive pulled then
  // fails that sync, and the run stops with one DST_UNUSABLE line, not a warning per file. (The
  // manifest's reads that follow, failing the same way, are record-manifest.test.ts's.) A sync
  // of the test's own holds the run there: from the last file to the end of the run is some
  // 200 ms, which a loaded machine's poll could miss.
  it('after the content pass, at its last commit: exit 3, one line saying the destination stopped working, no flood of per-file warnings', async (ctx) => {
    const d = drive(ctx);
    const src = source();
    const dst = path.join(d.dir, 'mirror');
    const total = countFiles(src);
    const sync = heldSync(temp());
    const run = await copyUntil(src, dst, total, 5, sync.env);
    while (!sync.held() && !run.exited()) await new Promise((r) => setTimeout(r, 5));
    // (Held at an earlier commit instead, had the pass run past its 10 s flush interval, the
    // drive is pulled there: the same path through the code, before the last files.)
    expect(run.exited(), run.stderr()).toBe(false);
    try {
      d.unplug();
    } finally {
      sync.release(); // a failed unplug must not leave the run held, and the mount busy
    }
    expect(await run.done, run.stderr()).toBe(ExitCode.fatal);
    const stderr = run.stderr();
    expect(lines(stderr).filter((l) => l.startsWith('linkmirror:')), stderr).toEqual([expect.stringMatching(/destination/)]);
    expect(lines(stderr).length, stderr.slice(0, 2000)).toBeLessThan(10);
  });

  // Each index commit that vouches for written content is preceded by a syncfs of the
  // destination, and so is the end of the run: exit 0 means the data is on the drive.
  it('right after a finished copy: every file is whole, because exit 0 means the data is on the drive', async (ctx) => {
    const d = drive(ctx);
    const src = source();
    const dst = path.join(d.dir, 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    d.unplug(true);
    d.plugIn();
    expect(brokenFiles(src, dst).length).toBe(0);
  });

  // The copy returned 0 and the user pulled the drive (no eject, no sync). The journal held the
  // renames and the index its rows (SQLite syncs its own files), but the files' data was still in
  // the page cache: they come back zero bytes long under their final names. The next run must
  // not take the index's word for them.
  it('right after a finished copy, before the data was written back: the same command repairs every file', async (ctx) => {
    const d = drive(ctx);
    const src = source();
    const dst = path.join(d.dir, 'mirror');
    const first = runCli(['copy', '-q', src, dst]);
    expectExit(first, ExitCode.ok);
    d.unplug(true);
    d.plugIn();
    const broken = brokenFiles(src, dst);

    const again = runCli(['copy', '--json', src, dst]);
    expectExit(again, ExitCode.ok);
    expect(brokenFiles(src, dst), `${broken.length} files were broken after the unplug`).toEqual([]);
    expectSameTopology(src, dst);
  });
});

describe('the destination drive made read-only by the kernel (ext4 errors=remount-ro)', () => {
  it('the next run, finding a killed run\'s lock there, says the drive is read-only (one line, exit 2), not "unexpected error"', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 32, [], { mountOptions: 'errors=remount-ro' });
    const src = path.join(temp(), 'src');
    generateSnapshotTree(src, { paths: 200, seed: 43, snapshots: 2 });
    const dst = path.join(m.dir, 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    // A run killed with its lock held (pid 2^22 + 1: above pid_max's default, so never alive).
    fs.writeFileSync(path.join(dst, '.linkmirror', 'lock'), '4194305 0\n');
    // An error the filesystem found: the kernel remounts it read-only, which access(2) does not say.
    const dev = path.basename(execFileSync('findmnt', ['-n', '-o', 'SOURCE', m.dir], { encoding: 'utf8' }).trim());
    const trigger = `/sys/fs/ext4/${dev}/trigger_fs_error`;
    if (!fs.existsSync(trigger)) return ctx.skip(`${trigger} not found (a kernel without it)`);
    fs.writeFileSync(trigger, '1');
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.usage);
    expect(lines(r.stderr)).toEqual([
      `linkmirror: destination ${dst} is on a filesystem that is read-only now (after an error, the kernel may have made it so: see dmesg); check it (fsck), mount it read-write, and run the same command again`,
    ]);
  });
});
