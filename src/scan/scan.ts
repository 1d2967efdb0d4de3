// scan: walk the source once and record every entry in the index, in batched transactions,
// then derive the inode groups ((dev, ino) -> first path) with one SQL pass. Nothing per-path
// stays in memory.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LinkmirrorError } from '../errors.js';
import { errnoCode } from '../fs/errno.js';
import { Problems, type Problem } from '../problems.js';
import { realFsOps, type FsOps } from '../fs/ops.js';
import { joinPath, showPath } from '../fs/paths.js';
import { noProgress, type Progress } from '../progress.js';
import { isStateDir } from '../state-dir.js';
import type { Index, InodeSample, ScanTotals } from '../store/index-db.js';
import { EntryType, sameTarget, typeFromMode, type Entry } from '../store/entry.js';
import { changedUnderScan, entryOf, runOf, stubOf, type EntryRun } from './walk-batch.js';
import { LIST_THREAD, walkOnThreads } from './walk-threads.js';
import { walkWithTargets, type StatFields } from './walk.js';
import { LstatThreads, lstatAhead, type PathFacts } from '../fs/lstat-threads.js';
import { Pacer, yieldNow } from '../yield.js';

export interface ScanOptions {
  ops?: FsOps;
  progress?: Progress;
  /** Rows per transaction. */
  batch?: number;
  /** Polled as the walk goes: true stops the scan with INTERRUPTED. */
  shouldStop?: () => boolean;
  /**
   * Walk on threads of its own while this one writes the index (real filesystem only; see
   * walk-threads.ts). Off for verify, whose two scans already run side by side.
   */
  walkThread?: boolean;
  /**
   * Over a complete scan, lstat only what the directory entries do not vouch for (see below).
   * Default true; false lstats every path.
   */
  stubs?: boolean;
  /**
   * A name at the top of the tree to leave out besides the state folder: a drive's lost+found
   * that this user may not list (see fs/lost-found.ts), at the top of a mirror or a source.
   */
  leaveOut?: Buffer;
}

export interface ScanResult {
  totals: ScanTotals;
  /** The first problems (the list is capped to keep memory flat); problemCount is exact. */
  problems: Problem[];
  problemCount: number;
  /** Index rows this scan wrote: 0 when the source is as the last scan saw it (see Index.endScan). */
  rowsWritten: number;
}

// A scan over a complete one (a resumed or incremental copy) lstats far fewer paths. A directory's
// entries say the name, type and inode number (d_ino) of each path in it; a path whose row names
// that same inode still names it, so the walk hands it over as a stub, without an lstat, and its
// row is kept (see Index.writeScanned). Paths with another inode, or new ones, are lstatted there
// and then. What a row says of its inode (size, mode, owner, times, birth) can change without any
// directory changing (a file rewritten in place, chmod), so after the walk one path per inode is
// lstatted and every row of an inode that differs is brought up to date (checkInodes). Nothing is
// taken from directory times, so nothing depends on their resolution or on a clock. A sample path
// that no longer holds its inode means the source changed under the scan: it runs again, lstatting
// every path. After an rsnapshot rotation of the 1M-path benchmark tree: directories, some 20,000
// paths whose inode changed and one path for each of 88,558 inodes, instead of a million paths.

export async function scan(root: Buffer | string, index: Index, options: ScanOptions = {}): Promise<ScanResult> {
  return (await scanOnce(root, index, options)) ?? (await scanOnce(root, index, { ...options, stubs: false }))!;
}

