// Remove a path and, for a directory, everything below it — only ever inside the destination,
// and without following symlinks (lstat, and unlink of the link itself).
import type { FsOps } from '../fs/ops.js';
import { isErrno } from '../fs/errno.js';

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;

/** The lstat of `p`; undefined when nothing is there (or a parent of it is no directory any more). */
function lstatOrNone(ops: FsOps, p: Buffer) {
  try {
    return ops.lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * How many entries it removed: `p` and everything below it, each counted (0 when there was
 * nothing at `p`, or a parent of it is no directory any more).
 */
export function removeTree(ops: FsOps, p: Buffer): number {
  const st = lstatOrNone(ops, p);
  if (!st) return 0;
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    ops.unlink(p);
    return 1;
  }
  // A read-only directory (mode 0555 in the mirror) must become writable to be emptied.
  ops.chmod(p, 0o700);
  let removed = 1;
  for (const name of ops.readdir(p)) removed += removeTree(ops, Buffer.concat([p, Buffer.from('/'), name]));
  ops.rmdir(p);
  return removed;
}

/** What removeTree(ops, p) would remove, counted: `p` and every entry below it (0 when nothing is there). */
export function countTree(ops: FsOps, p: Buffer): number {
  const st = lstatOrNone(ops, p);
  if (!st) return 0;
  if ((st.mode & S_IFMT) !== S_IFDIR) return 1;
  let n = 1;
  for (const name of ops.readdir(p)) n += countTree(ops, Buffer.concat([p, Buffer.from('/'), name]));
  return n;
}

/**
 * The first path below the directory `p` (`rel` in the destination) that `known` does not vouch
 * for, given the entry's lstat, or undefined when every entry is known (or there is none).
 * Depth first; a path that is no directory any more ends the look there.
 */
export function firstUnknownBelow(ops: FsOps, p: Buffer, rel: Buffer, known: (rel: Buffer, st: { ino: bigint; isDirectory(): boolean }) => boolean): Buffer | undefined {
  let names: Buffer[];
  try {
    names = ops.readdir(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
  for (const name of names) {
    const childRel = Buffer.concat([rel, Buffer.from('/'), name]);
    const child = Buffer.concat([p, Buffer.from('/'), name]);
    const st = lstatOrNone(ops, child);
    if (!st) continue;
    if (!known(childRel, st)) return childRel;
    if (!st.isDirectory()) continue;
    const found = firstUnknownBelow(ops, child, childRel, known);
    if (found) return found;
  }
  return undefined;
}
