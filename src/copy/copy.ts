// copy: replicate SRC into DST keeping the hard-link topology, in passes (after restic's
// restorer): scan the source into the index, check the destination, make directories, place
// every file (content once per inode, links for the rest, splits at the link limit), and last
// set directory metadata, children first.
//
// The index lives in DST/.linkmirror/index.db for the whole run and after it, so the same
// command run again resumes an interrupted copy (what the mirror table holds is not redone).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLinkmirrorError, LinkmirrorError, type ErrorCode } from '../errors.js';
import { bootId } from '../fs/boot-id.js';
import { isErrno } from '../fs/errno.js';
import { fsFacts } from '../fs/link-limit.js';
import { realFsOps, type FsOps } from '../fs/ops.js';
import { readAhead, worthReadingAhead, type ReadAhead } from '../fs/read-ahead.js';
import { Problems, type Problem } from '../problems.js';
import { noProgress, type Progress } from '../progress.js';
import { scan } from '../scan/scan.js';
import { INDEX_FILE, isStateDir, STATE_DIR, stateDirInSource } from '../state-dir.js';
import { FSTAB, unmountedFstabPoint } from '../fs/fstab.js';
import { emptyLostFoundAtRoot, LOST_FOUND, LOST_FOUND_BYTES, lostFoundClosed } from '../fs/lost-found.js';
import { COPIED_AT, DST_MODES, DST_OWNERS, DST_TIME_DOWN, DST_TIME_NS, Index, SCAN_STATE, SCANNED, type ScanTotals } from '../store/index-db.js';
import { useSqliteTempDir } from '../store/temp-dir.js';
import { findManifest } from '../verify/manifest-file.js';
import { recordManifest } from '../verify/record-manifest.js';
import { checkPaths, checkWritable, nearestExisting } from './check-paths.js';
import { finishDirs } from './finish-dirs.js';
import { acquireLock } from './lock.js';
import { makeDirs } from './make-dirs.js';
import { emptyPlaceCounts, fatalFor, folderAlive, placeFiles, renameStaged, syncOrStop, type PlaceCounts } from './place-files.js';
import { adoptExisting } from './adopt.js';
import { countExtrasByWalk, deleteExtras } from './delete-extras.js';
import { makePlan, pathsVisited, type Plan } from './plan.js';
import { withoutHoles } from './holes.js';
import { checkCapacity, keepsWarning, linksRefused, noHardLinks, PROBE_PREFIX, probeHardLinks } from './preflight.js';
import { followSourceDevice } from './source-device.js';
import { mirrorMoved } from './mirror-moved.js';
import { DEFAULT_DELETE_LIMIT, deleteRefusal, emptySourceRefusal, unlimited, type DeleteLimit } from './delete-limit.js';

export interface CopyOptions {
  ops?: FsOps;
  progress?: Progress;
  /** Print the plan, write nothing. */
  dryRun?: boolean;
  /**
   * Go on when the pre-flight says the destination is too small, when the destination is under
   * a mount point of /etc/fstab that is not mounted, or when the source is empty and the mirror is not.
   */
  force?: boolean;
  /** The fstab to read mount points from (see fs/fstab.ts); /etc/fstab by default. */
  fstab?: string;
  /** Set owner and group by number; defaults to true when running as root. */
  owner?: boolean;
  /** Polled between files: true stops the copy cleanly (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Remove destination paths that the source no longer has. */
  delete?: boolean;
  /** With delete: stop before writing anything when more would go (default: half the mirror). */
  maxDelete?: DeleteLimit;
  /** Take over a destination filled without hard links: keep matching files, link duplicates. */
  adopt?: boolean;
  /** With adopt: a file matches only when its bytes are the same too. With recheck: a file the mirror holds is hashed. */
  checksum?: boolean;
  /**
   * Look at every destination path, not only at what changed: repairs paths removed or replaced
   * in the mirror by hand. (By default a path the index vouches for is left alone, and one path
   * per inode is looked at.)
   */
  recheck?: boolean;
}

