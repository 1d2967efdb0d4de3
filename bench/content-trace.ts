// The bytes of file content a command wrote, apart from everything else it wrote.
//
// write_bytes (kernel-io.ts) counts every page a run dirtied: content, but also the index, its
// WAL, and the destination's directories and inodes. Whether a resumed copy sends content again,
// and whether a re-copy after a rotation sends only the new inodes', is a question about content
// alone. Content reaches a file, in linkmirror as in GNU cp, through copy_file_range(2) (one
// filesystem) or sendfile(2) (libuv's fallback when copy_file_range says EXDEV); a reflink
// (FICLONE) writes none. So the kernel's own syscall-exit tracepoints of those two calls are
// recorded, in a tracing instance of our own, and their return values summed.
//
// Why not strace: even with --seccomp-bpf (only those two calls stop), a script of 320k lstats
// ran twice as slowly under it (0.92 s alone, 1.98 s), which would move the kill instants and
// every wall time. With the tracepoints on, the same script took 0.77-0.79 s as without them,
// and 20,000 copies 5.5-5.9 s against 5.3-5.6 s.
//
// Scope: set_event_pid holds this process, and event-fork adds every process and thread it
// starts from then on, so a run's children and their threads are recorded and nothing else on
// the machine is. This process itself is blocked in spawnSync while a command runs. Needs root
// and tracefs (mounted here when it is not). The events are enabled only while a run is
// recorded: an enabled syscall tracepoint puts every task's calls on a slower path.
//
// What it cannot see: content written by write(2) (rsync; cp before coreutils 9) and reflinks
// (FICLONE, on btrfs or XFS), which write none. openContentTrace checks, with a copy of a known
// size in the temp folder, that what it records is what was written; in a PID namespace, where
// process.pid is not the kernel's pid, that check fails and no count is given.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive } from './work-lock.js';

const TRACEFS = '/sys/kernel/tracing';
const INSTANCE_PREFIX = 'linkmirror-bench-';
const PROBE_BYTES = 12345;
const EVENTS = ['syscalls/sys_exit_copy_file_range', 'syscalls/sys_exit_sendfile64'];
/** Per CPU. An event takes 28 bytes: room for ~300k calls per CPU (a 3M-path tree makes 266k). */
const BUFFER_KB = 8192;

export interface ContentTrace {
  /** Forget what was recorded, and record from now on. */
  start(): void;
  /** Stop recording; the bytes the recorded calls returned. Throws when events were dropped. */
  stop(): number;
  /** Remove the tracing instance. */
  close(): void;
}

// `  node-1234  [001] ..... 12970.22: sys_copy_file_range -> 0x186a0`; an error is -errno,
// printed as a 64-bit two's complement (0xffffffffffffffee).
const EXIT = /\bsys_(?:copy_file_range|sendfile64) -> 0x([0-9a-f]+)\s*$/;
const NEGATIVE = 1n << 63n;

/** Sum of the non-negative return values of the calls in a tracing instance's `trace` text. */
export function contentBytesIn(text: string): number {
  let total = 0n;
  for (const line of text.split('\n')) {
    const m = EXIT.exec(line);
    if (!m) continue;
    const ret = BigInt(`0x${m[1]}`);
    if (ret < NEGATIVE) total += ret;
  }
  return Number(total);
}

function mounted(): boolean {
  return fs.existsSync(path.join(TRACEFS, 'instances'));
}

/** Instances left by benchmark runs that were killed: each holds a buffer in kernel memory. */
function sweepStale(): void {
  for (const name of fs.readdirSync(path.join(TRACEFS, 'instances'))) {
    const pid = Number(name.slice(INSTANCE_PREFIX.length));
    if (!name.startsWith(INSTANCE_PREFIX) || !Number.isInteger(pid) || alive(pid)) continue;
    try {
      fs.rmdirSync(path.join(TRACEFS, 'instances', name));
    } catch {
      // another sweeper, or busy: left for the next run
    }
  }
}

/** A child copies PROBE_BYTES from one temp file to another, as linkmirror copies content. */
function probeCopy(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linkmirror-trace-probe-'));
  try {
    fs.writeFileSync(path.join(dir, 'a'), Buffer.alloc(PROBE_BYTES, 1));
    const script = `require('fs').copyFileSync(process.argv[1] + '/a', process.argv[1] + '/b')`;
    execFileSync(process.execPath, ['-e', script, dir], { stdio: 'ignore' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A tracing instance for this process's children, or why there is none. */
export function openContentTrace(): ContentTrace | string {
  try {
    if (!mounted()) execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
    if (!mounted()) return `no tracefs at ${TRACEFS}`;
  } catch (err) {
    return `cannot mount tracefs at ${TRACEFS} (${(err as Error).message.split('\n')[0]}; root needed)`;
  }
  sweepStale();
  const dir = path.join(TRACEFS, 'instances', `${INSTANCE_PREFIX}${process.pid}`);
  const put = (file: string, value: string | number): void => fs.writeFileSync(path.join(dir, file), `${value}\n`);
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    return `cannot make a tracing instance ${dir}: ${(err as NodeJS.ErrnoException).code}`;
  }
  const enable = (on: 0 | 1): void => {
    for (const e of EVENTS) put(`events/${e}/enable`, on);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    close();
    process.kill(process.pid, signal); // as if unhandled, now that the instance is gone
  };
  const close = (): void => {
    process.off('exit', close);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      put('tracing_on', 0);
      enable(0);
      fs.rmdirSync(dir);
    } catch {
      // already gone
    }
  };
  process.on('exit', close);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    put('tracing_on', 0);
    put('options/overwrite', 0); // a full buffer drops new events, and says so, rather than old ones
    put('buffer_size_kb', BUFFER_KB);
    put('set_event_pid', process.pid);
    put('options/event-fork', 1);
  } catch (err) {
    close();
    return `cannot set up the tracing instance: ${(err as Error).message}`;
  }
  const dropped = (): number => {
    let n = 0;
    for (const cpu of fs.readdirSync(path.join(dir, 'per_cpu'))) {
      const m = /^dropped events: (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'per_cpu', cpu, 'stats'), 'utf8'));
      n += m ? Number(m[1]) : 0;
    }
    return n;
  };
  const trace: ContentTrace = {
    start() {
      put('trace', ''); // clears the buffer and its counters
      enable(1);
      put('tracing_on', 1);
    },
    stop() {
      put('tracing_on', 0);
      enable(0);
      const lost = dropped();
      if (lost > 0) throw new Error(`the content trace dropped ${lost} events (buffer of ${BUFFER_KB} KiB per CPU full): its count would be short`);
      return contentBytesIn(fs.readFileSync(path.join(dir, 'trace'), 'utf8'));
    },
    close,
  };
  try {
    trace.start();
    probeCopy();
    const seen = trace.stop();
    if (seen !== PROBE_BYTES) {
      close();
      return `a probe copy of ${PROBE_BYTES} bytes in ${os.tmpdir()} was counted as ${seen} (a PID namespace, or a copy that is no copy_file_range)`;
    }
  } catch (err) {
    close();
    return `the probe copy failed: ${(err as Error).message.split('\n')[0]}`;
  }
  return trace;
}
