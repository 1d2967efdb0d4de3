// The directory pass: every source directory exists in the destination before any file is
// placed, parents first. They are made owner-writable (0700) for now — a read-only source
// directory must still receive its files — and get their own mode and times in finishDirs().
// One the mirror has already, with the source's read-only mode from the last run (Back In
// Time makes its snapshots read-only), is made owner-writable again for the same reason: a
// user who is not root could otherwise place and remove nothing in it, run after run.
//
// Whatever stands where a directory belongs and is not a real directory (a symlink planted in
// the destination, say) is removed, never followed: writes below it must stay inside DST.
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno } from '../fs/errno.js';
import { STATE_DIR } from '../state-dir.js';
import { fatalFor, folderAlive } from './place-files.js';
import type { FsOps } from '../fs/ops.js';
import { lstatHere } from '../fs/lstat-threads.js';
import { joinPath, showPath } from '../fs/paths.js';
import type { Problems } from '../problems.js';
import type { Progress } from '../progress.js';
import type { Index } from '../store/index-db.js';

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
const S_IFLNK = 0o120000n;
const OWNER_RWX = 0o700n;

/**
 * `mirrorHasRows`: a directory that has to be made anew in a mirror was removed behind our back,
 * so the index rows below it describe nothing: they are dropped, and the file pass, which leaves
 * paths the index vouches for alone, places those paths again.
 *
 * In a mirror nearly every directory is there already, and a mkdir() of each failed with EEXIST
 * and was followed by an lstat: there, a page of directories is lstatted first and only what is
 * missing or not a directory goes on to mkdir(). Cold rotations of the 1M-path benchmark tree
 * (16,726 directories), alternating, with those lstats on two threads: this pass 0.73-0.93 s
 * against 0.85-1.31 s. The pass alone, cold, took as long with them on this thread (0.78 s) as
 * on two (0.78-0.81 s), so they are made here.
 */
export function makeDirs(ops: FsOps, index: Index, dst: Buffer, progress: Progress, problems: Problems, mirrorHasRows = false): number {
  let made = 0;
  const alive = folderAlive(ops, path.join(dst.toString(), STATE_DIR));
  /** Make the directory at `p`, whose lstat gave `mode`, owner-writable for this run; false when that failed (reported). */
  const writable = (p: Buffer, at: Buffer, mode: bigint): boolean => {
    // Not where this process may write anyway (root, mostly): a run that stops before
    // finishDirs would leave the folder owner-writable. Asked of the kernel, not by uid: root
    // on a root-squashed NFS export, or without CAP_DAC_OVERRIDE, may not.
    if ((mode & OWNER_RWX) === OWNER_RWX || ops.canWriteIn(p)) return true;
    try {
      ops.chmod(p, Number((mode & 0o7777n) | OWNER_RWX));
      return true;
    } catch (err) {
      const fatal = fatalFor(err, showPath(at), alive);
      if (fatal) throw fatal;
      problems.add(at, 'cannot make directory writable', err);
      return false;
    }
  };
  if (mirrorHasRows) writable(dst, Buffer.alloc(0), ops.lstat(dst).mode);
  for (const page of index.srcDirs('parents-first')) {
    const fresh: Buffer[] = [];
    const there = mirrorHasRows ? lstatHere(ops, dst, page.map((d) => d.path)) : undefined;
    // What the lstats saw holds until a directory of this page is made or replaced: one below
    // it may have been seen through what stood there before (a symlink planted in its place).
    let seen = there !== undefined;
    for (let i = 0; i < page.length; i++) {
      const d = page[i];
      progress.advance(1);
      if (d.path.length === 0) continue; // the destination root exists already
      const p = joinPath(dst, d.path);
      if (seen && there!.error(i) === undefined && (there!.mode(i) & S_IFMT) === S_IFDIR) {
        writable(p, d.path, there!.mode(i));
        continue;
      }
      seen = false;
      try {
        ops.mkdir(p, 0o700);
        made++;
        if (mirrorHasRows) fresh.push(d.path);
      } catch (err) {
        const fatal = fatalFor(err, showPath(d.path), alive);
        if (fatal) throw fatal;
        if (!isErrno(err, 'EEXIST')) {
          problems.add(d.path, 'cannot make directory', err);
          continue;
        }
        // One path's trouble (a file there that may not be removed) is that path's problem,
        // not the end of the run: what belongs below it fails too (ENOTDIR). Not a symlink's:
        // everything placed below it would go where it points, outside the mirror.
        let symlink = false;
        try {
          const st = ops.lstat(p);
          if ((st.mode & S_IFMT) === S_IFDIR) {
            writable(p, d.path, st.mode);
            continue;
          }
          symlink = (st.mode & S_IFMT) === S_IFLNK;
          // Not a directory (a file, or a symlink that must not be followed): replace it, and
          // forget what the index said was there (its inode number may be handed out again).
          ops.unlink(p);
          symlink = false;
          index.dropMirror([d.path]);
          ops.mkdir(p, 0o700);
          made++;
        } catch (err2) {
          const fatal2 = fatalFor(err2, showPath(d.path), alive);
          if (fatal2) throw fatal2;
          if (symlink) {
            throw new LinkmirrorError(
              'DST_UNUSABLE',
              `cannot remove the symlink ${showPath(d.path)} in the mirror, where the source has a folder (${(err2 as Error).message}); ` +
                `what belongs below it would go where it points: remove it by hand, then run the same command again`,
              { cause: err2 },
            );
          }
          problems.add(d.path, 'cannot make directory', err2);
        }
      }
    }
    index.dropMirror(fresh); // before recording this page's directories, which it would drop too
    index.putMirrorDirs(page.filter((d) => d.path.length > 0).map((d) => d.path));
  }
  return made;
}
