// recordManifest: after a copy has placed its files, hash every destination inode whose source
// inode has no hash in the manifest yet, so that `verify DST` can later re-read the mirror
// without the source. Together with the index's `src` table (what each path is: type, mode,
// owner, mtime, size, symlink target, source inode) and `mirror` table (the destination inode
// of each path, splits included), the `hashes` table completes the manifest.
//
//   forget hashes of source inodes that are gone or changed since (birth time, size, mtime)
//   for each source inode (a regular file) without a hash, in (dev, ino) order:
//     take a mirror path holding it; if that path still holds the inode the copy recorded,
//     hash it and store the hash under the source inode's identity (fromSource: its first
//     source path, if that still is the inode the scan saw)
//
// An incremental copy thus hashes only the content it wrote; a resumed one picks up where the
// last stopped. The hash is of what the destination holds right after the copy, read back from
// it (through the page cache when the copy was recent), so later bit rot shows as `content`;
// a copy error already present at that moment is what `verify SRC DST` is for.
//
// An adoption without --checksum is the exception (`fromSource`): it took files that only had
// the source's size and mtime, whose bytes nobody compared. Their hashes are the source's, read
// from the source, so that `verify DST` and `copy --recheck --checksum` find one that differs;
// hashed from the mirror, the manifest vouched for whatever bytes the old copy held.
import path from 'node:path';
import { sameFile } from '../copy/check-unchanged.js';
import { fatalFor, folderAlive } from '../copy/place-files.js';
import type { LinkmirrorError } from '../errors.js';
import type { FsOps } from '../fs/ops.js';
import { joinPath, showPath } from '../fs/paths.js';
import type { Problems } from '../problems.js';
import { noProgress, type Progress } from '../progress.js';
import { STATE_DIR } from '../state-dir.js';
import type { Index } from '../store/index-db.js';
import type { ManifestHash } from '../store/manifest-store.js';
import { engineFor, type HashEngine } from './hash-engine.js';
import { HASH_ALGORITHM } from './hash-file.js';
import { hashInodes } from './hash-inodes.js';

export interface RecordManifestOptions {
  ops: FsOps;
  progress?: Progress;
  /** Read failures are added here (and the run goes on); without it they are only warned. */
  problems?: Problems;
  /** Whether the copy set owners: verify DST compares owners only then. */
  owner: boolean;
  /** Polled between files: true stops early (the next run hashes the rest). */
  shouldStop?: () => boolean;
  /** Hashing threads; default 4 with the real filesystem ops, the main thread with injected ones. */
  hashThreads?: number;
  /** Hash each inode's source file (under this root) instead of the mirror's (see above). */
  fromSource?: Buffer;
}

export interface ManifestCounts {
  inodesHashed: number;
  bytesHashed: bigint;
  /** Hashes dropped because their source inode is gone or changed. */
  pruned: number;
  /** Inodes left without a hash: unreadable, or their path no longer holds what the copy wrote. */
  skipped: number;
  stopped: boolean;
}

const BATCH = 1024;

export async function recordManifest(index: Index, dst: Buffer, options: RecordManifestOptions): Promise<ManifestCounts> {
  const progress = options.progress ?? noProgress;
  const { ops } = options;
  const counts: ManifestCounts = { inodesHashed: 0, bytesHashed: 0n, pruned: 0, skipped: 0, stopped: false };
  const store = index.manifestStore();
  let engine: HashEngine | undefined;
  try {
    counts.pruned = store.prune();
    const todo = store.todoTotals();
    engine = engineFor(ops, HASH_ALGORITHM, todo.inodes, options.hashThreads);
    const stateDir = path.join(dst.toString(), STATE_DIR);
    let gone: LinkmirrorError | undefined;
    progress.start('hash', { items: todo.inodes, bytes: todo.bytes });
    let batch: ManifestHash[] = [];
    const src = options.fromSource;
    const pages = src ? mapPages(store.todoPages(), (t) => ({ ...t, path: t.srcPath })) : store.todoPages();
    const pass = await hashInodes(
      src ?? dst,
      pages,
      (t, o) => {
        if (gone) return;
        if (!('hash' in o)) {
          // EIO from every file is a pulled drive, not bit rot: then the copy stops, in one line.
          // (Not when reading the source: its errors say nothing of the destination.)
          gone = src ? undefined : fatalFor(o.error, `${showPath(t.path)} (hashing it for the manifest)`, folderAlive(ops, stateDir));
          if (gone) throw gone;
          counts.skipped++;
          if (options.problems) options.problems.add(t.path, 'cannot hash for the manifest', o.error);
          else progress.warn(`cannot hash ${showPath(t.path)} for the manifest: ${(o.error as Error)?.message ?? String(o.error)}`);
        } else if (o.bytes !== t.size) {
          counts.skipped++;
          progress.warn(`not in the manifest: ${showPath(t.path)} holds ${o.bytes} bytes, ${src ? 'the scan saw' : 'the copy wrote'} ${t.size}`);
        } else {
          batch.push({ dev: t.dev, ino: t.ino, birthNs: t.birthNs, size: t.size, mtimeNs: t.mtimeNs, hash: o.hash });
          counts.inodesHashed++;
          counts.bytesHashed += o.bytes;
          if (batch.length >= BATCH) {
            store.putHashes(batch);
            batch = [];
          }
        }
      },
      {
        engine,
        progress,
        shouldStop: options.shouldStop,
        // The path must still hold the inode the copy put there (compared as stored: signed),
        // or, in the source, the inode the scan saw, as it saw it.
        accept: (t) => {
          if (gone) return false;
          try {
            if (!src) return BigInt.asIntN(64, ops.lstat(joinPath(dst, t.path)).ino) === t.dstIno;
            // The manifest's dev and ino are as stored (signed); the scan's facts are unsigned.
            const seen = { ...t, dev: BigInt.asUintN(64, t.dev), ino: BigInt.asUintN(64, t.ino) };
            return sameFile(seen, ops.lstat(joinPath(src, t.path)));
          } catch {
            return false;
          }
        },
      },
    );
    store.putHashes(batch);
    counts.skipped += pass.skipped;
    counts.stopped = pass.stopped;
    store.setMeta('manifest_hash', HASH_ALGORITHM);
    store.setMeta('manifest_owner', options.owner ? '1' : '0');
    if (!counts.stopped) store.setMeta('manifest_at', new Date().toISOString());
    progress.end();
    return counts;
  } finally {
    await engine?.close();
  }
}

function* mapPages<T, U>(pages: Iterable<T[]>, f: (t: T) => U): Generator<U[]> {
  for (const page of pages) yield page.map(f);
}