/** One scan; undefined when a sample path no longer held its inode after the walk (see checkInodes). */
async function scanOnce(root: Buffer | string, index: Index, options: ScanOptions): Promise<ScanResult | undefined> {
  const ops = options.ops ?? realFsOps;
  const progress = options.progress ?? noProgress;
  const batchSize = options.batch ?? 8192;
  const rootBytes = typeof root === 'string' ? Buffer.from(root) : root;
  const problems = new Problems(progress);

  index.beginScan();
  const stubsAsked = options.stubs ?? true;
  const stubs = () => stubsAsked && index.stubsWelcome();
  const devs = new DirDevs();
  // A stub whose row names another inode (or that has no row), or an entry from a stat thread's
  // cache that is on another device than its directory: its lstat, as the walk would have made it.
  const resolve = (stub: Entry): Entry | undefined => {
    const p = joinPath(rootBytes, stub.path);
    try {
      const st = ops.lstat(p);
      const type = typeFromMode(Number(st.mode));
      if (type === EntryType.dir) throw changedUnderScan(false); // the walk did not go into it
      return entryOf(stub.path, st, type === EntryType.symlink ? ops.readlink(p) : null);
    } catch (err) {
      problems.add(stub.path, 'cannot read', err);
      return undefined;
    }
  };
  progress.start('scan', {});
  // The runs of entries for the next writeScanned(): at least batchSize entries, handed over
  // whole runs at a time and read lazily, so that no entry outlives its row's insert (see
  // BatchEntries).
  let pending: EntryRun[] = [];
  let pendingCount = 0;
  const flush = () => {
    const tally = { bytes: 0n };
    index.writeScanned(tallied(pending, tally, devs, resolve), resolve);
    for (const run of pending) run.release?.();
    progress.advance(pendingCount, tally.bytes);
    pending = [];
    pendingCount = 0;
  };
  const onError = (rel: Buffer, err: unknown) => problems.add(rel, 'cannot read', err);
  let rootSeen = false;
  const pacer = new Pacer();
  const leaveOut = options.leaveOut;
  const skip = leaveOut ? (rel: Buffer) => isStateDir(rel) || rel.equals(leaveOut) : isStateDir;
  const source = options.walkThread && ops === realFsOps && fs.existsSync(fileURLToPath(LIST_THREAD))
    ? walkOnThreads(rootBytes, onError, stubs, leaveOut)
    : walkHere(rootBytes, ops, onError, stubs, skip);
  try {
    for await (const run of source) {
      if (run.count > 0) {
        if (!rootSeen) {
          rootSeen = true;
          if (firstOf(run).type !== EntryType.dir) throw new LinkmirrorError('SRC_NOT_DIR', `${showPath(rootBytes)} is not a directory`);
        }
        pending.push(run);
        pendingCount += run.count;
        if (pendingCount >= batchSize) flush();
      }
      if (pacer.due()) {
        await yieldNow();
        if (options.shouldStop?.()) throw new LinkmirrorError('INTERRUPTED', 'interrupted while scanning the source, before this run copied anything; run the same command again to continue');
      }
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !rootSeen) {
      throw new LinkmirrorError('SRC_MISSING', `source ${showPath(rootBytes)} does not exist`, { cause: err });
    }
    if (errnoCode(err) === 'ENOTDIR' && !rootSeen) throw new LinkmirrorError('SRC_NOT_DIR', `${showPath(rootBytes)} is not a directory`, { cause: err });
    throw err;
  }
  // Every walk gives the root first; none at all means it went away under the walk.
  if (!rootSeen) throw new LinkmirrorError('SRC_MISSING', `source ${showPath(rootBytes)} does not exist`);
  flush();
  progress.end();
  const stubsKept = index.stubsKept();
  let rowsWritten = index.endScan();
  if (stubsKept > 0) {
    const checked = await checkInodes(rootBytes, index, ops);
    if (checked === undefined) return undefined;
    rowsWritten += checked;
  }
  return { totals: index.scanTotals(), problems: problems.kept, problemCount: problems.count, rowsWritten };
}

/**
 * After a scan that kept stubs' rows: lstat one path of each source inode, and bring every row of
 * an inode up to date where the index says otherwise (or where this scan wrote some of its rows
 * and kept others). Returns the rows changed; undefined when a path no longer holds the inode its
 * row names (the source changed under the scan). With the real filesystem the lstats run on two
 * threads (fs/lstat-threads.ts), a page of samples at a time (the next page's while this one is
 * compared), and a page's updates go in one transaction (a 1M-path rotation has some 14,000
 * inodes whose rows it partly rewrote).
 */
async function checkInodes(root: Buffer, index: Index, ops: FsOps): Promise<number | undefined> {
  const threads = ops === realFsOps ? new LstatThreads(root, 2) : undefined;
  try {
    let changed = 0;
    // A page's writes touch only its own inodes: the next page's lstats may run meanwhile.
    for await (const { page, facts } of lstatAhead(index.inodeSamples(), (s) => s.path, root, ops, threads)) {
      const pageChanged = index.transaction(() => checkPage(root, ops, index, page, facts));
      if (pageChanged === undefined) return undefined;
      changed += pageChanged;
    }
    return changed;
  } finally {
    await threads?.close();
  }
}

