// The list thread of copy's scan (see walk-threads.ts): the depth-first walk itself, with
// getdents64 alone (fs/dirents.ts). What each directory entry says of its kind (d_type) tells it
// where to go down, so it does not wait on an lstat (but on a filesystem that leaves d_type
// unknown); the stat threads do those, several at a time. Each path goes with its entry's type
// and inode number (d_ino), with which a rescan takes most paths without an lstat (see scan.ts).
// It hands out the paths in walk order, a chunk to each stat thread in turn, at most `credits`
// chunks ahead of the main thread, so memory stays flat however fast it lists.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { namesOnly, type Dirent } from '../fs/dirents.js';
import { realFsOps } from '../fs/ops.js';
import { childPath, joinPath } from '../fs/paths.js';
import { isStateDir } from '../state-dir.js';
import { EntryType, typeFromMode } from '../store/entry.js';
import { ChunkBuilder, type ChunkArrays } from './path-chunk.js';
import type { ListerMessage } from './walk-threads.js';
import { toWire } from '../fs/wire-error.js';

export interface ListJob {
  walkRoot: Uint8Array;
  /** Int32Array over it: [0] chunks the thread may still send, [1] 1 when the main thread wants it to stop. */
  credits: SharedArrayBuffer;
  statPorts: MessagePort[];
  /** A path to leave out besides the state folder (see ScanOptions.leaveOut). */
  leaveOut?: Uint8Array;
}

const EMPTY = Buffer.alloc(0);

type Kinds = Dirent[];

function run(port: NonNullable<typeof parentPort>, job: ListJob): void {
  const root = Buffer.from(job.walkRoot);
  const leaveOut = job.leaveOut ? Buffer.from(job.leaveOut) : undefined;
  const credits = new Int32Array(job.credits);
  const stopped = () => Atomics.load(credits, 1) === 1;
  const post = (m: ListerMessage) => port.postMessage(m);
  // The stat threads give each chunk's arrays back on the port it came by; take() reads them
  // at once (this thread never waits on its event loop).
  const builder = new ChunkBuilder(() => {
    for (const p of job.statPorts) {
      const back = receiveMessageOnPort(p);
      if (back) return back.message as ChunkArrays;
    }
    return undefined;
  });
  let sent = 0;
  const send = (): boolean => {
    while (Atomics.load(credits, 0) <= 0 && !stopped()) Atomics.wait(credits, 0, 0, 1000);
    if (stopped()) return false;
    Atomics.sub(credits, 0, 1);
    const { chunk, transfer } = builder.take();
    job.statPorts[sent % job.statPorts.length].postMessage(chunk, transfer);
    sent++;
    return true;
  };
  const list = (rel: Buffer): Kinds | undefined => {
    const p = joinPath(root, rel);
    let kinds: Kinds;
    try {
      kinds = realFsOps.readdirInodes(p);
    } catch {
      // Where d_type is unknown, Node lstats each entry itself and fails the whole listing
      // when one of them fails (an entry removed meanwhile): list the names alone, so that
      // only that entry is lost (its stat thread reports it), as walk.ts would.
      try {
        kinds = namesOnly(realFsOps.readdir(p));
      } catch (err) {
        post({ type: 'problem', rel, ...toWire(err) });
        return undefined;
      }
    }
    return kinds.sort((a, b) => Buffer.compare(a.name, b.name));
  };
  const isDir = (rel: Buffer): boolean => typeFromMode(Number(realFsOps.lstat(joinPath(root, rel)).mode)) === EntryType.dir;

  let rootIsDir: boolean;
  try {
    rootIsDir = isDir(EMPTY);
  } catch (err) {
    post({ type: 'error', ...toWire(err) });
    return;
  }
  builder.add(EMPTY, rootIsDir ? EntryType.dir : undefined);
  const stack: { rel: Buffer; kinds: Kinds; next: number }[] = [];
  const rootKinds = rootIsDir ? list(EMPTY) : undefined;
  if (rootKinds) stack.push({ rel: EMPTY, kinds: rootKinds, next: 0 });
  while (stack.length > 0) {
    if (stopped()) return; // the walk was cut short (see walk-threads.ts): return, do not wait to be terminated
    const top = stack[stack.length - 1];
    if (top.next >= top.kinds.length) {
      stack.pop();
      continue;
    }
    const { name, type, ino } = top.kinds[top.next++];
    const rel = childPath(top.rel, name);
    if (isStateDir(rel) || (leaveOut && rel.equals(leaveOut))) continue;
    let dir = type === undefined ? undefined : type === EntryType.dir;
    if (dir === undefined) {
      // d_type unknown (some filesystems never fill it in): lstat tells; one that fails is
      // left to its stat thread, which reports it.
      try {
        dir = isDir(rel);
      } catch {
        dir = false;
      }
    }
    // What lstat told where the entry did not say: a directory, or undetermined (its stat thread lstats it).
    builder.add(rel, dir ? EntryType.dir : type, ino);
    if (builder.full && !send()) return;
    if (dir) {
      const kinds = list(rel);
      if (kinds) stack.push({ rel, kinds, next: 0 });
    }
  }
  if (!builder.empty && !send()) return;
  post({ type: 'done', chunks: sent });
}

const job = workerData as Partial<ListJob> | undefined;
if (parentPort && job?.statPorts) {
  try {
    run(parentPort, job as ListJob);
  } catch (err) {
    parentPort.postMessage({ type: 'error', ...toWire(err) } satisfies ListerMessage);
  }
}
