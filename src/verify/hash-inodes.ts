// The content pass of verify: hash each listed inode once, through one of its paths, and hand
// the results back in batches. A read error is a result too (the inode's content is unreadable);
// the pass goes on. Memory is one page of the list and one batch of results.
import { errnoCode } from '../fs/errno.js';
import type { FsOps } from '../fs/ops.js';
import { joinPath } from '../fs/paths.js';
import type { Progress } from '../progress.js';
import type { HashResult, HashTodo } from '../store/verify-store.js';
import { Pacer, yieldNow } from '../yield.js';
import { FileHasher } from './hash-file.js';
import { sampled } from './sample.js';

export interface HashPassOptions {
  ops: FsOps;
  algorithm: string;
  progress: Progress;
  /** Fraction of inodes to read (0 < f <= 1); 1 reads all. */
  sample?: number;
  sampleSeed?: number;
  shouldStop?: () => boolean;
  /** Called for an inode that could not be read, with the path tried. */
  onError?: (path: Buffer, err: unknown) => void;
}

export interface HashPassTotals {
  inodes: number;
  bytes: bigint;
  errors: number;
  /** Inodes left out by sampling. */
  skipped: number;
  stopped: boolean;
}

const BATCH = 512;

export async function hashInodes(
  root: Buffer,
  pages: Iterable<HashTodo[]>,
  put: (rows: HashResult[]) => void,
  options: HashPassOptions,
): Promise<HashPassTotals> {
  const hasher = new FileHasher(options.ops, options.algorithm);
  const totals: HashPassTotals = { inodes: 0, bytes: 0n, errors: 0, skipped: 0, stopped: false };
  const sample = options.sample ?? 1;
  const seed = options.sampleSeed ?? 0;
  const pacer = new Pacer();
  let batch: HashResult[] = [];
  for (const page of pages) {
    for (const t of page) {
      if (sample < 1 && !sampled(t.ino, seed, sample)) {
        totals.skipped++;
        continue;
      }
      if (pacer.due()) {
        await yieldNow();
        if (options.shouldStop?.()) {
          put(batch);
          totals.stopped = true;
          return totals;
        }
      }
      try {
        const { hash, bytes } = hasher.hash(joinPath(root, t.path));
        batch.push({ dev: t.dev, ino: t.ino, hash, error: null });
        totals.bytes += bytes;
        options.progress.advance(1, bytes);
      } catch (err) {
        const code = errnoCode(err) ?? 'EIO';
        batch.push({ dev: t.dev, ino: t.ino, hash: null, error: `unreadable (${code})` });
        totals.errors++;
        options.onError?.(t.path, err);
        options.progress.advance(1);
      }
      totals.inodes++;
      if (batch.length >= BATCH) {
        put(batch);
        batch = [];
      }
    }
  }
  put(batch);
  return totals;
}
