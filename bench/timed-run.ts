// Runs one command under GNU time (/usr/bin/time, Debian package `time`) and reads back wall
// time, user and system CPU, and peak RSS. The CPU figures are the command's and every process
// it waited for; the peak RSS is that of the largest single process among them (the kernel
// reports the maximum, not a sum), so a pipeline run through `bash -c` reports its largest stage.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const GNU_TIME = '/usr/bin/time';
const FORMAT = '%e %U %S %M';

export interface Timing {
  wallS: number;
  userS: number;
  sysS: number;
  maxRssKb: number;
}

export interface TimedResult extends Timing {
  exitCode: number;
  /** Killed at the time limit; the figures are then unknown (wallS is the limit). */
  timedOut: boolean;
  /** The last lines the command wrote to stderr, for a failure message. */
  stderrTail: string;
}

/** Parse what `/usr/bin/time -f '%e %U %S %M' -o FILE` wrote (its last line; earlier ones are notes). */
export function readTiming(file: string): Timing {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const fields = lines[lines.length - 1].trim().split(/\s+/).map(Number);
  if (fields.length !== 4 || fields.some((n) => Number.isNaN(n))) throw new Error(`cannot read GNU time output: ${lines.join(' / ')}`);
  const [wallS, userS, sysS, maxRssKb] = fields;
  return { wallS, userS, sysS, maxRssKb };
}

/** A `/usr/bin/time` prefix writing to `file`, to put in front of a command inside a shell line. */
export function timePrefix(file: string): string[] {
  return [GNU_TIME, '-f', FORMAT, '-o', file];
}

export function tempTimingFile(label: string): string {
  return path.join(os.tmpdir(), `linkmirror-bench-${process.pid}-${label}.time`);
}

/** coreutils `timeout` exits with this when the limit was reached. */
const TIMED_OUT = 124;

/**
 * Run `argv` (no shell) under GNU time; stdout is discarded, stderr kept for errors. With
 * `timeoutS`, coreutils `timeout` runs it in its own process group and signals the whole group
 * (SIGTERM, SIGKILL 10 s later), so a pipeline's processes all stop.
 */
export function runTimed(argv: string[], opts: { cwd?: string; timeoutS?: number } = {}): TimedResult {
  const file = tempTimingFile('run');
  const limit = opts.timeoutS === undefined ? [] : ['timeout', '--kill-after=10', String(opts.timeoutS)];
  const [cmd, ...args] = [...limit, ...timePrefix(file), ...argv];
  const started = performance.now();
  try {
    const r = spawnSync(cmd, args, {
      cwd: opts.cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    const stderr = r.stderr.toString('utf8');
    const tail = stderr.trim().split('\n').filter((l) => !l.startsWith('Command exited with non-zero status')).slice(-5).join('\n');
    // 124 or 137 is also what a command killed on purpose returns (the resume measurement's
    // kills): only a run that lasted until the limit was stopped by it.
    const reachedLimit = opts.timeoutS !== undefined && (performance.now() - started) / 1000 >= opts.timeoutS;
    if (reachedLimit && (r.status === TIMED_OUT || r.status === 128 + 9)) {
      return { wallS: opts.timeoutS!, userS: NaN, sysS: NaN, maxRssKb: NaN, exitCode: r.status, timedOut: true, stderrTail: tail };
    }
    return { ...readTiming(file), exitCode: r.status ?? 128, timedOut: false, stderrTail: tail };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Wall seconds of a synchronous function. */
export function timeIt<T>(fn: () => T): { value: T; seconds: number } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
