// The content pass: every non-directory path of the source gets its place in the destination.
//
// Paths come from the index grouped by source inode, first path first, so one group is handled
// start to end with its state in a few local variables — memory does not depend on the tree:
//
//   for each group (dev, ino):
//     anchor := a destination path that already holds this inode's content (resume, incremental)
//     for each path of the group:
//       if the mirror holds this path with this content: keep it (fix its mode/owner if they changed)
//       elif no anchor:        copy the content to a temp name, set metadata; it becomes the anchor
//       else:                  link(anchor, path); on EMLINK split: copy the anchor's content to a
//                              fresh inode, which becomes the anchor
//       a path that is free gets its file at once (rename or link); a path still occupied by
//       older content gets it staged (a temp name recorded in `pending`)
//   then rename every staged file over its path
//
// Staging is what makes incremental runs cheap and safe: after a rotation, hourly.1/f must take
// the content that hourly.0/f holds while hourly.0/f itself gets new content. Replacing nothing
// until every link is made means the last copy of an inode another path needs is never lost.
//
// A copy whose source is not what the scan saw once it is made (see check-unchanged.ts) is
// dropped and its path reported: it may mix old and new bytes, and it gets no row, so the next
// run copies it again.
//
// Temp files live in the state folder and are renamed across directories (same filesystem), so
// a kill leaves no half-written file under a final name and leftovers are in one place. A path
// is recorded in the index after it is in place: appended to `placed` during the pass (cheap),
// folded into `mirror` at its end.
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno, LINK_FULL_CODES, NO_SPACE_CODES } from '../fs/errno.js';
import { LstatThreads, lstatAhead } from '../fs/lstat-threads.js';
import { syncfsInBackground, type FsOps } from '../fs/ops.js';
import { joinPath, showPath } from '../fs/paths.js';
import { clampNs } from '../fs/time-ns.js';
import type { Problems } from '../problems.js';
import type { Progress } from '../progress.js';
import { EntryType, typeFromMode, type StoredEntry } from '../store/entry.js';
import { sameContent, type Index, type InodeEntry, type MirrorRow, type SampleRow, type StagedRow } from '../store/index-db.js';
import { formatCount } from '../format.js';
import { Pacer, yieldNow } from '../yield.js';
import { FileHasher } from '../verify/hash-file.js';
import { applyMeta } from './apply-meta.js';
import type { DestinationKeeps } from './preflight.js';
import { checkUnchanged } from './check-unchanged.js';
import { LinkThread } from './link-thread.js';
import { PlacedRows } from './placed-rows.js';
import { RenameSplits } from './rename-split.js';
import { CopyThread, type Prefetched } from './copy-thread.js';
import { HASH_ALGORITHM } from '../verify/hash-file.js';
import { countTree, firstUnknownBelow, removeTree } from './remove-tree.js';

export interface PlaceContext {
  ops: FsOps;
  index: Index;
  src: Buffer;
  dst: Buffer;
  /** Folder for temp files, on the destination's filesystem. */
  tmpDir: string;
  owner: boolean;
  /**
   * What the destination keeps (see preflight.ts): its time unit when coarser than a microsecond
   * (else 0), and whether it keeps modes and owners at all: what it cannot hold is not compared.
   */
  keeps: DestinationKeeps;
  /** False on a first copy into an empty destination: no lookups of earlier state are needed. */
  mirrorHasRows: boolean;
  /** With mirrorHasRows: visit every path, not only the inodes with a path that changed. */
  recheck: boolean;
  /** --adopt: a path already holding the right content on a separate inode is replaced by a link. */
  adopt: boolean;
  /** --delete: what the source lacks goes, also inside a folder in the way of a file (see renameStaged). */
  deleteExtras: boolean;
  /**
   * --recheck --checksum: a file the mirror holds is kept only when its bytes hash as the
   * source's do (or as the manifest recorded, when the source cannot be read): bit rot, and a
   * source file rewritten keeping its size and mtime, are copied again.
   */
  checkContent: boolean;
  /**
   * A file without a row at a group's first path may be taken as one an interrupted run wrote
   * (see leftByInterruptedRun): only when every run since the last complete one saw the same
   * source and ran in this boot (copy.ts decides).
   */
  trustUnrecorded: boolean;
  progress: Progress;
  problems: Problems;
  shouldStop: () => boolean;
  /** Whether the scan found special files: only then may sockets need counting apart (see Index.todoTotals). */
  specials?: boolean;
  /** Copies to run ahead of the cursor on a first copy (0: none; only with the real filesystem). */
  prefetch: number;
  /** Make links on a thread of their own (only with the real filesystem). */
  linkThread: boolean;
  /** Sync the destination before a commit without waiting for it (only with the real filesystem). */
  backgroundSync: boolean;
}

export interface PlaceCounts {
  /** True when shouldStop() ended the pass early. */
  stopped: boolean;
  inodesCopied: number;
  bytesCopied: bigint;
  linksMade: number;
  splits: number;
  alreadyPresent: number;
  /** Of those, the paths an incremental run left alone unvisited: the index vouched for them. */
  leftAlone: number;
  /** Paths that held other (older) content and were replaced. */
  replaced: number;
  /** --delete: paths removed with a folder that stood where the source now has a file. */
  cleared: number;
  /** Inodes an interrupted run had written in full after its last flush: taken, not copied again. */
  foundComplete: number;
  /** Their bytes (the plan counted them as bytes to copy). */
  bytesFound: bigint;
  /** --adopt: duplicate copies replaced by links, and the bytes that freed. */
  deduplicated: number;
  bytesReclaimed: bigint;
  /** Destination inodes whose mode, owner or mtime was set again (it took), each counted once. */
  metadataFixed: number;
  skippedSockets: number;
  failedPaths: number;
}

