// lstat of many paths under one root, on threads of their own, answered as numbers: the inode,
// mode, size, device, owner, mtime, birth time and rdev of each, or the error it gave.
//
// An incremental run looks at one destination path per inode the index vouches for (88k of
// them after a rotation of the 1M-path benchmark tree; see leaveAlone in copy/place-files.ts).
// Through fs.promises on the main thread, each one cost a promise, a BigIntStats with four Dates
// and the collection of both, on the thread every later phase waits for: 2.9 s of a 19.5 s
// rotation, with the second core idle. Here the main thread packs the paths into one buffer per
// thread and reads a few numbers back per path. Two threads: cold, each lstat waits for an inode
// block, and two waiting side by side overlap those waits (as the scan's stat threads do). A
// rescan looks at one source path per inode the same way (see scan/scan.ts, checkInodes).
import type fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FsOps } from './ops.js';
import { joinPath } from './paths.js';
import { packPaths, READ_PATH_JS } from './path-wire.js';
import { fromWire, TO_WIRE_JS, type WireError } from './wire-error.js';
import { CLAMP_NS_JS, clampNs } from './time-ns.js';

// Paths travel as one transferred buffer (see path-wire.ts), relative to the root the thread
// was started with; answers as FIELDS numbers a path in a transferred BigUint64Array (signed
// times as their 64-bit two's complement).
/** Numbers per path: ino, mode, size, dev, uid, gid, mtimeNs, birthNs, rdev. */
const FIELDS = 9;

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const root = Buffer.from(workerData.root);
const slash = Buffer.from('/');
${READ_PATH_JS}
${TO_WIRE_JS}
${CLAMP_NS_JS}
parentPort.on('message', ({ id, buf, count }) => {
  const b = Buffer.from(buf);
  const facts = new BigUint64Array(count * ${FIELDS});
  const failed = [];
  const pos = { at: 0 };
  for (let i = 0; i < count; i++) {
    const rel = readPath(b, pos);
    const p = rel.length === 0 ? root : Buffer.concat([root, slash, rel], root.length + 1 + rel.length);
    try {
      const st = fs.lstatSync(p, { bigint: true });
      const f = ${FIELDS} * i;
      facts[f] = st.ino;
      facts[f + 1] = st.mode;
      facts[f + 2] = st.size;
      facts[f + 3] = st.dev;
      facts[f + 4] = st.uid;
      facts[f + 5] = st.gid;
      facts[f + 6] = BigInt.asUintN(64, clampNs(st.mtimeNs));
      facts[f + 7] = BigInt.asUintN(64, clampNs(st.birthtimeNs));
      facts[f + 8] = st.rdev;
    } catch (err) {
      failed.push({ i, ...toWire(err) });
    }
  }
  parentPort.postMessage({ id, facts: facts.buffer, failed }, [facts.buffer]);
});
`;

interface WorkerAnswer {
  id: number;
  facts: ArrayBuffer;
  failed: ({ i: number } & WireError)[];
}

/** What lstat said of each path asked about, by its position in the request. */
export interface PathFacts {
  readonly count: number;
  /** The error lstat gave for path i (an errno-style error with `code`), if it failed. */
  error(i: number): Error | undefined;
  /** Path i's inode number, mode and size; 0n when it failed. */
  ino(i: number): bigint;
  mode(i: number): bigint;
  size(i: number): bigint;
  /** The rest of what a rescan compares of path i's inode (see scan/scan.ts); 0n when it failed. */
  dev(i: number): bigint;
  uid(i: number): bigint;
  gid(i: number): bigint;
  mtimeNs(i: number): bigint;
  birthNs(i: number): bigint;
  rdev(i: number): bigint;
}

class Facts implements PathFacts {
  constructor(
    readonly count: number,
    /** One array per thread's part, in order; part k holds paths [k * per, (k + 1) * per). */
    private readonly parts: { facts: BigUint64Array; failed: Map<number, Error> }[],
    private readonly per: number,
  ) {}

  error(i: number): Error | undefined {
    return this.parts[Math.floor(i / this.per)].failed.get(i % this.per);
  }

  ino(i: number): bigint {
    return this.at(i, 0);
  }

  mode(i: number): bigint {
    return this.at(i, 1);
  }

  size(i: number): bigint {
    return this.at(i, 2);
  }

  dev(i: number): bigint {
    return this.at(i, 3);
  }

  uid(i: number): bigint {
    return this.at(i, 4);
  }

  gid(i: number): bigint {
    return this.at(i, 5);
  }

  mtimeNs(i: number): bigint {
    return BigInt.asIntN(64, this.at(i, 6));
  }

  birthNs(i: number): bigint {
    return BigInt.asIntN(64, this.at(i, 7));
  }

  rdev(i: number): bigint {
    return this.at(i, 8);
  }

  private at(i: number, field: number): bigint {
    return this.parts[Math.floor(i / this.per)].facts[FIELDS * (i % this.per) + field];
  }
}

export class LstatThreads {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (a: WorkerAnswer) => void; reject: (err: unknown) => void }>();
  private nextId = 0;
  private failure: unknown;

  /** Threads that lstat paths relative to `root` (bytes: a name need not be UTF-8). */
  constructor(root: Buffer, threads = 2) {
    for (let k = 0; k < threads; k++) {
      // Like the link thread: one batch of paths at a time needs a small heap only.
      const w = new Worker(WORKER_CODE, {
        eval: true,
        workerData: { root: Uint8Array.from(root) },
        resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
      });
      w.on('message', (m: WorkerAnswer) => {
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        p?.resolve(m);
      });
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (this.waiting.size > 0) this.fail(new Error(`an lstat thread stopped (exit code ${code}) with paths queued`));
      });
      this.workers.push(w);
    }
  }

  /** lstat every path (relative to the root; the empty path is the root), split among the threads. */
  async lstat(rels: readonly Buffer[]): Promise<PathFacts> {
    if (this.failure !== undefined) throw this.failure;
    const per = Math.max(1, Math.ceil(rels.length / this.workers.length));
    const asked: Promise<WorkerAnswer>[] = [];
    for (let k = 0; k * per < rels.length; k++) asked.push(this.ask(this.workers[k], rels.slice(k * per, (k + 1) * per)));
    const answers = await Promise.all(asked);
    const parts = answers.map((a) => {
      const failed = new Map<number, Error>();
      for (const f of a.failed) failed.set(f.i, fromWire(f));
      return { facts: new BigUint64Array(a.facts), failed };
    });
    return new Facts(rels.length, parts, per);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private ask(worker: Worker, rels: readonly Buffer[]): Promise<WorkerAnswer> {
    const buf = packPaths(rels);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, buf, count: rels.length }, [buf]);
    });
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }
}

/**
 * The same facts through `ops`, on this thread: for an injected ops object, which cannot cross
 * into a thread (tests that inject faults).
 */
export function lstatHere(ops: FsOps, root: Buffer, rels: readonly Buffer[]): PathFacts {
  const stats = rels.map((rel): fs.BigIntStats | Error => {
    try {
      return ops.lstat(joinPath(root, rel));
    } catch (err) {
      return err as Error;
    }
  });
  const field = (i: number, f: 'ino' | 'mode' | 'size' | 'dev' | 'uid' | 'gid' | 'mtimeNs' | 'birthtimeNs' | 'rdev'): bigint => {
    const st = stats[i];
    return st instanceof Error ? 0n : st[f];
  };
  return {
    count: stats.length,
    error: (i) => (stats[i] instanceof Error ? (stats[i] as Error) : undefined),
    ino: (i) => field(i, 'ino'),
    mode: (i) => field(i, 'mode'),
    size: (i) => field(i, 'size'),
    dev: (i) => field(i, 'dev'),
    uid: (i) => field(i, 'uid'),
    gid: (i) => field(i, 'gid'),
    mtimeNs: (i) => clampNs(field(i, 'mtimeNs')),
    birthNs: (i) => clampNs(field(i, 'birthtimeNs')),
    rdev: (i) => field(i, 'rdev'),
  };
}

/**
 * Each page with the lstats of its paths under `root`, one page ahead: the next page is read
 * (`pages` may read it from the index) and handed to `threads` (or lstatted here through `ops`
 * when there are none) before this one is given out, so the threads look at it while the caller
 * handles this one. The caller may write between pages; a page is whole before the next is read.
 */
export async function* lstatAhead<T>(
  pages: Iterable<T[]>, pathOf: (item: T) => Buffer, root: Buffer, ops: FsOps, threads?: LstatThreads,
): AsyncGenerator<{ page: T[]; facts: PathFacts }> {
  const look = (page: T[]) => {
    const rels = page.map(pathOf);
    const facts = threads ? threads.lstat(rels) : Promise.resolve(lstatHere(ops, root, rels));
    facts.catch(() => {}); // awaited in its turn; an error before then is not unhandled
    return { page, facts };
  };
  let looking: { page: T[]; facts: Promise<PathFacts> } | undefined;
  for (const page of pages) {
    const next = look(page);
    if (looking) yield { page: looking.page, facts: await looking.facts };
    looking = next;
  }
  if (looking) yield { page: looking.page, facts: await looking.facts };
}
