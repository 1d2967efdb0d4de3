// Paths the source no longer has: with --delete they go from the mirror (a directory with
// everything below it, each path counted), and the state folder at the top never does; without it
// they stay, untouched, and are counted in summary.extrasKept. Inodes that other paths still
// use keep their destination inode and lose only the removed names (nlink goes down).
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import { INDEX_FILE, STATE_DIR } from '../../src/state-dir.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { expectExit, lines, runCli } from '../helpers/cli.js';
import { indexRows } from '../helpers/mirror-state.js';
import { buildTree, dir, expectSameTopology, file, link, readTree, symlink, tempDirs, type TreeSpec } from '../helpers/tree.js';

const temp = tempDirs();

/** Three snapshots sharing inodes; snap.2 is the oldest, with a path of its own in a sub-folder. */
const SPEC: TreeSpec = {
  'snap.2/a': file('a, since the oldest', { mtime: 1_600_000_000 }),
  'snap.2/gone': file('only in the oldest', { mtime: 1_600_000_001 }),
  'snap.2/sub/deep': file('deep, only in the oldest', { mtime: 1_600_000_002 }),
  'snap.2/sub/s': symlink('deep'),
  'snap.2/ro': dir({ mode: 0o555 }),
  'snap.2/ro/locked': file('in a read-only folder', { mtime: 1_600_000_003 }),
  'snap.1/a': link('snap.2/a'),
  'snap.1/b': file('b', { mtime: 1_600_000_004 }),
  'snap.1/empty': dir(),
  'snap.0/a': link('snap.2/a'),
  'snap.0/b': link('snap.1/b'),
  'snap.0/c': file('c', { mtime: 1_600_000_005 }),
  // Not the state folder: only the top-level .linkmirror is.
  'snap.0/.linkmirror/not-state': file('an ordinary file in the tree'),
  // What the source keeps: enough that pruning removes less than half of the mirror (--delete's
  // default limit, see the tests of --max-delete at the end).
  ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`snap.0/kept/k${i}`, file(`kept ${i}`, { mtime: 1_600_000_100 + i })])),
};

async function mirrored() {
  const base = temp();
  const src = path.join(base, 'src');
  const dst = path.join(base, 'dst');
  buildTree(src, SPEC);
  await copy(src, dst);
  expectSameTopology(src, dst);
  return { base, src, dst, before: readTree(dst) };
}

/** The oldest snapshot rotated out, a file removed from another one, an empty folder gone. */
function prune(src: string): void {
  fs.chmodSync(path.join(src, 'snap.2/ro'), 0o755);
  fs.rmSync(path.join(src, 'snap.2'), { recursive: true });
  fs.rmSync(path.join(src, 'snap.0/c'));
  fs.rmSync(path.join(src, 'snap.1/empty'), { recursive: true });
  fs.rmSync(path.join(src, 'snap.0/.linkmirror'), { recursive: true });
}

describe('--delete', () => {
  it('removes files and whole directories the source lost (read-only ones too), counting every path removed', async () => {
    const { src, dst, before } = await mirrored();
    prune(src);
    const summary = await copy(src, dst, { delete: true });
    expect(summary.problemCount).toBe(0);
    // snap.2 with the 7 paths below it, snap.0/c, snap.1/empty, snap.0/.linkmirror with its file
    expect(summary.deleted).toBe(12);
    expect(summary.extrasKept).toBe(0);
    expect(summary.placed.inodesCopied).toBe(0);
    expectSameTopology(src, dst);
    // The shared inode lost one name and kept its destination inode.
    const after = readTree(dst);
    expect(after.get('snap.0/a')!.ino).toBe(before.get('snap.0/a')!.ino);
    expect(after.get('snap.0/a')!.nlink).toBe(2);
    // The index forgot the removed paths.
    expect([...indexRows(dst).keys()].filter((k) => k.startsWith('snap.2/') || k === 'snap.0/c')).toEqual([]);
  });

  it('never touches the state folder: the index survives and the next run is incremental', async () => {
    const { src, dst } = await mirrored();
    prune(src);
    const state = path.join(dst, '.linkmirror');
    const index = path.join(state, 'index.db');
    const ino = fs.statSync(index).ino;
    await copy(src, dst, { delete: true });
    expect(fs.statSync(index).ino).toBe(ino);
    expect(fs.readdirSync(state)).toContain('index.db');
    const again = await copy(src, dst, { delete: true });
    expect(again).toMatchObject({ resumed: true, deleted: 0 });
    expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0 });
    expectSameTopology(src, dst);
  });

  it('the CLI says what it deleted', async () => {
    const { src, dst } = await mirrored();
    prune(src);
    const r = runCli(['copy', '--delete', src, dst]);
    expectExit(r, ExitCode.ok);
    expect(r.stdout).toMatch(/^deleted\s+12 paths no longer in the source$/m);
    expect(r.stdout).not.toMatch(/^kept/m);
  });
});

