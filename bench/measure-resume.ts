// 'resume': linkmirror copy killed with SIGKILL ten times and run again after each kill, against
// an uninterrupted run of the same copy (issue 3: all runs together should write ≤ 1.1 × the
// tree's physical bytes).
//
//   cp -a SRC DST (when cp is among --tools): what a copy that keeps no state writes; DST removed
//   `linkmirror copy SRC DST --quiet`: the reference, its wall W; the size of DST/.linkmirror;
//     then the same command again on the finished mirror (nothing to do: what every resume pays
//     before it gets back to work); DST removed
//   kill instants u_1 < … < u_10, seeded, one in each tenth of the first 90 % of W
//   run k is SIGKILLed u_k seconds after it starts, then one last run goes to the end; exit codes
//     137 (killed) ten times, then 0; compareTopology(SRC, DST); DST removed
//
// Killing run k at u_k of its own time (not u_k − u_{k−1}) is what spreads the kills over the
// copy: a resumed run redoes the scan and whatever else the copy does before it writes content,
// so at u_k it is at least where the uninterrupted copy was at u_k, and each kill lands further
// into the copy than the one before. Kills at the gaps between instants would all land in the
// scan once a restart costs more than W/10. The last 10 % of W is left out so that a resumed run,
// faster than W by what it skips, is still running when its instant comes; if one is not, it
// counts as a run that finished and the row says how many kills landed.
//
// Every run's bytes are the kernel's write_bytes (kernel-io.ts), summed over the runs; caches
// are dropped before every run, as after the reboot or replug that often precedes a resume.
import path from 'node:path';
import { createPrng } from '../fixtures/prng.js';
import type { CopyTool } from './copy-tools.js';
import { countedStep } from './counted-step.js';
import { censusTotals, takeCensus } from './inode-census.js';
import { runCounted } from './kernel-io.js';
import { LINKMIRROR_BIN } from './linkmirror-bin.js';
import { checkCopy, type RunRecord, type SizeContext } from './measurements.js';
import { dropCaches } from './page-cache.js';
import { removeTree } from './source-trees.js';
import { cell, mib, num, times } from './table-cells.js';

const KILLS = 10;
/** Kill instants fall in this leading share of the uninterrupted run's wall time. */
const SPAN = 0.9;
const KILLED = 128 + 9;
const STATE_DIR = '.linkmirror';

function linkmirrorArgv(src: string, dst: string): string[] {
  return [LINKMIRROR_BIN, 'copy', src, dst, '--quiet'];
}

/** Seconds after its start at which run k (0-based) is killed: sorted, one in each tenth of the span. */
export function killInstants(wallS: number, seed: number): number[] {
  const prng = createPrng(seed ^ 0x6b111);
  return Array.from({ length: KILLS }, (_, k) => (SPAN * wallS * (k + prng.next())) / KILLS);
}

function sum(list: number[]): number {
  return list.reduce((a, b) => a + b, 0);
}

function row(tool: string, run: string): RunRecord {
  return { measurement: 'resume', tool, ok: false, figures: { run } };
}

function stateBytes(dst: string): number {
  return censusTotals(takeCensus(path.join(dst, STATE_DIR))).bytes;
}

