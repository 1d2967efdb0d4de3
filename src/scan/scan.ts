// scan: walk the source once and record every entry in the index, in batched transactions,
// then derive the inode groups ((dev, ino) -> first path) with one SQL pass. Nothing per-path
// stays in memory.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LinkmirrorError } from '../errors.js';
import { errnoCode } from '../fs/errno.js';
import { Problems, type Problem } from '../problems.js';
import { realFsOps, type FsOps } from '../fs/ops.js';
import { showPath } from '../fs/paths.js';
import { noProgress, type Progress } from '../progress.js';
import { isStateDir } from '../state-dir.js';
import type { Index, ScanTotals } from '../store/index-db.js';
import { EntryType, type Entry } from '../store/entry.js';
import { CREDITS, entryOf, unpackBatch } from './walk-batch.js';
import type { WalkJob, WalkMessage } from './walk-thread.js';
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
   * Walk on a thread of its own while this one writes the index (real filesystem only). Off for
   * verify, whose two scans already run side by side.
   */
  walkThread?: boolean;
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

  index.beginScan();
  progress.start('scan', {});
  let batch: Entry[] = [];
  const onError = (rel: Buffer, err: unknown) => problems.add(rel, 'cannot read', err);
  let rootSeen = false;
  const pacer = new Pacer();
  const source = options.walkThread && ops === realFsOps && fs.existsSync(fileURLToPath(WALK_THREAD))
    ? walkOnThread(rootBytes, onError)
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
    throw err;
  }
  index.writeScanned(batch);
  progress.advance(batch.length, batch.reduce((sum, e) => sum + e.size, 0n));
  progress.end();
  index.endScan();
  return { totals: index.scanTotals(), problems: problems.kept, problemCount: problems.count };
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

/** The compiled walk thread; absent when running from the TypeScript sources (tests then walk here). */
const WALK_THREAD = new URL('./walk-thread.js', import.meta.url);

/** Entries a batch at a time from the walk thread (see walk-thread.ts), in the same walk order. */
async function* walkOnThread(root: Buffer, onError: (rel: Buffer, err: unknown) => void): AsyncGenerator<Entry[]> {
  const credits = new SharedArrayBuffer(8);
  const control = new Int32Array(credits);
  control[0] = CREDITS;
  const worker = new Worker(WALK_THREAD, {
    workerData: { walkRoot: root, credits } satisfies WalkJob,
    // The thread holds one directory listing per level and one batch: a small heap will do.
    resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
  });
  const queue: WalkMessage[] = [];
  let failure: unknown;
  let exited = false;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', (m: WalkMessage) => {
    queue.push(m);
    wakeUp();
  });
  worker.on('error', (err) => {
    failure ??= err;
    wakeUp();
  });
  worker.on('exit', () => {
    exited = true;
    wakeUp();
  });
  const asError = (m: { code?: string; message: string }) => Object.assign(new Error(m.message), { code: m.code });
  try {
    for (;;) {
      while (queue.length === 0) {
        if (failure !== undefined) throw failure;
        if (exited) throw new Error('the walk thread stopped before the end of the walk');
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      const m = queue.shift()!;
      if (m.type === 'batch') {
        const items = unpackBatch(m.batch);
        Atomics.add(control, 0, 1);
        Atomics.notify(control, 0);
        yield items;
      } else if (m.type === 'problem') {
        onError(Buffer.from(m.rel), asError(m));
      } else if (m.type === 'error') {
        throw asError(m);
      } else {
        return;
      }
    }
  } finally {
    Atomics.store(control, 1, 1);
    Atomics.notify(control, 0);
    await worker.terminate();
  }
}
