// Depth-first walk of a tree, yielding every entry with its bigint lstat. Names are bytes and
// sorted bytewise, so a walk is deterministic and a directory always comes before its contents.
// Memory is one directory listing per level of depth, never the whole tree.
import type fs from 'node:fs';
import { namesOnly, type Dirent } from '../fs/dirents.js';
import { childPath, joinPath } from '../fs/paths.js';
import { EntryType } from '../store/entry.js';
import type { FsOps } from '../fs/ops.js';

/** What a scan keeps of a path's lstat (a BigIntStats has these and more). */
export type StatFields = Pick<fs.BigIntStats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'atimeNs' | 'mtimeNs' | 'birthtimeNs'>;

export interface WalkItem {
  rel: Buffer;
  stat: fs.BigIntStats;
  stub?: undefined;
}

/**
 * A path that was not lstatted: what its directory entry says of it (see WalkOptions.stubs and
 * scan.ts). Never a directory.
 */
export interface StubItem {
  rel: Buffer;
  stat?: undefined;
  stub: { type: EntryType; ino: bigint };
}

export interface WalkOptions {
  ops: FsOps;
  /** Leave out a relative path (and, for a directory, everything below it). */
  skip?: (rel: Buffer) => boolean;
  /** A path that could not be read: reported, and the walk goes on. */
  onError: (rel: Buffer, err: unknown) => void;
  /**
   * Asked before each path that is not a directory: true lets it come as a stub, with the type
   * and inode number its directory entry gives (when it gives both), instead of its lstat.
   */
  stubs?: () => boolean;
}

/**
 * Whether a path may come as a stub when the scan wants them: its directory entry gave its type,
 * not a directory's (the walk goes into those), and its inode number.
 */
export function stubbable(type: EntryType | undefined, ino: bigint): type is EntryType {
  return type !== undefined && type !== EntryType.dir && ino !== 0n;
}

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
const S_IFLNK = 0o120000n;

export function* walk(root: Buffer, options: WalkOptions): Generator<WalkItem | StubItem> {
  const { ops, skip, onError, stubs } = options;
  const rootStat = ops.lstat(root);
  yield { rel: Buffer.alloc(0), stat: rootStat };
  const stack: { rel: Buffer; entries: Dirent[]; next: number }[] = [];
  const list = (rel: Buffer): Dirent[] | undefined => {
    try {
      const p = joinPath(root, rel);
      // Names alone unless stubs are wanted now: getdents64 where its inode numbers are of use.
      const entries = stubs?.() ? ops.readdirInodes(p) : namesOnly(ops.readdir(p));
      return entries.sort((a, b) => Buffer.compare(a.name, b.name));
    } catch (err) {
      onError(rel, err);
      return undefined;
    }
  };
  const rootEntries = list(Buffer.alloc(0));
  if (rootEntries) stack.push({ rel: Buffer.alloc(0), entries: rootEntries, next: 0 });
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next >= top.entries.length) {
      stack.pop();
      continue;
    }
    const d = top.entries[top.next++];
    const rel = childPath(top.rel, d.name);
    if (skip?.(rel)) continue;
    if (stubbable(d.type, d.ino) && stubs?.()) {
      yield { rel, stub: { type: d.type, ino: d.ino } };
      continue;
    }
    let stat: fs.BigIntStats;
    try {
      stat = ops.lstat(joinPath(root, rel));
    } catch (err) {
      onError(rel, err);
      continue;
    }
    yield { rel, stat };
    if ((stat.mode & S_IFMT) === S_IFDIR) {
      const entries = list(rel);
      if (entries) stack.push({ rel, entries, next: 0 });
    }
  }
}

/**
 * walk(), with each symlink's target read beside its lstat. A symlink whose target cannot be
 * read is reported through onError and left out, as a path that cannot be read.
 */
export function* walkWithTargets(root: Buffer, options: WalkOptions): Generator<(WalkItem & { target: Buffer | null }) | (StubItem & { target: null })> {
  for (const item of walk(root, options)) {
    if (item.stub) {
      yield { ...item, target: null }; // a stub's target is the index's (see scan.ts)
      continue;
    }
    const { rel, stat } = item;
    let target: Buffer | null = null;
    if ((stat.mode & S_IFMT) === S_IFLNK) {
      try {
        target = options.ops.readlink(joinPath(root, rel));
      } catch (err) {
        options.onError(rel, err);
        continue;
      }
    }
    yield { rel, stat, target };
  }
}
