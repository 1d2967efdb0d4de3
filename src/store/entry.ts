// The record of one path, as scan reads it from the source and as the index keeps it.
// dev and ino are bigint end to end: 64-bit inode numbers do not fit a JS number, and two
// inodes that collide after rounding would silently share content.

export const EntryType = {
  file: 1,
  dir: 2,
  symlink: 3,
  fifo: 4,
  char: 5,
  block: 6,
  socket: 7,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  /** Relative to the tree's root, as bytes; the root itself is the entry with the empty path. */
  path: Buffer;
  type: EntryType;
  dev: bigint;
  ino: bigint;
  nlink: number;
  size: bigint;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  atimeNs: bigint;
  /** 0n where the filesystem does not report a birth time. */
  birthNs: bigint;
  /** Symlink target, verbatim bytes; null for other types. */
  target: Buffer | null;
  rdev: bigint;
  /**
   * A path an incremental scan did not lstat: only path, type and ino (d_ino) are its own, and
   * dev is its directory's; every other field is unknown (0). See scan/scan.ts.
   */
  stub?: boolean;
  /**
   * A regular file whose fields a stat thread took from an earlier path's lstat of the same inode
   * number, without one of its own (see scan/stat-cache.ts). Another filesystem mounted in the
   * source may have that number too: scan.ts lstats it after all when dev is not its directory's.
   */
  cached?: boolean;
}

/** The S_IFMT bits of each type, for a stub's mode. */
export const TYPE_BITS: Record<EntryType, number> = {
  [EntryType.file]: 0o100000,
  [EntryType.dir]: 0o040000,
  [EntryType.symlink]: 0o120000,
  [EntryType.fifo]: 0o010000,
  [EntryType.char]: 0o020000,
  [EntryType.block]: 0o060000,
  [EntryType.socket]: 0o140000,
};

/**
 * The src columns a rescan compares (nlink and atime are not: see Index.writeScanned), in the
 * order of scanSig's text. SQL makes the same text of a row with printf('%d ...') over them.
 */
export const SCAN_SIG_COLUMNS = ['type', 'dev', 'ino', 'size', 'mode', 'uid', 'gid', 'mtime_ns', 'birth_ns', 'rdev'] as const;

/**
 * The compared fields of an entry as decimal text, as SQLite's printf('%d') gives them from its
 * row: dev, ino and rdev as the signed 64-bit integers the index stores. One comparison of two
 * short byte strings instead of ten of numbers and BigInts read back from SQLite.
 */
export function scanSig(e: Pick<Entry, 'type' | 'dev' | 'ino' | 'size' | 'mode' | 'uid' | 'gid' | 'mtimeNs' | 'birthNs' | 'rdev'>): string {
  return `${e.type} ${BigInt.asIntN(64, e.dev)} ${BigInt.asIntN(64, e.ino)} ${e.size} ${e.mode} ${e.uid} ${e.gid} ${e.mtimeNs} ${e.birthNs} ${BigInt.asIntN(64, e.rdev)}`;
}

/** The start of scanSig()'s text, up to and with the space after ino: type, dev and ino. */
export function inodePrefix(e: Pick<Entry, 'type' | 'dev' | 'ino'>): string {
  return `${e.type} ${BigInt.asIntN(64, e.dev)} ${BigInt.asIntN(64, e.ino)} `;
}

/** Whether two symlink targets (null: not a symlink) are the same bytes. */
export function sameTarget(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

/** An entry as read back from the index, with its row id (scan order). */
export interface StoredEntry extends Entry {
  id: number;
}

export function typeFromMode(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000:
      return EntryType.file;
    case 0o040000:
      return EntryType.dir;
    case 0o120000:
      return EntryType.symlink;
    case 0o010000:
      return EntryType.fifo;
    case 0o020000:
      return EntryType.char;
    case 0o060000:
      return EntryType.block;
    default:
      return EntryType.socket;
  }
}

export function typeName(type: EntryType): string {
  return (Object.keys(EntryType) as (keyof typeof EntryType)[]).find((k) => EntryType[k] === type) ?? 'unknown';
}
