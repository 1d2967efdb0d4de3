// The verify measurement (issue 4): how fast `linkmirror verify` checks a mirror, next to plain
// hashing of the same bytes by sha256sum and b3sum on the same machine.
//
//   untimed setup: linkmirror copy SRC DST; list one path per distinct file inode of DST
//   then, each from a cold page cache, under GNU time:
//     verify SRC DST          content of both trees (each inode once per side) → MB/s, paths/s
//     verify DST              content of the mirror against its manifest        → MB/s, paths/s
//     verify DST --fast, verify SRC DST --fast    sizes and mtimes only          → paths/s
//     xargs -0 sha256sum / b3sum < list  — serially, and with verify's hashing threads (-P)
//   remove DST.
//
// MB/s is distinct inode bytes (the tree's file content, each inode once: tree.stats.bytes) per
// wall second, the same numerator for every row, so the rows compare as "time to check this
// tree". Against its source, verify reads those bytes twice (once per side); the "read" columns
// give what each run actually read, and the content phase alone (the report's hashMs).
//
// Why -P: sha256sum and b3sum hash one file after another (b3sum's own threads only split a
// large file, and these trees are mostly small files), while verify keeps DEFAULT_HASH_THREADS
// files in flight on a pool of threads — on a cold cache that is as much about keeping reads
// queued on the disk as about cores. The serial rows are what a user would type; the -P rows,
// the same parallelism as verify, are the fair bound for its content phase.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_HASH_THREADS } from '../src/verify/hash-engine.js';
import type { CopyTool } from './copy-tools.js';
import { distinctInodes, type DistinctInodes } from './distinct-inodes.js';
import type { RunRecord, SizeContext } from './measurements.js';
import { dropCaches } from './page-cache.js';
import { removeTree } from './source-trees.js';
import { runTimed, type TimedResult } from './timed-run.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(REPO_ROOT, 'bin/linkmirror.js');
const MEASUREMENT = 'verify';
/** Files per sha256sum/b3sum process with -P: verify's batch size (hash-inodes.ts), so the processes share the work evenly. */
const FILES_PER_PROCESS = 64;

/** The fields of `verify --json`'s summary this measurement reads. */
interface VerifySummary {
  match: boolean;
  differenceCount: number;
  problemCount: number;
  paths: { expected: number; actual: number };
  inodes: { expected: number; actual: number };
  inodesHashed: number;
  bytesHashed: number;
  hashMs: number;
  contentUnchecked: number;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((dir) => dir !== '' && fs.existsSync(path.join(dir, cmd)));
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number): number => bytes / 1e6;

/** The timing figures every row has. */
function timing(run: TimedResult): Partial<RunRecord> {
  return { wallS: run.wallS, userS: run.userS, sysS: run.sysS, cpuS: round(run.userS + run.sysS), maxRssMb: round(run.maxRssKb / 1024) };
}

/** A timed run that failed to give figures: timed out, or a non-zero exit. */
function failure(run: TimedResult): string | undefined {
  if (run.timedOut) return `timed out after ${run.wallS} s (stopped)`;
  if (run.exitCode !== 0) return `exit ${run.exitCode}${run.stderrTail ? `: ${run.stderrTail}` : ''}`;
  return undefined;
}

/**
 * One `linkmirror verify … --json`, through its shebang as a user runs it. GNU time times
 * `sh -c 'exec …'`: the shell becomes linkmirror, so the figures are linkmirror's alone, while
 * stdout (the JSON report) goes to a file the bench reads back.
 */