/** The copy killed at each instant and run again, then run to the end. */
function killedRuns(ctx: SizeContext, label: string, dst: string, referenceWallS: number): RunRecord {
  const record = row(label, `${KILLS} × kill -9, resumed`);
  const instants = killInstants(referenceWallS, ctx.tree.seed);
  const walls: number[] = [];
  const codes: number[] = [];
  const writes: number[] = [];
  const contents: number[] = [];
  const peaks: number[] = []; // MB, each run's: which run sets the row's peak
  let cpu = 0;
  let rss = 0;
  removeTree(dst);
  try {
    for (let k = 0; k <= KILLS; k++) {
      const killAfterS = instants[k];
      record.cachesDropped = ctx.dropCaches && dropCaches();
      const run = runCounted(linkmirrorArgv(ctx.tree.dir, dst), { timeoutS: ctx.timeoutS, killAfterS, contentTrace: ctx.contentTrace });
      if (run.timedOut) throw new Error(`run ${k + 1} timed out after ${run.wallS} s (stopped)`);
      walls.push(run.wallS);
      codes.push(run.exitCode);
      writes.push(run.writeBytes);
      if (run.contentBytes !== undefined) contents.push(run.contentBytes);
      cpu += run.userS + run.sysS;
      rss = Math.max(rss, run.maxRssKb / 1024);
      peaks.push(Math.round(run.maxRssKb / 1024));
      ctx.log(`  resume: run ${k + 1}${killAfterS === undefined ? '' : `, kill at ${killAfterS.toFixed(2)} s`}: ` +
        `exit ${run.exitCode}, ${run.wallS} s, ${run.writeBytes} bytes written` +
        `${run.contentBytes === undefined ? '' : ` (${run.contentBytes} of content)`}, peak RSS ${Math.round(run.maxRssKb / 1024)} MB`);
      if (run.exitCode === 0) break;
      if (run.exitCode !== KILLED || killAfterS === undefined) {
        throw new Error(`run ${k + 1} exit ${run.exitCode}${run.stderrTail ? `: ${run.stderrTail}` : ''}`);
      }
    }
    record.figures!.stateBytes = stateBytes(dst);
    ctx.log(`  resume: ${codes.length} runs, ${sum(walls).toFixed(1)} s, ${sum(writes)} bytes written; checking`);
    record.check = checkCopy(ctx.tree.dir, dst, ctx.content);
    record.ok = record.check.topologyOk;
  } catch (err) {
    record.error = (err as Error).message;
    ctx.log(`  resume: failed, ${record.error}`);
  } finally {
    // Whatever runs there were, also when one failed.
    if (codes.length > 0) Object.assign(record, { wallS: sum(walls), cpuS: Math.round(cpu * 100) / 100, maxRssMb: Math.round(rss) });
    const kills = codes.filter((c) => c === KILLED).length;
    // A resumed run can finish before the next planned instant (the instants come from one
    // uninterrupted run, and resumed runs have less to do): say how many kills there were.
    if (kills < KILLS && codes[codes.length - 1] === 0) record.figures!.run = `${kills} × kill -9 (of ${KILLS} planned; run ${codes.length} finished first), resumed`;
    Object.assign(record.figures!, {
      runs: codes.length, kills, writeBytes: sum(writes),
      ...(contents.length === codes.length && codes.length > 0 ? { contentBytes: sum(contents), runContentBytes: contents.join(',') } : {}),
      killAtS: instants.map((d) => d.toFixed(2)).join(','), exitCodes: codes.join(','), runWallS: walls.join(','), runWriteBytes: writes.join(','),
      runMaxRssMb: peaks.join(','),
    });
    removeTree(dst);
  }
  return record;
}

export function measureResume(ctx: SizeContext, tools: CopyTool[]): RunRecord[] {
  const linkmirror = tools.find((t) => t.key === 'linkmirror');
  if (linkmirror === undefined) {
    ctx.log('  resume: linkmirror not among --tools; nothing to measure');
    return [];
  }
  const missing = linkmirror.missing();
  if (missing !== null) return [{ ...row(linkmirror.label, 'uninterrupted'), error: missing }];
  const dst = path.join(ctx.workDir, 'resume-dst');
  const pageBytes = censusTotals(takeCensus(ctx.tree.dir)).pageBytes;
  const cp = tools.find((t) => t.key === 'cp' && t.missing() === null);
  const cpRecord = cp === undefined ? undefined : row(cp.label, 'uninterrupted');
  const reference = row(linkmirror.label, 'uninterrupted');
  const again = row(linkmirror.label, 'again, nothing to do');
  const records: RunRecord[] = [...(cpRecord === undefined ? [] : [cpRecord]), reference, again];
  try {
    if (cpRecord !== undefined) {
      removeTree(dst);
      ctx.log(`  resume: ${cpRecord.tool}, for reference`);
      cpRecord.ok = countedStep(ctx, cpRecord, ['cp', '-a', ctx.tree.dir, dst]) !== undefined;
      removeTree(dst);
    }
    ctx.log(`  resume: ${linkmirror.label}, uninterrupted`);
    reference.ok = countedStep(ctx, reference, linkmirrorArgv(ctx.tree.dir, dst)) !== undefined;
    if (reference.ok) {
      reference.figures!.stateBytes = stateBytes(dst);
      ctx.log(`  resume: ${linkmirror.label}, again on the finished mirror`);
      again.ok = countedStep(ctx, again, linkmirrorArgv(ctx.tree.dir, dst)) !== undefined;
      if (again.ok) again.figures!.stateBytes = stateBytes(dst);
      records.push(killedRuns(ctx, linkmirror.label, dst, reference.wallS!));
    } else {
      again.error = `no reference run: ${reference.error}`;
    }
  } catch (err) {
    for (const r of records) if (!r.ok && r.error === undefined) r.error = (err as Error).message;
    ctx.log(`  resume: failed, ${(err as Error).message}`);
  } finally {
    removeTree(dst);
  }
  const cpWrite = cpRecord?.ok ? (cpRecord.figures!.writeBytes as number) : undefined;
  const referenceWall = reference.ok ? reference.wallS : undefined;
  for (const r of records) {
    const f = r.figures!;
    const written = f.writeBytes as number | undefined;
    Object.assign(f, { treeBytes: ctx.tree.stats.bytes, treePageBytes: pageBytes });
    if (typeof f.contentBytes === 'number') f.contentPerTreeByte = f.contentBytes / ctx.tree.stats.bytes;
    if (written !== undefined) {
      f.writePerTreeByte = written / ctx.tree.stats.bytes;
      // Against cp -a only the rows that make the whole copy, as cp -a did.
      if (cpWrite !== undefined && r !== again) Object.assign(f, { writePerCp: written / cpWrite, writeBeyondCp: written - cpWrite });
    }
    if (referenceWall !== undefined && r.wallS !== undefined && r.tool === linkmirror.label) f.wallPerReference = r.wallS / referenceWall;
  }
  return records;
}

