// A directory's entries with what each entry itself says: its name as bytes, its type (d_type)
// and its inode number (d_ino), read with getdents64(2) through the `getdents` package. Node's
// readdir gives names and types but drops d_ino, and an incremental scan lives on it: a path
// whose entry still names the inode the index has for it needs no lstat of its own (see
// scan/scan.ts), so a rescan lstats directories, changed paths and one path per inode instead of
// every path. A package, not an addon of our own: it is getdents64 and nothing else, MIT, on
// node-addon-api (builds with node-gyp at install, as better-sqlite3 does).
//
// Where the addon cannot be loaded, or getdents64 fails on a directory, the entries come from
// readdir with their inode numbers unknown (0n): every such path is lstatted, as before.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { EntryType } from '../store/entry.js';
import type { Path } from './ops.js';

export interface Dirent {
  name: Buffer;
  /** From d_type; undefined where the filesystem does not say (DT_UNKNOWN): lstat tells. */
  type: EntryType | undefined;
  /** d_ino; 0n where not known (then the path is lstatted). */
  ino: bigint;
}

interface NativeGetdents {
  fd: number;
  nextSync(buf: Buffer): number;
}

type GetdentsClass = new (size: number, fd: number) => NativeGetdents;

let loaded: GetdentsClass | null | undefined;

function getdentsClass(): GetdentsClass | null {
  if (loaded === undefined) {
    try {
      loaded = (createRequire(import.meta.url)('getdents') as { Getdents: GetdentsClass }).Getdents;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** Whether directory entries come with their inode numbers here. */
export function direntInodes(): boolean {
  return getdentsClass() !== null;
}

// d_type values (dirent.h).
const DT_TYPES: (EntryType | undefined)[] = [];
DT_TYPES[1] = EntryType.fifo;
DT_TYPES[2] = EntryType.char;
DT_TYPES[4] = EntryType.dir;
DT_TYPES[6] = EntryType.block;
DT_TYPES[8] = EntryType.file;
DT_TYPES[10] = EntryType.symlink;
DT_TYPES[12] = EntryType.socket;

const DOT = 0x2e;
const RECORDS = 256 * 1024;

/**
 * One reader per thread: it holds the buffer getdents64 fills. The addon is loaded at the first
 * read, not when the reader is made: every thread that imports fs/ops.js makes one, and a thread
 * terminated while the addon registers itself aborts the whole process (node-addon-api, built
 * with C++ exceptions, throws again when it cannot throw into a stopping thread). The stat
 * threads of a walk, ended as soon as a small tree is walked, did that once in 200-600 runs
 * (SIGABRT, "terminate called after throwing an instance of 'Napi::Error'"). Only threads that
 * read directories load it, and the one that does (the list thread) is let return before it ends.
 */
export class DirentReader {
  private buf: Buffer | undefined;
  /** null where the addon cannot be loaded; undefined until the first read. */
  private native: NativeGetdents | null | undefined;

  /** The entries of directory `p` (not `.` and `..`), in the order the directory gives them. */
  read(p: Path): Dirent[] {
    if (this.native === undefined) {
      const G = getdentsClass();
      // The wrapper allocates a buffer of its own for its iterator, which is not used: keep it small.
      this.native = G ? new G(16, 0) : null;
    }
    if (!this.native) return readdirTypes(p);
    const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
    const out: Dirent[] = [];
    try {
      this.native.fd = fd;
      const buf = (this.buf ??= Buffer.allocUnsafe(RECORDS));
      for (;;) {
        let got: number;
        try {
          got = this.native.nextSync(buf);
        } catch {
          // The addon's error carries no code: readdir reads the directory again and says why.
          return readdirTypes(p);
        }
        if (got <= 0) break;
        // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name, NUL.
        for (let pos = 0; pos < got; ) {
          const reclen = buf.readUInt16LE(pos + 16);
          const nameStart = pos + 19;
          const nameEnd = buf.indexOf(0, nameStart);
          const n = nameEnd - nameStart;
          if (!(n === 1 && buf[nameStart] === DOT) && !(n === 2 && buf[nameStart] === DOT && buf[nameStart + 1] === DOT)) {
            out.push({ name: Buffer.from(buf.subarray(nameStart, nameEnd)), type: DT_TYPES[buf[pos + 18]], ino: buf.readBigUInt64LE(pos) });
          }
          pos += reclen;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }
}

/** Node's Dirent tests, each with the type it tells. */
const KINDS: [keyof fs.Dirent & `is${string}`, EntryType][] = [
  ['isDirectory', EntryType.dir],
  ['isFile', EntryType.file],
  ['isSymbolicLink', EntryType.symlink],
  ['isFIFO', EntryType.fifo],
  ['isCharacterDevice', EntryType.char],
  ['isBlockDevice', EntryType.block],
  ['isSocket', EntryType.socket],
];

/** The entries through Node's readdir: names and types, inode numbers unknown (0n). */
export function readdirTypes(p: Path): Dirent[] {
  return fs.readdirSync(p, { encoding: 'buffer', withFileTypes: true }).map((d) => ({
    name: d.name,
    // DT_UNKNOWN makes every is*() false.
    type: KINDS.find(([is]) => d[is]())?.[1],
    ino: 0n,
  }));
}

/** Entries of which only the names are known (a listing by name alone): every one is lstatted. */
export function namesOnly(names: readonly Buffer[]): Dirent[] {
  return names.map((name) => ({ name, type: undefined, ino: 0n }));
}
