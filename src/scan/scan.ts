// scan: walk the source once and record every entry in the index, in batched transactions,
// then derive the inode groups ((dev, ino) -> first path) with one SQL pass. Nothing per-path
// stays in memory.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LinkmirrorError } from '../errors.js';
import { errnoCode } from '../fs/errno.js';
import { Problems, type Problem } from '../problems.js';
import { realFsOps, type FsOps } from '../fs/ops.js';
import { showPath } from '../fs/paths.js';
import { noProgress, type Progress } from '../progress.js';
import { isStateDir } from '../state-dir.js';
import type { Index, ScanTotals } from '../store/index-db.js';
import { EntryType, type Entry } from '../store/entry.js';
import { entryOf, runOf, type EntryRun } from './walk-batch.js';
import { LIST_THREAD, walkOnThreads } from './walk-threads.js';
import { walkWithTargets } from './walk.js';
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
}

export interface ScanResult {
  totals: ScanTotals;
  /** The first problems (the list is capped to keep memory flat); problemCount is exact. */
  problems: Problem[];
  problemCount: number;
  /** Index rows this scan wrote: 0 when the source is as the last scan saw it (see Index.endScan). */
  rowsWritten: number;
}

export async function scan(root: Buffer | string, index: Index, options: ScanOptions = {}): Promise<ScanResult> {
  const ops = options.ops ?? realFsOps;
  const progress = options.progress ?? noProgress;
  const batchSize = options.batch ?? 8192;
  const rootBytes = typeof root === 'string' ? Buffer.from(root) : root;
  const problems = new Problems(progress);

  index.beginScan();
  progress.start('scan', {});
  // The runs of entries for the next writeScanned(): at least batchSize entries, handed over
  // whole runs at a time and read lazily, so that no entry outlives its row's insert (see
  // BatchEntries).
  let pending: EntryRun[] = [];
  let pendingCount = 0;
  const flush = () => {
    const tally = { bytes: 0n };
    index.writeScanned(tallied(pending, tally));
    for (const run of pending) run.release?.();
    progress.advance(pendingCount, tally.bytes);
    pending = [];
    pendingCount = 0;
  };
  const onError = (rel: Buffer, err: unknown) => problems.add(rel, 'cannot read', err);
  let rootSeen = false;
  const pacer = new Pacer();
  const source = options.walkThread && ops === realFsOps && fs.existsSync(fileURLToPath(LIST_THREAD))
    ? walkOnThreads(rootBytes, onError)
    : walkHere(rootBytes, ops, onError);
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
        if (options.shouldStop?.()) throw new LinkmirrorError('INTERRUPTED', 'interrupted while scanning the source; nothing was copied yet');
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
  const rowsWritten = index.endScan();
  return { totals: index.scanTotals(), problems: problems.kept, problemCount: problems.count, rowsWritten };
}

/** The first entry of a run that has one. */
function firstOf(run: EntryRun): Entry {
  for (const e of run) return e;
  throw new Error('firstOf() of an empty run');
}

/** The entries of the runs in order, their bytes added up into `tally` as they are read. */
function* tallied(runs: readonly EntryRun[], tally: { bytes: bigint }): Generator<Entry> {
  for (const run of runs) {
    for (const e of run) {
      tally.bytes += e.size;
      yield e;
    }
  }
}

/** Entries a few hundred at a time, walked on this thread through `ops`. */
function* walkHere(root: Buffer, ops: FsOps, onError: (rel: Buffer, err: unknown) => void): Generator<EntryRun> {
  let items: Entry[] = [];
  for (const { rel, stat, target } of walkWithTargets(root, { ops, onError, skip: isStateDir })) {
    items.push(entryOf(rel, stat, target));
    if (items.length >= 256) {
      yield runOf(items);
      items = [];
    }
  }
  yield runOf(items);
}
