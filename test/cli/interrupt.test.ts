// Interrupting the built CLI for real, in a child process: SIGKILL at seeded points of a copy
// of a generated rsnapshot-like tree (during the scan, then when the destination holds K files,
// K drawn from a seeded PRNG), and during an incremental run that stages replacements; Ctrl-C
// (SIGINT) and SIGTERM, once and twice. After every kill no file is under its final name with
// less than its full content, and the index's rows match the disk; the same command then
// finishes the mirror, identical to the source, without writing again any inode the index held
// (its destination inode number is unchanged) — exactly the inodes the index lacked are copied.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrng } from '../../fixtures/prng.js';
import { generateSnapshotTree, type SnapshotTreeStats } from '../../fixtures/snapshot-tree.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { BIN, expectExit, heldSync, runCli } from '../helpers/cli.js';
import {
  countFiles, expectNoHalfFiles, expectRowsKept, expectRowsOnDisk, indexRows, srcInodesIn, tmpLeft, type IndexRow,
} from '../helpers/mirror-state.js';
import { expectSameTopology, makeTemp, readTree, removeTemp, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

interface Running {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  /** True once the process has exited. */
  exited(): boolean;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `linkmirror …` in a child process, as a user or cron runs it (stdout a pipe: no bar). */
function start(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    }),
  );
  child.on('exit', () => (exited = true));
  return { pid: child.pid!, kill: (s) => child.kill(s), exited: () => exited, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` until it holds (true) or the process exits or 30 s pass (false). */
async function until(run: Running, cond: () => boolean, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (run.exited()) return false;
    if (cond()) return true;
    await sleep(everyMs);
  }
  return false;
}


// One generated tree for the tests that only read it: ~8,000 paths over 4 snapshots, a copy
// of a few seconds — time enough to land kills all over it.
let shared: { base: string; src: string; stats: SnapshotTreeStats };
beforeAll(() => {
  const base = makeTemp('linkmirror-interrupt-');
  const src = path.join(base, 'src');
  shared = { base, src, stats: generateSnapshotTree(src, { paths: 8_000, seed: 21 }) };
});
afterAll(() => removeTemp(shared.base));

describe('SIGKILL, then the same command again', () => {
  it('stopped once, then killed during the scan and at three seeded points of the content pass: each resume keeps what the index held, the last ends identical', async () => {
    const { src, stats } = shared;
    const dst = path.join(temp(), 'dst');
    const total = stats.paths - stats.dirs; // non-directory paths
    const prng = createPrng(21);
    const lock = path.join(dst, '.linkmirror/lock');
    // Run 1 is stopped cleanly (Ctrl-C) early on, so the index holds rows whatever its commit
    // interval; run 2 dies as soon as it holds the lock (scanning); the next ones when the
    // destination holds K files, K a seeded step into what is left (at most 80% of the tree).
    const triggers: { name: string; signal: NodeJS.Signals; cond: () => boolean }[] = [];
    let k = Math.floor(total * (0.05 + 0.1 * prng.next()));
    const first = k;
    triggers.push({ name: `Ctrl-C at ${first} files`, signal: 'SIGINT', cond: () => countFiles(dst) >= first });
    triggers.push({ name: 'scan', signal: 'SIGKILL', cond: () => fs.existsSync(lock) });
    for (let i = 0; i < 3; i++) {
      k += Math.floor((0.8 * total - k) * (0.15 + 0.5 * prng.next()));
      const at = k;
      triggers.push({ name: `${at} files`, signal: 'SIGKILL', cond: () => countFiles(dst) >= at });
    }

    let before = new Map<string, IndexRow>();
    const everRecorded = new Map<string, IndexRow>();
    for (const t of triggers) {
      const run = start(['copy', src, dst]);
      const hit = await until(run, t.cond);
      run.kill(t.signal);
      const r = await run.done;
      expect(hit, `trigger "${t.name}" not reached; exit ${r.code}: ${r.stderr}`).toBe(true);
      if (t.signal === 'SIGKILL') expect(r.signal, t.name).toBe('SIGKILL');
      else expect(r.code, t.name).toBe(ExitCode.interrupted);
      // What a kill leaves: complete files only, rows that match the disk, earlier rows kept.
      expectNoHalfFiles(src, dst);
      const rows = indexRows(dst);
      expectRowsOnDisk(dst, rows);
      expectRowsKept(dst, before);
      for (const [key, row] of rows) everRecorded.set(key, row);
      before = rows;
    }
    expect(before.size, 'the index held rows through the kills').toBeGreaterThan(0);
    expect(fs.existsSync(lock), 'a killed run leaves its lock').toBe(true);

    const last = runCli(['copy', '--json', src, dst]);
    expectExit(last, ExitCode.ok);
    const s = JSON.parse(last.stdout);
    expect(s).toMatchObject({ resumed: true, interrupted: false, problemCount: 0 });
    // Exactly the inodes the index did not hold were placed, each once: written, or taken as the
    // killed runs left them when they had written them in full after their last commit.
    expect(s.placed.inodesCopied + s.placed.foundComplete).toBe(s.scan.inodes - srcInodesIn(before));
    expect(s.placed.inodesCopied + s.placed.foundComplete).toBe(s.plan.inodesToCopy);
    expect(s.placed.bytesCopied + s.placed.bytesFound).toBe(s.plan.bytesToCopy);
    expectRowsKept(dst, everRecorded);
    expectSameTopology(src, dst);
    expect(tmpLeft(dst)).toEqual([]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('killed while an incremental run stages replacements (snapshots swapped places): the next run ends identical', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    const stats = generateSnapshotTree(src, { paths: 5_000, seed: 22 });
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    const mirrorBefore = readTree(dst);
    const [newest, oldest] = [stats.snapshots[0], stats.snapshots[stats.snapshots.length - 1]];
    fs.renameSync(path.join(src, newest), path.join(src, 'swap'));
    fs.renameSync(path.join(src, oldest), path.join(src, newest));
    fs.renameSync(path.join(src, 'swap'), path.join(src, oldest));
    // One new content too: the commit that follows the staging then waits for a sync (below).
    const edited = [...readTree(src)].find(([, n]) => n.type === 'file')![0];
    fs.appendFileSync(path.join(src, edited), 'edited after the first copy');

    // Killed once the temp area holds K staged files, K seeded. The staged files appear in a
    // burst at the end of the pass and are renamed into place right after its commit, some
    // 15 ms later: a sync that holds that commit (it vouches for the edited file's new content)
    // keeps them there until the kill, however late a loaded machine lets the poll run.
    const k = createPrng(22).int(1, 100);
    const sync = heldSync(base);
    const run = start(['copy', '--delete', src, dst], sync.env);
    const hit = await until(run, () => tmpLeft(dst).length >= k, 1);
    run.kill('SIGKILL');
    const r = await run.done;
    expect(hit, `never ${k} staged files; exit ${r.code}: ${r.stderr}`).toBe(true);
    // Every file holds what the mirror held or what the source holds now, never a mix.
    const s = readTree(src);
    const bad: string[] = [];
    for (const [key, n] of readTree(dst)) {
      if (n.type === 'file' && n.sha256 !== mirrorBefore.get(key)?.sha256 && n.sha256 !== s.get(key)?.sha256) bad.push(key);
    }
    expect(bad).toEqual([]);
    expectRowsOnDisk(dst, indexRows(dst));

    const last = runCli(['copy', '--json', '--delete', src, dst]);
    expectExit(last, ExitCode.ok);
    expect(JSON.parse(last.stdout)).toMatchObject({ interrupted: false, problemCount: 0 });
    expectSameTopology(src, dst);
    expect(tmpLeft(dst)).toEqual([]);
  });
});

describe('Ctrl-C', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} stops at a file boundary: exit 130, the index committed, how far it got and how to go on${signal === 'SIGINT' ? '; the same command finishes only the rest' : ' (sent twice at once, as timeout(1) does)'}`, async () => {
      const { src, stats } = shared;
      const dst = path.join(temp(), 'dst');
      const at = Math.floor((stats.paths - stats.dirs) * 0.3);
      const run = start(['copy', src, dst]);
      const hit = await until(run, () => countFiles(dst) >= at);
      run.kill(signal);
      // timeout(1) signals the command, then its process group: two SIGTERMs, one request
      // (they quit at once, exit 143 with no summary).
      if (signal === 'SIGTERM') run.kill(signal);
      const r = await run.done;
      expect(hit).toBe(true);
      expect(r.signal, r.stderr).toBe(null);
      expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(ExitCode.interrupted);
      // How far it got, and how to go on.
      const m = /^interrupted after .* \(([\d,]+) inodes and ([\d,]+) links done\): run the same command again to continue$/m.exec(r.stdout);
      expect(m, r.stdout).not.toBe(null);
      const [inodes, links] = [Number(m![1].replace(/,/g, '')), Number(m![2].replace(/,/g, ''))];
      expect(r.stderr).toMatch(/stopping after the current file/);

      // Every file placed is complete and in the committed index; nothing half-done is left.
      const placed = expectNoHalfFiles(src, dst);
      const rows = indexRows(dst);
      expect(rows.size).toBe(placed);
      expect(rows.size).toBe(inodes + links);
      expect(placed).toBeGreaterThanOrEqual(at);
      expectRowsOnDisk(dst, rows);
      expect(tmpLeft(dst)).toEqual([]);
      expect(fs.existsSync(path.join(dst, '.linkmirror/lock'))).toBe(false);
      if (signal === 'SIGTERM') return; // the rest is the same for both

      const again = runCli(['copy', '--json', src, dst]);
      expectExit(again, ExitCode.ok);
      const s = JSON.parse(again.stdout);
      expect(s).toMatchObject({ resumed: true, interrupted: false, problemCount: 0 });
      expect(s.placed.inodesCopied).toBe(s.scan.inodes - srcInodesIn(rows));
      expect(s.placed.inodesCopied + inodes).toBe(s.scan.inodes);
      expect(s.placed.alreadyPresent).toBe(rows.size);
      expectRowsKept(dst, rows);
      expectSameTopology(src, dst);
    });
  }

  // A first copy may start content copies ahead of the cursor; an incremental run copies at the
  // cursor, where only the loop's own pauses let the signal handler run.
  for (const when of ['a first copy', 'an incremental run'] as const) {
    it(`Ctrl-C while large files are being copied in ${when}: the run stops there (exit 130), not after copying them all`, async () => {
      // 4 x 128 MiB files (each linked once more): each takes longer to copy than the 50 ms
      // between two looks at the signal flag.
      const base = temp();
      const src = path.join(base, 'src');
      const dst = path.join(base, 'dst');
      fs.mkdirSync(path.join(src, 'snap.0'), { recursive: true });
      fs.mkdirSync(path.join(src, 'snap.1'));
      if (when === 'an incremental run') {
        fs.writeFileSync(path.join(src, 'snap.0/small'), 'small');
        expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
      }
      for (let i = 0; i < 4; i++) {
        const p = path.join(src, 'snap.0', `big${i}`);
        const chunk = Buffer.alloc(1024 * 1024, i + 1);
        const fd = fs.openSync(p, 'wx');
        for (let mib = 0; mib < 128; mib++) fs.writeSync(fd, chunk);
        fs.closeSync(fd);
        fs.linkSync(p, path.join(src, 'snap.1', `big${i}`));
      }
      const tmp = path.join(dst, '.linkmirror/tmp');
      const run = start(['copy', src, dst]);
      // Ctrl-C as soon as a copy is in flight: a temp file with content (nothing here is staged).
      const inFlight = () => tmpLeft(dst).some((name) => {
        try {
          return fs.lstatSync(path.join(tmp, name)).size > 0;
        } catch {
          return false; // renamed away between readdir and lstat
        }
      });
      const hit = await until(run, inFlight, 1);
      run.kill('SIGINT');
      const r = await run.done;
      expect(hit, `no copy seen in flight; exit ${r.code}: ${r.stderr}`).toBe(true);
      expect(r.code, r.stderr).toBe(ExitCode.interrupted);
      expect(expectNoHalfFiles(src, dst)).toBeLessThan(countFiles(src)); // stopped before the end
      expectRowsOnDisk(dst, indexRows(dst));
      expect(tmpLeft(dst)).toEqual([]);
    });
  }

  it('a second Ctrl-C quits at once (exit 130); the same command still finishes the mirror', async () => {
    const { src, stats } = shared;
    const dst = path.join(temp(), 'dst');
    const at = Math.floor((stats.paths - stats.dirs) * 0.2);
    const run = start(['copy', src, dst]);
    const hit = await until(run, () => countFiles(dst) >= at);
    run.kill('SIGINT');
    run.kill('SIGINT');
    const r = await run.done;
    expect(hit).toBe(true);
    // By the signal raised again with no listener (a shell's $? is 130 either way), which no
    // thread stuck in a system call holds up as process.exit() would; or the first one's clean
    // stop came first.
    expect(r.code === ExitCode.interrupted || r.signal === 'SIGINT', `${r.code} ${r.signal} ${r.stderr}`).toBe(true);
    expectNoHalfFiles(src, dst);
    const rows = indexRows(dst);
    expectRowsOnDisk(dst, rows);

    const again = runCli(['copy', '--json', src, dst]);
    expectExit(again, ExitCode.ok);
    const s = JSON.parse(again.stdout);
    // Files the killed run wrote in full after its last commit are taken (same source, same boot).
    expect(s.placed.inodesCopied + s.placed.foundComplete).toBe(s.scan.inodes - srcInodesIn(rows));
    expectRowsKept(dst, rows);
    expectSameTopology(src, dst);
    expect(tmpLeft(dst)).toEqual([]);
  });
});
