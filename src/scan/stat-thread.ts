// A stat thread of copy's scan (see walk-threads.ts): lstat (and readlink, for a symlink) of
// every path in the chunks the list thread sends it, each chunk answered with one batch of
// entries to the main thread. Cold, an lstat waits on the disk for the inode; two threads
// waiting side by side, beside the listing, took a 1M-path walk from 11 s to under 5. While the
// main thread wants stubs (a rescan, see scan.ts), a path that is not a directory and whose entry
// gave its type and inode number goes over as a stub, without an lstat.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { realFsOps } from '../fs/ops.js';
import { joinPath } from '../fs/paths.js';
import { EntryType, typeFromMode } from '../store/entry.js';
import { chunkArrays, unpackChunk, type PathChunk } from './path-chunk.js';
import { BatchBuilder, changedUnderScan, type BatchArrays } from './walk-batch.js';
import { StatCache } from './stat-cache.js';
import type { StatMessage, WalkProblem } from './walk-threads.js';
import { stubbable } from './walk.js';
import { toWire } from '../fs/wire-error.js';

export interface StatJob {
  walkRoot: Uint8Array;
  /** Where the list thread's chunks come from. */
  chunks: MessagePort;
  /** Where the main thread gives back the arrays of the batches it has written. */
  spares: MessagePort;
  /** The walk's shared Int32Array (see walk-threads.ts): [2] is 1 while stubs are wanted. */
  control: SharedArrayBuffer;
}

/**
 * The batch of entries for a chunk of paths under `root`, with the problems met. The root itself
 * (the empty path) must stat as the directory it was listed as: failing that, the source went
 * away or changed under the scan, and the scan stops with that error (see scan.ts) rather than
 * recording an empty tree.
 */
export function statChunk(
  root: Buffer, chunk: PathChunk, builder = new BatchBuilder(), stubs = false, cache?: StatCache,
): { message: StatMessage; transfer: ArrayBuffer[] } {
  const problems: WalkProblem[] = [];
  const fail = (rel: Buffer, err: unknown) => problems.push({ rel: Buffer.from(rel), ...toWire(err) });
  for (const { rel, dir, type: said, ino } of unpackChunk(chunk)) {
    // A path its directory entry describes, when the scan wants stubs (see scan.ts): no lstat.
    if (stubs && rel.length > 0 && stubbable(said, ino)) {
      builder.addStub(rel, said, ino);
      continue;
    }
    // A regular file whose inode this thread lstatted a moment ago (see stat-cache.ts).
    const cacheable = cache !== undefined && said === EntryType.file && ino !== 0n;
    const known = cacheable ? cache.get(ino) : undefined;
    if (known) {
      builder.add(rel, known, null, true);
      continue;
    }
    const p = joinPath(root, rel);
    let stat;
    try {
      stat = realFsOps.lstat(p);
    } catch (err) {
      if (rel.length === 0) return rootGone(err);
      fail(rel, err);
      continue;
    }
    const type = typeFromMode(Number(stat.mode));
    if (rel.length === 0 && (type === EntryType.dir) !== dir) {
      return rootGone(Object.assign(new Error('the source changed from or to a directory while it was being scanned'), { code: 'ENOTDIR' }));
    }
    if ((type === EntryType.dir) !== dir) {
      // Replaced between its listing and this lstat: a directory the walk did not go into, or
      // a file it took for one. Leaving it out, reported, is what a path gone would get.
      fail(rel, changedUnderScan(dir));
      continue;
    }
    let target: Buffer | null = null;
    if (type === EntryType.symlink) {
      try {
        target = realFsOps.readlink(p);
      } catch (err) {
        fail(rel, err);
        continue;
      }
    }
    if (cacheable && type === EntryType.file && stat.ino === ino && stat.nlink > 1n) cache.put(stat); // another path may come
    builder.add(rel, stat, target);
  }
  const { batch, transfer } = builder.take();
  return { message: { type: 'batch', batch, problems }, transfer };
}

function rootGone(err: unknown): { message: StatMessage; transfer: ArrayBuffer[] } {
  return { message: { type: 'error', ...toWire(err) }, transfer: [] };
}

const job = workerData as Partial<StatJob> | undefined;
if (parentPort && job?.chunks) {
  const port = parentPort;
  const root = Buffer.from(job.walkRoot!);
  // take() hands its arrays over and starts on the arrays of a batch the main thread gave back,
  // when one is there: read at once, not as a message event, which would wait behind the chunks.
  const spares = job.spares!;
  const builder = new BatchBuilder(() => receiveMessageOnPort(spares)?.message as BatchArrays | undefined);
  const chunks = job.chunks;
  const control = new Int32Array(job.control!);
  const cache = new StatCache();
  chunks.on('message', (chunk: PathChunk) => {
    try {
      const { message, transfer } = statChunk(root, chunk, builder, Atomics.load(control, 2) === 1, cache);
      port.postMessage(message, transfer);
    } catch (err) {
      port.postMessage({ type: 'error', ...toWire(err) } satisfies StatMessage);
    }
    // The batch holds copies of the paths: the chunk's arrays go back to the list thread.
    const back = chunkArrays(chunk);
    chunks.postMessage(back.arrays, back.transfer);
  });
}
