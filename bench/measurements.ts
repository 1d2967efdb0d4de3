// What the benchmark measures, one small function per measurement. Each takes the context of one
// source tree and returns rows for the report; bench.ts decides which ones run.
//
// Here: measureFullCopy — one tool copies the whole tree into an empty destination:
//   drop caches → timed copy → timed `sync` (the dirty pages the tool left) → compareTopology →
//   remove the copy.
// The others have a file each: measure-resume.ts (kill and resume), measure-rotation.ts (the
// re-copy after an rsnapshot rotation), measure-verify.ts.
import path from 'node:path';
import { formatCount } from '../fixtures/counts.js';
import { compareTopology, type TopologyDiff, type TopologyDiffKind } from '../fixtures/topology.js';
import type { ContentTrace } from './content-trace.js';
import type { CopyTool } from './copy-tools.js';
import { dropCaches, syncDisks } from './page-cache.js';
import { removeTree, type SourceTree } from './source-trees.js';
import { timeIt, type Timing } from './timed-run.js';

export interface SizeContext {
  tree: SourceTree;
  workDir: string;
  /** Check file content (sha1) after each copy, not only topology and metadata. */
  content: boolean;
  dropCaches: boolean;
  /** Stop a tool that runs longer than this many seconds (no limit when undefined). */
  timeoutS?: number;
  /** Counts the bytes of file content each counted run writes (content-trace.ts; root). */
  contentTrace?: ContentTrace;
  log: (line: string) => void;
}

export interface CheckRecord {
  seconds: number;
  content: boolean;
  /** Same paths, types, sizes, symlink targets, link topology (and content when checked). */
  topologyOk: boolean;
  /** Same permission bits and mtimes (to the microsecond). */
  metadataOk: boolean;
  counts: Partial<Record<TopologyDiffKind, number>>;
  first: string[];
}

export interface RunRecord {
  measurement: string;
  tool: string;
  ok: boolean;
  error?: string;
  wallS?: number;
  userS?: number;
  sysS?: number;
  cpuS?: number;
  maxRssMb?: number;
  /** Seconds of the `sync` right after the tool exited. */
  syncS?: number;
  cachesDropped?: boolean;
  parts?: Record<string, Timing>;
  check?: CheckRecord;
  /** A measurement's own figures (bytes written, MB/s, ratios…), printed by its own table. */
  figures?: Record<string, number | string | boolean>;
}

const METADATA_KINDS: TopologyDiffKind[] = ['mode', 'mtime'];

export function checkCopy(src: string, dst: string, content: boolean): CheckRecord {
  const counts: Partial<Record<TopologyDiffKind, number>> = {};
  const onDiff = (d: TopologyDiff): void => { counts[d.kind] = (counts[d.kind] ?? 0) + 1; };
  const { value: diffs, seconds } = timeIt(() => compareTopology(src, dst, { content, maxDiffs: 20, onDiff }));
  const kinds = Object.keys(counts) as TopologyDiffKind[];
  return {
    seconds,
    content,
    topologyOk: kinds.every((k) => METADATA_KINDS.includes(k)),
    metadataOk: kinds.length === 0,
    counts,
    first: diffs.slice(0, 5).map((d) => `${d.kind} ${d.path}: ${d.detail}`),
  };
}

export function measureFullCopy(ctx: SizeContext, tool: CopyTool): RunRecord {
  const record: RunRecord = { measurement: 'full-copy', tool: tool.label, ok: false };
  const missing = tool.missing();
  if (missing !== null) {
    record.error = missing;
    ctx.log(`  ${tool.label}: skipped, ${missing}`);
    return record;
  }
  const dst = path.join(ctx.workDir, `copy-${tool.key}`);
  removeTree(dst);
  try {
    record.cachesDropped = ctx.dropCaches && dropCaches();
    ctx.log(`  ${tool.label}: copying ${formatCount(ctx.tree.paths)} paths`);
    const run = tool.copy(ctx.tree.dir, dst, ctx.timeoutS);
    record.syncS = syncDisks();
    if (run.timedOut) {
      record.error = `timed out after ${run.wallS} s (stopped)`;
      ctx.log(`  ${tool.label}: ${record.error}`);
      return record;
    }
    Object.assign(record, {
      wallS: run.wallS, userS: run.userS, sysS: run.sysS, cpuS: round(run.userS + run.sysS),
      maxRssMb: round(run.maxRssKb / 1024), parts: run.parts,
    });
    if (run.exitCode !== 0) {
      record.error = `exit ${run.exitCode}${run.stderrTail ? `: ${run.stderrTail}` : ''}`;
      ctx.log(`  ${tool.label}: failed, ${record.error}`);
      return record;
    }
    ctx.log(`  ${tool.label}: ${run.wallS} s wall, ${record.cpuS} s CPU, ${record.maxRssMb} MB; checking`);
    record.check = checkCopy(ctx.tree.dir, dst, ctx.content);
    record.ok = record.check.topologyOk;
    if (!record.check.metadataOk) ctx.log(`  ${tool.label}: differences ${JSON.stringify(record.check.counts)}; first: ${record.check.first[0]}`);
  } catch (err) {
    record.error = (err as Error).message;
    ctx.log(`  ${tool.label}: failed, ${record.error}`);
  } finally {
    removeTree(dst);
  }
  return record;
}

/** Every tool copies the tree in turn, cp -a first: the reference the report's ratios use. */
export function measureFullCopies(ctx: SizeContext, tools: CopyTool[]): RunRecord[] {
  return tools.map((tool) => measureFullCopy(ctx, tool));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
