// The content pass: every non-directory path of the source gets its place in the destination.
//
// Paths come from the index grouped by source inode, first path first, so one group is handled
// start to end with its state in a few local variables — memory does not depend on the tree:
//
//   for each group (dev, ino):
//     anchor := a destination path already holding this inode's content (resume/incremental), or none
//     for each path of the group:
//       if the mirror already holds this path with this content: skip
//       if no anchor:          write the content to a temp name, set metadata, rename into place
//       elif anchor is full:   split — copy the anchor's content to a fresh inode, it becomes the anchor
//       else:                  link(anchor, path); on EMLINK split and place the path on the new inode
//
// Temp files live in the state folder and are renamed across directories (same filesystem), so
// a kill leaves no half-written file under a final name and the leftovers are in one place.
// Each placed path is recorded in the index's `mirror` table after it is on disk.
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno, NO_SPACE_CODES } from '../fs/errno.js';
import type { FsOps } from '../fs/ops.js';
import { joinPath, showPath } from '../fs/paths.js';
import type { Problems } from '../problems.js';
import type { Progress } from '../progress.js';
import { EntryType, type StoredEntry } from '../store/entry.js';
import type { Index, MirrorRow } from '../store/index-db.js';
import { applyMeta } from './apply-meta.js';
import { Pacer, yieldNow } from '../yield.js';

export interface PlaceContext {
  ops: FsOps;
  index: Index;
  src: Buffer;
  dst: Buffer;
  /** Folder for temp files, on the destination's filesystem. */
  tmpDir: string;
  linkMax: number;
  owner: boolean;
  /** False on a first copy into an empty destination: no lookups of earlier state are needed. */
  mirrorHasRows: boolean;
  progress: Progress;
  problems: Problems;
  shouldStop: () => boolean;
}

export interface PlaceCounts {
  /** True when shouldStop() ended the pass early. */
  stopped: boolean;
  inodesCopied: number;
  bytesCopied: bigint;
  linksMade: number;
  splits: number;
  alreadyPresent: number;
  skippedSockets: number;
  failedPaths: number;
}

/** Errors from the destination that mean the run cannot go on. */
const DST_GONE = ['EROFS', 'ENODEV', 'ENOTCONN', 'ESTALE', 'ENXIO'];

function fatalFor(err: unknown, where: string): LinkmirrorError | undefined {
  if (isErrno(err, ...NO_SPACE_CODES)) {
    return new LinkmirrorError('NO_SPACE', `destination is full while writing ${where}; free space and run the same command again to continue`, { cause: err });
  }
  if (isErrno(err, ...DST_GONE)) {
    return new LinkmirrorError('DST_UNUSABLE', `destination stopped working while writing ${where}: ${(err as Error).message}`, { cause: err });
  }
  return undefined;
}

const FLUSH_ROWS = 4096;
const FLUSH_MS = 2000;
const FLUSH_BYTES = 256n * 1024n * 1024n;

