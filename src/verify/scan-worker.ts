// One scan on a worker thread: verify scans the source here while the main thread scans the
// mirror, so the two walks (often two drives, always two cores' worth of lstat and SQLite
// work) overlap. The worker writes its own index file and reports progress, warnings and the
// outcome by message; the main thread may ask it to stop. Only with the real filesystem: an
// injected FsOps cannot cross into a thread (verify then scans one tree after the other).
import { parentPort, workerData } from 'node:worker_threads';
import { isLinkmirrorError } from '../errors.js';
import type { Problem } from '../problems.js';
import type { Progress } from '../progress.js';
import { scan } from '../scan/scan.js';
import { Index } from '../store/index-db.js';

export interface ScanJob {
  root: string;
  file: string;
  /** See ScanOptions.leaveOut. */
  leaveOut?: Uint8Array;
}

export type ScanMessage =
  | { type: 'advance'; items: number; bytes: bigint }
  | { type: 'warn'; message: string }
  | { type: 'done'; problems: Problem[]; problemCount: number }
  | { type: 'error'; code?: string; message: string };

async function run(port: NonNullable<typeof parentPort>, job: ScanJob): Promise<void> {
  let stop = false;
  port.on('message', (m) => {
    if (m === 'stop') stop = true;
  });
  const post = (m: ScanMessage) => port.postMessage(m);
  const progress: Progress = {
    start() {},
    end() {},
    advance: (items, bytes = 0n) => post({ type: 'advance', items, bytes }),
    warn: (message) => post({ type: 'warn', message }),
  };
  let index: Index | undefined;
  try {
    index = Index.open(job.file, { scratch: true });
    const r = await scan(job.root, index, { progress, shouldStop: () => stop, leaveOut: job.leaveOut ? Buffer.from(job.leaveOut) : undefined });
    post({ type: 'done', problems: r.problems, problemCount: r.problemCount });
  } catch (err) {
    post({ type: 'error', code: isLinkmirrorError(err) ? err.code : undefined, message: (err as Error)?.message ?? String(err) });
  } finally {
    index?.close();
    port.close();
  }
}

if (parentPort) await run(parentPort, workerData as ScanJob);
