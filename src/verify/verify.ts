// verify: compare a mirror with its source, or with the manifest its copies recorded, and say
// what differs, by category. Everything per path lives in SQLite files in a temporary folder;
// the process holds a page of rows at a time, whatever the size of the trees.
//
//   verifyAgainstSource(SRC, DST)              verifyMirror(DST)
//     scan SRC (worker)   -> expected            the manifest's record of the source
//                                                (DST/.linkmirror/index.db: src) -> expected
//     scan DST (at once)  -> actual              scan DST -> actual
//   then (store/verify-store.ts):
//     pair the paths present on both sides by (expected inode, actual inode);
//     missing / extra paths; per pair of inodes: type, size, mode, owner, mtime (to the
//       microsecond: all a copy through utimes(2) can carry), symlink target;
//     topology: an expected inode spread over several actual inodes is a link-split — unless
//       the mirror's index recorded those inodes as the copy's splits at the link limit — and
//       an actual inode holding paths of several expected inodes is link-merged;
//     content, unless --fast: every expected inode hashed once (verify DST takes the
//       manifest's hashes instead) and every actual inode paired with one, once — both sides
//       at once on a pool of threads (hash-engine.ts); --sample N% reads that share of the
//       expected inodes (and their actual ones).
//
// A mirror made by another tool (cp -a, rsync -aH) verifies against its source the same way:
// only a split needs the mirror's index to be allowed, and such a mirror has none.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { checkPaths } from '../copy/check-paths.js';
import { acquireLock } from '../copy/lock.js';
import { LinkmirrorError, isLinkmirrorError, type ErrorCode } from '../errors.js';
import { errnoCode, isErrno } from '../fs/errno.js';
import { realFsOps, type FsOps } from '../fs/ops.js';
import { showPath } from '../fs/paths.js';
import { MAX_KEPT_PROBLEMS, Problems, type Problem } from '../problems.js';
import { noProgress, type Progress } from '../progress.js';
import { scan } from '../scan/scan.js';
import { STATE_DIR, stateDirInSource } from '../state-dir.js';
import { emptyLostFoundAtRoot, lostFoundClosed, LOST_FOUND_BYTES } from '../fs/lost-found.js';
import { metadataKept, probeFiles, timeGranularity, writeEmpty } from '../copy/preflight.js';
import { COPIED_AT, DST_MODES, DST_OWNERS, DST_TIME_DOWN, DST_TIME_NS, Index, SCANNED, SCAN_STATE } from '../store/index-db.js';
import { useSqliteTempDir } from '../store/temp-dir.js';
import { CATEGORIES, KEPT, LINKED_OUTSIDE, RECORDED_SPLIT, VerifyStore, type Category, type HashResult } from '../store/verify-store.js';
import { differenceFrom, type Difference } from './differences.js';
import { HASH_ALGORITHM } from './hash-file.js';
import { engineFor, type HashEngine } from './hash-engine.js';
import { hashInodes, type HashPassTotals } from './hash-inodes.js';
import { findManifest } from './manifest-file.js';
import type { ScanJob, ScanMessage } from './scan-worker.js';

export type { Difference } from './differences.js';
export { CATEGORIES, type Category } from '../store/verify-store.js';

export interface VerifyOptions {
  ops?: FsOps;
  progress?: Progress;
  /** Compare sizes and mtimes but read no content (metadata and topology are still compared). */
  fast?: boolean;
  /** Read the content of this share of the inodes (0 < f <= 1); default 1, everything. */
  sample?: number;
  /** Which share --sample reads; default random. The report gives the seed used. */
  sampleSeed?: number;
  /**
   * Compare owners (uid:gid). Default true against a source; against a manifest, true when the
   * copy set owners (it does as root) — otherwise the mirror's owner is whoever ran the copy.
   */
  owner?: boolean;
  /** Folder for the work files (two scans' worth of index); default the system's temp folder. */
  tempDir?: string;
  /** Differences of each category kept in the report; default 20. Every one goes to onDifference. */
  examples?: number;
  /**
   * Threads that read and hash files: default 4 on the real filesystem, 0 (the main thread,
   * through ops) when other ops are injected.
   */
  hashThreads?: number;
  /** Called with every difference, category by category, once the comparison is done. */
  onDifference?: (d: Difference) => void;
  /** Polled as the scans and hashing go: true stops verify with INTERRUPTED. */
  shouldStop?: () => boolean;
}

