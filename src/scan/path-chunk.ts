// The list thread's chunks on the wire (see walk-threads.ts): the relative paths of a stretch of
// the walk, in walk order, as one buffer of bytes and their end offsets, with what the listing
// said of each (its type, a directory being one it went into; its d_ino). Transferred, not
// copied, to a stat thread.
import { EntryType } from '../store/entry.js';
import { BATCH_ENTRIES } from './walk-batch.js';

/** Paths per chunk: one chunk becomes one batch of entries, so no more than a batch holds. */
export const CHUNK_PATHS = BATCH_ENTRIES;

export interface PathChunk {
  count: number;
  ends: Uint32Array;
  /**
   * Its type (EntryType) as its directory entry gave it, or an lstat where the entry did not;
   * 0 where neither told. A directory is one the list thread went into.
   */
  types: Uint8Array;
  /** Its d_ino, 0 where not known. */
  inos: BigUint64Array;
  bytes: Uint8Array;
}

/** A chunk's arrays whole, on their way back to the list thread (see ChunkBuilder). */
export interface ChunkArrays {
  ends: Uint32Array;
  types: Uint8Array;
  inos: BigUint64Array;
  /** All of the byte buffer, not only the part the chunk used. */
  bytes: Uint8Array;
}

export class ChunkBuilder {
  private count = 0;
  private used = 0;
  private ends: Uint32Array = new Uint32Array(CHUNK_PATHS);
  private types: Uint8Array = new Uint8Array(CHUNK_PATHS);
  private inos: BigUint64Array = new BigUint64Array(CHUNK_PATHS);
  private bytes: Buffer = Buffer.allocUnsafeSlow(128 * 1024);

  /**
   * `spare` gives the arrays of a chunk a stat thread is done with, when one is back: filled
   * again instead of new ones, so that no more of them exist than are in flight. Left for the
   * garbage collector, they waited for a collection of the stat threads' old generations (once
   * their paths stopped being promoted, see unpackChunk): peak RSS of a 1M-path scan 166-171 MB.
   */
  constructor(private readonly spare: () => ChunkArrays | undefined = () => undefined) {}

  get full(): boolean {
    return this.count >= CHUNK_PATHS;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  add(rel: Buffer, type: EntryType | undefined, ino = 0n): void {
    if (this.used + rel.length > this.bytes.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + rel.length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    this.used += rel.copy(this.bytes, this.used);
    this.ends[this.count] = this.used;
    this.types[this.count] = type ?? 0;
    this.inos[this.count] = ino;
    this.count++;
  }

  /** The chunk so far, with the buffers to transfer; the builder starts afresh. */
  take(): { chunk: PathChunk; transfer: ArrayBuffer[] } {
    const chunk: PathChunk = { count: this.count, ends: this.ends, types: this.types, inos: this.inos, bytes: this.bytes.subarray(0, this.used) };
    const transfer = [this.ends.buffer, this.types.buffer, this.inos.buffer, this.bytes.buffer] as ArrayBuffer[];
    this.count = 0;
    this.used = 0;
    const a = this.spare();
    const fits = a !== undefined && a.ends.length === CHUNK_PATHS && a.types.length === CHUNK_PATHS && a.inos.length === CHUNK_PATHS;
    this.ends = fits ? a.ends : new Uint32Array(CHUNK_PATHS);
    this.types = fits ? a.types : new Uint8Array(CHUNK_PATHS);
    this.inos = fits ? a.inos : new BigUint64Array(CHUNK_PATHS);
    this.bytes = fits ? Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength) : Buffer.allocUnsafeSlow(this.bytes.length);
    return { chunk, transfer };
  }
}

/** A chunk's arrays to give back once its paths are read, with the buffers to transfer. */
export function chunkArrays(c: PathChunk): { arrays: ChunkArrays; transfer: ArrayBuffer[] } {
  const bytes = new Uint8Array(c.bytes.buffer);
  return {
    arrays: { ends: c.ends, types: c.types, inos: c.inos, bytes },
    transfer: [c.ends.buffer, c.types.buffer, c.inos.buffer, bytes.buffer] as ArrayBuffer[],
  };
}

/**
 * The paths of a chunk (views into its buffer), each with whether it was listed as a directory,
 * made one at a time as the stat thread's loop reaches it: made all at once, a chunk's 4096
 * outlived the young generation while they were lstatted (see BatchEntries).
 */
export function* unpackChunk(c: PathChunk): Generator<{ rel: Buffer; dir: boolean; type: EntryType | undefined; ino: bigint }> {
  const bytes = Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
  let start = 0;
  for (let i = 0; i < c.count; i++) {
    const type = (c.types[i] || undefined) as EntryType | undefined;
    yield { rel: bytes.subarray(start, c.ends[i]), dir: type === EntryType.dir, type, ino: c.inos[i] };
    start = c.ends[i];
  }
}
