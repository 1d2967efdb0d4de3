// The source walk on a thread of its own (copy's scan): readdir and lstat of every path run
// here while the main thread writes the previous batch into the index, so a scan takes about
// as long as the slower of the two instead of their sum. Batches go out in walk order (see
// walk-batch.ts); the thread may run at most CREDITS batches ahead of the main thread, so
// memory stays flat however fast the walk is. Only with the real filesystem: an injected
// FsOps cannot cross into a thread.
import { parentPort, workerData } from 'node:worker_threads';
import { realFsOps } from '../fs/ops.js';
import { isStateDir } from '../state-dir.js';
import { BatchBuilder, type WalkBatch } from './walk-batch.js';
import { walkWithTargets } from './walk.js';

export interface WalkJob {
  walkRoot: Uint8Array;
  /** Int32Array over it: [0] batches the thread may still send, [1] 1 when the main thread wants it to stop. */
  credits: SharedArrayBuffer;
}

export type WalkMessage =
  | { type: 'batch'; batch: WalkBatch }
  | { type: 'problem'; rel: Uint8Array; code?: string; message: string }
  | { type: 'done' }
  | { type: 'error'; code?: string; message: string };

function run(port: NonNullable<typeof parentPort>, job: WalkJob): void {
  const root = Buffer.from(job.walkRoot);
  const credits = new Int32Array(job.credits);
  const stopped = () => Atomics.load(credits, 1) === 1;
  const builder = new BatchBuilder();
  const send = () => {
    while (Atomics.load(credits, 0) <= 0 && !stopped()) Atomics.wait(credits, 0, 0, 1000);
    if (stopped()) return false;
    Atomics.sub(credits, 0, 1);
    const { batch, transfer } = builder.take();
    port.postMessage({ type: 'batch', batch } satisfies WalkMessage, transfer);
    return true;
  };
  const problem = (rel: Buffer, err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ type: 'problem', rel, code: e?.code, message: e?.message ?? String(err) } satisfies WalkMessage);
  };
  try {
    for (const { rel, stat, target } of walkWithTargets(root, { ops: realFsOps, onError: problem, skip: isStateDir })) {
      builder.add(rel, stat, target);
      if (builder.full && !send()) return;
    }
    if (!builder.empty && !send()) return;
    port.postMessage({ type: 'done' } satisfies WalkMessage);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ type: 'error', code: e?.code, message: e?.message ?? String(err) } satisfies WalkMessage);
  }
}

// Only as a walk thread: verify's scan thread imports scan.ts, which must not start a walk.
const job = workerData as Partial<WalkJob> | undefined;
if (parentPort && job?.walkRoot) run(parentPort, job as WalkJob);