/** checkInodes() for one page of samples and what lstat said of their paths. */
function checkPage(root: Buffer, ops: FsOps, index: Index, page: readonly InodeSample[], facts: PathFacts): number | undefined {
  let changed = 0;
  for (let i = 0; i < page.length; i++) {
    const s = page[i];
    const p = joinPath(root, s.path);
    let st: StatFields;
    let target: Buffer | null = null;
    try {
      st = factsAt(facts, i);
      // A symlink's target is its inode's content: a new symlink may have the old one's number.
      if (s.type === EntryType.symlink) target = ops.readlink(p);
    } catch {
      return undefined;
    }
    if (st.dev !== s.dev || st.ino !== s.ino || typeFromMode(Number(st.mode)) !== s.type) return undefined;
    const now = {
      dev: s.dev, ino: s.ino, type: s.type, size: st.size, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
      mtimeNs: st.mtimeNs, birthNs: st.birthtimeNs, rdev: st.rdev, target,
    };
    const same = now.size === s.size && now.mode === s.mode && now.uid === s.uid && now.gid === s.gid && now.mtimeNs === s.mtimeNs &&
      now.birthNs === s.birthNs && now.rdev === s.rdev && sameTarget(target, s.target);
    if (!same || s.dirty) changed += index.refreshInode(now);
  }
  return changed;
}

/** Path i's lstat as the threads answered it; its error thrown. */
function factsAt(f: PathFacts, i: number): StatFields {
  const err = f.error(i);
  if (err) throw err;
  return {
    dev: f.dev(i), ino: f.ino(i), mode: f.mode(i), nlink: 0n, uid: f.uid(i), gid: f.gid(i), rdev: f.rdev(i), size: f.size(i),
    atimeNs: 0n, mtimeNs: f.mtimeNs(i), birthtimeNs: f.birthNs(i),
  };
}

/**
 * The dev of each stub: its directory's (the walk gives a directory before what is in it, and a
 * stub is never a directory). A directory whose entry is missing (it could not be read) leaves
 * its stubs with dev 0, which no row has: they are lstatted.
 */
class DirDevs {
  private readonly stack: { path: Buffer; dev: bigint }[] = [];

  see(e: Entry): void {
    if (e.stub) {
      e.dev = this.top(parentOf(e.path))?.dev ?? 0n;
    } else if (e.type === EntryType.dir) {
      if (e.path.length > 0) this.top(parentOf(e.path));
      this.stack.push({ path: Buffer.from(e.path), dev: e.dev });
    }
  }

  /** The dev of the directory `e` is in, when the walk gave that directory. */
  dirDev(e: Entry): bigint | undefined {
    return this.top(parentOf(e.path))?.dev;
  }

  /** The directory `parent` on the stack, the ones after it dropped (the walk has left them). */
  private top(parent: Buffer): { path: Buffer; dev: bigint } | undefined {
    while (this.stack.length > 0 && !this.stack[this.stack.length - 1].path.equals(parent)) this.stack.pop();
    return this.stack[this.stack.length - 1];
  }
}

function parentOf(p: Buffer): Buffer {
  const slash = p.lastIndexOf(0x2f);
  return slash < 0 ? Buffer.alloc(0) : p.subarray(0, slash);
}

/** The first entry of a run that has one. */
function firstOf(run: EntryRun): Entry {
  for (const e of run) return e;
  throw new Error('firstOf() of an empty run');
}

/**
 * The entries of the runs in order, their bytes added up into `tally` and stubs given a dev as
 * they are read. An entry from a stat thread's cache (Entry.cached) on another device than its
 * directory is lstatted after all (`relook`): its inode number was another filesystem's.
 */
function* tallied(runs: readonly EntryRun[], tally: { bytes: bigint }, devs: DirDevs, relook: (e: Entry) => Entry | undefined): Generator<Entry> {
  for (const run of runs) {
    for (let e of run) {
      if (e.cached && devs.dirDev(e) !== e.dev) {
        const seen = relook(e);
        if (seen === undefined) continue;
        e = seen;
      }
      tally.bytes += e.size;
      devs.see(e);
      yield e;
    }
  }
}

/** Entries a few hundred at a time, walked on this thread through `ops`. */
function* walkHere(root: Buffer, ops: FsOps, onError: (rel: Buffer, err: unknown) => void, stubs: () => boolean, skip: (rel: Buffer) => boolean): Generator<EntryRun> {
  let items: Entry[] = [];
  for (const item of walkWithTargets(root, { ops, onError, skip, stubs })) {
    items.push(item.stub ? stubOf(item.rel, item.stub.type, item.stub.ino) : entryOf(item.rel, item.stat, item.target));
    if (items.length >= 256) {
      yield runOf(items);
      items = [];
    }
  }
  yield runOf(items);
}
