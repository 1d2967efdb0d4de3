// `npm run bench`: linkmirror against cp -a, rsync -aH and tar on generated rsnapshot-like trees.
//
//   node dist/bench/bench.js [--sizes 100k,1M,3M | --quick] [--dir .bench-work] [--seed 1]
//                            [--tools cp,rsync,tar,linkmirror] [--content | --no-content]
//                            [--timeout SECONDS] [--no-drop-caches] [--fresh] [--remove-trees]
//                            [--measurements full,...]
//
// For each size: generate the source tree (or reuse the one from an earlier run), then run every
// measurement in MEASUREMENTS, print a markdown table, and at the end write all figures to
// <dir>/results-<date>.json. Progress goes to stderr, tables to stdout. The verify measurement
// hashes the same bytes with sha256sum and b3sum for reference (Debian packages coreutils, b3sum).
//
// resume: linkmirror copy SIGKILLed ten times, at seeded instants over the first 90 % of an
// uninterrupted run's wall time, and run again after each kill; beside the uninterrupted run, a
// re-run with nothing to do, and cp -a when chosen: wall, and the bytes the runs wrote as the
// kernel counts them (/proc/<pid>/io write_bytes) against the tree's bytes. rotation: an rsnapshot
// hourly rotation of a `cp -al` clone of the tree, re-copied by `linkmirror copy --delete` and
// `rsync -aH --delete`: wall and kernel write_bytes against each one's first copy and the bytes of
// the new inodes. Both need bash, GNU coreutils (timeout) and Linux's /proc/<pid>/io; as root, both
// also count the bytes of file content each run wrote, with the kernel's tracepoints (content-trace.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatCount, parseCount } from '../fixtures/counts.js';
import { allTools, type CopyTool } from './copy-tools.js';
import { measureFullCopies, type RunRecord, type SizeContext } from './measurements.js';
import { measureResume, resumeTable } from './measure-resume.js';
import { measureRotation, rotationTable } from './measure-rotation.js';
import { measureVerify, verifyTable } from './measure-verify.js';
import { openContentTrace } from './content-trace.js';
import { markdownTable, treeHeading } from './report.js';
import { GNU_TIME } from './timed-run.js';
import { removeTree, sourceTree, type SourceTree } from './source-trees.js';
import { lockWorkDir } from './work-lock.js';

/**
 * What runs for each tree, in order. `key` is what --measurements names; `table` prints the rows
 * of a measurement whose figures are not the full-copy columns (default: markdownTable).
 */
interface Measurement {
  key: string;
  run: (ctx: SizeContext, tools: CopyTool[]) => RunRecord[];
  table?: (runs: RunRecord[]) => string;
}
const MEASUREMENTS: Measurement[] = [
  { key: 'full', run: measureFullCopies },
  { key: 'resume', run: measureResume, table: resumeTable },
  { key: 'rotation', run: measureRotation, table: rotationTable },
  { key: 'verify', run: measureVerify, table: verifyTable },
];

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_SIZES = '100k,1M,3M';
const QUICK_SIZES = '20k,50k';
/** Above this many paths, content is not hashed unless --content is given. */
const CONTENT_CHECK_MAX = 1_000_000;

interface SizeResult {
  paths: number;
  tree: SourceTree;
  runs: RunRecord[];
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function options() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      dir: { type: 'string', default: path.join(REPO_ROOT, '.bench-work') },
      seed: { type: 'string', default: '1' },
      tools: { type: 'string', default: 'cp,rsync,tar,linkmirror' },
      content: { type: 'boolean', default: false },
      'no-content': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      'no-drop-caches': { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      'remove-trees': { type: 'boolean', default: false },
      measurements: { type: 'string' },
    },
  });
  const sizes = (values.sizes ?? (values.quick ? QUICK_SIZES : DEFAULT_SIZES)).split(',').map(parseCount);
  const wanted = values.tools.split(',');
  const tools = allTools(REPO_ROOT).filter((t) => wanted.includes(t.key));
  if (tools.length === 0) throw new Error(`no known tool in --tools ${values.tools} (cp, rsync, tar, linkmirror)`);
  const keys = MEASUREMENTS.map((m) => m.key);
  const chosen = values.measurements === undefined ? keys : values.measurements.split(',');
  const unknown = chosen.filter((k) => !keys.includes(k));
  if (unknown.length > 0) throw new Error(`unknown --measurements ${unknown.join(',')} (known: ${keys.join(', ')})`);
  return {
    sizes, tools, measurements: MEASUREMENTS.filter((m) => chosen.includes(m.key)), seed: Number(values.seed), workDir: path.resolve(values.dir),
    content: (paths: number) => (values.content ? true : values['no-content'] ? false : paths <= CONTENT_CHECK_MAX),
    dropCaches: !values['no-drop-caches'], fresh: values.fresh, removeTrees: values['remove-trees'],
    timeoutS: values.timeout === undefined ? undefined : Number(values.timeout),
  };
}

function main(): void {
  const opts = options();
  if (!fs.existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} not found: install GNU time (Debian package "time")`);
  fs.mkdirSync(opts.workDir, { recursive: true });
  const unlock = lockWorkDir(opts.workDir);
  const started = new Date();
  const results: SizeResult[] = [];
  const trace = openContentTrace();
  if (typeof trace === 'string') log(`content bytes not counted: ${trace}`);
  const contentTrace = typeof trace === 'string' ? undefined : trace;
  let cachesDropped: boolean | undefined;
  for (const paths of opts.sizes) {
    const tree = sourceTree(opts.workDir, paths, opts.seed, { fresh: opts.fresh, log });
    log(`${formatCount(paths)}: ${tree.stats.paths} paths, ${tree.stats.inodes} inodes in ${tree.dir}`);
    const ctx: SizeContext = { tree, workDir: opts.workDir, content: opts.content(paths), dropCaches: opts.dropCaches, timeoutS: opts.timeoutS,
      contentTrace, log };
    const runs = opts.measurements.flatMap((m) => m.run(ctx, opts.tools));
    cachesDropped ??= runs.find((r) => r.cachesDropped !== undefined)?.cachesDropped;
    results.push({ paths, tree, runs });
    process.stdout.write(`\n${treeHeading(tree)}\n`);
    for (const m of opts.measurements) {
      for (const name of new Set(runs.filter((r) => r.measurement.startsWith(m.key)).map((r) => r.measurement))) {
        const rows = runs.filter((r) => r.measurement === name);
        process.stdout.write(`\n${name}:\n\n${(m.table ?? markdownTable)(rows)}\n`);
      }
    }
    if (opts.removeTrees) removeTree(tree.dir);
  }
  process.stdout.write(`\nPage cache ${cachesDropped ? 'dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before each copy' : 'NOT dropped: warm-cache figures'}. ` +
    `Peak RSS is the largest single process (for rsync, the largest of its processes; for tar, the larger tar). ` +
    `sync s is the \`sync\` right after the tool exited.\n`);
  const file = path.join(opts.workDir, `results-${started.toISOString().slice(0, 19).replace(/:/g, '-')}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version };
  fs.writeFileSync(file, JSON.stringify({ started: started.toISOString(), machine, cachesDropped, seed: opts.seed, results }, null, 2) + '\n');
  log(`results written to ${file}`);
  contentTrace?.close();
  unlock();
}

try {
  main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
}