/** Errors from the destination that mean the run cannot go on. */
// ECONNABORTED: a FUSE daemon (ntfs-3g, exfat-fuse) killed or crashed under the run.
const DST_GONE = ['EROFS', 'ENODEV', 'ENOTCONN', 'ESTALE', 'ENXIO', 'ECONNABORTED'];

/**
 * The fatal error `err` stands for, if any. EIO is ambiguous — a bad sector in the source, or a
 * destination that went away (a pulled USB drive) — so `dstAlive` is asked: when the state
 * folder cannot be written either, the destination is gone and the run stops. So are ENOENT
 * and ENOTDIR: a source file gone since the scan, or a destination unmounted under the run
 * (`umount -l`), whose paths then name the empty mount point: every path would fail, one warning
 * each, before the sync at the end said what happened.
 */
export function fatalFor(err: unknown, where: string, dstAlive?: () => boolean): LinkmirrorError | undefined {
  if (isErrno(err, ...NO_SPACE_CODES)) {
    return new LinkmirrorError('NO_SPACE', `destination is full while writing ${where}; free space and run the same command again to continue`, { cause: err });
  }
  if (isErrno(err, ...DST_GONE) || (isErrno(err, 'EIO', 'ENOENT', 'ENOTDIR') && dstAlive && !dstAlive())) {
    return new LinkmirrorError('DST_UNUSABLE', `destination stopped working while writing ${where} (${(err as Error).message}); reconnect it and run the same command again`, { cause: err });
  }
  return undefined;
}

/**
 * Whether the destination still takes writes: a directory made and removed in the state folder.
 * (Reading is no test: a pulled drive's directories still list from the kernel's cache.)
 */
export function folderAlive(ops: FsOps, dir: string): () => boolean {
  return () => {
    const probe = path.join(dir, `alive-${process.pid}`);
    try {
      ops.mkdir(probe, 0o700);
      ops.rmdir(probe);
      return true;
    } catch (err) {
      // A full drive is alive: a source file gone since the scan must not read as a pulled drive.
      return !isErrno(err, 'ENOENT', 'ENOTDIR', 'EIO', ...DST_GONE);
    }
  };
}

/** syncfs, where a failure means the destination is gone: the run stops with one clear line. */
export function syncOrStop(ops: FsOps, dir: string): void {
  try {
    ops.syncfs(dir);
  } catch (err) {
    throw syncStop(err);
  }
}

function syncStop(err: unknown): LinkmirrorError {
  if ((err as { code?: string }).code === 'ENOCMD') return new LinkmirrorError('DST_UNUSABLE', `cannot write back the destination's data: ${(err as Error).message}`, { cause: err });
  return new LinkmirrorError('DST_UNUSABLE', `destination stopped working: cannot write back its data (${(err as Error).message}); reconnect it and run the same command again`, { cause: err });
}

/**
 * What is at a row's path is what the row describes: the inode number, the type (a freed
 * inode number comes back, e.g. as the directory made where this file was: ext4 hands out the
 * lowest free inode) and the size. Renames are journaled before file data is written back, so
 * after a power cut or a pulled drive a file can be under its name, zero bytes long, while the
 * index (SQLite syncs its own files) says it is complete.
 */
function onDisk(ino: bigint, mode: bigint, size: bigint, m: Pick<MirrorRow, 'dstIno' | 'type' | 'size'>): boolean {
  return ino === m.dstIno && typeFromMode(Number(mode)) === m.type && size === m.size;
}

/**
 * A file in the mirror whose mtime is this far from the source's was written since the copy
 * (an edit in the mirror: same size, perhaps); its content is copied again. Two seconds, the
 * coarsest mtime a destination keeps (ext2/ext3 with small inodes keep whole seconds), so a
 * timestamp the filesystem rounded is never taken for an edit.
 */
const EDITED_MTIME_NS = 2_000_000_000n;

/** Whether the file at `st` was written in the mirror since it was copied from `e` (see EDITED_MTIME_NS). */
function editedInMirror(st: { mtimeNs: bigint }, e: Pick<StoredEntry, 'type' | 'mtimeNs'>): boolean {
  if (e.type !== EntryType.file) return false;
  const d = st.mtimeNs - e.mtimeNs;
  return d >= EDITED_MTIME_NS || d <= -EDITED_MTIME_NS;
}

type MetaStat = { mode: bigint; uid: bigint; gid: bigint; mtimeNs: bigint };

/**
 * Whether the mirror's inode has another mode, owner or mtime than the source's (a chmod, chown
 * or touch there). An mtime is compared as verify compares it: to the microsecond, or within the
 * destination's unit where it keeps less (`keeps.timeUnit`, see preflight.ts), and where that
 * drive rounds down (`keeps.timesDown`), never above the source's. A file's mtime moved by
 * EDITED_MTIME_NS or more is an edit (its content is copied again); less, or a symlink's, a
 * FIFO's or a device's, is only a time to set back.
 */
function metaDrifted(
  st: MetaStat,
  e: Pick<StoredEntry, 'type' | 'mode' | 'uid' | 'gid' | 'mtimeNs'>,
  owner: boolean,
  keeps: Pick<DestinationKeeps, 'timeUnit' | 'timesDown' | 'modes'>,
): boolean {
  if (keeps.modes && e.type !== EntryType.symlink && Number(st.mode & 0o7777n) !== (e.mode & 0o7777)) return true;
  if (owner && (Number(st.uid) !== e.uid || Number(st.gid) !== e.gid)) return true;
  const mtime = clampNs(st.mtimeNs);
  if (keeps.timeUnit > 0n) return (keeps.timesDown ? mtime > e.mtimeNs : mtime - e.mtimeNs >= keeps.timeUnit) || e.mtimeNs - mtime >= keeps.timeUnit;
  return mtime / 1000n !== e.mtimeNs / 1000n;
}