function timedVerify(ctx: SizeContext, label: string, args: string[], fast: boolean): RunRecord {
  const record: RunRecord = { measurement: MEASUREMENT, tool: label, ok: false };
  const json = path.join(ctx.workDir, 'verify-report.json');
  try {
    record.cachesDropped = ctx.dropCaches && dropCaches();
    ctx.log(`  ${label}`);
    const run = runTimed(['sh', '-c', 'out=$1; shift; exec "$@" > "$out"', 'sh', json, BIN, 'verify', ...args, '--json'], { timeoutS: ctx.timeoutS });
    record.figures = { exit: run.exitCode };
    if (run.timedOut) return { ...record, error: failure(run) };
    Object.assign(record, timing(run));
    const s = (JSON.parse(fs.readFileSync(json, 'utf8')) as { summary: VerifySummary }).summary;
    const { paths, bytes } = ctx.tree.stats;
    Object.assign(record.figures, {
      pathsPerS: round(paths / run.wallS, 0),
      checkedPaths: s.paths.actual,
      checkedInodes: s.inodes.actual,
      inodesHashed: s.inodesHashed,
      bytesRead: s.bytesHashed,
      differences: s.differenceCount,
      problems: s.problemCount,
      contentUnchecked: s.contentUnchecked,
      ...(fast ? {} : { mbPerS: round(mb(bytes) / run.wallS, 1), contentS: round(s.hashMs / 1000), contentMbPerS: round(mb(s.bytesHashed) / (s.hashMs / 1000), 1) }),
    });
    record.error = failure(run) ?? (s.match && s.differenceCount === 0 ? undefined : `${s.differenceCount} differences, ${s.problemCount} problems`);
    record.ok = record.error === undefined;
    ctx.log(`  ${label}: ${run.wallS} s, exit ${run.exitCode}, ${s.inodesHashed} inodes hashed, ${s.differenceCount} differences`);
  } catch (err) {
    record.error = (err as Error).message;
  } finally {
    fs.rmSync(json, { force: true });
  }
  if (record.error) ctx.log(`  ${label}: failed, ${record.error}`);
  return record;
}

/** `xargs -0 [-P n -n FILES] cmd < list > /dev/null`: raw hashing of the distinct inodes. */
function timedRawHash(ctx: SizeContext, list: DistinctInodes, cmd: string, parallel: number): RunRecord {
  const label = parallel > 1 ? `xargs -0 -P${parallel} -n${FILES_PER_PROCESS} ${cmd}` : `xargs -0 ${cmd}`;
  const record: RunRecord = { measurement: MEASUREMENT, tool: label, ok: false };
  const absent = ['xargs', cmd].filter((c) => !onPath(c));
  if (absent.length > 0) {
    record.error = `not installed: ${absent.join(', ')}`;
    ctx.log(`  ${label}: skipped, ${record.error}`);
    return record;
  }
  record.cachesDropped = ctx.dropCaches && dropCaches();
  ctx.log(`  ${label}`);
  const xargs = parallel > 1 ? `xargs -0 -P${parallel} -n${FILES_PER_PROCESS}` : 'xargs -0';
  const run = runTimed(['sh', '-c', `exec ${xargs} ${cmd} < "$1" > /dev/null`, 'sh', list.file], { timeoutS: ctx.timeoutS });
  record.figures = { exit: run.exitCode };
  if (!run.timedOut) {
    Object.assign(record, timing(run));
    Object.assign(record.figures, { mbPerS: round(mb(ctx.tree.stats.bytes) / run.wallS, 1), bytesRead: list.bytes, inodesHashed: list.inodes });
  }
  record.error = failure(run);
  record.ok = record.error === undefined;
  ctx.log(`  ${label}: ${run.wallS} s${record.error ? `, failed: ${record.error}` : ''}`);
  return record;
}

