// One timed run of a tool for the measurements that count kernel writes (resume, rotation):
// drop the page cache, run the command under runCounted, `sync`, and put wall, CPU, peak RSS,
// write_bytes and (with ctx.contentTrace) the content bytes into the row. A run that times out or exits non-zero leaves its reason in the row.
import type { RunRecord, SizeContext } from './measurements.js';
import { runCounted, type CountedResult } from './kernel-io.js';
import { dropCaches, syncDisks } from './page-cache.js';

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Fill `record` from one run of `argv`; the run, or undefined when it failed (record.error says why). */
export function countedStep(ctx: SizeContext, record: RunRecord, argv: string[]): CountedResult | undefined {
  record.cachesDropped = ctx.dropCaches && dropCaches();
  const run = runCounted(argv, { timeoutS: ctx.timeoutS, contentTrace: ctx.contentTrace });
  record.syncS = syncDisks();
  if (run.timedOut) {
    record.error = `timed out after ${run.wallS} s (stopped)`;
    return undefined;
  }
  Object.assign(record, {
    wallS: run.wallS, userS: run.userS, sysS: run.sysS, cpuS: round(run.userS + run.sysS), maxRssMb: round(run.maxRssKb / 1024),
  });
  record.figures = { ...record.figures, writeBytes: run.writeBytes, cancelledWriteBytes: run.cancelledWriteBytes };
  if (run.contentBytes !== undefined) record.figures.contentBytes = run.contentBytes;
  if (run.exitCode !== 0) {
    record.error = `exit ${run.exitCode}${run.stderrTail ? `: ${run.stderrTail}` : ''}`;
    return undefined;
  }
  return run;
}
