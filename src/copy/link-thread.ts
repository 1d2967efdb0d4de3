// Hard links made on a thread of their own. A first copy makes one link() per path beyond its
// inode's first — 910,000 of the benchmark's 1M paths — and each is a syscall of 10–20 µs that
// the main thread would otherwise sit in while the next rows, the index writes and the content
// copies wait. Batches of (anchor, path) pairs go to one worker, which makes them in order and
// answers with the ones that failed; the caller records the rest and replays each failure
// through its own code (EMLINK: a split; EEXIST: look at what is there).
//
// Crash safety is unchanged: a link is queued only after its anchor is in place, and its index
// row is written only after the answer, so the index never vouches for a link not yet made.
import { Worker } from 'node:worker_threads';
import { packPaths, READ_PATH_JS } from '../fs/path-wire.js';
import { fromWire, TO_WIRE_JS, type WireError } from '../fs/wire-error.js';

// Batches travel as one transferred buffer (see fs/path-wire.ts) of paths in pairs: the
// existing path, then the new one.
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
${READ_PATH_JS}
${TO_WIRE_JS}
parentPort.on('message', ({ id, buf, count }) => {
  const b = Buffer.from(buf);
  const failed = [];
  const pos = { at: 0 };
  for (let i = 0; i < count; i++) {
    const from = readPath(b, pos);
    const to = readPath(b, pos);
    try { fs.linkSync(from, to); } catch (err) { failed.push({ i, ...toWire(err) }); }
  }
  parentPort.postMessage({ id, failed });
});
`;

export interface LinkJob<T> {
  from: Buffer;
  to: Buffer;
  /** The caller's own record of the job, handed back with the answer. */
  tag: T;
}

export interface LinkAnswer<T> {
  jobs: LinkJob<T>[];
  /** Job index -> the error its link() failed with (an errno-style error with `code`). */
  failed: Map<number, Error>;
}

interface WorkerAnswer {
  id: number;
  failed: ({ i: number } & WireError)[];
}

export class LinkThread<T> {
  private readonly worker: Worker;
  private batch: LinkJob<T>[] = [];
  private readonly inFlight = new Map<number, LinkJob<T>[]>();
  private answered: LinkAnswer<T>[] = [];
  private wake: (() => void) | undefined;
  private failure: unknown;
  private nextId = 0;

  /**
   * `batchSize` links per message; at most `maxInFlight` batches queued at the worker, which
   * bounds memory and how far the index rows lag behind the links.
   */
  constructor(
    private readonly batchSize = 1024,
    private readonly maxInFlight = 2,
  ) {
    // Like the hashing threads: a thread that holds a batch of paths needs a small heap only.
    this.worker = new Worker(WORKER_CODE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } });
    this.worker.on('message', (m: WorkerAnswer) => {
      const jobs = this.inFlight.get(m.id);
      if (!jobs) return;
      this.inFlight.delete(m.id);
      const failed = new Map<number, Error>();
      for (const f of m.failed) failed.set(f.i, fromWire(f));
      this.answered.push({ jobs, failed });
      this.wakeUp();
    });
    this.worker.on('error', (err) => {
      this.failure ??= err;
      this.wakeUp();
    });
    this.worker.on('exit', (code) => {
      if (this.inFlight.size > 0) this.failure ??= new Error(`the link thread stopped (exit code ${code}) with links queued`);
      this.wakeUp();
    });
  }

  /** Queue link(from, to). When `blocked`, await room() before the next add. */
  add(from: Buffer, to: Buffer, tag: T): void {
    this.batch.push({ from, to, tag });
    if (this.batch.length >= this.batchSize && this.inFlight.size < this.maxInFlight) this.send();
  }

  /** A full batch waits for the worker to take it. */
  get blocked(): boolean {
    return this.batch.length >= this.batchSize;
  }

  /** No link queued or in flight: every answer has arrived (take them with answers()). */
  get idle(): boolean {
    return this.batch.length === 0 && this.inFlight.size === 0;
  }

  /** Wait until the full batch has gone to the worker. */
  async room(): Promise<void> {
    while (this.blocked) {
      this.check();
      if (this.inFlight.size < this.maxInFlight) {
        this.send();
        return;
      }
      await this.nextAnswer();
    }
  }

  /** Send what is queued and wait for every answer. */
  async drain(): Promise<void> {
    for (;;) {
      this.check();
      if (this.batch.length > 0 && this.inFlight.size < this.maxInFlight) this.send();
      if (this.idle) return;
      await this.nextAnswer();
    }
  }

  /** The answers that arrived since the last call, in the order the batches were sent. */
  answers(): LinkAnswer<T>[] {
    this.check();
    const out = this.answered;
    this.answered = [];
    return out;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private send(): void {
    const jobs = this.batch;
    const buf = packPaths(jobs.flatMap(({ from, to }) => [from, to]));
    const id = this.nextId++;
    this.inFlight.set(id, jobs);
    this.batch = [];
    this.worker.postMessage({ id, buf, count: jobs.length }, [buf]);
  }

  private nextAnswer(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
