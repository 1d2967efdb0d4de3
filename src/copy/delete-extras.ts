// --delete: remove from the destination every path the source no longer has (rsync's
// convention). The state folder is never touched.
//
// Two ways to find them. The index knows every path the copy made (mirror, mirror_dirs), so
// by default the extras are those rows that the new scan lacks: a query, not a walk. A walk of
// the whole destination (readdir of every folder, a lookup per entry: 9 s of the 41 s that a 1M
// rotation took) is kept for when the index cannot vouch for the destination: --recheck, an
// adoption (the destination was filled by something else), and after a run that ended before
// its pass did (links it made just before a kill may not have reached the index).
import type { FsOps } from '../fs/ops.js';
import { childPath, joinPath } from '../fs/paths.js';
import { Problems } from '../problems.js';
import { noProgress, type Progress } from '../progress.js';
import { isStateDir } from '../state-dir.js';
import { lostFoundAtRoot, LOST_FOUND_BYTES } from '../fs/lost-found.js';
import { EntryType } from '../store/entry.js';
import type { Index } from '../store/index-db.js';
import { Pacer, yieldNow } from '../yield.js';
import { countTree, removeTree } from './remove-tree.js';

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
const SLASH = 0x2f;

/** `shouldStop`: asked before each path; the paths removed by then count, and their rows go. */
export async function deleteExtras(
  ops: FsOps, index: Index, dst: Buffer, progress: Progress, problems: Problems, walk: boolean, shouldStop: () => boolean = () => false,
): Promise<number> {
  return walk ? deleteByWalk(ops, index, dst, progress, problems, true, shouldStop) : deleteByIndex(ops, index, dst, progress, problems, shouldStop);
}

/**
 * The extras the index knows of, in path order. Each is removed from its top-most ancestor
 * that the source lacks, so that a folder goes with everything below it and counts once.
 * Every ancestor above that is in the source and is a directory there, so the directory pass
 * has made it a real directory in the destination: the removal never passes through a symlink.
 */
async function deleteByIndex(ops: FsOps, index: Index, dst: Buffer, progress: Progress, problems: Problems, shouldStop: () => boolean): Promise<number> {
  let deleted = 0;
  const pacer = new Pacer();
  // The last path removed (or that failed to be): the rows below it follow it in path order,
  // and go with it, or stay (once reported) when it could not be removed.
  let last: { top: Buffer; removed: boolean } | undefined;
  for (const page of index.mirrorNotInSrc()) {
    const forget: Buffer[] = [];
    for (const rel of page) {
      if (pacer.due()) await yieldNow();
      if (shouldStop()) {
        index.forgetMirrorPaths(forget);
        // The rows below the last folder removed come on pages not read yet.
        if (last?.removed) index.dropMirror([last.top]);
        return deleted;
      }
      progress.advance(1);
      if (last && rel.length > last.top.length && rel[last.top.length] === SLASH && rel.subarray(0, last.top.length).equals(last.top)) {
        if (last.removed) forget.push(rel);
        continue;
      }
      const top = topmostExtra(index, rel);
      // Under a source path that is no directory (a folder became a file or symlink): whatever
      // stood below it went when the copy replaced it.
      if (top === undefined) {
        forget.push(rel);
        continue;
      }
      if (isStateDir(top)) continue;
      try {
        deleted += removeTree(ops, joinPath(dst, top));
        last = { top, removed: true };
        forget.push(rel);
      } catch (err) {
        last = { top, removed: false };
        problems.add(top, 'cannot delete', err);
      }
    }
    index.forgetMirrorPaths(forget);
  }
  return deleted;
}

/** The highest ancestor-or-self of `rel` that the source does not have; undefined below a non-directory. */
function topmostExtra(index: Index, rel: Buffer): Buffer | undefined {
  for (let i = rel.indexOf(SLASH); i !== -1; i = rel.indexOf(SLASH, i + 1)) {
    const up = rel.subarray(0, i);
    const type = index.srcTypeAt(up);
    if (type === undefined) return up;
    if (type !== EntryType.dir) return undefined;
  }
  return rel;
}

/**
 * What deleteByWalk would remove, counted by the same walk without removing anything: the
 * --max-delete check of a run that deletes by walking (an adoption, --recheck, after an
 * interrupted run), whose extras the index cannot count. Folders it cannot list count nothing.
 */
export async function countExtrasByWalk(ops: FsOps, index: Index, dst: Buffer): Promise<number> {
  return deleteByWalk(ops, index, dst, noProgress, new Problems(noProgress), false);
}

/**
 * Every entry of the destination, from the top: a whole subtree goes at its first path the
 * source lacks (with `remove` false, it is only counted).
 */
async function deleteByWalk(
  ops: FsOps, index: Index, dst: Buffer, progress: Progress, problems: Problems, remove = true, shouldStop: () => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  const pacer = new Pacer();
  const stack: Buffer[] = [Buffer.alloc(0)];
  // The destination filesystem's lost+found is never removed (see fs/lost-found.ts): what
  // e2fsck put in it stays for the user to look at, and verify shows it.
  const ownLostFound = lostFoundAtRoot(dst);
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: { name: Buffer; isDir: boolean | undefined }[];
    try {
      entries = ops.readdirKinds(joinPath(dst, dir));
    } catch (err) {
      problems.add(dir, 'cannot list', err);
      continue;
    }
    for (const { name, isDir } of entries) {
      if (pacer.due()) await yieldNow();
      // Stopped part way: the rows of what is left stay (the next run walks the mirror again).
      if (shouldStop()) return deleted;
      const rel = childPath(dir, name);
      if (isStateDir(rel) || (ownLostFound && rel.equals(LOST_FOUND_BYTES) && !index.srcHasPath(rel))) continue;
      progress.advance(1);
      const p = joinPath(dst, rel);
      if (index.srcHasPath(rel)) {
        // The entry's own type saves an lstat per path (a million on a large mirror, most of
        // them cold); only a filesystem that does not record it is asked.
        if (isDir === false) continue;
        try {
          if (isDir || (ops.lstat(p).mode & S_IFMT) === S_IFDIR) stack.push(rel);
        } catch (err) {
          problems.add(rel, 'cannot read', err);
        }
        continue;
      }
      try {
        deleted += remove ? removeTree(ops, p) : countTree(ops, p);
        // Its rows go now, not only at the end (dropMirrorNotInSrc): a run stopped part way
        // must not leave rows of paths already gone, to be counted as kept.
        if (remove) index.dropMirror([rel]);
      } catch (err) {
        problems.add(rel, 'cannot delete', err);
      }
    }
  }
  if (remove) index.dropMirrorNotInSrc();
  return deleted;
}
