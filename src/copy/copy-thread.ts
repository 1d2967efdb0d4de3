// A first copy's content copies, run ahead of the cursor from a thread of their own, each with
// its metadata and its rename into place.
//
// Through fs.promises on the main thread (before 2026-12-06), handing each copy to libuv's pool cost
// the main thread 13-19 µs a call in isolation and about 60 µs in a 1M-path copy (4.3 s for its
// 72k copies in a CPU profile: on two busy cores, the pool thread woken for each call takes the
// core from the caller), and the metadata and rename of each file 3.3 s more, on the thread
// every path waits for. Here the main thread posts the copies a few at a time; this thread
// starts them on libuv's pool (from its own event loop, so the wake-ups cost it, not the main
// thread), and when one is done sets owner, mode and times on the temp file, reads its inode
// number and renames it to its final path, then answers, a turn's answers in one message.
//
// With `hash`, the thread also hashes each copy for the manifest (see verify/record-manifest.ts)
// while the file is in the page cache, before its times are set (reading it must not move its
// atime), so that the copy need not read every file back once more after its pass: a 1M-path
// first copy spent 2.7-3.4 s on that, its two hashing threads half idle behind the main thread
// that fed them paths and stored their hashes, where this thread is idle two thirds of the pass.
//
// A source that is not what the scan saw once its content is copied (written to meanwhile: the
// copy may be torn) is neither hashed nor renamed: the answer is an ECHANGED error, and the main
// thread reports the path and drops the temp file (see check-unchanged.ts).
//
// Crash safety is as before: a file is renamed into place only once complete, with its
// metadata, and its index row is written by the main thread after the answer. A kill between
// leaves a complete file under its name without a row, which the next run finds in place (see
// place-files.ts, leftByInterruptedRun) or replaces. Only for a first copy (no mirror rows):
// there every final path is free, so nothing is staged (see place-files.ts, occupied()).
import { Worker } from 'node:worker_threads';
import { nsToSeconds } from '../fs/ops.js';
import { fromWire, TO_WIRE_JS, type WireError } from '../fs/wire-error.js';
import { HASH_FILE_JS } from '../verify/hash-file.js';
import type { StoredEntry } from '../store/entry.js';
import { CHECK_UNCHANGED_JS, type ScanFacts } from './check-unchanged.js';

/**
 * A copy made ahead: the temp file, its inode with owner, mode and times set, and whether it
 * was renamed to its final path (`renameErr`: why not); or the error that stopped it (the temp
 * file may exist, half written).
 */
export type Prefetched =
  | { tmp: string; err?: undefined; ino: bigint; renamed: boolean; renameErr?: Error; hash?: ContentHash }
  | { tmp: string; err: unknown; ino?: undefined; renamed?: undefined; renameErr?: undefined; hash?: undefined };

/** The digest of a copy as the thread read it back, and how many bytes it read. */
export interface ContentHash {
  hash: Buffer;
  bytes: bigint;
}