export function measureVerify(ctx: SizeContext, tools: CopyTool[]): RunRecord[] {
  const linkmirror = tools.find((t) => t.key === 'linkmirror');
  const skipped = (error: string): RunRecord[] => [{ measurement: MEASUREMENT, tool: 'linkmirror verify', ok: false, error }];
  if (!linkmirror) return skipped('skipped: --tools does not name linkmirror');
  const missing = linkmirror.missing();
  if (missing !== null) return skipped(missing);
  const src = ctx.tree.dir;
  const dst = path.join(ctx.workDir, 'verify-mirror');
  const listFile = path.join(ctx.workDir, 'verify-inodes.list');
  removeTree(dst);
  try {
    ctx.log(`  verify: copying the mirror (untimed setup)`);
    const copy = linkmirror.copy(src, dst, ctx.timeoutS);
    const copyFailed = failure(copy);
    if (copyFailed) return skipped(`setup copy failed: ${copyFailed}`);
    const list = distinctInodes(dst, listFile, ['.linkmirror']);
    if (list.bytes !== ctx.tree.stats.bytes) ctx.log(`  verify: the mirror holds ${list.bytes} bytes of distinct inodes, the tree ${ctx.tree.stats.bytes}`);
    const runs = [
      timedVerify(ctx, 'verify SRC DST (reads both trees)', [src, dst], false),
      timedVerify(ctx, 'verify DST (against its manifest)', [dst], false),
      timedVerify(ctx, 'verify SRC DST --fast', [src, dst, '--fast'], true),
      timedVerify(ctx, 'verify DST --fast', [dst, '--fast'], true),
    ];
    for (const cmd of ['sha256sum', 'b3sum']) {
      runs.push(timedRawHash(ctx, list, cmd, 1), timedRawHash(ctx, list, cmd, DEFAULT_HASH_THREADS));
    }
    for (const r of runs) r.figures = { ...r.figures, treeBytes: ctx.tree.stats.bytes, treePaths: ctx.tree.stats.paths, copyWallS: copy.wallS };
    return runs;
  } finally {
    removeTree(dst);
    fs.rmSync(listFile, { force: true });
  }
}

/** A cell of the table: – when the figure is absent. */
function fig(r: RunRecord, key: string, format: (n: number) => string = String): string {
  const v = r.figures?.[key];
  return typeof v === 'number' ? format(v) : '–';
}

const count = (n: number): string => n.toLocaleString('en-US');

function checked(r: RunRecord): string {
  const f = r.figures ?? {};
  if (f.differences === undefined) return typeof f.inodesHashed === 'number' ? `${count(f.inodesHashed)} inodes` : '–';
  return `${count(f.checkedPaths as number)} paths, ${count(f.checkedInodes as number)} inodes; ${count(f.inodesHashed as number)} hashed; ` +
    `${f.differences} differences, ${f.problems} problems`;
}

export function verifyTable(runs: RunRecord[]): string {
  const lines = [
    '| run | wall s | CPU s | peak RSS MB | paths/s | MB/s | read MB | content s | content read MB/s | exit | checked |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of runs) {
    const err = r.error === undefined ? '' : ` **${r.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')}**`;
    if (r.wallS === undefined) {
      lines.push(`| ${r.tool} |${err} | | | | | | | | ${fig(r, 'exit')} | |`);
      continue;
    }
    lines.push(`| ${r.tool} | ${r.wallS.toFixed(1)} | ${r.cpuS?.toFixed(1) ?? '–'} | ${r.maxRssMb?.toFixed(0) ?? '–'} | ` +
      `${fig(r, 'pathsPerS', count)} | ${fig(r, 'mbPerS', (n) => n.toFixed(1))} | ${fig(r, 'bytesRead', (n) => mb(n).toFixed(0))} | ` +
      `${fig(r, 'contentS', (n) => n.toFixed(1))} | ${fig(r, 'contentMbPerS', (n) => n.toFixed(1))} | ${fig(r, 'exit')} | ${checked(r)}${err} |`);
  }
  const f = runs.find((r) => r.figures?.treeBytes !== undefined)?.figures;
  if (f) {
    const cold = runs.every((r) => r.cachesDropped !== false);
    lines.push('', `${cold ? 'Each run from a cold page cache' : 'Page cache NOT dropped: warm-cache figures'}. MB/s: the tree's distinct inode bytes (${mb(f.treeBytes as number).toFixed(0)} MB, each file inode once) ` +
      `per wall second; paths/s: its ${count(f.treePaths as number)} paths per wall second. verify SRC DST scans both trees and reads those bytes ` +
      `twice, once per tree (read MB); content s / content read MB/s: verify's content phase alone (its report's hashMs), the rest is scanning and comparing. ` +
      `-P rows: as many sha256sum/b3sum processes as verify has hashing threads (${DEFAULT_HASH_THREADS}), ${FILES_PER_PROCESS} files each. ` +
      `Setup copy (untimed): ${(f.copyWallS as number).toFixed(1)} s.`);
  }
  return lines.join('\n');
}