export interface CopySummary {
  src: string;
  dst: string;
  dryRun: boolean;
  /** True when the destination already was a (partial) mirror. */
  resumed: boolean;
  interrupted: boolean;
  scan: ScanTotals;
  plan: Plan;
  placed: PlaceCounts;
  dirsMade: number;
  /** --adopt: destination files found to match the source. */
  adopted: number;
  /** --delete: paths removed, each entry below a removed folder counted too. */
  deleted: number;
  /** Without --delete: paths in the mirror that the source no longer has, kept. */
  extrasKept: number;
  /** --delete was given. */
  delete: boolean;
  /** --delete was given, and nothing deleted: the scan could not read every path (see copy()). */
  deleteSkipped?: boolean;
  /** The paths the mirror held that the source lacks, before any was removed (what --delete removes). */
  extras: number;
  /** A dry run with --delete: why the copy would stop before deleting (see delete-limit.ts). */
  deleteRefusal?: string;
  /** A dry run: why the copy would stop at its pre-flight (the destination too small). */
  capacityRefusal?: string;
  /** A dry run: what its plan does not foresee (see dryRun). */
  notes?: string[];
  /** What the destination does not keep of what the copy sets (see preflight.ts): not copied, not verified. */
  notKept?: ('modes' | 'owners')[];
  problems: Problem[];
  problemCount: number;
  elapsedMs: number;
}


/** What the destination is: a fresh folder, our mirror, or something we must not touch. */
function inspectDestination(dst: string, exists: boolean, adopt: boolean): { mirror: boolean } {
  if (!exists) return { mirror: false };
  // The state folder a real folder and the index's files regular files (SQLite opens them by
  // name, following symlinks), as verify checks them.
  if (findManifest(dst, 'run as the user who made the copy')) return { mirror: true };
  let names: string[];
  try {
    names = fs.readdirSync(dst);
  } catch (err) {
    if (!isErrno(err, 'EACCES', 'EPERM')) throw err;
    throw new LinkmirrorError('DST_NO_ACCESS', `cannot read the destination ${dst}: permission denied; run as a user who may read and write it, or choose another destination`, { cause: err });
  }
  const others = names.filter((n) => n !== STATE_DIR && !(n === LOST_FOUND && emptyLostFoundAtRoot(dst)));
  if (others.length > 0 && !adopt) {
    throw new LinkmirrorError(
      'DST_NOT_EMPTY',
      `destination ${dst} is not empty and is not a linkmirror mirror; give an empty or new folder, or --adopt to take over a copy made without hard links`,
    );
  }
  return { mirror: false };
}

/** Index meta key: 'yes' while inodes an adoption took by size and mtime may lack their hash (see recordManifest's fromSource). */
const HASH_FROM_SOURCE = 'hash_from_source';

/**
 * Index meta key: the fstab mount point with nothing mounted on it that this mirror lies under,
 * when a run with --force copied it there (see fs/fstab.ts). Any other mirror found under such a
 * point is refused: most likely an old mirror on the system disk that the drive mounted over it
 * hid, the night the drive failed to mount.
 */
const BELOW_UNMOUNTED = 'below_unmounted';

/** Index meta key: 'yes' from a run that found the destination keeps modes or owners again, until a run completes (see probeHardLinks). */
const RECHECK_PENDING = 'recheck_pending';

/** Index meta key: 'all' when every path made in the destination has its row (see deleteExtras). */
const TRACKED = 'tracked';

/** Index meta keys: the boot the last run ran in, and whether files without rows may be trusted. */
const BOOT = 'boot';
const UNRECORDED = 'unrecorded';

/**
 * Whether this run may take a complete file without a row as one an interrupted run wrote (see
 * place-files.ts, leftByInterruptedRun). Files without rows come from runs interrupted since the
 * last complete one; each was written for the source as its run scanned it. So: only when
 * resuming, when no run of that chain saw a different source (a rescan that wrote rows) or ran in
 * another boot (a power cut between may have left unsynced data short) — and once one did, not
 * again until a run completes.
 */
function unrecordedTrust(index: Index, resuming: boolean, rowsWritten: number): boolean {
  const boot = bootId();
  const sameBoot = boot !== undefined && index.getMeta(BOOT) === boot;
  if (boot !== undefined) index.setMeta(BOOT, boot);
  if (!resuming) {
    // A new chain: only this run's own files will lack rows, if the index knew every path before
    // (a file that --delete failed to remove loses its row and stays).
    index.setMeta(UNRECORDED, index.getMeta(TRACKED) === 'all' ? 'trusted' : 'stale');
    return false;
  }
  if (rowsWritten > 0 || !sameBoot) index.setMeta(UNRECORDED, 'stale');
  return index.getMeta(UNRECORDED) === 'trusted';
}