describe('--delete finds the extras', () => {
  it('in the index, without listing the destination; a file put there by hand stays until --recheck', async () => {
    const { src, dst } = await mirrored();
    prune(src);
    const byHand = path.join(dst, 'snap.1/by-hand');
    fs.writeFileSync(byHand, 'not from the source, not in the index');
    const ops = faultyOps(realFsOps, []);
    const summary = await copy(src, dst, { delete: true, ops });
    expect(summary.deleted).toBe(12);
    expect(ops.calls.readdirKinds).toBe(0);
    expect(fs.readFileSync(byHand, 'utf8')).toBe('not from the source, not in the index');

    // --recheck walks the destination, and so finds it.
    const walked = faultyOps(realFsOps, []);
    const again = await copy(src, dst, { delete: true, recheck: true, ops: walked });
    expect(walked.calls.readdirKinds).toBeGreaterThan(0);
    expect(again.deleted).toBe(1);
    expect(fs.existsSync(byHand)).toBe(false);
    expectSameTopology(src, dst);
  });

  it('by a walk after a run that stopped in its pass (its last links may have no rows), and by the index after that', async () => {
    const { src, dst } = await mirrored();
    prune(src);
    fs.writeFileSync(path.join(src, 'snap.0/new'), 'new content, so the pass has a file to copy');
    // Stands for a link that a killed pass made and never recorded.
    const unrecorded = path.join(dst, 'snap.1/unrecorded');
    fs.writeFileSync(unrecorded, 'made by a pass that died');
    const full = faultyOps(realFsOps, { op: 'copyFile', code: 'ENOSPC', path: /snap\.0\/new$/ });
    await expect(copy(src, dst, { ops: full })).rejects.toMatchObject({ code: 'NO_SPACE' });

    const walked = faultyOps(realFsOps, []);
    const summary = await copy(src, dst, { delete: true, ops: walked });
    expect(walked.calls.readdirKinds).toBeGreaterThan(0);
    expect(summary.deleted).toBe(13);
    expect(fs.existsSync(unrecorded)).toBe(false);
    expectSameTopology(src, dst);

    const next = faultyOps(realFsOps, []);
    await copy(src, dst, { delete: true, ops: next });
    expect(next.calls.readdirKinds).toBe(0);
  });

  it('a folder that cannot be removed is reported once, keeps its rows, and goes on the next run', async () => {
    const { src, dst } = await mirrored();
    prune(src);
    const stuck = faultyOps(realFsOps, { op: 'unlink', code: 'EACCES', path: /\/snap\.2\/gone$/ });
    const summary = await copy(src, dst, { delete: true, ops: stuck });
    expect(summary.problemCount).toBe(1);
    expect(summary.problems[0].message).toMatch(/^cannot delete snap\.2: EACCES/);
    expect(fs.existsSync(path.join(dst, 'snap.2/gone'))).toBe(true);
    // Its rows stay, so the next --delete finds what is left of it (from the index, or by a walk).
    expect([...indexRows(dst).keys()]).toContain('snap.2/gone');
    const again = await copy(src, dst, { delete: true });
    expect(again.problemCount).toBe(0);
    expect(fs.existsSync(path.join(dst, 'snap.2'))).toBe(false);
    expectSameTopology(src, dst);
  });

  it('a folder that became a file in the source: the rows below it go, nothing else is removed', async () => {
    const { src, dst } = await mirrored();
    fs.rmSync(path.join(src, 'snap.2/sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'snap.2/sub'), 'now a file');
    const summary = await copy(src, dst, { delete: true });
    expect(summary.problemCount).toBe(0);
    expect(summary.deleted).toBe(2); // sub/deep and sub/s, removed with the folder
    expect(fs.readFileSync(path.join(dst, 'snap.2/sub'), 'utf8')).toBe('now a file');
    expect([...indexRows(dst).keys()].filter((k) => k.startsWith('snap.2/sub/'))).toEqual([]);
    expectSameTopology(src, dst);
  });

  it('without --delete, a folder that became a file keeps what it holds and the path is reported; an empty one is replaced', async () => {
    const { src, dst } = await mirrored();
    const deepIno = fs.lstatSync(path.join(dst, 'snap.2/sub/deep')).ino;
    fs.rmSync(path.join(src, 'snap.2/sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'snap.2/sub'), 'now a file');
    fs.rmdirSync(path.join(src, 'snap.1/empty'));
    fs.writeFileSync(path.join(src, 'snap.1/empty'), 'was an empty folder');
    const kept = await copy(src, dst);
    expect(kept.problemCount).toBe(1);
    expect(kept.problems[0].message).toMatch(/^cannot put in place snap\.2\/sub: a folder is in its way that holds 2 paths the source no longer has, kept because --delete was not given; run with --delete to replace it$/);
    expect(kept.deleted).toBe(0);
    expect(fs.lstatSync(path.join(dst, 'snap.2/sub/deep')).ino).toBe(deepIno);
    expect(fs.readlinkSync(path.join(dst, 'snap.2/sub/s'))).toBe('deep');
    expect(fs.readFileSync(path.join(dst, 'snap.1/empty'), 'utf8')).toBe('was an empty folder');
    // The next run reports it again, and --delete then replaces it.
    expect((await copy(src, dst)).problemCount).toBe(1);
    const replaced = await copy(src, dst, { delete: true });
    expect(replaced.problemCount).toBe(0);
    expect(fs.readFileSync(path.join(dst, 'snap.2/sub'), 'utf8')).toBe('now a file');
    expectSameTopology(src, dst);
  });
});

/** The index's list of paths gone from the source, and whether it is kept (meta 'gone'). */
function goneOf(dst: string, forget = false): { tracked: string | undefined; paths: string[] } {
  const db = new Database(path.join(dst, STATE_DIR, INDEX_FILE), { fileMustExist: true });
  try {
    // As an index written before the list was kept: no key at all.
    if (forget) db.prepare("DELETE FROM meta WHERE key = 'gone'").run();
    const tracked = db.prepare("SELECT value FROM meta WHERE key = 'gone'").pluck().get() as string | undefined;
    const paths = (db.prepare('SELECT path FROM gone ORDER BY path').pluck().all() as Buffer[]).map((p) => p.toString());
    return { tracked, paths };
  } finally {
    db.close();
  }
}

describe('--delete and the list of paths gone from the source', () => {
  it('each scan lists what it dropped, and a --delete pass leaves only what it could not remove', async () => {
    const { src, dst } = await mirrored();
    expect(goneOf(dst)).toEqual({ tracked: 'yes', paths: [] });
    fs.rmSync(path.join(src, 'snap.0/c'));
    fs.rmSync(path.join(src, 'snap.2/gone'));
    const kept = await copy(src, dst);
    expect(kept.extrasKept).toBe(2);
    expect(goneOf(dst)).toEqual({ tracked: 'yes', paths: ['snap.0/c', 'snap.2/gone'] });
    const stuck = faultyOps(realFsOps, { op: 'unlink', code: 'EACCES', path: /\/snap\.0\/c$/ });
    const failed = await copy(src, dst, { delete: true, ops: stuck });
    expect(failed.problemCount).toBe(1);
    expect(failed.deleted).toBe(1);
    expect(goneOf(dst).paths).toEqual(['snap.0/c']);
    const done = await copy(src, dst, { delete: true });
    expect(done.deleted).toBe(1);
    expect(goneOf(dst)).toEqual({ tracked: 'yes', paths: [] });
    expectSameTopology(src, dst);
  });

  it('an index that does not keep the list (an older one, a scan that started over): every mirror path is compared, then the list is kept', async () => {
    const { src, dst } = await mirrored();
    expect(goneOf(dst, true).tracked).toBeUndefined();
    prune(src);
    const summary = await copy(src, dst, { delete: true });
    expect(summary.deleted).toBe(12);
    expect(goneOf(dst)).toEqual({ tracked: 'yes', paths: [] });
    expectSameTopology(src, dst);
    // The next loss is listed by the scan, and removed from the list.
    fs.rmSync(path.join(src, 'snap.1/b'));
    await copy(src, dst);
    expect(goneOf(dst)).toEqual({ tracked: 'yes', paths: ['snap.1/b'] });
    const next = await copy(src, dst, { delete: true });
    expect(next.deleted).toBe(1);
    expect(fs.existsSync(path.join(dst, 'snap.1/b'))).toBe(false);
    expect(fs.existsSync(path.join(dst, 'snap.0/b'))).toBe(true);
    expect(goneOf(dst)).toEqual({ tracked: 'yes', paths: [] });
    expectSameTopology(src, dst);
  });
});

describe('without --delete', () => {
  it('extras stay untouched (content, inode) and are counted; the CLI says how to remove them', async () => {
    const { src, dst, before } = await mirrored();
    fs.chmodSync(path.join(src, 'snap.2/ro'), 0o755);
    fs.rmSync(path.join(src, 'snap.2'), { recursive: true });
    fs.rmSync(path.join(src, 'snap.0/c'));
    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expect(summary.deleted).toBe(0);
    // What the source lost: the files and symlinks snap.2/{a,gone,sub/deep,sub/s,ro/locked} and
    // snap.0/c, and the directories snap.2, snap.2/sub and snap.2/ro.
    expect(summary.extrasKept).toBe(9);
    const after = readTree(dst);
    for (const [key, n] of before) {
      if (n.type === 'dir') continue;
      expect(after.get(key)?.ino, key).toBe(n.ino);
      expect(after.get(key)?.sha256, key).toBe(n.sha256);
    }
    expect(after.get('snap.2/a')!.nlink).toBe(3); // still linked to the paths that stayed

    // --delete later removes exactly them.
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.ok);
    expect(r.stdout).toMatch(/^kept\s+9 paths no longer in the source \(use --delete to remove them\)$/m);
    const cleaned = await copy(src, dst, { delete: true });
    expect(cleaned.deleted).toBe(9);
    expectSameTopology(src, dst);
  });

  // Directories the copy made are recorded too, so one the source lost is counted.
  it('a directory the source lost is counted among the extras kept', async () => {
    const { src, dst } = await mirrored();
    fs.rmSync(path.join(src, 'snap.1/empty'), { recursive: true });
    const summary = await copy(src, dst);
    expect(fs.existsSync(path.join(dst, 'snap.1/empty'))).toBe(true);
    expect(summary.extrasKept).toBe(1);
  });
});

// A folder the scan cannot read looks empty: its copy must not be deleted as gone.
describe('--delete after a scan that could not read every path', () => {
  it('deletes nothing that run, says so, and the mirror keeps the unreadable folder; the next clean run deletes as usual', async () => {
    const { src, dst, before } = await mirrored();
    const locked = path.join(src, 'snap.1');
    const ops = faultyOps(realFsOps, [
      { op: 'readdir', path: locked, code: 'EACCES' },
      { op: 'readdirInodes', path: locked, code: 'EACCES' },
    ]);
    fs.rmSync(path.join(src, 'snap.0/c')); // a real loss beside it, which waits too
    const summary = await copy(src, dst, { delete: true, ops });
    expect(summary.problemCount).toBeGreaterThan(0);
    expect(summary).toMatchObject({ deleteSkipped: true, deleted: 0 });
    const after = readTree(dst);
    for (const key of ['snap.1/a', 'snap.1/b', 'snap.1/empty', 'snap.0/c']) expect(after.get(key)?.ino, key).toBe(before.get(key)!.ino);

    const clean = await copy(src, dst, { delete: true });
    expect(clean).toMatchObject({ problemCount: 0, deleted: 1 });
    expect(clean.deleteSkipped).toBe(false);
    expectSameTopology(src, dst);
  });
});

// An empty source, as an unmounted drive's mount point is, would otherwise empty the mirror.
describe('--max-delete', () => {
  /** The source's folder, emptied: its drive not mounted. */
  function unmount(src: string): void {
    for (const d of fs.readdirSync(src)) fs.chmodSync(path.join(src, d), 0o755);
    fs.chmodSync(src, 0o755);
    fs.rmSync(src, { recursive: true, force: true });
    fs.mkdirSync(src);
  }

  it('an empty source: --delete stops before writing anything, exit 2, one line; the mirror is intact and the next run goes on', async () => {
    const { src, dst, before } = await mirrored();
    // The source's drive unplugged: its folder stays, empty (renamed away, its inodes kept).
    const away = path.join(path.dirname(src), 'unmounted');
    fs.renameSync(src, away);
    fs.mkdirSync(src);
    const r = runCli(['copy', '--delete', src, dst]);
    expectExit(r, ExitCode.usage);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^linkmirror: --delete would empty the mirror \(\d+ paths?\): the source .* is empty; is its drive mounted\? to remove them anyway, run again with --max-delete 100%$/),
    ]);
    expect(readTree(dst)).toEqual(before);
    // Refused before its scan: the index keeps its record of the source, and verify DST still
    // checks the mirror against it (refused after the scan, it held an empty record, and verify
    // DST said "not vouched for" until the next copy).
    const v = runCli(['verify', dst]);
    expectExit(v, ExitCode.ok);
    expect(v.stdout).toMatch(/: they match$/m);
    // The dry run says what --delete would remove, and that the copy would stop.
    const plan = runCli(['copy', '-n', '--delete', src, dst]);
    expectExit(plan, ExitCode.usage); // as the real run exits
    expect(plan.stdout).toMatch(/^ {2}to delete {8}\d+ paths no longer in the source$/m);
    expect(plan.stdout).toMatch(/^the copy would stop before writing anything: --delete would empty the mirror/m);
    expect(readTree(dst)).toEqual(before);
    // The source back (mounted again): the next run finds the mirror as it was.
    fs.rmdirSync(src);
    fs.renameSync(away, src);
    const back = await copy(src, dst, { delete: true });
    expect(back).toMatchObject({ deleted: 0, problemCount: 0 });
    expect(back.placed).toMatchObject({ inodesCopied: 0, linksMade: 0 });
    expectSameTopology(src, dst);
    expectExit(runCli(['verify', dst]), ExitCode.ok);
  });

  it('a run that deletes by walking (an adoption) counts by the same walk: an empty source is refused, nothing removed', async () => {
    const { src, dst, before } = await mirrored();
    fs.rmSync(path.join(dst, '.linkmirror'), { recursive: true }); // a copy made by another tool, to adopt
    const away = path.join(path.dirname(src), 'unmounted');
    fs.renameSync(src, away);
    fs.mkdirSync(src);
    await expect(copy(src, dst, { adopt: true, delete: true })).rejects.toMatchObject({ code: 'DELETE_TOO_MANY' });
    const dry = await copy(src, dst, { dryRun: true, adopt: true, delete: true });
    expect(dry.deleteRefusal).toMatch(/would empty the mirror/);
    const after = readTree(dst);
    for (const [key, n] of before) if (n.type !== 'dir') expect(after.get(key)?.ino, key).toBe(n.ino);
  });

  it('a share or a number of paths: more than it is refused, up to it is removed; 100% removes everything', async () => {
    const { src, dst } = await mirrored();
    prune(src);
    // prune() takes 12 of the mirror's paths and leaves the source 23 (its top folder included).
    const dry = await copy(src, dst, { dryRun: true, delete: true });
    expect(dry).toMatchObject({ extras: 12, delete: true, deleteRefusal: undefined });
    await expect(copy(src, dst, { delete: true, maxDelete: { count: 11 } })).rejects.toMatchObject({ code: 'DELETE_TOO_MANY' });
    await expect(copy(src, dst, { delete: true, maxDelete: { share: 0.3 } })).rejects.toMatchObject({ code: 'DELETE_TOO_MANY' });
    expect(fs.existsSync(path.join(dst, 'snap.2/a'))).toBe(true);
    expect((await copy(src, dst, { delete: true, maxDelete: { count: 12 } })).deleted).toBe(12);
    expectSameTopology(src, dst);

    unmount(src);
    const emptied = await copy(src, dst, { delete: true, maxDelete: { share: 1 } });
    expect(emptied.deleted).toBeGreaterThan(20);
    expect(fs.readdirSync(dst)).toEqual([STATE_DIR]);
  });

  it('the CLI takes 500 or 10%, refuses anything else and --max-delete without --delete (exit 2, nothing written)', async () => {
    const { src, dst, before } = await mirrored();
    prune(src);
    for (const [args, message] of [
      [['--delete', '--max-delete', 'lots'], /^linkmirror: --max-delete lots: give a number of paths \(500\) or a share of the mirror \(10%, at most 100%\)$/],
      [['--delete', '--max-delete', '150%'], /^linkmirror: --max-delete 150%: give a number/],
      [['--max-delete', '10'], /^linkmirror: --max-delete limits --delete: give --delete too, or leave it out$/],
      [['--checksum'], /^linkmirror: --checksum compares content, of the files --adopt takes over or the mirror --recheck looks at: give one of them too, or leave it out$/],
    ] as const) {
      const r = runCli(['copy', ...args, src, dst]);
      expectExit(r, ExitCode.usage);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    }
    expect(readTree(dst)).toEqual(before);
    expectExit(runCli(['copy', '-q', '--delete', '--max-delete', '12', src, dst]), ExitCode.ok);
    expectSameTopology(src, dst);
  });
});