export interface VerifyReport {
  /** 'source': DST against SRC; 'manifest': DST against the manifest its copies recorded. */
  mode: 'source' | 'manifest';
  /** The source compared with; for 'manifest', the source the copy recorded (if any). */
  src: string | null;
  dst: string;
  /** True when nothing differs and nothing failed. */
  match: boolean;
  /** Differences per category (a content or metadata difference counts once per pair of inodes). */
  categories: Record<Category, number>;
  differenceCount: number;
  /** The first differences of each category (options.examples), in category order. */
  differences: Difference[];
  /** Splits the copy made at the destination's link limit, as its index recorded them: allowed. */
  recordedSplits: number;
  recordedSplitExamples: Difference[];
  /**
   * Paths the source (or the manifest) lacks that the mirror's index says a copy made and kept
   * when the source lost them (copy without --delete): allowed, and not compared.
   */
  kept: number;
  keptExamples: Difference[];
  /**
   * Inodes of the mirror with more links than it has paths on them (linked from outside it, see
   * LINKED_OUTSIDE in store/verify-store.ts): said, not a difference. `expected` is the mirror's
   * paths on the inode, `actual` its link count.
   */
  linkedOutside: number;
  linkedOutsideExamples: Difference[];
  paths: { expected: number; actual: number };
  /** Non-directory inodes on each side. */
  inodes: { expected: number; actual: number };
  fast: boolean;
  algorithm: string;
  /** Inodes and bytes read for content, both sides together. */
  inodesHashed: number;
  bytesHashed: bigint;
  hashMs: number;
  /** Pairs of same-size files whose content was not compared (no recorded hash, outside the sample, unreadable source). */
  contentUnchecked: number;
  sample: number;
  sampleSeed: number;
  ownerCompared: boolean;
  /** False when the mirror's drive keeps no permission bits (as its copies found, or as it is mounted now). */
  modesCompared: boolean;
  /** What the drive does not keep, as its copies found or as it is mounted now (so it is not compared). */
  notKept: { modes: boolean; owners: boolean };
  /** verify DST: what the manifest says of the copy that recorded it. */
  manifest?: { state?: string; copiedAt?: string; recordedAt?: string };
  problems: Problem[];
  problemCount: number;
  elapsedMs: number;
}

interface Run {
  mode: 'source' | 'manifest';
  src: string | null;
  dst: string;
  manifestFile: string | undefined;
  ops: FsOps;
  progress: Progress;
  options: VerifyOptions;
  started: number;
}

/** DST against SRC. Works on any two trees; a linkmirror mirror's index only adds its recorded splits. */
export async function verifyAgainstSource(srcArg: string, dstArg: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  const { src, dst, dstExists } = checkPaths(srcArg, dstArg);
  if (!dstExists) throw new LinkmirrorError('DST_MISSING', `destination ${dstArg} does not exist; give the mirror to verify`);
  const ops = options.ops ?? realFsOps;
  const progress = options.progress ?? noProgress;
  // As copy said when it left it out: "they match" must not pass over a user folder of that name.
  const leftOut = stateDirInSource(src);
  if (leftOut) progress.warn(leftOut);
  return run({ mode: 'source', src, dst, manifestFile: findManifest(dst), ops, progress, options, started });
}