/**
 * Content copies in flight ahead of the cursor on a first copy. They keep the disk busy with
 * reads of the source, so that the cursor, which crosses a group of some 13 links between two
 * copies, seldom waits for one. Through fs.promises on this thread (before copy-thread.ts), 16
 * did best: 1M-path first copies, cold, alternating: 8: 44.5, 50.5, 45.8, 46.3 s; 16: 40.6,
 * 42.9, 43.1, 45.2 s; 32: 43.9, 42.4 s. With the copy thread the cursor moves faster and waits
 * on them more: the content pass of cold 1M first copies took 22.8-23.2 s at 16 (the cursor
 * waited 11.8 s for copies in one), 21.3-22.5 at 64 (5.3 s of waiting), 20.9 and 21.5 at 128,
 * 20.7 and 21.5 at 256 (0.8 s), 21.8 at 512; past 128 the link thread is what it waits for.
 * Peak RSS 114-125 MB throughout. A kill leaves at most this many files placed ahead without an
 * index row, which the next run finds in place (leftByInterruptedRun) or copies again.
 */
const PREFETCH_DEPTH = 128;

/** SQLite's unix VFS takes paths of at most 512 bytes; the index and its -journal file must fit. */
const SQLITE_MAX_PATH = 512;

function checkIndexPath(dst: string): void {
  const longest = Buffer.byteLength(path.join(dst, STATE_DIR, `${INDEX_FILE}-journal`));
  if (longest >= SQLITE_MAX_PATH) {
    throw new LinkmirrorError(
      'DST_PATH_TOO_LONG',
      `destination path is ${Buffer.byteLength(dst)} bytes long; linkmirror keeps its index in DST/${STATE_DIR} and SQLite ` +
        `takes paths of at most ${SQLITE_MAX_PATH} bytes: choose a destination with a shorter path`,
    );
  }
}