/** '137,137,137,0' → '137 ×3, 0'. */
function compactCodes(list: string): string {
  const out: string[] = [];
  let prev = '';
  let n = 0;
  for (const c of [...list.split(','), '']) {
    if (c === prev) {
      n++;
      continue;
    }
    if (prev !== '') out.push(n > 1 ? `${prev} ×${n}` : prev);
    prev = c;
    n = 1;
  }
  return out.join(', ');
}

function checkCell(r: RunRecord): string {
  if (r.error !== undefined) return `**failed**: ${cell(r.error)}`;
  if (!r.check) return '–';
  const counts = Object.entries(r.check.counts).map(([k, v]) => `${v} ${k}`).join(', ');
  if (!r.check.topologyOk) return `**no**: ${counts}`;
  return `yes${r.check.content ? ' (+content)' : ''}${r.check.metadataOk ? '' : `; ${counts}`}`;
}

export function resumeTable(runs: RunRecord[]): string {
  const g = runs[0]?.figures ?? {};
  const lines = [
    `Tree: ${mib(g.treeBytes as number)} MiB of content over distinct inodes, ${mib(g.treePageBytes as number)} MiB in whole 4 KiB pages. ` +
      'Written: the kernel\'s write_bytes, summed over the runs of a row (content, index, directories and inodes). ' +
      'Content: the bytes copy_file_range and sendfile returned (kernel tracepoints), summed likewise. ' +
      'Target (issue 3): the killed and resumed copy writes ≤ 1.1 × the tree\'s bytes.',
    '',
    '| tool | run | runs | exit codes | wall s | ×uninterrupted | CPU s | peak RSS MB | written MiB | ÷ tree bytes | ÷ cp -a\'s | beyond cp -a\'s MiB | content MiB | content ÷ tree bytes | .linkmirror MiB at end | topology |',
    '|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of runs) {
    const f = r.figures ?? {};
    const codes = typeof f.exitCodes === 'string' && f.exitCodes !== '' ? compactCodes(f.exitCodes)
      : r.wallS === undefined || r.error !== undefined ? '–' : '0';
    lines.push(`| ${cell(r.tool)} | ${f.run} | ${f.runs ?? (r.wallS === undefined ? '–' : 1)} | ${codes} | ${num(r.wallS)} | ` +
      `${times(f.wallPerReference as number | undefined)} | ${num(r.cpuS)} | ${num(r.maxRssMb, 0)} | ${mib(f.writeBytes as number | undefined)} | ` +
      `${times(f.writePerTreeByte as number | undefined)} | ${times(f.writePerCp as number | undefined)} | ${mib(f.writeBeyondCp as number | undefined)} | ` +
      `${mib(f.contentBytes as number | undefined)} | ${times(f.contentPerTreeByte as number | undefined, 3)} | ` +
      `${mib(f.stateBytes as number | undefined)} | ${checkCell(r)} |`);
  }
  return lines.join('\n');
}
