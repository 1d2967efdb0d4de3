// A mirror copied or moved to another folder or drive (cp -a, rsync -aH, a move across drives, a
// restore) keeps its files and its index but not its inode numbers: every mirror row then names
// an inode that is not there, and a plain re-run copied everything again ("replaced ... older
// content", though nothing had changed). So before each run a few of the mirror's rows are
// looked at on the drive: when most of the paths there hold another inode than their row says,
// the mirror was copied, and the run takes the files that are there as --adopt does (same size
// and mtime as the source) and records their inodes; nothing that matches is written again.
// A rename within the filesystem, the drive mounted elsewhere or a block-level clone keep the
// inodes: nothing changes then. What is compared is the inodes the rows name, not a record of
// the top folder: its birth time is its ctime where statx is missing (old kernels, some
// sandboxes), and moves whenever an entry is added.
import type { FsOps } from '../fs/ops.js';
import { joinPath } from '../fs/paths.js';
import type { Index } from '../store/index-db.js';

/** Rows looked at from each end of the mirror, in path order. */
const EACH_END = 16;

/** Whether most of the sampled mirror paths hold another inode than their rows record. */
export function mirrorMoved(ops: FsOps, index: Index, dst: Buffer): boolean {
  let found = 0;
  let other = 0;
  for (const row of index.mirrorEnds(EACH_END)) {
    let ino: bigint;
    try {
      ino = ops.lstat(joinPath(dst, row.path)).ino;
    } catch {
      continue; // gone: the pass finds it, moved or not
    }
    found++;
    if (ino !== row.dstIno) other++;
  }
  // Most, not all: a file replaced by hand among the sample is no move. Of a small mirror, all
  // (three of four files edited by hand are no move either).
  return found >= FEW ? other * 4 >= found * 3 : found > 0 && other === found;
}

/** Below this many paths looked at, every one must hold another inode. */
const FEW = 8;