export async function copy(srcArg: string, dstArg: string, options: CopyOptions = {}): Promise<CopySummary> {
  const started = Date.now();
  const ops = options.ops ?? realFsOps;
  const progress = options.progress ?? noProgress;
  const owner = options.owner ?? process.getuid?.() === 0;
  const shouldStop = options.shouldStop ?? (() => false);
  const { src, dst, dstExists } = checkPaths(srcArg, dstArg);
  // Only the destination folder itself is made, as rsync and cp do: a missing parent is most
  // often a drive that is not mounted (its mount point gone with it), and a mirror made
  // there would fill the wrong disk.
  if (!dstExists && !fs.existsSync(path.dirname(dst))) {
    throw new LinkmirrorError(
      'DST_PARENT_MISSING',
      `${path.dirname(dst)}, the folder the destination is to be made in, does not exist: is the drive mounted? Make the folder first if it should be there`,
    );
  }
  const { mirror } = inspectDestination(dst, dstExists, options.adopt ?? false);
  const fstab = options.fstab ?? FSTAB;
  const notMounted = unmountedFstabPoint(dst, fstab);
  const notMountedError = () =>
    new LinkmirrorError(
      'DST_NOT_MOUNTED',
      `the destination ${dst} is on ${notMounted}, a mount point in ${fstab} with nothing mounted on it: is the drive mounted? Mount it and run again (a copy now would fill the disk below it; --force copies there anyway)`,
    );
  // A mirror found there may be one put there on purpose (recorded when --force made it so, see
  // BELOW_UNMOUNTED), or an old one that the drive mounted there hid: looked up in its index.
  if (notMounted && !mirror && !options.force) throw notMountedError();
  checkIndexPath(dst);
  const leftOut = stateDirInSource(src);
  if (leftOut) progress.warn(leftOut);
  // A source that is a drive's root, copied by a user who may not list root's lost+found there:
  // reported as unreadable, it kept every run from completing (exit 1) and --delete from running.
  const leaveOut = lostFoundClosed(src) ? LOST_FOUND_BYTES : undefined;
  if (leaveOut) progress.warn(`left out ${path.join(src, LOST_FOUND)}: the filesystem's folder for what e2fsck recovers, which only root may read`);

  if (options.dryRun) return dryRun(src, dst, dstExists, mirror, ops, progress, started, options, leaveOut);

  checkWritable(dst, path.join(dst, STATE_DIR));
  fs.mkdirSync(dst, { recursive: true });
  const stateDir = path.join(dst, STATE_DIR);
  const madeStateDir = !fs.existsSync(stateDir);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const release = acquireLock(stateDir);
  const tmpDir = path.join(stateDir, 'tmp');
  let index: Index | undefined;
  let warm: ReadAhead | undefined;
  let restoreTempDir = () => {};
  let refused = false;
  try {
    if (!mirror) {
      const cause = linksRefused(ops, stateDir);
      if (cause !== undefined) {
        // What a copy without links would need, from a scan into a scratch index (as -n makes).
        const planned = await dryRun(src, dst, dstExists, false, ops, progress, started, { ...options, delete: false, adopt: false }, leaveOut);
        throw noHardLinks(fsFacts(ops, dst), planned.plan, cause);
      }
    }
    // SQLite's sorts and statement journals go beside the index, on the destination (see store/temp-dir.ts).
    restoreTempDir = useSqliteTempDir(stateDir);
    index = Index.open(path.join(stateDir, INDEX_FILE));
    if (notMounted) {
      if (options.force) index.setMeta(BELOW_UNMOUNTED, notMounted);
      else if (index.getMeta(BELOW_UNMOUNTED) !== notMounted) throw notMountedError();
    }
    // An existing mirror's index is read at random from the scan on: on a drive that seeks,
    // read it ahead while the source is walked (see fs/read-ahead.ts).
    if (mirror && ops === realFsOps && worthReadingAhead(src, index.file)) warm = readAhead(index.file);
    const problems = new Problems(progress);
    // Whether the index knows every path the copies made here (then --delete needs no walk). A
    // pass that ended early may have made links whose rows it never wrote; so may an adoption.
    const resuming = mirror && index.getMeta('state') === 'copying';
    // Said, not refused: a source drive mounted elsewhere is the same source. With --delete, a
    // wrong one is stopped by the delete limit.
    const copiedFrom = mirror ? index.getMeta('src') : undefined;
    if (copiedFrom !== undefined && copiedFrom !== src) progress.warn(`this mirror was copied from ${copiedFrom}; it now follows ${src}`);
    if (!mirror) index.setMeta(TRACKED, options.adopt ? 'unsure' : 'all');
    else if (resuming) index.setMeta(TRACKED, 'unsure');
    // Rows an interrupted pass committed but did not fold into mirror yet (see store/schema.ts).
    index.foldPlaced();
    // A run that died while renaming staged files into place: finish those renames first. A
    // staged file may be the last link to an inode whose other paths were already replaced.
    renameStaged({ ops, index, dst: Buffer.from(dst), problems, deleteExtras: options.delete ?? false, owner }, true);
    // Other leftovers of an interrupted run were never renamed into place, so never part of the mirror.
    fs.rmSync(tmpDir, { recursive: true, force: true });
    fs.mkdirSync(tmpDir, { mode: 0o700 });
    // So are the hard-link probe's files of a run killed during its pre-flight (see preflight.ts).
    for (const name of fs.readdirSync(stateDir)) if (name.startsWith(PROBE_PREFIX)) fs.rmSync(path.join(stateDir, name), { force: true });
    index.clearPending();
    if (mirror) followSourceDevice(index, src, progress);
    // Before the scan: a run cut short after this still knows, by 'adopting', to adopt.
    const moved = mirror && index.getMeta('adopting') !== 'yes' && mirrorMoved(ops, index, Buffer.from(dst));
    if (moved) {
      index.setMeta('adopting', 'yes');
      progress.warn(`this mirror was copied here from another folder or drive (its inode numbers are not the ones recorded): its files are taken as --adopt takes them, by size and mtime, not copied again`);
    }
    // An empty source over a mirror that is not: an unmounted source drive. Refused before the
    // scan, which would replace the index's record of the source with an empty one (see
    // emptySourceRefusal); with --delete, as the delete limit would refuse it after the scan.
    if (mirror && sourceEmpty(src, leaveOut)) {
      const limit = options.maxDelete ?? DEFAULT_DELETE_LIMIT;
      const refusal = options.delete
        ? unlimited(limit) ? undefined : deleteRefusal(index.mirrorCount(), 1, limit, src)
        : options.force ? undefined : emptySourceRefusal(1, index.mirrorCountUpTo(1) > 0, src);
      if (refusal) throw refusal;
    }
    // The index's record of the source may run ahead of the mirror from the scan's first change
    // on: until this run completes, verify DST must not take it for the mirror's manifest (a run
    // refused below, or killed before it places anything, leaves it so). Said before the scan,
    // and taken back after it when it changed nothing: set after it, a kill in the scan's last
    // steps left 'complete' over a changed record, and verify DST reported a sound mirror as
    // damaged. A Ctrl-C in the walk takes it back too when no row had changed (SCAN_STATE is
    // 'partial' from the first change on): a cron job stopped by timeout(1) every night in a long
    // scan would otherwise never have its mirror vouched for.
    const stateBefore = index.getMeta('state');
    const takeBack = !resuming && stateBefore !== undefined;
    if (takeBack) index.setMeta('state', SCANNED);
    let scanned: Awaited<ReturnType<typeof scan>>;
    try {
      scanned = await scan(src, index, { ops, progress, shouldStop, walkThread: true, leaveOut });
    } catch (err) {
      if (takeBack && isLinkmirrorError(err, 'INTERRUPTED') && index.getMeta(SCAN_STATE) !== 'partial') index.setMeta('state', stateBefore);
      throw err;
    }
    for (const p of scanned.problems) problems.kept.push(p);
    const trustUnrecorded = unrecordedTrust(index, resuming, scanned.rowsWritten);
    if (!resuming) {
      if (scanned.rowsWritten > 0) index.setMeta('state', SCANNED);
      else if (stateBefore !== undefined) index.setMeta('state', stateBefore);
    }
    problems.count += scanned.problemCount;

    const srcBytes = Buffer.from(src);
    const dstBytes = Buffer.from(dst);
    const incremental = mirror && index.mirrorCountUpTo(1) > 0;
    // An adoption that was interrupted goes on even when the next run (a cron job's plain
    // `copy`) does not say --adopt: its duplicates are not linked yet.
    const adopt = (options.adopt ?? false) || index.getMeta('adopting') === 'yes';
    if (adopt) index.setMeta('adopting', 'yes');
    // --delete lists the extras from the index, or walks the destination when the index cannot
    // vouch for it (see delete-extras.ts).
    const deleteWalks = (options.recheck ?? false) || adopt || index.getMeta(TRACKED) !== 'all';
    // A folder the scan could not read looks empty, so its copy would look gone from the source:
    // after any scan problem nothing is deleted this run (as rsync's "IO error encountered").
    const deleteSkipped = (options.delete ?? false) && scanned.problemCount > 0;
    if (deleteSkipped) progress.warn(`--delete skipped: the scan could not read ${scanned.problemCount} path(s), whose copies would look gone from the source; fix them and run again`);
    const deleting = (options.delete ?? false) && !deleteSkipped;
    let extras = 0;
    if (deleting) {
      // Source lookups by path: only --delete needs them (its list of extras, and its walk); the
      // rest of an incremental run looks paths up through the mirror's own key.
      index.indexSrcPaths();
      // Before the mirror is changed: an unmounted source would otherwise empty it.
      const limit = options.maxDelete ?? DEFAULT_DELETE_LIMIT;
      extras = deleteWalks && !unlimited(limit) ? await countExtrasByWalk(ops, index, dstBytes) : index.mirrorNotInSrcCount();
      const refusal = deleteRefusal(extras, scanned.totals.paths, limit, src);
      if (refusal) throw refusal;
    }
    let adopted = 0;
    if (adopt) {
      // Before the plan, so that what is already there does not count as space needed.
      progress.start('plan', { items: scanned.totals.paths });
      adopted = await adoptExisting(ops, index, srcBytes, dstBytes, options.checksum ?? false, progress, shouldStop);
      progress.end();
      // What it took is recorded, and 'adopting' makes the next run go on with it.
      if (shouldStop()) throw new LinkmirrorError('INTERRUPTED', 'interrupted while taking over the files already in the destination (--adopt); run the same command again to continue');
    }
    const facts = destinationFacts(ops, dst, stateDir);
    progress.start('plan', {});
    let plan = withoutHoles(ops, index, srcBytes, facts, makePlan(index, facts, !incremental));
    progress.end();
    // The manifest's record of how exactly the destination keeps times, for verify.
    const keeps = probeHardLinks(ops, stateDir, facts, plan, owner);
    index.setMeta(DST_TIME_NS, String(keeps.timeUnit));
    index.setMeta(DST_TIME_DOWN, keeps.timesDown ? 'yes' : 'no');
    // A drive mounted again so that it keeps modes (ntfs-3g's -o permissions): the paths the
    // runs before left with the drive's own mode are found only by looking at every one.
    const regained = [
      ...(keeps.modes && index.getMeta(DST_MODES) === 'lost' ? ['permission bits'] : []),
      ...(owner && keeps.owners && index.getMeta(DST_OWNERS) === 'lost' ? ['owners'] : []),
    ];
    // Until a run completes that look: one refused or stopped before it would leave the rest.
    if (regained.length > 0) index.setMeta(RECHECK_PENDING, 'yes');
    index.setMeta(DST_MODES, keeps.modes ? 'kept' : 'lost');
    if (owner) index.setMeta(DST_OWNERS, keeps.owners ? 'kept' : 'lost');
    const lostWarning = keepsWarning(keeps, facts);
    if (lostWarning) progress.warn(lostWarning);
    if (regained.length > 0) progress.warn(`the destination keeps ${regained.join(' and ')} now: every path of the mirror is looked at to set them`);
    const recheck = (options.recheck ?? false) || index.getMeta(RECHECK_PENDING) === 'yes';
    checkCapacity(facts, plan, options.force ?? false, trustUnrecorded);
    index.setMeta('src', src);
    index.setMeta('state', 'copying');

    progress.start('dirs', { items: plan.dirs });
    const dirsMade = makeDirs(ops, index, dstBytes, progress, problems, incremental || adopted > 0);
    progress.end();

    progress.start('content', { items: plan.paths - plan.dirs, bytes: plan.bytesToCopy });
    const problemsBefore = problems.count;
    const placed = await placeFiles({
      ops, index, src: srcBytes, dst: dstBytes, tmpDir, owner, keeps, adopt, deleteExtras: options.delete ?? false,
      checkContent: (options.recheck ?? false) && (options.checksum ?? false),
      mirrorHasRows: incremental || adopted > 0, recheck, progress, problems, shouldStop, trustUnrecorded,
      specials: scanned.totals.specials > 0,
      // Copies run ahead through libuv's own fs calls, links on a thread of their own and
      // syncs in a child process: none goes through an injected ops object, so tests that
      // inject faults get none of them.
      prefetch: ops === realFsOps ? PREFETCH_DEPTH : 0,
      linkThread: ops === realFsOps,
      backgroundSync: ops === realFsOps,
    });
    progress.end();
    // Sockets are never placed: skipped, whether the pass visited them or left them out.
    if (incremental) plan = pathsVisited(plan, plan.paths - plan.dirs - placed.leftAlone - placed.skippedSockets);
    // Every path placed as src says: the next run's pass needs to look only at what its scan
    // changes. After a failure, the next pass compares every path again.
    if (problems.count > problemsBefore) index.markMirrorUnsynced();
    else if (!placed.stopped) index.markMirrorSynced(owner);

    // Paths removed with a folder that a file of the source replaced (only with --delete).
    let deleted = placed.cleared;
    let extrasKept = 0;
    // A stop asked for after the file pass ends the run at the next stage, as one during it
    // does: the state stays 'copying', and the next run goes on (and, with --delete, walks the
    // mirror for what it has to remove, as after any interrupted run).
    let stopped = placed.stopped;
    if (!stopped) {
      if (adopt) index.setMeta('adopting', 'no');
      // The manifest for `verify DST`: a hash of each destination inode that has none yet.
      // Two hashing threads: what the copy just wrote is in the page cache (an adoption's source
      // files are not: they are read from the source drive), and two hash a
      // 1M-path tree's 545 MiB in 2.3 s where one takes 3.7 s. The second costs 2-3 MB of peak
      // RSS under the bin's V8 flags of the time (--optimize-for-size: 116 against 114 MB), and
      // cost 8-10 MB without them. Verify, reading a cold drive, uses four.
      // Files an adoption took by size and mtime alone get the source's hashes (see
      // record-manifest.ts), until every inode has one: a hash pass that stopped or skipped some
      // leaves them to later runs, which must not hash them from the mirror.
      if (adopt && !options.checksum) index.setMeta(HASH_FROM_SOURCE, 'yes');
      const fromSource = index.getMeta(HASH_FROM_SOURCE) === 'yes' ? srcBytes : undefined;
      const hashed = await recordManifest(index, dstBytes, { ops, progress, problems, owner, shouldStop, hashThreads: ops === realFsOps ? 2 : undefined, fromSource });
      if (fromSource && !hashed.stopped && hashed.skipped === 0) index.setMeta(HASH_FROM_SOURCE, 'no');
      stopped = hashed.stopped || shouldStop();
      if (deleting && !stopped) {
        progress.start('delete', {});
        const before = problems.count;
        deleted += await deleteExtras(ops, index, dstBytes, progress, problems, deleteWalks, shouldStop);
        stopped = shouldStop();
        if (!stopped) index.settleGone();
        progress.end();
        if (deleteWalks && problems.count === before && !stopped) index.setMeta(TRACKED, 'all');
        // A path it could not remove stays on the destination, and its row goes.
        else if (problems.count > before || stopped) index.setMeta(TRACKED, 'unsure');
      } else if (incremental) {
        extrasKept = index.mirrorNotInSrcCount();
      }
    }
    if (!stopped) {
      progress.start('metadata', { items: plan.dirs });
      finishDirs(ops, index, dstBytes, owner, progress, problems);
      progress.end();
      // Exit 0 must mean the mirror is on the drive: a user may pull it the next second.
      syncOrStop(ops, dst);
      index.setMeta('state', problems.count === 0 ? 'complete' : 'complete-with-errors');
      index.setMeta(RECHECK_PENDING, 'no');
      index.setMeta(COPIED_AT, new Date().toISOString());
    }
    return {
      src, dst, dryRun: false, resumed: mirror, interrupted: stopped, scan: scanned.totals, plan, placed, dirsMade,
      adopted, deleted, extrasKept, delete: options.delete ?? false, deleteSkipped, extras: deleting ? extras : extrasKept, problems: problems.kept, problemCount: problems.count, elapsedMs: Date.now() - started,
      notKept: [...(keeps.modes ? [] : ['modes' as const]), ...(keeps.owners ? [] : ['owners' as const])],
    };
  } catch (err) {
    refused = isLinkmirrorError(err) && REFUSALS.has(err.code);
    throw err;
  } finally {
    await warm?.stop();
    // Staged files still waiting for their rename are kept for the next run to finish.
    let keepStaged = true;
    try {
      keepStaged = index !== undefined && index.pendingCount() > 0;
    } catch {
      // the index failed: keep everything for the next run
    }
    index?.close();
    restoreTempDir();
    try {
      if (!keepStaged) fs.rmSync(tmpDir, { recursive: true, force: true });
      if (refused && !dstExists) removeMadeDestination(dst);
      // An existing folder that was no mirror (a drive's root, an rsync copy to adopt) is left
      // as it was found, without the state folder this run made in it.
      else if (refused && !mirror && madeStateDir) fs.rmSync(stateDir, { recursive: true, force: true });
      release();
    } catch {
      // the destination went away (unplugged): the next run cleans up
    }
  }
}

