// Copy's scan walks on threads of its own while the main thread writes the index. One thread
// lists (readdir only, see list-thread.ts) and a few lstat (see stat-thread.ts): cold, the walk
// is mostly waiting on the disk for one inode after another, and several lstats in flight
// overlap those waits (a cold 1M-path walk: 11.1 s on one thread doing both; 4.6 s with one
// thread listing and two lstatting, in a prototype without the index). Chunk
// i goes to stat thread i mod n, so reading their batches in the same turn gives the entries
// back in walk order. Only with the real filesystem: an injected FsOps cannot cross into a thread.
import os from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { ListJob } from './list-thread.js';
import type { StatJob } from './stat-thread.js';
import { BatchEntries, type EntryRun, type WalkBatch } from './walk-batch.js';
import { fromWire, type WireError } from '../fs/wire-error.js';

export interface WalkProblem extends WireError {
  rel: Uint8Array;
}

export type ListerMessage =
  | ({ type: 'problem' } & WalkProblem)
  | { type: 'done'; chunks: number }
  | ({ type: 'error' } & WireError);

export type StatMessage =
  | { type: 'batch'; batch: WalkBatch; problems: WalkProblem[] }
  | ({ type: 'error' } & WireError);

/** The compiled threads; absent when running from the TypeScript sources (tests then walk on the main thread). */
export const LIST_THREAD = new URL('./list-thread.js', import.meta.url);
const STAT_THREAD = new URL('./stat-thread.js', import.meta.url);

/** Two lstats in flight took most of the gain on a 2-core machine; a third added little (4.3 s). */
const statThreads = (): number => Math.min(4, Math.max(2, os.availableParallelism()));

/** How long a list thread asked to stop may take to return before it is terminated. */
const LISTER_GRACE_MS = 10_000;

/** Each thread holds a directory listing per level and a chunk or two: a small heap will do. */
const LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

/** Entries a batch at a time, in walk order (the order walk() gives them on this thread). */
export async function* walkOnThreads(
  root: Buffer, onError: (rel: Buffer, err: unknown) => void, stubs: () => boolean = () => false, leaveOut?: Buffer,
): AsyncGenerator<EntryRun> {
  const n = statThreads();
  // [0] chunks the list thread may still send, [1] 1 to stop, [2] 1 while stubs are wanted.
  const credits = new SharedArrayBuffer(12);
  const control = new Int32Array(credits);
  control[0] = 2 * n + 2; // chunks out at once: enough that no thread waits for work
  control[2] = stubs() ? 1 : 0;
  const batches: StatMessage[][] = Array.from({ length: n }, () => []);
  const fromLister: ListerMessage[] = [];
  const workers: Worker[] = [];
  /** Per stat thread, where the arrays of its batches go back to it (see BatchEntries). */
  const spares: MessagePort[] = [];
  let failure: unknown;
  /** Resolved when the list thread has exited. */
  let listerGone: Promise<unknown> = Promise.resolve();
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const watch = <M>(w: Worker, onMessage: (m: M) => void, onExit: () => void) => {
    workers.push(w);
    w.on('message', (m: M) => {
      onMessage(m);
      wakeUp();
    });
    w.on('error', (err) => {
      failure ??= err;
      wakeUp();
    });
    w.on('exit', (code) => {
      if (code !== 0) failure ??= new Error(`a walk thread stopped (exit code ${code})`);
      onExit();
      wakeUp();
    });
  };
  // A thread's exit comes after every message it sent, but not in order with the others': a
  // stat thread ends when the list thread does (its port closes), possibly before the list
  // thread's 'done' is seen here.
  const statExited: boolean[] = Array.from({ length: n }, () => false);
  let listerExited = false;
  let chunks: number | undefined; // known when the list thread is done
  let taken = 0;
  /** Problems the list thread met (readdir failures), reported as they come; and its end. */
  const fromListerNow = () => {
    while (fromLister.length > 0) {
      const m = fromLister.shift()!;
      if (m.type === 'problem') onError(Buffer.from(m.rel), fromWire(m));
      else if (m.type === 'error') throw fromWire(m);
      else chunks = m.chunks;
    }
  };
  try {
    const channels = Array.from({ length: n }, () => new MessageChannel());
    channels.forEach((ch, i) => {
      const back = new MessageChannel();
      spares.push(back.port1);
      const w = new Worker(STAT_THREAD, {
        workerData: { walkRoot: root, chunks: ch.port2, spares: back.port2, control: credits } satisfies StatJob,
        transferList: [ch.port2, back.port2],
        resourceLimits: LIMITS,
      });
      watch(w, (m: StatMessage) => batches[i].push(m), () => (statExited[i] = true));
    });
    const lister = new Worker(LIST_THREAD, {
      workerData: { walkRoot: root, credits, statPorts: channels.map((c) => c.port1), leaveOut } satisfies ListJob,
      transferList: channels.map((c) => c.port1),
      resourceLimits: LIMITS,
    });
    watch(lister, (m: ListerMessage) => fromLister.push(m), () => (listerExited = true));
    listerGone = new Promise((resolve) => lister.once('exit', resolve));
    for (;;) {
      const i = taken % n;
      while (batches[i].length === 0) {
        fromListerNow();
        if (chunks === taken) return;
        if (failure !== undefined) throw failure;
        const ended = listerExited ? chunks === undefined : chunks !== undefined && statExited[i];
        if (ended) throw new Error('a walk thread stopped before the end of the walk');
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      const m = batches[i].shift()!;
      if (m.type === 'error') throw fromWire(m);
      for (const p of m.problems) onError(Buffer.from(p.rel), fromWire(p));
      fromListerNow();
      taken++;
      // Asked as each batch is taken: the threads a few chunks ahead may still send stubs.
      Atomics.store(control, 2, stubs() ? 1 : 0);
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
      // Once written, the batch's arrays go back to the thread that filled them (see BatchEntries).
      const back = spares[i];
      yield new BatchEntries(m.batch, (arrays, transfer) => back.postMessage(arrays, transfer));
    }
  } finally {
    Atomics.store(control, 1, 1);
    Atomics.notify(control, 0);
    // The list thread reads directories through the getdents addon, and a thread terminated
    // inside one of its calls aborts the whole process (node-addon-api, built with C++
    // exceptions, throws again when it cannot throw into a stopping thread): a Ctrl-C during the
    // walk ended in SIGABRT now and then. So it is asked to stop (it looks between entries) and
    // given time to return; only one stuck in a call for that long is terminated.
    if (!listerExited) await Promise.race([listerGone, new Promise((resolve) => setTimeout(resolve, LISTER_GRACE_MS).unref())]);
    await Promise.all(workers.map((w) => w.terminate()));
    for (const port of spares) port.close();
  }
}