/** DST alone, against the manifest its copies recorded in DST/.linkmirror/. */
export async function verifyMirror(dstArg: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  let dst: string;
  try {
    dst = fs.realpathSync(dstArg);
  } catch (err) {
    throw new LinkmirrorError('DST_MISSING', `${dstArg} does not exist; give the mirror to verify`, { cause: err });
  }
  if (!fs.statSync(dst).isDirectory()) throw new LinkmirrorError('DST_NOT_DIR', `${dstArg} is not a directory; give the mirror to verify`);
  const manifestFile = findManifest(dst);
  if (!manifestFile) {
    throw new LinkmirrorError(
      'MANIFEST_MISSING',
      `${dstArg} has no linkmirror manifest (${STATE_DIR}/index.db): it was not made by linkmirror copy; give the source too: linkmirror verify SRC ${dstArg}`,
    );
  }
  const ops = options.ops ?? realFsOps;
  return run({ mode: 'manifest', src: null, dst, manifestFile, ops, progress: options.progress ?? noProgress, options, started });
}

/** verify's work folder for its scans' databases, in --temp-dir (a usage error when that is no folder to write in) or the system's. */
function makeWorkDir(tempDir: string | undefined): string {
  try {
    return fs.mkdtempSync(path.join(tempDir ?? os.tmpdir(), 'linkmirror-verify-'));
  } catch (err) {
    if (tempDir === undefined || !isErrno(err, 'ENOENT', 'ENOTDIR', 'EROFS', 'EACCES', 'EPERM')) throw err;
    const why = isErrno(err, 'ENOENT', 'ENOTDIR') ? 'no such folder' : isErrno(err, 'EROFS') ? 'a read-only filesystem' : 'permission denied';
    throw new LinkmirrorError('BAD_OPTION', `--temp-dir ${tempDir}: ${why}; give a folder verify may write its work files in`, { cause: err });
  }
}

/**
 * Whether the manifest's record of the source is a scan the mirror was not copied from: cut
 * off while it ran ('scanning'), or complete but followed by no copy ('scanned': the run was
 * refused, or killed before its pass).
 */
export function aheadOfMirror(state: string | undefined): boolean {
  return state === 'scanning' || state === SCANNED;
}

/**
 * What the mirror's drive keeps of a mode and an owner set on a file made in its state folder
 * (see copy/preflight.ts); undefined where no file can be made there (a read-only mirror).
 */
function keptNow(r: Run, owner: boolean): { modes: boolean; owners: boolean; time?: { unit: bigint; down: boolean } } | undefined {
  // The copy's probe files: verify holds the mirror's lock, so no copy makes them meanwhile.
  const probe = probeFiles(r.ops, path.join(r.dst, STATE_DIR));
  try {
    writeEmpty(r.ops, probe.file);
  } catch {
    return undefined;
  }
  try {
    let time: { unit: bigint; down: boolean } | undefined;
    try {
      time = timeGranularity(r.ops, probe.file);
    } catch {
      // times not taken: what the copies recorded is all there is
    }
    return { ...metadataKept(r.ops, probe.file, owner), time };
  } finally {
    probe.remove();
  }
}

/** The mirror's lock, so that no copy changes it under the comparison; none on a read-only mirror. */
function lockMirror(dst: string): () => void {
  try {
    return acquireLock(path.join(dst, STATE_DIR));
  } catch (err) {
    if (isErrno(err, 'EROFS', 'EACCES', 'EPERM')) return () => {};
    throw err;
  }
}

function keepProblems(problems: Problems, result: { problems: Problem[]; problemCount: number }): void {
  for (const p of result.problems) if (problems.kept.length < MAX_KEPT_PROBLEMS) problems.kept.push(p);
  problems.count += result.problemCount;
}

const interrupted = (what: string) => new LinkmirrorError('INTERRUPTED', `verify interrupted while scanning ${what}; nothing was changed`);