/**
 * fsFacts of the destination, which may have gone since the run began (a drive unplugged during
 * the scan: statfs of the empty mount point's path fails with ENOENT, which said "unexpected error").
 */
function destinationFacts(ops: FsOps, dst: string, stateDir: string): ReturnType<typeof fsFacts> {
  try {
    return fsFacts(ops, dst);
  } catch (err) {
    throw fatalFor(err, dst, folderAlive(ops, stateDir)) ?? err;
  }
}

/** Whether the folder `src` holds nothing the scan would record (see emptySourceRefusal). */
function sourceEmpty(src: string, leaveOut: Buffer | undefined): boolean {
  return fs.readdirSync(src, { encoding: 'buffer' }).every((name) => isStateDir(name) || (leaveOut !== undefined && name.equals(leaveOut)));
}

/** Refusals that come before anything is copied (the pre-flight, the delete limit). */
const REFUSALS = new Set<ErrorCode>(['DST_TOO_SMALL', 'DST_NO_HARDLINKS', 'DELETE_TOO_MANY']);

/**
 * A destination this run made and then refused to copy into goes again, when it holds nothing
 * but the state folder: a user who picks another drive finds no empty mirror left behind.
 */
function removeMadeDestination(dst: string): void {
  if (fs.readdirSync(dst).every((name) => name === STATE_DIR)) fs.rmSync(dst, { recursive: true, force: true });
}

