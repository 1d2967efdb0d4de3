// A staged file whose rename into its folder fails with EMLINK. btrfs without extended inode
// refs (filesystems made before btrfs-progs 3.12, or with -O ^extref) keeps an inode's names in
// one folder in a single item of the metadata tree: about 15 long names, far below its 65,535
// links in all. link() into a full folder is split like any link limit (place-files.ts), but a
// staged file is a link made in the state folder and moved by rename(), which fails the same
// way: a split group whose source inode changed could never be put back in place. Such a path
// gets the content on an inode of its own, shared with the next paths of its group in that
// folder until that one is full too, as link() splits do.
import path from 'node:path';
import { isErrno, LINK_FULL_CODES } from '../fs/errno.js';
import type { FsOps } from '../fs/ops.js';
import { EntryType } from '../store/entry.js';
import type { MirrorRow } from '../store/index-db.js';
import { applyMeta } from './apply-meta.js';

export class RenameSplits {
  /** New inodes made. */
  splits = 0;
  /** Per source inode and folder: a path on the newest inode made for them. */
  private readonly parts = new Map<string, Buffer>();

  constructor(
    private readonly ops: FsOps,
    private readonly owner: boolean,
  ) {}

  /**
   * Put the staged file `tmp` (a complete inode: content and metadata) at `to` through another
   * inode than its own; returns the inode placed and whether its content was written anew.
   */
  place(tmp: string, to: Buffer, row: Pick<MirrorRow, 'srcDev' | 'srcIno'>): { ino: bigint; written: boolean } {
    const { ops } = this;
    const key = `${row.srcDev}:${row.srcIno}:${path.dirname(to.toString('latin1'))}`;
    const part = this.parts.get(key);
    if (part) {
      const via = `${tmp}.part`;
      try {
        ops.link(part, via);
        ops.rename(via, to);
        ops.unlink(tmp);
        return { ino: ops.lstat(to).ino, written: false };
      } catch (err) {
        unlinkQuietly(ops, via);
        if (!isErrno(err, ...LINK_FULL_CODES)) throw err;
      }
    }
    const st = ops.lstat(tmp);
    const fresh = `${tmp}.split`;
    try {
      ops.copyFile(tmp, fresh);
      // The staged inode's metadata, which the copy set from the source.
      const meta = { type: EntryType.file, uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode & 0o7777n), atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
      applyMeta(ops, Buffer.from(fresh), meta, this.owner);
      ops.rename(fresh, to);
    } catch (err) {
      unlinkQuietly(ops, fresh);
      throw err;
    }
    ops.unlink(tmp);
    this.parts.set(key, to);
    this.splits++;
    return { ino: ops.lstat(to).ino, written: true };
  }
}

function unlinkQuietly(ops: FsOps, p: string): void {
  try {
    ops.unlink(p);
  } catch {
    // not made, or already gone
  }
}
