// The command line end to end, through the built bin in a child process: the exit codes a cron
// job acts on (0, 1, 2, 3, 130), --dry-run writing nothing, --json parsing with the counts,
// --quiet printing nothing, --help naming the exit codes. Stdout is a pipe, so no progress bar.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { Index } from '../../src/store/index-db.js';
import { BIN, expectExit, lines, runCli } from '../helpers/cli.js';
import { buildTree, expectSameTopology, file, fifo, link, readTree, symlink, tempDirs, type TreeSpec } from '../helpers/tree.js';

const temp = tempDirs();

const SPEC: TreeSpec = {
  'daily.0/a.txt': file('alpha', { mtime: 1_600_000_000 }),
  'daily.0/b.bin': file(Buffer.alloc(4096, 3)),
  'daily.1/a.txt': link('daily.0/a.txt'),
  'daily.1/b.bin': link('daily.0/b.bin'),
  'daily.1/new.txt': file('new'),
  'daily.1/s': symlink('a.txt'),
  'daily.1/p': fifo(),
};

function setup(spec: TreeSpec = SPEC): { base: string; src: string; dst: string } {
  const base = temp();
  const src = path.join(base, 'src');
  buildTree(src, spec);
  return { base, src, dst: path.join(base, 'dst') };
}

/** Every entry under root with what a write would change. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, n] of readTree(root)) out[key] = `${n.type} ${n.ino} ${n.nlink} ${n.size} ${n.mtimeNs} ${n.sha256 ?? ''}`;
  return out;
}

describe('linkmirror copy (the built CLI)', () => {
  it('exit 0: copies the tree, prints a summary on stdout and nothing on stderr', () => {
    const { src, dst } = setup();
    const r = runCli(['copy', src, dst]);
    expect(r.stderr).toBe('');
    expectExit(r, ExitCode.ok);
    expect(r.stdout).toMatch(/^copied .* -> .* in /);
    expect(r.stdout).toMatch(/hard links/);
    expect(r.stdout).toMatch(/problems\s+0/);
    expectSameTopology(src, dst);
  });

  it('exit 0 again on a finished mirror, and the mirror is unchanged', () => {
    const { src, dst } = setup();
    const r0 = runCli(['copy', '-q', src, dst]);
    expect(r0.status, JSON.stringify(r0)).toBe(ExitCode.ok);
    const before = snapshot(dst);
    const r = runCli(['copy', '-q', src, dst]);
    expect(r.status, JSON.stringify(r)).toBe(ExitCode.ok);
    expect(snapshot(dst)).toEqual(before);
  });

  it('exit 1: paths the destination cannot hold (names too long there) are counted, the rest is copied', () => {
    // The source sits at a short path, the destination 400 bytes deeper: the deepest source
    // paths fit in PATH_MAX (4096) but their destination paths do not — ENAMETOOLONG, for real.
    // (Not deeper: the index in DST/.linkmirror must stay within SQLite's 512-byte path limit.)
    const base = temp();
    const src = path.join(base, 's');
    // As many 250-byte components as fit below PATH_MAX with the source's prefix (15 under /tmp).
    const count = Math.floor((4095 - (src.length + 1) - '/f'.length + 1) / 251);
    const deep = Array.from({ length: count }, (_, i) => `${i}`.padStart(3, '0') + 'y'.repeat(247)).join('/');
    buildTree(src, {
      'short/ok.txt': file('fits'),
      'short/ok-link': link('short/ok.txt'),
      [`${deep}/f`]: file('too deep for the destination'),
    });
    expect(path.join(src, deep, 'f').length).toBeLessThan(4096);
    const dstParent = path.join(base, 'x'.repeat(250), 'x'.repeat(150));
    fs.mkdirSync(dstParent, { recursive: true });
    const dst = path.join(dstParent, 'd');
    expect(path.join(dst, deep, 'f').length).toBeGreaterThan(4096);

    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.problems);
    expect(r.stderr).toMatch(/ENAMETOOLONG/);
    expect(r.stdout).toMatch(/problems\s+[1-9]/);
    expect(fs.readFileSync(path.join(dst, 'short/ok-link'), 'utf8')).toBe('fits');
    expect(fs.statSync(path.join(dst, 'short/ok.txt')).nlink).toBe(2);

    // --json carries the same problems, with their codes.
    const j = runCli(['copy', '--json', src, path.join(dstParent, 'd2')]);
    expectExit(j, ExitCode.problems);
    const summary = JSON.parse(j.stdout);
    expect(summary.problemCount).toBeGreaterThanOrEqual(1);
    expect(summary.problems.some((p: { code: string }) => p.code === 'ENAMETOOLONG')).toBe(true);
  });

  it('exit 2: a usage error, one line on stderr, nothing written', () => {
    const { base, dst } = setup();
    const r = runCli(['copy', path.join(base, 'missing'), dst]);
    expectExit(r, ExitCode.usage);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^linkmirror: source .*missing does not exist/);
    expect(fs.existsSync(dst)).toBe(false);
  });

  it('exit 3: a broken index in the destination, one line on stderr', () => {
    const { src, dst } = setup();
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    fs.writeFileSync(path.join(dst, '.linkmirror/index.db'), 'this is not an SQLite database, not even close '.repeat(100));
    fs.rmSync(path.join(dst, '.linkmirror/index.db-wal'), { force: true });
    fs.rmSync(path.join(dst, '.linkmirror/index.db-shm'), { force: true });
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.fatal);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^linkmirror: .*index/);
  });

  it('exit 3: another linkmirror holds the destination’s lock', () => {
    const { src, dst } = setup();
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    const before = snapshot(dst);
    // pid 1 is always alive: the lock is not stale.
    fs.writeFileSync(path.join(dst, '.linkmirror/lock'), '1');
    fs.writeFileSync(path.join(src, 'daily.1/later.txt'), 'later');
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.fatal);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^linkmirror: another linkmirror \(pid 1\)/)]);
    expect(snapshot(dst)).toEqual(before);
  });

  it('exit 130: Ctrl-C stops the copy cleanly; the same command then finishes it (exit 0)', async () => {
    // 30,000 paths take a second or two: time enough to interrupt.
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    fs.mkdirSync(src);
    for (let d = 0; d < 30; d++) {
      fs.mkdirSync(path.join(src, `d${d}`));
      fs.writeFileSync(path.join(src, `d${d}`, 'f'), `content ${d}`);
      for (let i = 0; i < 1000; i++) fs.linkSync(path.join(src, `d${d}`, 'f'), path.join(src, `d${d}`, `l${i}`));
    }
    const child = spawn(process.execPath, [BIN, 'copy', src, dst], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    // The lock appears once the copy has started (its signal handlers are installed by then).
    const lock = path.join(dst, '.linkmirror/lock');
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(lock) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGINT');
    const { code, signal } = await done;
    expect(signal, stderr).toBe(null);
    expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(ExitCode.interrupted);
    expect(fs.existsSync(lock)).toBe(false);

    const again = runCli(['copy', '--json', src, dst]);
    expectExit(again, ExitCode.ok);
    expect(JSON.parse(again.stdout)).toMatchObject({ interrupted: false, problemCount: 0 });
    expectSameTopology(src, dst);
  });

  it('--dry-run prints the plan and writes nothing: the destination is not even created', () => {
    const { src, dst } = setup();
    const r = runCli(['copy', '--dry-run', src, dst]);
    expectExit(r, ExitCode.ok);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^plan for /);
    expect(r.stdout).toMatch(/inodes to copy\s+5 of 5/);
    expect(r.stdout).toMatch(/links to make\s+2/);
    expect(fs.existsSync(dst)).toBe(false);
  });

  it('--dry-run on an existing mirror writes nothing there either, and plans only what changed', () => {
    const { src, dst } = setup();
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    fs.writeFileSync(path.join(src, 'daily.1/later.txt'), 'later');
    const before = snapshot(dst);
    const stateBefore = fs.readdirSync(path.join(dst, '.linkmirror')).sort();
    const r = runCli(['copy', '-n', '--json', src, dst]);
    expectExit(r, ExitCode.ok);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ dryRun: true, resumed: true });
    expect(plan.plan).toMatchObject({ pathsToPlace: 1, inodesToCopy: 1 });
    expect(snapshot(dst)).toEqual(before);
    expect(fs.readdirSync(path.join(dst, '.linkmirror')).sort()).toEqual(stateBefore);
    expect(fs.existsSync(path.join(dst, 'daily.1/later.txt'))).toBe(false);
  });

  // A running copy holds its index exclusively (SQLite's WAL index in its own memory, see
  // Index.open). A dry run meanwhile cannot read it: it says so in one line, and writes nothing.
  it('--dry-run while a copy holds the mirror’s index: exit 3, one line saying another linkmirror has it', () => {
    const { src, dst } = setup();
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    const before = snapshot(dst);
    const running = Index.open(path.join(dst, '.linkmirror', 'index.db'));
    try {
      const r = runCli(['copy', '-n', src, dst]);
      expectExit(r, ExitCode.fatal);
      // Said of the destination, not of the dry run's own scratch index.
      expect(lines(r.stderr)).toEqual([`linkmirror: another linkmirror is working on ${dst} (its index is in use); wait for it, then plan again`]);
    } finally {
      running.close();
    }
    expect(snapshot(dst)).toEqual(before);
    expectExit(runCli(['copy', '-n', src, dst]), ExitCode.ok);
  });

  it('--json prints one JSON document with the counts', () => {
    const { src, dst } = setup();
    const r = runCli(['copy', '--json', src, dst]);
    expectExit(r, ExitCode.ok);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      dryRun: false,
      interrupted: false,
      problemCount: 0,
      problems: [],
      scan: { paths: 10, dirs: 3, files: 5, symlinks: 1, specials: 1, inodes: 5, linkGroups: 2, largestGroup: 2, logicalBytes: 2 * (5 + 4096) + 3, physicalBytes: 5 + 4096 + 3 },
      placed: { inodesCopied: 5, linksMade: 2, splits: 0, bytesCopied: 5 + 4096 + 3, failedPaths: 0 },
      dirsMade: 2,
    });
    expect(s.src).toBe(fs.realpathSync(src));
    expect(s.dst).toBe(path.join(fs.realpathSync(path.dirname(dst)), 'dst'));
  });

  it('--progress off a terminal writes a progress line now and then on stderr; the summary stays on stdout', () => {
    const { src, dst } = setup();
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(src, `daily.0/many-${i}`), `file ${i}`);
    const r = runCli(['copy', '--progress', src, dst], { env: { LINKMIRROR_PROGRESS_MS: '1' } });
    expectExit(r, ExitCode.ok);
    // Plain timestamped lines, one per tick: no bar glyphs, no blank lines between them.
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d (scanning|copying) [\d,]+/m);
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d copying [\d,]+\/3,0\d\d \(\d+%\)/m);
    expect(r.stderr).not.toMatch(/\n\n|[|\u2588\u2591]/);
    expect(r.stdout).toMatch(/^copied .* -> /);
    // Without --progress, nothing but the summary.
    const quietDst = path.join(path.dirname(dst), 'plain');
    expect(runCli(['copy', src, quietDst]).stderr).toBe('');
  });

  it('--quiet prints nothing at all on success', () => {
    const { src, dst } = setup();
    const r = runCli(['copy', '--quiet', src, dst]);
    expectExit(r, ExitCode.ok);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expectSameTopology(src, dst);
  });

  it.skipIf(process.getuid?.() !== 0)('--quiet prints the summary when some paths failed (exit 1): a cron job mails what is printed, not its exit code', () => {
    const { base, src, dst } = setup();
    fs.chmodSync(base, 0o777); // for the user the run is made as, who may not read one file
    const unreadable = path.join(src, 'locked');
    fs.writeFileSync(unreadable, 'secret');
    fs.chmodSync(unreadable, 0o000);
    try {
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'copy', '--quiet', src, dst], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(ExitCode.problems);
      expect(r.stdout).toMatch(/^problems +1\n {2}cannot copy locked: EACCES/m);
      expect(r.stderr).toBe(''); // the problems once, in the summary, not also as warnings
    } finally {
      fs.chmodSync(unreadable, 0o644);
    }
  });

  it('--help, for the program and for copy, names every exit code', () => {
    for (const args of [['--help'], ['copy', '--help'], ['help', 'copy']]) {
      const r = runCli(args);
      expect(r.status, args.join(' ')).toBe(ExitCode.ok);
      expect(r.stdout).toMatch(/Exit codes:/);
      for (const code of ['0', '1', '2', '3', '130']) expect(r.stdout).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, 'm'));
    }
    expect(runCli(['copy', '--help']).stdout).toMatch(/--dry-run/);
  });
});