/** Scan into a throw-away index outside the destination and report the plan; nothing is written. */
async function dryRun(
  src: string, dst: string, dstExists: boolean, mirror: boolean, ops: FsOps, progress: Progress, started: number, options: CopyOptions,
  leaveOut: Buffer | undefined,
): Promise<CopySummary> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linkmirror-plan-'));
  const restoreTempDir = useSqliteTempDir(dir);
  let index: Index | undefined;
  try {
    index = Index.open(path.join(dir, INDEX_FILE), { scratch: true });
    if (mirror) {
      try {
        index.copyMirrorFrom(path.join(dst, STATE_DIR, INDEX_FILE));
      } catch (err) {
        // Said of the destination, as a real run says it, not of the plan's own scratch index.
        if (isLinkmirrorError(err, 'INDEX_LOCKED')) {
          throw new LinkmirrorError('INDEX_LOCKED', `another linkmirror is working on ${dst} (its index is in use); wait for it, then plan again`, { cause: err });
        }
        if (!isLinkmirrorError(err, 'INDEX_BROKEN')) throw err;
        const own = path.join(dst, STATE_DIR, INDEX_FILE);
        throw new LinkmirrorError('INDEX_BROKEN', `cannot read the mirror's index ${own}: ${(err.cause as Error | undefined)?.message ?? err.message}; remove it to start over`, { cause: err });
      }
    }
    const scanned = await scan(src, index, { ops, progress, walkThread: true, shouldStop: options.shouldStop, leaveOut });
    // A stop asked for as the scan ended: no plan is printed as if nothing had been asked.
    if (options.shouldStop?.()) throw new LinkmirrorError('INTERRUPTED', 'dry run interrupted; nothing was written');
    // The facts of the filesystem the destination will be on: its nearest existing folder.
    const probe = nearestExisting(dst);
    // A first copy's scan writes its rows on the destination too: as much as this index holds now.
    const facts = fsFacts(ops, probe);
    const plan = withoutHoles(ops, index, Buffer.from(src), facts, makePlan(index, facts, true, mirror ? 0n : BigInt(fs.statSync(path.join(dir, INDEX_FILE)).size)));
    let capacityRefusal: string | undefined;
    // A filesystem known to hold no links (FAT); exFAT through FUSE shows only as fuseblk, and
    // only the real run's probe link (which a dry run does not make) finds it out.
    if (facts.linkMax === 0) capacityRefusal = noHardLinks(facts, plan).message;
    else try {
      checkCapacity(facts, plan, options.force ?? false);
    } catch (err) {
      if (!isLinkmirrorError(err, 'DST_TOO_SMALL')) throw err;
      capacityRefusal = err.message;
    }
    // An adoption keeps what already matches, which only its own look at the destination finds.
    const notes = options.adopt ? ['--adopt: the files already in the destination are not looked at by a dry run; the real run copies only those that do not match'] : [];
    // What --delete would remove: by the walk it would make (an adoption, --recheck), or from the index.
    let extras = 0;
    if (options.delete && dstExists && (options.adopt || options.recheck)) {
      index.indexSrcPaths();
      extras = await countExtrasByWalk(ops, index, Buffer.from(dst));
    } else if (mirror) {
      extras = index.mirrorNotInSrcCount();
    }
    // As the real run decides: an empty source before its scan; else --delete is skipped after a
    // scan with problems, and checked against its limit after a clean one.
    const empty = scanned.totals.paths <= 1;
    const refusal = options.delete
      ? scanned.problemCount > 0 && !empty ? undefined : deleteRefusal(extras, scanned.totals.paths, options.maxDelete ?? DEFAULT_DELETE_LIMIT, src, true)
      : options.force ? undefined : emptySourceRefusal(scanned.totals.paths, mirror && index.mirrorCountUpTo(1) > 0, src);
    return {
      src, dst, dryRun: true, resumed: mirror, interrupted: false, scan: scanned.totals, plan, placed: emptyPlaceCounts(), dirsMade: 0,
      adopted: 0, deleted: 0, extrasKept: 0, delete: options.delete ?? false, extras, deleteRefusal: refusal?.message, capacityRefusal, notes,
      problems: scanned.problems, problemCount: scanned.problemCount, elapsedMs: Date.now() - started,
    };
  } finally {
    index?.close();
    restoreTempDir();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
