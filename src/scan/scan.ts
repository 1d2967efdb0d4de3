// scan: walk the source once and record every entry in the index, in batched transactions,
// then derive the inode groups ((dev, ino) -> first path) with one SQL pass. Nothing per-path
// stays in memory.
import { LinkmirrorError } from '../errors.js';
import { errnoCode } from '../fs/errno.js';
import { Problems, type Problem } from '../problems.js';
import { realFsOps, type FsOps } from '../fs/ops.js';
import { showPath } from '../fs/paths.js';
import { noProgress, type Progress } from '../progress.js';
import { isStateDir } from '../state-dir.js';
import type { Index, ScanTotals } from '../store/index-db.js';
import { EntryType, typeFromMode, type Entry } from '../store/entry.js';
import { walk } from './walk.js';
import { Pacer, yieldNow } from '../yield.js';

export interface ScanOptions {
  ops?: FsOps;
  progress?: Progress;
  /** Rows per transaction. */
  batch?: number;
  /** Polled as the walk goes: true stops the scan with INTERRUPTED. */
  shouldStop?: () => boolean;
}

export interface ScanResult {
  totals: ScanTotals;
  /** The first problems (the list is capped to keep memory flat); problemCount is exact. */
  problems: Problem[];
  problemCount: number;
}

export async function scan(root: Buffer | string, index: Index, options: ScanOptions = {}): Promise<ScanResult> {
  const ops = options.ops ?? realFsOps;
  const progress = options.progress ?? noProgress;
  const batchSize = options.batch ?? 8192;
  const rootBytes = typeof root === 'string' ? Buffer.from(root) : root;
  const problems = new Problems(progress);

  index.clearSrc();
  progress.start('scan', {});
  let batch: Entry[] = [];
  const onError = (rel: Buffer, err: unknown) => problems.add(rel, 'cannot read', err);
  let rootSeen = false;
  const pacer = new Pacer();
  try {
    for (const { rel, stat } of walk(rootBytes, { ops, onError, skip: isStateDir })) {
      const mode = Number(stat.mode);
      const type = typeFromMode(mode);
      if (!rootSeen) {
        rootSeen = true;
        if (type !== EntryType.dir) throw new LinkmirrorError('SRC_NOT_DIR', `${showPath(rootBytes)} is not a directory`);
      }
      let target: Buffer | null = null;
      if (type === EntryType.symlink) {
        try {
          target = ops.readlink(Buffer.concat([rootBytes, Buffer.from('/'), rel]));
        } catch (err) {
          onError(rel, err);
          continue;
        }
      }
      batch.push({
        path: rel,
        type,
        dev: stat.dev,
        ino: stat.ino,
        nlink: Number(stat.nlink),
        size: type === EntryType.dir ? 0n : stat.size,
        mode: mode & 0o7777,
        uid: Number(stat.uid),
        gid: Number(stat.gid),
        mtimeNs: stat.mtimeNs,
        atimeNs: stat.atimeNs,
        birthNs: stat.birthtimeNs,
        target,
        rdev: stat.rdev,
      });
      if (pacer.due()) {
        await yieldNow();
        if (options.shouldStop?.()) throw new LinkmirrorError('INTERRUPTED', 'interrupted while scanning the source; nothing was copied yet');
      }
      if (batch.length >= batchSize) {
        index.insertSrc(batch);
        progress.advance(batch.length, batch.reduce((sum, e) => sum + e.size, 0n));
        batch = [];
      }
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !rootSeen) {
      throw new LinkmirrorError('SRC_MISSING', `source ${showPath(rootBytes)} does not exist`, { cause: err });
    }
    throw err;
  }
  index.insertSrc(batch);
  progress.advance(batch.length, batch.reduce((sum, e) => sum + e.size, 0n));
  progress.end();
  index.finishScan();
  return { totals: index.scanTotals(), problems: problems.kept, problemCount: problems.count };
}