/**
 * Attach the mirror's index as the store's `m`. One that cannot be read (damaged: "file is not a
 * database", "malformed") stops verify DST, which has nothing else to go by, with what to do;
 * verify SRC DST goes on without it, with a warning: the index only adds the splits the copy
 * made at the link limit (said "verify's query failed", exit 3, before). False when left out.
 */
function attachManifest(store: VerifyStore, file: string, mode: Run['mode'], progress: Progress): boolean {
  let why: string | undefined;
  let cause: unknown;
  try {
    store.attach('m', file);
    if (store.manifestHasTables()) return true;
    why = 'not a linkmirror index this version can read';
    if (mode === 'manifest') throw new LinkmirrorError('INDEX_BROKEN', `${file} is ${why}; run linkmirror copy again to renew it`);
  } catch (err) {
    if (!isLinkmirrorError(err, 'INDEX_BROKEN') || why !== undefined) throw err;
    cause = err;
    why = (err.cause as Error | undefined)?.message ?? err.message;
    if (mode === 'manifest') {
      throw new LinkmirrorError(
        'INDEX_BROKEN',
        `cannot read the mirror's index ${file} (${why}): compare the mirror with its source instead (linkmirror verify SRC DST); ` +
          `to record a new index, move it aside and run linkmirror copy --adopt SRC DST, which keeps the files that match`,
        { cause },
      );
    }
  }
  progress.warn(`cannot read the mirror's index ${file} (${why}): compared without it, so splits the copy made at the link limit show as link-split`);
  store.detach('m');
  return false;
}

/**
 * A filesystem's lost+found at the top of either tree, root's and closed to this user: not walked
 * (it could not be listed), as copy leaves it out of a source. The mirror's, readable and empty,
 * has its row left out later (see run()).
 */
function closedAtTop(root: string): Buffer | undefined {
  return lostFoundClosed(root) ? LOST_FOUND_BYTES : undefined;
}

async function scanSide(root: string, file: string, r: Run, problems: Problems, what: string, progress: Progress = r.progress): Promise<void> {
  const index = Index.open(file, { scratch: true });
  try {
    keepProblems(problems, await scan(root, index, { ops: r.ops, progress, shouldStop: r.options.shouldStop, leaveOut: closedAtTop(root) }));
  } catch (err) {
    if (isLinkmirrorError(err, 'INTERRUPTED')) throw interrupted(what);
    throw err;
  } finally {
    index.close();
  }
}

/** The compiled scan worker; absent when running from the TypeScript sources (tests). */
const SCAN_WORKER = new URL('./scan-worker.js', import.meta.url);

/** Scan root into file on a worker thread (see scan-worker.ts). */
function scanOnWorker(root: string, file: string, r: Run, problems: Problems, what: string, progress: Progress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(SCAN_WORKER, { workerData: { root, file, leaveOut: closedAtTop(root) } satisfies ScanJob });
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      if (err) reject(err);
      else resolve();
    };
    // Ctrl-C reaches the main thread: pass it on.
    const poll = setInterval(() => {
      if (r.options.shouldStop?.()) worker.postMessage('stop');
    }, 100);
    worker.on('message', (m: ScanMessage) => {
      if (m.type === 'advance') progress.advance(m.items, m.bytes);
      else if (m.type === 'warn') progress.warn(m.message);
      else if (m.type === 'done') {
        keepProblems(problems, m);
        settle();
      } else {
        settle(m.code === 'INTERRUPTED' ? interrupted(what) : m.code ? new LinkmirrorError(m.code as ErrorCode, m.message) : new Error(m.message));
      }
    });
    worker.on('error', (err) => settle(err));
    worker.on('exit', (code) => settle(code === 0 ? undefined : new Error(`the scan of ${what} stopped (thread exit code ${code})`)));
  });
}

/**
 * Both scans. With the real filesystem (and the compiled worker at hand) the source is scanned
 * on a worker thread while the main thread scans the mirror; else one after the other.
 */
