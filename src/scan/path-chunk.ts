// The list thread's chunks on the wire (see walk-threads.ts): the relative paths of a stretch of
// the walk, in walk order, as one buffer of bytes and their end offsets, with what the listing
// said of each (a directory it went into, or not). Transferred, not copied, to a stat thread.
import { BATCH_ENTRIES } from './walk-batch.js';

/** Paths per chunk: one chunk becomes one batch of entries, so no more than a batch holds. */
export const CHUNK_PATHS = BATCH_ENTRIES;

export interface PathChunk {
  count: number;
  ends: Uint32Array;
  /** 1 where the list thread took the path for a directory and listed it. */
  dirs: Uint8Array;
  bytes: Uint8Array;
}

export class ChunkBuilder {
  private count = 0;
  private used = 0;
  private ends = new Uint32Array(CHUNK_PATHS);
  private dirs = new Uint8Array(CHUNK_PATHS);
  private bytes = Buffer.allocUnsafeSlow(128 * 1024);

  get full(): boolean {
    return this.count >= CHUNK_PATHS;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  add(rel: Buffer, dir: boolean): void {
    if (this.used + rel.length > this.bytes.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + rel.length));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    this.used += rel.copy(this.bytes, this.used);
    this.ends[this.count] = this.used;
    this.dirs[this.count] = dir ? 1 : 0;
    this.count++;
  }

  /** The chunk so far, with the buffers to transfer; the builder starts afresh. */
  take(): { chunk: PathChunk; transfer: ArrayBuffer[] } {
    const chunk: PathChunk = { count: this.count, ends: this.ends, dirs: this.dirs, bytes: this.bytes.subarray(0, this.used) };
    const transfer = [this.ends.buffer, this.dirs.buffer, this.bytes.buffer] as ArrayBuffer[];
    this.count = 0;
    this.used = 0;
    this.ends = new Uint32Array(CHUNK_PATHS);
    this.dirs = new Uint8Array(CHUNK_PATHS);
    this.bytes = Buffer.allocUnsafeSlow(this.bytes.length);
    return { chunk, transfer };
  }
}

/** The paths of a chunk (views into its buffer), each with whether it was listed as a directory. */
export function unpackChunk(c: PathChunk): { rel: Buffer; dir: boolean }[] {
  const bytes = Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
  const out: { rel: Buffer; dir: boolean }[] = new Array(c.count);
  let start = 0;
  for (let i = 0; i < c.count; i++) {
    out[i] = { rel: bytes.subarray(start, c.ends[i]), dir: c.dirs[i] === 1 };
    start = c.ends[i];
  }
  return out;
}