/** One copy to make ahead: entry `e`'s content from `src` into the new temp file `tmp`, for path `to`. */
export interface AheadJob {
  e: StoredEntry;
  src: Buffer;
  tmp: string;
  to: Buffer;
}

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const FLAGS = fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE;
${TO_WIRE_JS}
${HASH_FILE_JS}
${CHECK_UNCHANGED_JS}
let answers = [];
const answer = (a) => {
  answers.push(a);
  if (answers.length === 1) setImmediate(() => { const out = answers; answers = []; parentPort.postMessage(out); });
};
const bytes = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
parentPort.on('message', (jobs) => {
  for (const j of jobs) {
    copyRegular(bytes(j.src), j.tmp, FLAGS).then(() => {
      let ino;
      let hashed;
      try {
        checkUnchanged(bytes(j.src), j.scanned);
        // Before the times are set: a read moves the atime where O_NOATIME is refused.
        if (workerData.hash) {
          const h = hashFile(j.tmp, workerData.hash);
          hashed = { hash: h.hash.toString('hex'), bytes: h.bytes };
        }
        if (j.owner) fs.lchownSync(j.tmp, j.uid, j.gid);
        fs.chmodSync(j.tmp, j.mode);
        fs.lutimesSync(j.tmp, j.atime, j.mtime);
        ino = BigInt.asUintN(64, fs.lstatSync(j.tmp, { bigint: true }).ino); // unsigned, as ops.lstat gives it
      } catch (err) {
        return answer({ id: j.id, err: toWire(err) });
      }
      try {
        fs.renameSync(j.tmp, bytes(j.to));
      } catch (err) {
        return answer({ id: j.id, ino, hashed, renameErr: toWire(err) });
      }
      answer({ id: j.id, ino, hashed, renamed: true });
    }, (err) => answer({ id: j.id, err: toWire(err) }));
  }
});
`;

interface Answer {
  id: number;
  ino?: bigint;
  /** The digest as hex text: a Buffer would carry its whole pool slab across. */
  hashed?: { hash: string; bytes: number };
  renamed?: boolean;
  err?: WireError;
  renameErr?: WireError;
}

interface Job {
  id: number;
  src: Uint8Array;
  tmp: string;
  to: Uint8Array;
  owner: boolean;
  uid: number;
  gid: number;
  mode: number;
  atime: number | string;
  mtime: number | string;
  /** What the scan saw of the source, to compare with after the copy. */
  scanned: ScanFacts;
}

/**
 * Jobs posted at once: the look-ahead adds about one copy per group the cursor passes, so each
 * would otherwise be a message of its own; a take() posts what is waiting at once.
 */
const POST_BATCH = 4;

export class CopyThread {
  private readonly worker: Worker;
  private readonly started = new Map<number, { tmp: string; done: Promise<Prefetched> }>();
  private readonly waiting = new Map<number, { tmp: string; resolve: (p: Prefetched) => void; reject: (err: unknown) => void }>();
  private unsent: Job[] = [];
  private failure: unknown;

  /**
   * `depth` copies started and not yet taken at most; `owner`: set owner and group by number
   * (root); `hash`: the algorithm to hash each copy with (none: no hashing).
   */
  constructor(
    private readonly depth: number,
    private readonly owner: boolean,
    hash?: string,
  ) {
    this.worker = new Worker(WORKER_CODE, {
      eval: true,
      workerData: { hash },
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
    });
    this.worker.on('message', (answers: Answer[]) => {
      for (const a of answers) {
        const w = this.waiting.get(a.id);
        if (!w) continue;
        this.waiting.delete(a.id);
        if (a.err) w.resolve({ tmp: w.tmp, err: fromWire(a.err) });
        else {
          const hash = a.hashed && { hash: Buffer.from(a.hashed.hash, 'hex'), bytes: BigInt(a.hashed.bytes) };
          w.resolve({ tmp: w.tmp, ino: a.ino!, renamed: a.renamed === true, renameErr: a.renameErr && fromWire(a.renameErr), hash });
        }
      }
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (this.waiting.size > 0) this.fail(new Error(`the copy thread stopped (exit code ${code}) with copies queued`));
    });
  }

  /**
   * Fewer than `depth` copies are started and not taken yet, done or not. Counting only those in
   * flight let the look-ahead run on while the placing thread was slow (a loaded machine): a copy
   * stopped after 9 paths of 200 had placed them all, and a kill would have left more than
   * `depth` files without rows.
   */
  hasRoom(): boolean {
    return this.started.size < this.depth;
  }

  start({ e, src, tmp, to }: AheadJob): void {
    if (this.failure !== undefined) throw this.failure;
    const done = new Promise<Prefetched>((resolve, reject) => this.waiting.set(e.id, { tmp, resolve, reject }));
    this.started.set(e.id, { tmp, done });
    this.unsent.push({
      // Copies of their own: a Buffer from Node's pool is a view of 8 KiB, all of which a
      // message would carry.
      id: e.id, src: new Uint8Array(src), tmp, to: new Uint8Array(to), owner: this.owner, uid: e.uid, gid: e.gid, mode: e.mode, atime: nsToSeconds(e.atimeNs), mtime: nsToSeconds(e.mtimeNs),
      scanned: { dev: e.dev, ino: e.ino, size: e.size, mtimeNs: e.mtimeNs, birthNs: e.birthNs },
    });
    if (this.unsent.length >= POST_BATCH) this.post();
  }

  /** The copy started for entry `id`, if any; the caller now owns its temp file. */
  take(id: number): Promise<Prefetched> | undefined {
    const s = this.started.get(id);
    if (!s) return undefined;
    this.started.delete(id);
    if (this.unsent.length > 0) this.post();
    return s.done;
  }

  /** Wait for the copies posted and not taken, then stop the thread (what was never posted is dropped). */
  async drain(): Promise<void> {
    const unposted = new Set(this.unsent.map((j) => j.id));
    this.unsent = [];
    for (const id of unposted) {
      const w = this.waiting.get(id);
      w?.resolve({ tmp: w.tmp, err: new Error('not started') });
      this.waiting.delete(id);
    }
    await Promise.allSettled([...this.started.values()].map((s) => s.done));
    this.started.clear();
    await this.worker.terminate();
  }

  private post(): void {
    const jobs = this.unsent;
    this.unsent = [];
    this.worker.postMessage(jobs);
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
