// A stat thread's batches on the wire (see walk-threads.ts): a few columns of typed arrays and
// one buffer of names and symlink targets, transferred (not copied) to the main thread, which
// rebuilds each entry's stat fields from them. Structured cloning an object per path would cost
// the main thread more than the lstat it saves.
import { EntryType, TYPE_BITS, typeFromMode, type Entry } from '../store/entry.js';
import type { StatFields } from './walk.js';
import { clampNs } from '../fs/time-ns.js';

/** Entries per batch: large enough that a message is rare, small enough to keep memory flat. */
export const BATCH_ENTRIES = 4096;

const U64 = 4; // dev, ino, size, rdev
const I64 = 3; // mtimeNs, atimeNs, birthtimeNs
const U32 = 7; // mode, nlink, uid, gid, end of path, end of target (== end of path: no target), 1 for a stub, 2 from the cache

export interface WalkBatch {
  count: number;
  u64: BigUint64Array;
  i64: BigInt64Array;
  u32: Uint32Array;
  bytes: Uint8Array;
}

/** A batch's arrays whole, on their way back to the thread that filled them. */
export interface BatchArrays {
  u64: BigUint64Array;
  i64: BigInt64Array;
  u32: Uint32Array;
  /** All of the byte buffer, not only the part the batch used. */
  bytes: Uint8Array;
}

/** `a` when its arrays are a batch's size. */
function fits(a: BatchArrays | undefined): BatchArrays | undefined {
  return a && a.u64.length === BATCH_ENTRIES * U64 && a.i64.length === BATCH_ENTRIES * I64 && a.u32.length === BATCH_ENTRIES * U32 ? a : undefined;
}

/** The index entry for a path and its lstat; `target` is a symlink's, read beside the lstat. */
export function entryOf(rel: Buffer, s: StatFields, target: Buffer | null): Entry {
  const mode = Number(s.mode);
  const type = typeFromMode(mode);
  return {
    path: rel, type, dev: s.dev, ino: s.ino, nlink: Number(s.nlink), size: type === EntryType.dir ? 0n : s.size,
    mode: mode & 0o7777, uid: Number(s.uid), gid: Number(s.gid), mtimeNs: clampNs(s.mtimeNs), atimeNs: clampNs(s.atimeNs),
    birthNs: clampNs(s.birthtimeNs), target, rdev: s.rdev,
  };
}

/**
 * A path replaced between its listing and its lstat: a directory the walk did not go into, or a
 * file it took for one. Left out and reported, as a path gone would be.
 */
export function changedUnderScan(wasDir: boolean): Error {
  return Object.assign(new Error(`${wasDir ? 'it is no longer a directory' : 'it became a directory'} while the source was being scanned; run again to copy it`), {
    code: 'ECHANGED',
  });
}

/** A stub (see Entry.stub): `type` and `ino` from the path's directory entry, dev to be filled in. */
export function stubOf(rel: Buffer, type: EntryType, ino: bigint): Entry {
  return {
    path: rel, type, dev: 0n, ino, nlink: 0, size: 0n, mode: 0, uid: 0, gid: 0, mtimeNs: 0n, atimeNs: 0n, birthNs: 0n, target: null, rdev: 0n, stub: true,
  };
}

/**
 * The stat fields of one entry into three arrays at offsets u, t and w: dev, ino, size and rdev
 * at u..u+3, the three times at t..t+2, mode, nlink, uid and gid at w..w+3. A batch's columns
 * and the stat cache's slots (stat-cache.ts) are laid out so.
 */
export function writeStat(u64: BigUint64Array, i64: BigInt64Array, u32: Uint32Array, u: number, t: number, w: number, s: StatFields): void {
  u64[u] = s.dev;
  u64[u + 1] = s.ino;
  u64[u + 2] = s.size;
  u64[u + 3] = s.rdev;
  i64[t] = clampNs(s.mtimeNs);
  i64[t + 1] = clampNs(s.atimeNs);
  i64[t + 2] = clampNs(s.birthtimeNs);
  u32[w] = Number(s.mode);
  u32[w + 1] = Number(s.nlink);
  u32[w + 2] = Number(s.uid);
  u32[w + 3] = Number(s.gid);
}

/** Filled on a stat thread, one entry at a time. */
export class BatchBuilder {
  private count = 0;
  private used = 0;
  private u64: BigUint64Array = new BigUint64Array(BATCH_ENTRIES * U64);
  private i64: BigInt64Array = new BigInt64Array(BATCH_ENTRIES * I64);
  private u32: Uint32Array = new Uint32Array(BATCH_ENTRIES * U32);
  private bytes: Buffer = Buffer.allocUnsafeSlow(256 * 1024);

  /** `spare` gives the arrays of a batch the main thread is done with, when one is back (see BatchEntries). */
  constructor(private readonly spare: () => BatchArrays | undefined = () => undefined) {}

