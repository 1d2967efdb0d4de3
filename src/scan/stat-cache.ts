// What a stat thread's last lstats said of the regular files it looked at, by inode number. In a
// snapshot tree most paths are further links to an inode another snapshot already showed: the
// 1M-path benchmark tree has 930k file paths and 80k file inodes, each inode coming back once a
// snapshot (~48k inodes apart). lstat reports the inode, not the path, so a path whose directory
// entry names an inode just lstatted gets that lstat's facts without one of its own.
//
// Memory is fixed: STAT_CACHE_SLOTS entries in typed arrays (80 bytes each), four to a set, the
// set chosen by a hash of the inode number and the entry used longest ago replaced. Simulated
// over that tree's file paths in walk order, as two stat threads share them, 65,536 slots a
// thread found 70 % of them (131,072: 83 %; a set of one: 52 %, inode numbers taken modulo the
// size: 27 %); only files with more than one link are put, which leaves more room. A path it
// does not find is lstatted as before, so a tree larger than the cache is scanned as before,
// never wrongly.
//
// The key is the inode number alone, which a second filesystem mounted inside the source may
// repeat: an entry made from the cache says so (Entry.cached), and the main thread checks its
// device against its directory's (see scan.ts).
import { writeStat } from './walk-batch.js';
import type { StatFields } from './walk.js';

const WAYS = 4;
/** Slots per thread: 5 MiB (scan threads live only during the walk). */
export const STAT_CACHE_SLOTS = 65536;

export class StatCache {
  private readonly setBits: number;
  // A slot's stat fields, as a batch lays out an entry's (walk-batch.ts writeStat).
  private readonly u64: BigUint64Array;
  private readonly i64: BigInt64Array;
  private readonly u32: Uint32Array;
  /** When each slot was last used (0: empty). */
  private readonly used: Float64Array;
  private clock = 0;

  constructor(slots = STAT_CACHE_SLOTS) {
    const sets = Math.max(1, Math.floor(slots / WAYS));
    this.setBits = Math.floor(Math.log2(sets));
    const n = (1 << this.setBits) * WAYS;
    this.u64 = new BigUint64Array(n * 4);
    this.i64 = new BigInt64Array(n * 3);
    this.u32 = new Uint32Array(n * 4);
    this.used = new Float64Array(n);
  }

  /** The facts of inode `ino` as last put, or undefined. */
  get(ino: bigint): StatFields | undefined {
    const slot = this.find(ino);
    if (slot < 0) return undefined;
    this.used[slot] = ++this.clock;
    const [u, t, w] = [slot * 4, slot * 3, slot * 4];
    return {
      dev: this.u64[u], ino, size: this.u64[u + 2], rdev: this.u64[u + 3],
      mtimeNs: this.i64[t], atimeNs: this.i64[t + 1], birthtimeNs: this.i64[t + 2],
      mode: BigInt(this.u32[w]), nlink: BigInt(this.u32[w + 1]), uid: BigInt(this.u32[w + 2]), gid: BigInt(this.u32[w + 3]),
    };
  }

  /** Remember `s` (a regular file's lstat), in place of its inode's entry or the set's oldest. */
  put(s: StatFields): void {
    let slot = this.find(s.ino);
    if (slot < 0) {
      const first = this.setOf(s.ino);
      slot = first;
      for (let k = first + 1; k < first + WAYS; k++) if (this.used[k] < this.used[slot]) slot = k;
    }
    this.used[slot] = ++this.clock;
    writeStat(this.u64, this.i64, this.u32, slot * 4, slot * 3, slot * 4, s);
  }

  private find(ino: bigint): number {
    const first = this.setOf(ino);
    for (let k = first; k < first + WAYS; k++) if (this.used[k] !== 0 && this.u64[k * 4 + 1] === ino) return k;
    return -1;
  }

  /** The first slot of the set for `ino`: the high bits of a multiplicative hash of its two halves. */
  private setOf(ino: bigint): number {
    const mixed = (Number(BigInt.asUintN(32, ino)) ^ Math.imul(Number(ino >> 32n) | 0, 0x85ebca6b)) | 0;
    const h = Math.imul(mixed, 0x9e3779b1) >>> 0;
    return this.setBits === 0 ? 0 : (h >>> (32 - this.setBits)) * WAYS;
  }
}
