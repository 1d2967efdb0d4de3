// Bytes a command made the kernel write, counted by the kernel rather than by the tool's report.
//
// The command runs as the child of a small bash wrapper, itself under runTimed (GNU time). When
// a process is reaped, Linux adds its I/O counters — with those of all its threads, live or
// ended, and of every child it reaped — to its parent's (wait_task_zombie), so once the command
// is reaped, /proc/<bash>/io holds everything the command and its threads and children wrote.
// The wrapper reads that before it writes anything itself.
//
// A kill must keep that chain unbroken: `timeout --foreground -s KILL` kills only the command
// and then reaps it. (Without --foreground, timeout SIGKILLs its whole process group, itself
// included, and the orphaned command is reaped by init: its counters are lost.)
//
// write_bytes counts pages as they turn dirty, 4 KiB each (a 100-byte file costs 4096), whether
// or not they are later written back; a dirty page written again before writeback is counted
// once, again after it. Some filesystem metadata is counted too (on ext4, a new directory block
// costs 4096) and some is written by the kernel on no process's account (the journal), so the
// reference for "what a copy must write" is another tool measured the same way (cp -a), not
// the tree's byte count. cancelled_write_bytes counts dirty pages dropped unwritten (a file
// truncated or deleted before writeback). The content alone is counted apart, by the kernel's
// syscall tracepoints (content-trace.ts), when asked.
import fs from 'node:fs';
import type { ContentTrace } from './content-trace.js';
import { runTimed, tempTimingFile, type TimedResult } from './timed-run.js';

export interface CountedResult extends TimedResult {
  writeBytes: number;
  cancelledWriteBytes: number;
  /** With a content trace: the bytes of file content written (content-trace.ts). */
  contentBytes?: number;
}

const WRAPPER = `
out=$1; shift
"$@"
rc=$?
while read -r key value; do
  case $key in
    write_bytes:) w=$value ;;
    cancelled_write_bytes:) c=$value ;;
  esac
done < /proc/$$/io
printf '%s %s\\n' "$w" "$c" > "$out"
exit $rc
`;

export interface CountedOptions {
  timeoutS?: number;
  /** Send the command SIGKILL after this many seconds if it still runs (exit code 137 then). */
  killAfterS?: number;
  /** Also count the bytes of file content it writes (content-trace.ts). */
  contentTrace?: ContentTrace;
}

/** Run `argv` under runTimed and the kernel's write counters. */
export function runCounted(argv: string[], opts: CountedOptions = {}): CountedResult {
  const out = tempTimingFile('io');
  const kill = opts.killAfterS === undefined ? [] : ['timeout', '--foreground', '-s', 'KILL', opts.killAfterS.toFixed(3)];
  const trace = opts.contentTrace;
  try {
    trace?.start();
    let run: TimedResult;
    try {
      run = runTimed(['bash', '-c', WRAPPER, 'bench-io', out, ...kill, ...argv], { timeoutS: opts.timeoutS });
    } catch (err) {
      trace?.stop();
      throw err;
    }
    const contentBytes = trace?.stop();
    if (run.timedOut) return { ...run, writeBytes: NaN, cancelledWriteBytes: NaN };
    const [writeBytes, cancelledWriteBytes] = fs.readFileSync(out, 'utf8').trim().split(' ').map(Number);
    if (!Number.isFinite(writeBytes) || !Number.isFinite(cancelledWriteBytes)) throw new Error(`cannot read the I/O counters the wrapper wrote to ${out}`);
    return { ...run, writeBytes, cancelledWriteBytes, ...(contentBytes === undefined ? {} : { contentBytes }) };
  } finally {
    fs.rmSync(out, { force: true });
  }
}
