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
import { entryOf } from './walk-batch.js';
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
  let batch: Entry[] = [];
  const onError = (rel: Buffer, err: unknown) => problems.add(rel, 'cannot read', err);
  let rootSeen = false;
  const pacer = new Pacer();
  const source = options.walkThread && ops === realFsOps && fs.existsSync(fileURLToPath(LIST_THREAD))
    ? walkOnThreads(rootBytes, onError)
    : walkHere(rootBytes, ops, onError);
  try {
    for await (const items of source) {
      for (const e of items) {
        if (!rootSeen) {
          rootSeen = true;
          if (e.type !== EntryType.dir) throw new LinkmirrorError('SRC_NOT_DIR', `${showPath(rootBytes)} is not a directory`);
        }
        batch.push(e);
        if (batch.length >= batchSize) {
          index.writeScanned(batch);
          progress.advance(batch.length, batch.reduce((sum, e) => sum + e.size, 0n));
          batch = [];
        }
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
  index.writeScanned(batch);
  progress.advance(batch.length, batch.reduce((sum, e) => sum + e.size, 0n));
  progress.end();
  const rowsWritten = index.endScan();
  return { totals: index.scanTotals(), problems: problems.kept, problemCount: problems.count, rowsWritten };
}

/** Entries a few hundred at a time, walked on this thread through `ops`. */
function* walkHere(root: Buffer, ops: FsOps, onError: (rel: Buffer, err: unknown) => void): Generator<Entry[]> {
  let items: Entry[] = [];
  for (const { rel, stat, target } of walkWithTargets(root, { ops, onError, skip: isStateDir })) {
    items.push(entryOf(rel, stat, target));
    if (items.length >= 256) {
      yield items;
      items = [];
    }
  }
  yield items;
}