async function scanBoth(r: Run, expectedDb: string, actualDb: string, problems: Problems): Promise<void> {
  if (r.ops !== realFsOps || !fs.existsSync(fileURLToPath(SCAN_WORKER))) {
    await scanSide(r.src!, expectedDb, r, problems, 'the source');
    await scanSide(r.dst, actualDb, r, problems, 'the mirror');
    return;
  }
  // One bar for both: the scans report their progress into it, not their start and end.
  const shared: Progress = { start() {}, end() {}, advance: (n, b) => r.progress.advance(n, b), warn: (m) => r.progress.warn(m) };
  r.progress.start('scan', {});
  const results = await Promise.allSettled([
    scanOnWorker(r.src!, expectedDb, r, problems, 'the source', shared),
    scanSide(r.dst, actualDb, r, problems, 'the mirror', shared),
  ]);
  r.progress.end();
  for (const x of results) if (x.status === 'rejected') throw x.reason;
}

/**
 * Read the content: the source's inodes and the mirror's, each once. Against a source without
 * sampling both sides are read at once (usually two drives); otherwise the mirror's side reads
 * only the inodes paired with a known hash — the sampled source inodes, or the manifest's.
 */
async function hashContent(
  store: VerifyStore,
  r: Run,
  engine: HashEngine,
  problems: Problems,
  s: { sample: number; sampleSeed: number },
): Promise<{ inodes: number; bytes: bigint }> {
  const { progress } = r;
  const stopped = () => new LinkmirrorError('INTERRUPTED', 'verify interrupted while reading content; nothing was changed');
  const common = { engine, progress, sampleSeed: s.sampleSeed, shouldStop: r.options.shouldStop };
  /** Hash one side's todo list into its hash table, a batch of rows at a time. */
  const side = async (which: 'e' | 'a', root: string, sample: number, onError: (p: Buffer, err: unknown) => void) => {
    let rows: HashResult[] = [];
    const totals = await hashInodes(
      Buffer.from(root),
      store.todoPages(which),
      (t, o) => {
        if ('hash' in o) rows.push({ dev: t.dev, ino: t.ino, hash: o.hash, error: null });
        else {
          rows.push({ dev: t.dev, ino: t.ino, hash: null, error: `unreadable (${errnoCode(o.error) ?? 'EIO'})` });
          onError(t.path, o.error);
        }
        if (rows.length >= 1024) {
          store.putHashes(which, rows);
          rows = [];
        }
      },
      { ...common, sample },
    );
    store.putHashes(which, rows);
    return totals;
  };
  const srcSide = () => side('e', r.src!, s.sample, (p, err) => problems.add(p, 'cannot read (source)', err));
  const dstSide = (sample: number) =>
    side('a', r.dst, sample, (p, err) => progress.warn(`cannot read ${showPath(p)} in the mirror: ${(err as Error)?.message ?? String(err)}`));
  const start = (plan: { inodes: number; bytes: bigint }, sample: number) =>
    progress.start('hash', sample < 1 ? { items: Math.ceil(plan.inodes * sample) } : { items: plan.inodes, bytes: plan.bytes });

  const totals = { inodes: 0, bytes: 0n };
  const add = (t: HashPassTotals) => {
    if (t.stopped) throw stopped();
    totals.inodes += t.inodes;
    totals.bytes += t.bytes;
  };
  if (r.mode === 'source' && s.sample >= 1) {
    const e = store.planHashes('e');
    const a = store.planHashes('a');
    start({ inodes: e.inodes + a.inodes, bytes: e.bytes + a.bytes }, 1);
    const [te, ta] = await Promise.all([srcSide(), dstSide(1)]);
    progress.end();
    add(te);
    add(ta);
    return totals;
  }
  if (r.mode === 'source') {
    start(store.planHashes('e'), s.sample);
    const te = await srcSide();
    progress.end();
    add(te);
  } else {
    store.importManifestHashes();
  }
  const dstSample = r.mode === 'manifest' ? s.sample : 1;
  start(store.planHashes('a', { onlyKnown: true }), dstSample);
  const ta = await dstSide(dstSample);
  progress.end();
  add(ta);
  return totals;
}

