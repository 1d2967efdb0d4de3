// The content pass shared by verify and the manifest: hash each listed inode once, through one
// of its paths. Batches of paths go to the hash engine (hash-engine.ts) with a few of them in
// flight, so a pool of threads stays busy; each outcome — a digest, or the error that kept the
// file from being read — goes to the caller, who stores it. Memory is one page of the list and
// the batches in flight, whatever the size of the tree.
import { joinPath } from '../fs/paths.js';
import type { Progress } from '../progress.js';
import { Pacer, yieldNow } from '../yield.js';
import type { HashEngine, HashOutcome } from './hash-engine.js';
import { sampled } from './sample.js';

export interface HashItem {
  /** Relative to the root given to hashInodes. */
  path: Buffer;
  /** The inode number (as stored): what --sample draws on. */
  ino: bigint;
}

export interface HashPassOptions<T extends HashItem> {
  engine: HashEngine;
  progress: Progress;
  /** Fraction of inodes to read (0 < f <= 1); 1 reads all. */
  sample?: number;
  sampleSeed?: number;
  /** Checked on the main thread before an item is sent: false leaves it out (counted as skipped). */
  accept?: (item: T) => boolean;
  shouldStop?: () => boolean;
}

export interface HashPassTotals {
  /** Inodes read (or tried: errors included). */
  inodes: number;
  bytes: bigint;
  errors: number;
  /** Left out by sampling or by accept(). */
  skipped: number;
  stopped: boolean;
}

/** Files per batch sent to the engine, and batches in flight per thread. */
const BATCH_FILES = 64;
const IN_FLIGHT_PER_THREAD = 3;

export async function hashInodes<T extends HashItem>(
  root: Buffer,
  pages: Iterable<T[]>,
  onResult: (item: T, outcome: HashOutcome) => void,
  options: HashPassOptions<T>,
): Promise<HashPassTotals> {
  const { engine, progress } = options;
  const totals: HashPassTotals = { inodes: 0, bytes: 0n, errors: 0, skipped: 0, stopped: false };
  const sample = options.sample ?? 1;
  const seed = options.sampleSeed ?? 0;
  const pacer = new Pacer();
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = engine.parallel * IN_FLIGHT_PER_THREAD;

  const send = (batch: T[]) => {
    const job = engine.hash(batch.map((t) => joinPath(root, t.path))).then((outcomes) => {
      outcomes.forEach((o, i) => {
        totals.inodes++;
        if ('hash' in o) totals.bytes += o.bytes;
        else totals.errors++;
        onResult(batch[i], o);
        progress.advance(1, 'hash' in o ? o.bytes : 0n);
      });
    });
    const tracked = job.finally(() => inFlight.delete(tracked));
    tracked.catch(() => {}); // observed below; not an unhandled rejection meanwhile
    inFlight.add(tracked);
  };

  let failure: unknown;
  try {
    let batch: T[] = [];
    outer: for (const page of pages) {
      for (const t of page) {
        if (pacer.due()) {
          await yieldNow();
          if (options.shouldStop?.()) {
            totals.stopped = true;
            break outer;
          }
        }
        if ((sample < 1 && !sampled(t.ino, seed, sample)) || (options.accept && !options.accept(t))) {
          totals.skipped++;
          continue;
        }
        batch.push(t);
        if (batch.length < BATCH_FILES) continue;
        send(batch);
        batch = [];
        if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      }
    }
    if (!totals.stopped && batch.length > 0) send(batch);
  } catch (err) {
    failure = err;
  }
  // Let what was sent finish (its results are kept), also when stopping or failing.
  for (const s of await Promise.allSettled([...inFlight])) if (s.status === 'rejected') failure ??= s.reason;
  if (failure !== undefined) throw failure;
  return totals;
}