export async function placeFiles(ctx: PlaceContext): Promise<PlaceCounts> {
  const { ops, index, progress, problems } = ctx;
  const counts: PlaceCounts = { stopped: false, inodesCopied: 0, bytesCopied: 0n, linksMade: 0, splits: 0, alreadyPresent: 0, skippedSockets: 0, failedPaths: 0 };
  let tmpSeq = 0;
  const tmpName = () => path.join(ctx.tmpDir, `${process.pid}.${++tmpSeq}`);

  let pending: MirrorRow[] = [];
  let lastFlush = Date.now();
  let bytesSinceFlush = 0n;
  const flush = () => {
    if (pending.length > 0) index.putMirror(pending);
    pending = [];
    lastFlush = Date.now();
    bytesSinceFlush = 0n;
  };

  // The group being placed.
  let gDev = -1n;
  let gIno = -1n;
  let anchor: Buffer | null = null;
  let anchorIno = 0n;
  let anchorLinks = 0;
  let groupFailed = false;

  const record = (e: StoredEntry, dstIno: bigint, written: boolean) => {
    pending.push({ path: e.path, type: e.type, srcDev: e.dev, srcIno: e.ino, birthNs: e.birthNs, size: e.size, mtimeNs: e.mtimeNs, dstIno, written });
  };

  /** Remove a temp file after a failure; it may not exist. */
  const dropTmp = (tmp: string) => {
    try {
      ops.unlink(tmp);
    } catch {
      // never made
    }
  };

  /** Write `e`'s content (from `from`, a source or destination path) under a temp name, then rename to `to`. */
  const writeNew = (e: StoredEntry, from: Buffer, to: Buffer): bigint => {
    const tmp = tmpName();
    try {
      switch (e.type) {
        case EntryType.file:
          ops.copyFile(from, tmp);
          break;
        case EntryType.symlink:
          ops.symlink(e.target ?? Buffer.alloc(0), tmp);
          break;
        case EntryType.fifo:
          ops.mknod(tmp, 'fifo', e.mode, 0n);
          break;
        case EntryType.char:
        case EntryType.block:
          ops.mknod(tmp, e.type === EntryType.char ? 'char' : 'block', e.mode, e.rdev);
          break;
      }
      applyMeta(ops, Buffer.from(tmp), e, ctx.owner);
      const ino = ops.lstat(tmp).ino;
      ops.rename(tmp, to);
      return ino;
    } catch (err) {
      dropTmp(tmp);
      throw err;
    }
  };

  /** Start a new inode for the group at `to`: the first path, or a split when the anchor is full. */
  const startInode = (e: StoredEntry, to: Buffer, split: boolean) => {
    const from = split && e.type === EntryType.file && anchor ? anchor : joinPath(ctx.src, e.path);
    anchorIno = writeNew(e, from, to);
    anchor = to;
    anchorLinks = 1;
    if (split) counts.splits++;
    counts.inodesCopied++;
    if (e.type === EntryType.file) {
      counts.bytesCopied += e.size;
      bytesSinceFlush += e.size;
    }
    record(e, anchorIno, true);
  };

  /** Link `to` to the anchor; false when the anchor is full (EMLINK) and a split is needed. */
  const linkToAnchor = (e: StoredEntry, to: Buffer): boolean => {
    try {
      ops.link(anchor!, to);
    } catch (err) {
      if (isErrno(err, 'EMLINK')) return false;
      if (!isErrno(err, 'EEXIST')) throw err;
      // Something is already there: ours from an interrupted run when it is the anchor's inode;
      // otherwise it is replaced through a temp link and a rename, never edited in place.
      const there = ops.lstat(to);
      if (there.ino !== anchorIno) {
        const tmp = tmpName();
        try {
          ops.link(anchor!, tmp);
          ops.rename(tmp, to);
        } catch (err2) {
          dropTmp(tmp);
          if (isErrno(err2, 'EMLINK')) return false;
          throw err2;
        }
      }
    }
    anchorLinks++;
    counts.linksMade++;
    record(e, anchorIno, false);
    return true;
  };

  /** On resume or an incremental run: a destination path that already holds this source inode. */
  const findAnchor = (e: StoredEntry): void => {
    for (const m of index.mirrorBySrc(e.dev, e.ino)) {
      if (m.birthNs !== e.birthNs || m.size !== e.size || m.mtimeNs !== e.mtimeNs) continue;
      const p = joinPath(ctx.dst, m.path);
      try {
        const st = ops.lstat(p);
        if (st.ino !== m.dstIno) continue;
        if (Number(st.nlink) >= ctx.linkMax) continue;
        anchor = p;
        anchorIno = st.ino;
        anchorLinks = Number(st.nlink);
        return;
      } catch {
        // gone from the destination: not an anchor
      }
    }
  };

  /** True when the mirror already holds this path with this content (and the disk agrees). */
  const alreadyPlaced = (e: StoredEntry, to: Buffer): boolean => {
    const m = index.mirrorByPath(e.path);
    if (!m || m.srcDev !== e.dev || m.srcIno !== e.ino || m.birthNs !== e.birthNs || m.size !== e.size || m.mtimeNs !== e.mtimeNs) return false;
    try {
      const st = ops.lstat(to);
      if (st.ino !== m.dstIno) return false;
      if (!anchor) {
        anchor = to;
        anchorIno = st.ino;
        anchorLinks = Number(st.nlink);
      }
      return true;
    } catch {
      return false;
    }
  };

  const placeOne = (e: StoredEntry) => {
    const to = joinPath(ctx.dst, e.path);
    if (e.dev !== gDev || e.ino !== gIno) {
      gDev = e.dev;
      gIno = e.ino;
      anchor = null;
      groupFailed = false;
      if (ctx.mirrorHasRows) findAnchor(e);
    }
    if (e.type === EntryType.socket) {
      counts.skippedSockets++;
      progress.warn(`skipped socket ${showPath(e.path)} (sockets cannot be copied)`);
      return;
    }
    if (groupFailed) {
      counts.failedPaths++;
      problems.add(e.path, 'not copied (its content could not be read)', new Error('see the first path of this group'));
      return;
    }
    if (ctx.mirrorHasRows && alreadyPlaced(e, to)) {
      counts.alreadyPresent++;
      return;
    }
    try {
      if (anchor === null) {
        startInode(e, to, false);
      } else if (anchorLinks >= ctx.linkMax || !linkToAnchor(e, to)) {
        startInode(e, to, true);
      }
    } catch (err) {
      const fatal = fatalFor(err, showPath(e.path));
      if (fatal) throw fatal;
      counts.failedPaths++;
      if (anchor === null) groupFailed = true;
      problems.add(e.path, 'cannot copy', err);
    }
  };

  const pacer = new Pacer();
  for (const page of index.srcByInode()) {
    for (const e of page) {
      if (pacer.due()) await yieldNow();
      if (ctx.shouldStop()) {
        flush();
        counts.stopped = true;
        return counts;
      }
      const before = counts.bytesCopied;
      placeOne(e);
      progress.advance(1, counts.bytesCopied - before);
      if (pending.length >= FLUSH_ROWS || bytesSinceFlush >= FLUSH_BYTES || Date.now() - lastFlush >= FLUSH_MS) flush();
    }
  }
  flush();
  return counts;
}