async function run(r: Run): Promise<VerifyReport> {
  const { options, progress } = r;
  const sample = options.sample ?? 1;
  if (!(sample > 0 && sample <= 1)) throw new LinkmirrorError('BAD_OPTION', `--sample must be a share above 0% and at most 100%`);
  const sampleSeed = options.sampleSeed ?? Math.floor(Math.random() * 2 ** 31);
  const examples = options.examples ?? 20;
  const fast = options.fast ?? false;
  const problems = new Problems(progress);
  const release = r.manifestFile ? lockMirror(r.dst) : () => {};
  let work: string | undefined;
  let store: VerifyStore | undefined;
  let restoreTempDir = () => {};
  try {
    work = makeWorkDir(options.tempDir);
    // SQLite's sorts go with the work databases (see store/temp-dir.ts): set before the scan threads start.
    restoreTempDir = useSqliteTempDir(work);
    const expectedDb = path.join(work, 'expected.db');
    const actualDb = path.join(work, 'actual.db');
    if (r.mode === 'source') {
      await scanBoth(r, expectedDb, actualDb, problems);
    } else {
      Index.open(expectedDb, { scratch: true }).close(); // an empty index: the manifest is copied into it below
      await scanSide(r.dst, actualDb, r, problems, 'the mirror');
    }

    store = VerifyStore.open(path.join(work, 'verify.db'));
    store.attach('e', expectedDb);
    store.attach('a', actualDb);
    let manifest: VerifyReport['manifest'];
    let algorithm = HASH_ALGORITHM;
    let owner = options.owner ?? true;
    let src = r.src;
    if (r.manifestFile && !attachManifest(store, r.manifestFile, r.mode, progress)) r = { ...r, manifestFile: undefined };
    if (r.mode === 'manifest') {
      // A copy stopped while it scanned (before it says 'copying') leaves the state of the run
      // before it, over a record of the source that is half the new scan's: not a manifest of
      // anything the mirror holds.
      const scanned = store.manifestMeta(SCAN_STATE) === 'partial';
      // A copy by linkmirror before 2026-12-08 killed in the last steps of its scan left
      // 'complete' over a changed record (see SCANNED): the changed paths its scan listed, and
      // the mirror has not, give it away. (Not one whose scan changed more than it lists: past
      // its limit of changes, a scan starts over and lists none.)
      const state = store.manifestMeta('state');
      const ahead = state === 'complete' && store.manifestAheadOfMirror();
      manifest = { state: scanned ? 'scanning' : ahead ? SCANNED : state, copiedAt: store.manifestMeta(COPIED_AT), recordedAt: store.manifestMeta('manifest_at') };
      algorithm = store.manifestMeta('manifest_hash') ?? HASH_ALGORITHM;
      owner = options.owner ?? store.manifestMeta('manifest_owner') !== '0';
      src = store.manifestMeta('src') ?? null;
      progress.start('verify', {});
      store.importManifest();
      progress.end();
    }

    progress.start('verify', {});
    if (emptyLostFoundAtRoot(r.dst)) store.leaveOutTop(LOST_FOUND_BYTES);
    store.indexPaths();
    store.buildPairs();
    store.findMissingAndExtra({ kept: r.mode === 'manifest' });
    // A drive that does not hold modes or owners at all (ntfs-3g without -o permissions): its
    // copies found so (see copy/preflight.ts), and said so. Compared, every path would differ on
    // every run. The drive may be mounted otherwise now than when it was copied to (ntfs-3g with
    // and without -o permissions, as a desktop mounts it): asked again, where the state folder
    // takes a file. Owners only as root: another user's chown is refused on any filesystem.
    const now = r.manifestFile ? keptNow(r, owner && process.getuid?.() === 0) : undefined;
    // A mirror on a drive that keeps whole seconds (say) differs from its source by that much in
    // every mtime: its copies recorded how much, and the drive is asked again, as copies before
    // 2026-12-07 recorded nothing (every mtime with a fraction of a second was reported) and some
    // recorded the probe's raw difference (999999000) rather than its unit.
    const recorded = r.manifestFile ? BigInt(store.manifestMeta(DST_TIME_NS) ?? '0') : 0n;
    const recordedDown = r.manifestFile !== undefined && store.manifestMeta(DST_TIME_DOWN) === 'yes';
    const live = now?.time;
    const timeSlack = live && live.unit > recorded ? live.unit : recorded;
    const timesDown = live && live.unit > 0n ? live.down : recordedDown;
    const notKept = {
      modes: r.manifestFile !== undefined && (store.manifestMeta(DST_MODES) === 'lost' || now?.modes === false),
      owners: r.manifestFile !== undefined && (store.manifestMeta(DST_OWNERS) === 'lost' || now?.owners === false),
    };
    if (notKept.owners) owner = false;
    store.findAttributeDiffs({ owner, modes: !notKept.modes, timeSlack, timesDown });
    store.findTopologyDiffs({ againstManifest: r.mode === 'manifest' });
    progress.end();

    let inodesHashed = 0;
    let bytesHashed = 0n;
    const hashStarted = Date.now();
    if (!fast) {
      const engine = engineFor(r.ops, algorithm, store.contentPairs(), options.hashThreads);
      try {
        const hashed = await hashContent(store, r, engine, problems, { sample, sampleSeed });
        inodesHashed = hashed.inodes;
        bytesHashed = hashed.bytes;
      } finally {
        await engine.close();
      }
      store.findContentDiffs();
    }
    const hashMs = fast ? 0 : Date.now() - hashStarted;

    const counts = store.counts();
    const categories = Object.fromEntries(CATEGORIES.map((c) => [c, counts.get(c)?.items ?? 0])) as Record<Category, number>;
    const differenceCount = CATEGORIES.reduce((n, c) => n + categories[c], 0);
    const differences = CATEGORIES.flatMap((c) => (categories[c] ? store!.firstOf(c, examples).map(differenceFrom) : []));
    if (options.onDifference) {
      for (const page of store.allDiffs()) {
        for (const row of page) if (CATEGORIES.includes(row.category as Category)) options.onDifference(differenceFrom(row));
      }
    }
    const totals = store.totals();
    return {
      mode: r.mode,
      src,
      dst: r.dst,
      // A manifest that is a newer scan than the mirror was copied from vouches for nothing.
      match: differenceCount === 0 && problems.count === 0 && !aheadOfMirror(manifest?.state),
      categories,
      differenceCount,
      differences,
      recordedSplits: counts.get(RECORDED_SPLIT)?.items ?? 0,
      recordedSplitExamples: store.firstOf(RECORDED_SPLIT, examples).map(differenceFrom),
      kept: counts.get(KEPT)?.items ?? 0,
      keptExamples: store.firstOf(KEPT, examples).map(differenceFrom),
      linkedOutside: counts.get(LINKED_OUTSIDE)?.items ?? 0,
      linkedOutsideExamples: store.firstOf(LINKED_OUTSIDE, examples).map(differenceFrom),
      paths: { expected: totals.expectedPaths, actual: totals.actualPaths },
      inodes: { expected: totals.expectedInodes, actual: totals.actualInodes },
      fast,
      algorithm,
      inodesHashed,
      bytesHashed,
      hashMs,
      contentUnchecked: fast ? 0 : store.contentUnchecked(),
      sample,
      sampleSeed,
      ownerCompared: owner,
      modesCompared: !notKept.modes,
      notKept,
      manifest,
      problems: problems.kept,
      problemCount: problems.count,
      elapsedMs: Date.now() - r.started,
    };
  } finally {
    store?.close();
    restoreTempDir();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    release();
  }
}