  get full(): boolean {
    return this.count >= BATCH_ENTRIES;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** `cached`: `s` is an earlier path's lstat of the same inode number (see stat-cache.ts). */
  add(rel: Buffer, s: StatFields, target: Buffer | null, cached = false): void {
    const i = this.count++;
    const u = i * U64;
    const t = i * I64;
    const w = i * U32;
    writeStat(this.u64, this.i64, this.u32, u, t, w, s);
    this.reserve(rel.length + (target?.length ?? 0));
    this.used += rel.copy(this.bytes, this.used);
    const pathEnd = this.used;
    if (target) this.used += target.copy(this.bytes, this.used);
    this.u32[w + 4] = pathEnd;
    this.u32[w + 5] = this.used;
    this.u32[w + 6] = cached ? 2 : 0;
  }

  /** A stub: the path, with the type and inode number its directory entry gave. */
  addStub(rel: Buffer, type: EntryType, ino: bigint): void {
    const i = this.count++;
    const u = i * U64;
    const t = i * I64;
    const w = i * U32;
    this.u64.fill(0n, u, u + U64);
    this.u64[u + 1] = ino;
    this.i64.fill(0n, t, t + I64);
    this.reserve(rel.length);
    this.used += rel.copy(this.bytes, this.used);
    this.u32.fill(0, w, w + U32);
    this.u32[w] = TYPE_BITS[type];
    this.u32[w + 4] = this.used;
    this.u32[w + 5] = this.used;
    this.u32[w + 6] = 1;
  }

  /** The batch so far, with the buffers to transfer; the builder starts afresh. */
  take(): { batch: WalkBatch; transfer: ArrayBuffer[] } {
    const batch: WalkBatch = { count: this.count, u64: this.u64, i64: this.i64, u32: this.u32, bytes: this.bytes.subarray(0, this.used) };
    const transfer = [this.u64.buffer, this.i64.buffer, this.u32.buffer, this.bytes.buffer] as ArrayBuffer[];
    this.count = 0;
    this.used = 0;
    const spare = fits(this.spare());
    this.u64 = spare?.u64 ?? new BigUint64Array(BATCH_ENTRIES * U64);
    this.i64 = spare?.i64 ?? new BigInt64Array(BATCH_ENTRIES * I64);
    this.u32 = spare?.u32 ?? new Uint32Array(BATCH_ENTRIES * U32);
    this.bytes = spare ? Buffer.from(spare.bytes.buffer, spare.bytes.byteOffset, spare.bytes.byteLength) : Buffer.allocUnsafeSlow(this.bytes.length);
    return { batch, transfer };
  }

  private reserve(n: number): void {
    if (this.used + n <= this.bytes.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + n));
    this.bytes.copy(bigger, 0, 0, this.used);
    this.bytes = bigger;
  }
}

/**
 * Entries that arrive together: a batch from a stat thread, or a few hundred from a walk on the
 * main thread. A count up front, the entries themselves one at a time as they are read.
 */
export interface EntryRun extends Iterable<Entry> {
  readonly count: number;
  /**
   * The run's entries will not be read again, nor any entry made from it kept: its buffers may
   * be filled with other entries (an entry's path and target are views into them).
   */
  release?(): void;
}

/** Entries already made, as a run. */
export function runOf(entries: readonly Entry[]): EntryRun {
  return { count: entries.length, [Symbol.iterator]: () => entries[Symbol.iterator]() };
}

/**
 * A batch's entries on the main thread, each made (as entryOf() makes it) only when the loop
 * reaches it, and the batch's buffers handed back to its stat thread once it is written.
 *
 * Unpacked all at once, a batch's 4096 entries (a dozen objects each: the entry, its name's
 * Buffer, its BigInts) outlived the young generation while the index wrote them, and were all
 * promoted and collected in the old: 3.8 s of the main thread's 10.8 in a warm 1M-path scan went
 * to the garbage collector (0.6 s made one by one). With few collections of the old generation,
 * though, the batches' own buffers (560 KiB each, outside the heap) waited for one too: peak RSS
 * of the scan 182 MB against 135. Given back, no more of them exist than are in flight.
 */
export class BatchEntries implements EntryRun {
  private b: WalkBatch | undefined;

  constructor(b: WalkBatch, private readonly giveBack: (a: BatchArrays, transfer: ArrayBuffer[]) => void = () => {}) {
    this.b = b;
  }

  get count(): number {
    return this.b?.count ?? 0;
  }

  release(): void {
    const b = this.b;
    if (!b) return;
    this.b = undefined;
    const bytes = new Uint8Array(b.bytes.buffer);
    this.giveBack({ u64: b.u64, i64: b.i64, u32: b.u32, bytes }, [b.u64.buffer, b.i64.buffer, b.u32.buffer, bytes.buffer] as ArrayBuffer[]);
  }

  *[Symbol.iterator](): Iterator<Entry> {
    const b = this.b;
    if (!b) throw new Error('a batch of entries read after its release()');
    const bytes = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
    let start = 0;
    for (let i = 0; i < b.count; i++) {
      if (this.b !== b) throw new Error('a batch of entries released while it was read');
      const u = i * U64;
      const t = i * I64;
      const w = i * U32;
      const pathEnd = b.u32[w + 4];
      const targetEnd = b.u32[w + 5];
      const mode = b.u32[w];
      const type = typeFromMode(mode);
      const e: Entry = {
        path: bytes.subarray(start, pathEnd), type, dev: b.u64[u], ino: b.u64[u + 1], nlink: b.u32[w + 1],
        size: type === EntryType.dir ? 0n : b.u64[u + 2], mode: mode & 0o7777, uid: b.u32[w + 2], gid: b.u32[w + 3],
        mtimeNs: b.i64[t], atimeNs: b.i64[t + 1], birthNs: b.i64[t + 2],
        target: targetEnd > pathEnd ? bytes.subarray(pathEnd, targetEnd) : null, rdev: b.u64[u + 3],
      };
      if (b.u32[w + 6] === 1) e.stub = true;
      else if (b.u32[w + 6] === 2) e.cached = true;
      start = targetEnd;
      yield e;
    }
  }
}

/** The entries of a batch, all at once (tests; the scan reads them through BatchEntries). */
export function unpackBatch(b: WalkBatch): Entry[] {
  return [...new BatchEntries(b)];
}
