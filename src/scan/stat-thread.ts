// A stat thread of copy's scan (see walk-threads.ts): lstat (and readlink, for a symlink) of
// every path in the chunks the list thread sends it, each chunk answered with one batch of
// entries to the main thread. Cold, an lstat waits on the disk for the inode; two threads
// waiting side by side, beside the listing, took a 1M-path walk from 11 s to under 5.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { realFsOps } from '../fs/ops.js';
import { joinPath } from '../fs/paths.js';
import { unpackChunk, type PathChunk } from './path-chunk.js';
import { BatchBuilder } from './walk-batch.js';
import type { StatMessage, WalkProblem } from './walk-threads.js';

export interface StatJob {
  walkRoot: Uint8Array;
  /** Where the list thread's chunks come from. */
  chunks: MessagePort;
}

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
const S_IFLNK = 0o120000n;

/**
 * The batch of entries for a chunk of paths under `root`, with the problems met. The root itself
 * (the empty path) must stat as the directory it was listed as: failing that, the source went
 * away or changed under the scan, and the scan stops with that error (see scan.ts) rather than
 * recording an empty tree.
 */
export function statChunk(root: Buffer, chunk: PathChunk, builder = new BatchBuilder()): { message: StatMessage; transfer: ArrayBuffer[] } {
  const problems: WalkProblem[] = [];
  const fail = (rel: Buffer, err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    problems.push({ rel: Buffer.from(rel), code: e?.code, message: e?.message ?? String(err) });
  };
  for (const { rel, dir } of unpackChunk(chunk)) {
    const p = joinPath(root, rel);
    let stat;
    try {
      stat = realFsOps.lstat(p);
    } catch (err) {
      if (rel.length === 0) return rootGone(err);
      fail(rel, err);
      continue;
    }
    const kind = stat.mode & S_IFMT;
    if (rel.length === 0 && (kind === S_IFDIR) !== dir) {
      return rootGone(Object.assign(new Error('the source changed from or to a directory while it was being scanned'), { code: 'ENOTDIR' }));
    }
    if ((kind === S_IFDIR) !== dir) {
      // Replaced between its listing and this lstat: a directory the walk did not go into, or
      // a file it took for one. Leaving it out, reported, is what a path gone would get.
      fail(rel, Object.assign(new Error(`${dir ? 'it is no longer a directory' : 'it became a directory'} while the source was being scanned; run again to copy it`), { code: 'ECHANGED' }));
      continue;
    }
    let target: Buffer | null = null;
    if (kind === S_IFLNK) {
      try {
        target = realFsOps.readlink(p);
      } catch (err) {
        fail(rel, err);
        continue;
      }
    }
    builder.add(rel, stat, target);
  }
  const { batch, transfer } = builder.take();
  return { message: { type: 'batch', batch, problems }, transfer };
}

function rootGone(err: unknown): { message: StatMessage; transfer: ArrayBuffer[] } {
  const e = err as NodeJS.ErrnoException;
  return { message: { type: 'error', code: e?.code, message: e?.message ?? String(err) }, transfer: [] };
}

const job = workerData as Partial<StatJob> | undefined;
if (parentPort && job?.chunks) {
  const port = parentPort;
  const root = Buffer.from(job.walkRoot!);
  const builder = new BatchBuilder(); // take() hands its arrays over and starts new ones
  job.chunks.on('message', (chunk: PathChunk) => {
    try {
      const { message, transfer } = statChunk(root, chunk, builder);
      port.postMessage(message, transfer);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      port.postMessage({ type: 'error', code: e?.code, message: e?.message ?? String(err) } satisfies StatMessage);
    }
  });
}