/** Stable: the code of the per-path problem of a folder of someone else's in the way of a file. */
export const IN_THE_WAY = 'EINTHEWAY';

/** Paths of one destination inode tried as an anchor before its content is copied anew. */
const ANCHOR_TRIES = 16;

// When rows go to the index. Each flush first syncs the destination (its rows must not vouch
// for data still in memory), and a sync cleans every dirty metadata block of the drive, so the
// next links dirty them again: a 1M-path first copy that flushed every 16k rows (60 syncs) wrote
// 2.30 GB, every 120k rows 1.94 GB, twice 1.78 GB (GNU time's %O). A kill costs little more
// with fewer flushes: on resume, what was placed since the last one is found in place (links by
// their inode, content written in full by leftByInterruptedRun()); content that must be copied
// again is bounded by FLUSH_BYTES.
const FLUSH_ROWS = 131072; // about 10 MB of rows waiting in memory, at most
const FLUSH_MS = 10_000;
const FLUSH_BYTES = 256n * 1024n * 1024n;

export function emptyPlaceCounts(): PlaceCounts {
  return {
    stopped: false, inodesCopied: 0, bytesCopied: 0n, linksMade: 0, splits: 0, alreadyPresent: 0, leftAlone: 0, replaced: 0, cleared: 0, foundComplete: 0, bytesFound: 0n,
    deduplicated: 0, bytesReclaimed: 0n, metadataFixed: 0, skippedSockets: 0, failedPaths: 0,
  };
}

