// Depth-first walk of a tree, yielding every entry with its bigint lstat. Names are bytes and
// sorted bytewise, so a walk is deterministic and a directory always comes before its contents.
// Memory is one directory listing per level of depth, never the whole tree.
import type fs from 'node:fs';
import { childPath, joinPath } from '../fs/paths.js';
import type { FsOps } from '../fs/ops.js';

/** What a scan keeps of a path's lstat (a BigIntStats has these and more). */
export type StatFields = Pick<fs.BigIntStats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'atimeNs' | 'mtimeNs' | 'birthtimeNs'>;

export interface WalkItem {
  rel: Buffer;
  stat: fs.BigIntStats;
}

export interface WalkOptions {
  ops: FsOps;
  /** Leave out a relative path (and, for a directory, everything below it). */
  skip?: (rel: Buffer) => boolean;
  /** A path that could not be read: reported, and the walk goes on. */
  onError: (rel: Buffer, err: unknown) => void;
}

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
const S_IFLNK = 0o120000n;

export function* walk(root: Buffer, options: WalkOptions): Generator<WalkItem> {
  const { ops, skip, onError } = options;
  const rootStat = ops.lstat(root);
  yield { rel: Buffer.alloc(0), stat: rootStat };
  const stack: { rel: Buffer; names: Buffer[]; next: number }[] = [];
  const list = (rel: Buffer): Buffer[] | undefined => {
    try {
      return ops.readdir(joinPath(root, rel)).sort(Buffer.compare);
    } catch (err) {
      onError(rel, err);
      return undefined;
    }
  };
  const rootNames = list(Buffer.alloc(0));
  if (rootNames) stack.push({ rel: Buffer.alloc(0), names: rootNames, next: 0 });
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next >= top.names.length) {
      stack.pop();
      continue;
    }
    const rel = childPath(top.rel, top.names[top.next++]);
    if (skip?.(rel)) continue;
    let stat: fs.BigIntStats;
    try {
      stat = ops.lstat(joinPath(root, rel));
    } catch (err) {
      onError(rel, err);
      continue;
    }
    yield { rel, stat };
    if ((stat.mode & S_IFMT) === S_IFDIR) {
      const names = list(rel);
      if (names) stack.push({ rel, names, next: 0 });
    }
  }
}

/**
 * walk(), with each symlink's target read beside its lstat. A symlink whose target cannot be
 * read is reported through onError and left out, as a path that cannot be read.
 */
export function* walkWithTargets(root: Buffer, options: WalkOptions): Generator<WalkItem & { target: Buffer | null }> {
  for (const { rel, stat } of walk(root, options)) {
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