export async function placeFiles(ctx: PlaceContext): Promise<PlaceCounts> {
  const { ops, index, progress, problems } = ctx;
  const counts = emptyPlaceCounts();
  let tmpSeq = 0;
  const tmpName = () => path.join(ctx.tmpDir, `${process.pid}.${(++tmpSeq).toString().padStart(10, '0')}`);

  // Rows go to the index in batches, after the files they describe are on disk.
  let placed = new PlacedRows();
  // A staged file is kept as its src id, not as the mirror row it becomes: a resume after a run
  // killed before its first flush re-stages every link that run made, up to FLUSH_ROWS of them,
  // and as rows (a path and BigInts: ~450 bytes of heap each) 60-84k of them took that run's peak
  // RSS to 151-166 MB at 1M paths (134-139 MB as ids).
  let staged: StagedRow[] = [];
  let lastFlush = Date.now();
  let bytesSinceFlush = 0n;
  let writtenSinceFlush = false;
  const commit = (rows: PlacedRows, stagedRows: StagedRow[]) =>
    index.transaction(() => {
      index.putPlaced(rows);
      index.addPending(stagedRows);
    });
  const taken = () => {
    const rows = { placed, staged };
    placed = new PlacedRows();
    staged = [];
    lastFlush = Date.now();
    bytesSinceFlush = 0n;
    return rows;
  };
  // Rows whose sync runs in the background (backgroundSync): committed once it is done (the
  // pass looks after each path). Only the rows taken before the sync started wait for it, so
  // each commit still vouches only for what was on the drive; rows placed meanwhile go to the
  // next flush.
  let syncing: { done: Promise<Error | undefined>; finished: boolean; rows: { placed: PlacedRows; staged: StagedRow[] } } | undefined;
  const settle = async () => {
    if (!syncing) return;
    const { done, rows } = syncing;
    syncing = undefined;
    const err = await done;
    if (err) throw syncStop(err);
    commit(rows.placed, rows.staged);
  };
  const flush = async () => {
    await settle();
    // Rows say "this content is in place": its data must be on the drive before they are
    // committed, or a power cut or a pulled drive leaves files the index vouches for empty.
    const wrote = writtenSinceFlush;
    writtenSinceFlush = false;
    const rows = taken();
    if (wrote && ctx.backgroundSync) {
      const s = { done: syncfsInBackground(ctx.tmpDir), finished: false, rows };
      void s.done.then(() => void (s.finished = true));
      syncing = s;
    } else {
      if (wrote) syncOrStop(ops, ctx.tmpDir);
      commit(rows.placed, rows.staged);
    }
  };

  // A first copy reads only id, path, type, dev and ino of each path (most become links) and
  // fetches the rest for the paths whose content it writes; other runs compare every path.
  const lean = !ctx.mirrorHasRows && !ctx.adopt;
  /** The full rows of the entries copied ahead, fetched to start them: startInode needs them again. */
  const aheadRows = new Map<number, StoredEntry>();
  const full = (e: InodeEntry): StoredEntry => {
    if ('size' in e) return e as StoredEntry;
    const ahead = aheadRows.get(e.id);
    if (ahead) return ahead;
    return index.srcById(e.id);
  };

  // The group being placed.
  let gDev = -1n;
  let gIno = -1n;
  let anchor: Buffer | string | null = null;
  let anchorIno = 0n;
  let groupFailed = false;
  /** Destination inodes of this group that answered EMLINK. */
  const fullInodes = new Set<bigint>();

  const dropTmp = (tmp: string) => {
    try {
      ops.unlink(tmp);
    } catch {
      // never made
    }
  };

  /** A content copy made ahead of the cursor for the entry about to be placed (see copy-thread.ts). */
  let ready: Prefetched | undefined;

  /**
   * Write `e`'s content (from `from`: the source, or the anchor for a split) to a new temp file.
   * A copy from the source must find it as the scan saw it afterwards, or it is dropped.
   */
  const writeTemp = (
    e: StoredEntry,
    from: Buffer | string,
    split: boolean,
    fromSrc: boolean,
  ): { tmp: string; ino: bigint; renamed?: boolean; renameErr?: Error; hash?: Buffer } => {
    const pre = split ? undefined : ready;
    ready = undefined;
    // Made on the copy thread with its metadata, and perhaps renamed into place (copy-thread.ts).
    // Its hash goes to the manifest with its row when it read back as many bytes as the scan saw.
    if (pre?.ino !== undefined) {
      const hash = e.type === EntryType.file && pre.hash?.bytes === e.size ? pre.hash.hash : undefined;
      return { tmp: pre.tmp, ino: pre.ino, renamed: pre.renamed, renameErr: pre.renameErr, hash };
    }
    const tmp = pre?.tmp ?? tmpName();
    try {
      switch (e.type) {
        case EntryType.file:
          if (pre) throw pre.err; // its temp file, perhaps half written, goes below
          ops.copyFile(from, tmp);
          if (fromSrc) checkUnchanged(ops, from, e);
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
      return { tmp, ino: ops.lstat(tmp).ino };
    } catch (err) {
      dropTmp(tmp);
      throw err;
    }
  };

  /** Is something at `to` (which a plain rename would replace, or which blocks a link)? */
  const occupied = (to: Buffer): boolean => {
    if (!ctx.mirrorHasRows && !ctx.adopt) return false; // a first copy: directories are new
    try {
      ops.lstat(to);
      return true;
    } catch {
      return false;
    }
  };

  /** A staged file: its rename waits until every link from existing content is made. */
  const stage = (tmp: string, e: InodeEntry, dstIno: bigint, written: boolean) => {
    staged.push({ tmp, srcId: e.id, dstIno, written });
    counts.replaced++;
  };


  /**
   * The destination inode at `to` when an interrupted run already wrote `e` there after its last
   * flush: a regular file the index knows nothing about (a path the index has a row for holds
   * what that row says, older content to replace), with `e`'s size, mtime (to the microsecond,
   * as set), mode and owner. Such a file was complete before its rename into place (temp name,
   * content, metadata, rename). Only with ctx.trustUnrecorded: the source must be what the
   * interrupted runs saw (or the file may hold an older file's bytes at the same size and mtime),
   * and the machine must not have restarted since (a power cut may leave unsynced data short).
   * Taking it spares copying it again and replacing every link the interrupted run made to it:
   * the last run of a 1M-path copy killed ten times rewrote 3.4 GB that way.
   */
  const leftByInterruptedRun = (e: StoredEntry, to: Buffer): bigint | undefined => {
    if ((e.type !== EntryType.file && e.type !== EntryType.symlink) || index.mirrorByPath(e.path)) return undefined;
    let st;
    try {
      st = ops.lstat(to);
    } catch {
      return undefined;
    }
    if (typeFromMode(Number(st.mode)) !== e.type || st.size !== e.size || st.mtimeNs / 1000n !== e.mtimeNs / 1000n) return undefined;
    if (Number(st.mode & 0o7777n) !== e.mode || (ctx.owner && (Number(st.uid) !== e.uid || Number(st.gid) !== e.gid))) return undefined;
    // A symlink is whole once it exists: its target is read back, not trusted.
    if (e.type === EntryType.symlink && !readlinkOr(to)?.equals(e.target ?? Buffer.alloc(0))) return undefined;
    return st.ino;
  };
  const readlinkOr = (p: Buffer): Buffer | undefined => {
    try {
      return ops.readlink(p);
    } catch {
      return undefined;
    }
  };

  /**
   * leftByInterruptedRun's answers for the first paths the prefetch loop looked at (it must not
   * copy those again), by src id; at most two pages of them (a path found there takes no slot
   * of the prefetcher, so the loop may look to the end of the next page).
   */
  const leftAhead = new Map<number, bigint | undefined>();
  const leftFor = (e: StoredEntry, to: Buffer): bigint | undefined => {
    if (!ctx.trustUnrecorded || ctx.adopt) return undefined;
    if (!leftAhead.has(e.id)) return leftByInterruptedRun(e, to);
    const left = leftAhead.get(e.id);
    leftAhead.delete(e.id);
    return left;
  };

  /** Start a new inode for the group at `to`: the first path, or a split when the anchor is full. */
  const startInode = (e: StoredEntry, to: Buffer, split: boolean) => {
    // Also on a resumed first copy (no rows yet: its first run was killed before its first
    // flush), which would otherwise copy the content again and stage every link made to it.
    const left = split ? undefined : leftFor(e, to);
    if (left !== undefined) {
      placed.push(e.id, left, true);
      anchor = to;
      anchorIno = left;
      counts.alreadyPresent++;
      counts.foundComplete++;
      if (e.type === EntryType.file) counts.bytesFound += e.size; // as bytesCopied counts
      return;
    }
    const fromSrc = !(split && e.type === EntryType.file && anchor !== null);
    const from = fromSrc ? joinPath(ctx.src, e.path) : anchor!;
    const { tmp, ino, renamed, renameErr, hash } = writeTemp(e, from, split, fromSrc);
    if (renamed) {
      placed.push(e.id, ino, true, hash);
      anchor = to;
    } else if (occupied(to)) {
      stage(tmp, e, ino, true);
      anchor = tmp;
    } else {
      try {
        if (renameErr) throw renameErr; // the copy thread's attempt
        ops.rename(tmp, to);
        placed.push(e.id, ino, true, hash);
        anchor = to;
      } catch (err) {
        // A directory left where the source now has a file (a resumed first copy whose
        // source changed): staged, and renameStaged() clears the way.
        if (!isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) {
          dropTmp(tmp);
          throw err;
        }
        stage(tmp, e, ino, true);
        anchor = tmp;
      }
    }
    anchorIno = ino;
    writtenSinceFlush = true;
    if (split) counts.splits++;
    counts.inodesCopied++;
    if (e.type === EntryType.file) {
      counts.bytesCopied += e.size;
      bytesSinceFlush += e.size;
    }
  };

  // --recheck --checksum (see PlaceContext.checkContent): each destination inode of the group
  // being placed is hashed once, whichever of its paths asks first.
  const hasher = ctx.checkContent ? new FileHasher(ops) : undefined;
  const intactInodes = new Map<bigint, boolean>();
  const bytesIntact = (p: Buffer, dstIno: bigint, e: StoredEntry): boolean => {
    if (!hasher || e.type !== EntryType.file) return true;
    let ok = intactInodes.get(dstIno);
    if (ok === undefined) {
      // The source's bytes, as rsync -c reads them: a source file rewritten in place with its
      // size and mtime kept (which nothing else can see) is copied again too. The manifest's
      // hash stands in when the source cannot be read, so bit rot is still found.
      let want: Buffer | undefined;
      try {
        want = hasher.hash(joinPath(ctx.src, e.path)).hash;
      } catch {
        want = index.hashOf(e);
      }
      if (want === undefined) return true; // nothing to judge the mirror's copy by: it stays
      try {
        ok = hasher.hash(p).hash.equals(want);
      } catch {
        ok = false; // unreadable in the mirror (a bad sector): copied again, onto a new inode
      }
      intactInodes.set(dstIno, ok);
    }
    return ok;
  };

  /** Link `to` to the anchor; false when the anchor is full (EMLINK) and a split is needed. */
  const linkToAnchor = (e: InodeEntry, to: Buffer): boolean => {
    try {
      ops.link(anchor!, to);
      placed.push(e.id, anchorIno, false);
    } catch (err) {
      if (isErrno(err, ...LINK_FULL_CODES)) return false;
      if (!isErrno(err, 'EEXIST')) throw err;
      const there = ops.lstat(to);
      if (there.ino === anchorIno) {
        placed.push(e.id, anchorIno, false); // made by an interrupted run, after its last flush
      } else {
        const tmp = tmpName();
        try {
          ops.link(anchor!, tmp);
        } catch (err2) {
          if (isErrno(err2, ...LINK_FULL_CODES)) return false;
          throw err2;
        }
        stage(tmp, e, anchorIno, false);
      }
    }
    counts.linksMade++;
    return true;
  };


  /**
   * On resume or an incremental run: a destination path that already holds this source inode,
   * on a destination inode not known to be full (a split group has several).
   */
  const findAnchor = (e: StoredEntry): boolean => {
    const holds = (m: MirrorRow): MetaStat | undefined => {
      const p = joinPath(ctx.dst, m.path);
      try {
        const st = ops.lstat(p);
        if (!onDisk(st.ino, st.mode, st.size, m) || editedInMirror(st, e) || !bytesIntact(p, st.ino, e)) return undefined;
        anchor = p;
        anchorIno = st.ino;
        return st;
      } catch {
        return undefined; // gone from the destination
      }
    };
    // The inode's mode and owner as the source has them now: a path the mirror holds would set
    // them in keepIfPlaced, but every path of the group may be new (a snapshot renamed, then made
    // read-only, as Back In Time does), and only links to this inode are made. One that cannot
    // be set is reported, and the inode used all the same: its content is the source's.
    const found = (st: MetaStat): true => {
      try {
        setMetaOnce(anchor as Buffer, st, e);
      } catch (err) {
        const fatal = fatalFor(err, showPath(e.path), folderAlive(ops, ctx.tmpDir));
        if (fatal) throw fatal;
        problems.add(e.path, 'cannot set the mode, owner or times of', err);
      }
      return true;
    };
    for (const m of index.mirrorInodesOf(e.dev, e.ino)) {
      if (!sameContent(m, e) || fullInodes.has(m.dstIno)) continue;
      const st = holds(m);
      if (st) return found(st);
      // That path was replaced behind our back: another path of the same inode may still hold it.
      for (const other of index.mirrorPathsOn(e.dev, e.ino, m.dstIno, ANCHOR_TRIES)) {
        const there = holds(other);
        if (there) return found(there);
      }
    }
    return false;
  };

  /**
   * True when the mirror already holds this path with this content (and the disk agrees).
   * Mode and owner are per inode, so a change of them is applied to the destination inode.
   */
  const keepIfPlaced = (e: StoredEntry, to: Buffer): 'kept' | 'duplicate' | 'no' => {
    const m = index.mirrorByPath(e.path);
    if (!m || !sameContent(m, e)) return 'no';
    let st;
    try {
      st = ops.lstat(to);
    } catch {
      return 'no';
    }
    if (!onDisk(st.ino, st.mode, st.size, m)) return 'no';
    // Written in the mirror since (an edit that kept the size): copied again, and the other
    // paths of the group follow onto the new inode, as they look at the same inode here.
    if (editedInMirror(st, e) || !bytesIntact(to, st.ino, e)) return 'no';
    if (anchor === null) {
      anchor = to;
      anchorIno = st.ino;
    } else if (ctx.adopt && st.ino !== anchorIno && Number(st.nlink) === 1) {
      return 'duplicate'; // the group's content on an inode of its own: --adopt makes it a link
    }
    // The source's mode or owner changed, or the mirror's (a chmod or chown there). Counted
    // only when it took: a filesystem that keeps no modes (ntfs-3g without permissions) would
    // otherwise be "fixed" on every run.
    // Set on the inode only when it differs: the next paths of the inode find it set, and only
    // their rows change (on ntfs-3g each call on an inode of 8,000 links takes some 120 ms).
    const sourceChanged = m.mode !== e.mode || (ctx.owner && (m.uid !== e.uid || m.gid !== e.gid));
    if (setMetaOnce(to, st, e) || sourceChanged) placed.push(e.id, st.ino, m.written);
    counts.alreadyPresent++;
    return 'kept';
  };

  /** Set `e`'s mode, owner and times on the mirror inode at `p` (lstat `st`) when they differ; whether they did. */
  const setMetaOnce = (p: Buffer, st: MetaStat, e: StoredEntry): boolean => {
    const drifted = (at: MetaStat) => metaDrifted(at, e, ctx.owner && ctx.keeps.owners, ctx.keeps);
    if (!drifted(st)) return false;
    applyMeta(ops, p, e, ctx.owner);
    if (!drifted(ops.lstat(p))) counts.metadataFixed++;
    return true;
  };

  /** Link to the anchor; when it is full, to another part of a split group that has room. */
  const linkToFreeAnchor = (e: InodeEntry, to: Buffer): boolean => {
    for (;;) {
      if (linkToAnchor(e, to)) return true;
      fullInodes.add(anchorIno);
      if (!ctx.mirrorHasRows || !findAnchor(full(e))) return false;
    }
  };

  /** A path that could not be placed: the run stops when the destination is the cause. */
  const failed = (e: InodeEntry, err: unknown) => {
    const fatal = fatalFor(err, showPath(e.path), folderAlive(ops, ctx.tmpDir));
    if (fatal) throw fatal;
    counts.failedPaths++;
    problems.add(e.path, 'cannot copy', err);
    index.mirrorPathFailed(e.path);
  };

  // Links go to the link thread (see link-thread.ts); each carries the anchor it was sent with.
  // A failed one is replayed here with the group's state as it was then. Not with --adopt, whose
  // count of duplicates replaced depends on each link's outcome.
  type LinkTag = { e: InodeEntry; anchor: Buffer | string; anchorIno: bigint };
  const links = ctx.linkThread && !ctx.adopt ? new LinkThread<LinkTag>() : undefined;
  /** Anchors found full by a replay (key: the full one, as bytes) and the inode that replaced each. */
  const splitAnchors = new Map<string, { anchor: Buffer | string; ino: bigint }>();
  const anchorKey = (a: Buffer | string) => (typeof a === 'string' ? a : a.toString('latin1'));

  const replayLink = (tag: LinkTag, to: Buffer, err: Error) => {
    if (!isErrno(err, ...LINK_FULL_CODES, 'EEXIST')) return failed(tag.e, err);
    const current = { anchor, anchorIno };
    const key = anchorKey(tag.anchor);
    const moved = splitAnchors.get(key);
    anchor = moved?.anchor ?? tag.anchor;
    anchorIno = moved?.ino ?? tag.anchorIno;
    try {
      if (!linkToFreeAnchor(tag.e, to)) startInode(full(tag.e), to, true);
    } catch (err2) {
      failed(tag.e, err2);
    }
    if (anchor !== (moved?.anchor ?? tag.anchor)) splitAnchors.set(key, { anchor: anchor!, ino: anchorIno });
    // The main loop goes on with the newest anchor when it is still in this group.
    if (tag.e.dev !== gDev || tag.e.ino !== gIno) ({ anchor, anchorIno } = current);
  };

  const settleLinks = () => {
    for (const { jobs, failed: errors } of links!.answers()) {
      for (let i = 0; i < jobs.length; i++) {
        const { tag, to } = jobs[i];
        const err = errors.get(i);
        if (err) {
          replayLink(tag, to, err);
        } else {
          placed.push(tag.e.id, tag.anchorIno, false);
          counts.linksMade++;
        }
      }
    }
    if (links!.idle) splitAnchors.clear(); // no job left that was sent with an old anchor
  };

  const placeOne = (e: InodeEntry) => {
    const to = joinPath(ctx.dst, e.path);
    if (e.dev !== gDev || e.ino !== gIno) {
      gDev = e.dev;
      gIno = e.ino;
      anchor = null;
      groupFailed = false;
      fullInodes.clear();
      intactInodes.clear();
      if (ctx.mirrorHasRows) findAnchor(full(e));
    }
    if (e.type === EntryType.socket) {
      counts.skippedSockets++;
      progress.warn(`skipped socket ${showPath(e.path)} (sockets cannot be copied)`);
      return;
    }
    if (groupFailed) {
      counts.failedPaths++;
      problems.add(e.path, 'not copied', new Error('the content of its inode could not be copied (see the problem of its first path)'));
      return;
    }
    const kept = ctx.mirrorHasRows ? keepIfPlaced(full(e), to) : 'no';
    if (kept === 'kept') return;
    try {
      if (anchor === null) {
        startInode(full(e), to, false);
      } else if (links) {
        links.add(typeof anchor === 'string' ? Buffer.from(anchor) : anchor, to, { e, anchor, anchorIno });
      } else if (linkToFreeAnchor(e, to)) {
        if (kept === 'duplicate') {
          // Its link was staged over the duplicate, which stage() counted as replaced content.
          counts.replaced--;
          counts.deduplicated++;
          counts.bytesReclaimed += full(e).size;
        }
      } else {
        startInode(full(e), to, true);
      }
    } catch (err) {
      if (anchor === null) groupFailed = true;
      failed(e, err);
    }
  };

  // Prefetching only on a first copy: there every group's first path needs its content. From a
  // thread of its own, with metadata and rename (copy-thread.ts).
  const prefetcher = ctx.prefetch > 0 && lean ? new CopyThread(ctx.prefetch, ctx.owner, HASH_ALGORITHM) : undefined;

  let previous: InodeEntry | undefined;
  const startsGroup = (e: InodeEntry, prev: InodeEntry | undefined) => !prev || prev.dev !== e.dev || prev.ino !== e.ino;

  // An incremental run visits only the inodes with a path the mirror does not hold as it is now;
  // of the others it looks at one path each (see leaveAlone).
  const todoOnly = ctx.mirrorHasRows && !ctx.adopt && !ctx.recheck;
  if (todoOnly) {
    const { left, sockets } = await leaveAlone(ctx);
    counts.alreadyPresent += left;
    counts.leftAlone = left;
    counts.skippedSockets += sockets;
    progress.advance(left + sockets);
  }
  const pages = lean ? index.srcByInodeLean() : todoOnly ? index.srcByInodeTodo() : index.srcByInode();

  // The copies run ahead across the end of a page: the next one is read as soon as they reach
  // it, instead of the pipeline emptying at every page's end (a 1M-path copy has 240 pages).
  const pageIter = pages[Symbol.iterator]();
  let nextPage: InodeEntry[] | undefined;
  let pagesDone = false;
  const pageAfter = (): InodeEntry[] | undefined => {
    if (nextPage === undefined && !pagesDone) {
      const r = pageIter.next();
      if (r.done) pagesDone = true;
      else nextPage = r.value;
    }
    return nextPage;
  };
  const takePage = (): InodeEntry[] | undefined => {
    const p = pageAfter();
    nextPage = undefined;
    return p;
  };

  const pacer = new Pacer();
  try {
    // `ahead`: where the copies run ahead have got to, counted from the current page's start
    // (at or past its end when they reached into the next page).
    let ahead = 0;
    let page: InodeEntry[] | undefined;
    outer: while ((page = takePage()) !== undefined) {
      const cur = page;
      const at = (k: number): InodeEntry => (k < cur.length ? cur[k] : nextPage![k - cur.length]);
      for (let i = 0; i < cur.length; i++) {
        const e = cur[i];
        if (pacer.due()) await yieldNow();
        if (ctx.shouldStop()) {
          counts.stopped = true;
          // Copies already made ahead of the cursor are placed, not thrown away: each is the
          // first path of its group, and the next run links the rest of the group to it.
          for (let j = i; prefetcher && j < ahead; j++) {
            const pending = prefetcher.take(at(j).id);
            if (!pending) continue;
            ready = await pending;
            placeOne(at(j));
            if (ready) dropTmp(ready.tmp);
            ready = undefined;
          }
          break outer;
        }
        if (prefetcher) {
          for (ahead = Math.max(ahead, i); prefetcher.hasRoom(); ahead++) {
            if (ahead >= cur.length && ahead - cur.length >= (pageAfter()?.length ?? 0)) break;
            const next = at(ahead);
            if (next.type === EntryType.file && startsGroup(next, ahead > 0 ? at(ahead - 1) : previous)) {
              if (ctx.trustUnrecorded) {
                const left = leftByInterruptedRun(full(next), joinPath(ctx.dst, next.path));
                leftAhead.set(next.id, left);
                if (left !== undefined) continue; // there already: nothing to copy
              }
              const row = full(next);
              aheadRows.set(next.id, row);
              prefetcher.start({ e: row, src: joinPath(ctx.src, next.path), tmp: tmpName(), to: joinPath(ctx.dst, next.path) });
            }
          }
          const pending = prefetcher.take(e.id);
          if (pending) ready = await pending;
        }
        previous = e;
        const before = counts.bytesCopied + counts.bytesFound;
        placeOne(e);
        leftAhead.delete(e.id); // taken by startInode, or never needed (a group that failed)
        aheadRows.delete(e.id);
        if (ready) {
          dropTmp(ready.tmp); // not used: the group was skipped (a failure before it)
          ready = undefined;
        }
        progress.advance(1, counts.bytesCopied + counts.bytesFound - before);
        if (links) {
          if (links.blocked) await links.room();
          settleLinks();
        }
        if (syncing?.finished) await settle();
        if (placed.length + staged.length >= FLUSH_ROWS || bytesSinceFlush >= FLUSH_BYTES || Date.now() - lastFlush >= FLUSH_MS) await flush();
      }
      ahead = Math.max(0, ahead - cur.length);
    }
    if (links) {
      await links.drain();
      settleLinks();
    }
  } catch (err) {
    // A fatal error (a full drive, say): rows whose sync is done are still worth committing,
    // so that the next run does not place their paths again. One not done is not waited for.
    try {
      if (syncing?.finished) await settle();
    } catch {
      // the index or the drive is what failed: the next run looks at those paths again
    }
    throw err;
  } finally {
    pageIter.return?.(undefined);
    await prefetcher?.drain();
    await links?.close();
  }
  await flush();
  await settle();
  index.foldPlaced();
  // Staged files are complete: put them in place even when stopping, so no work is lost. Those
  // that could not be (reported) replaced nothing.
  const renamed = renameStaged(ctx);
  counts.replaced -= renamed.notPlaced;
  counts.cleared += renamed.cleared;
  counts.splits += renamed.splits;
  counts.linksMade += renamed.links;
  counts.inodesCopied += renamed.inodes;
  counts.bytesCopied += renamed.bytes;
  return counts;
}

/**
 * Mark the work of an incremental run (Index.markTodoGroups) and return how many paths it
 * leaves alone (and how many socket paths it leaves out, which are never placed). Those are
 * trusted to the index, which was committed after their files were on the drive; still, of each
 * inode one path is looked at — a file found missing, of another inode or size (a drive pulled
 * before its data was written, a file replaced by hand) puts its inode back on the work list.
 * `copy --recheck` looks at every path.
 */
async function leaveAlone(ctx: PlaceContext): Promise<{ left: number; sockets: number }> {
  const { ops, index } = ctx;
  index.markTodoGroups(ctx.owner);
  // On threads of their own when the real filesystem is in use (see fs/lstat-threads.ts); the
  // next page is read from the index while they look at this one.
  const threads = ctx.prefetch > 0 ? new LstatThreads(ctx.dst, LSTAT_THREADS) : undefined;
  try {
    for await (const { page, facts: f } of lstatAhead(index.cleanGroupSamples(), (m) => m.path, ctx.dst, ops, threads)) {
      const stale = page.filter((m, i) => f.error(i) !== undefined || !onDisk(f.ino(i), f.mode(i), f.size(i), m));
      if (stale.length > 0) index.addTodoGroups(stale.map((m) => ({ dev: m.srcDev, ino: m.srcIno })));
    }
  } finally {
    await threads?.close();
  }
  const totals = index.todoTotals(ctx.specials ?? true);
  return { left: totals.cleanPaths, sockets: totals.socketsLeft };
}

/** Two lstats waiting on the disk side by side, as in the scan (see fs/lstat-threads.ts). */
const LSTAT_THREADS = 2;

/** What renameStaged() changes in the pass's counts of what it placed. */
export interface StagedOutcome {
  /** Staged paths that could not be put in place: they replaced nothing. */
  notPlaced: number;
  /** Paths below folders in the way that were removed. */
  cleared: number;
  splits: number;
  /**
   * Changes to the pass's counts of links made, inodes copied and their bytes (each counted
   * when its file was staged): a staged file not placed is none of them, and a staged link
   * that a split placed on a copy of its own is a copy, not a link.
   */
  links: number;
  inodes: number;
  bytes: bigint;
}

/**
 * Rename every staged file over its path (a directory in the way is removed first, see blockedBy).
 */
export function renameStaged(
  ctx: Pick<PlaceContext, 'ops' | 'index' | 'dst' | 'problems' | 'deleteExtras' | 'owner'>,
  recovering = false,
): StagedOutcome {
  let notPlaced = 0;
  let cleared = 0;
  const change = { links: 0, inodes: 0, bytes: 0n };
  const { ops, index } = ctx;
  const splits = new RenameSplits(ops, ctx.owner);
  for (const page of index.pendingPages()) {
    const done: typeof page = [];
    const failed: string[] = [];
    try {
      for (const item of page) {
        const to = joinPath(ctx.dst, item.row.path);
        if (recovering && !exists(ops, item.tmp)) {
          failed.push(item.tmp); // staged by a run that died before it was written: nothing to do
          continue;
        }
        try {
          try {
            ops.rename(item.tmp, to);
          } catch (err) {
            if (isErrno(err, ...LINK_FULL_CODES) && item.row.type === EntryType.file) {
              const { ino, written } = splits.place(item.tmp, to, item.row);
              done.push({ tmp: item.tmp, row: { ...item.row, dstIno: ino, written } });
              if (written && !item.row.written) {
                change.links--;
                change.inodes++;
                change.bytes += item.row.size;
              }
              continue;
            }
            if (!isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) throw err;
            // A directory where the source now has a file. An empty one goes (as rsync's would).
            // What is in it goes only with --delete: paths the source no longer has are kept
            // without it (rsync, likewise, will not delete a non-empty directory to make way
            // for a file without --delete or --force), and a folder of the destination's own
            // (under --adopt) or a file added by hand never goes without it. Else the path
            // waits, reported, until the folder is moved or --delete given.
            if (!ctx.deleteExtras) blockedBy(ops, index, to, item.row.path);
            cleared += Math.max(0, removeTree(ops, to) - 1); // the folder's own path now holds the file
            index.dropMirror([item.row.path]);
            ops.rename(item.tmp, to);
          }
          done.push(item);
        } catch (err) {
          const fatal = fatalFor(err, showPath(item.row.path), folderAlive(ops, path.dirname(item.tmp)));
          if (fatal) throw fatal;
          failed.push(item.tmp);
          notPlaced++;
          if (item.row.written) {
            change.inodes--;
            if (item.row.type === EntryType.file) change.bytes -= item.row.size;
          } else {
            change.links--;
          }
          ctx.problems.add(item.row.path, 'cannot put in place', err);
          index.mirrorPathFailed(item.row.path);
        }
      }
    } finally {
      // Even when a fatal error stops the page: what was renamed is recorded as in place.
      index.settlePending(done, failed);
    }
  }
  return { notPlaced, cleared, splits: splits.splits, ...change };
}

/**
 * Throws IN_THE_WAY when the directory at `to` (`rel` in the mirror) holds anything: with what
 * it holds when linkmirror did not copy that, else with how many kept paths it holds.
 */
function blockedBy(ops: FsOps, index: Index, to: Buffer, rel: Buffer): void {
  const stranger = firstUnknownBelow(ops, to, rel, (r, st) => index.mirrorHolds(r, st.ino, st.isDirectory()));
  const below = stranger ? 0 : countTree(ops, to) - 1;
  if (!stranger && below <= 0) return;
  const why = stranger
    ? `a folder is in its way that holds ${showPath(stranger)}, which linkmirror did not copy; move that folder away, then run again`
    : `a folder is in its way that holds ${formatCount(below)} paths the source no longer has, kept because --delete was not given; run with --delete to replace it`;
  throw Object.assign(new Error(why), { code: IN_THE_WAY });
}

function exists(ops: FsOps, p: string): boolean {
  try {
    ops.lstat(p);
    return true;
  } catch {
    return false;
  }
}
