// The benchmark's source trees, generated once per (size, seed) and kept in the work dir between
// runs: generating 3M paths takes minutes and the tree is the same every time. A tree counts as
// ready only when its marker file (written last, beside the tree so no tool copies it) matches
// the size, seed and generator format; otherwise it is removed and generated again.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { formatCount } from '../fixtures/counts.js';
import { TREE_FORMAT, generateSnapshotTree, type SnapshotTreeStats } from '../fixtures/snapshot-tree.js';
import { timeIt } from './timed-run.js';

export interface SourceTree {
  dir: string;
  paths: number;
  seed: number;
  stats: SnapshotTreeStats;
  /** Seconds the generation took (when it was done, possibly in an earlier run). */
  generateS: number;
  reused: boolean;
}

interface Marker {
  format: number;
  paths: number;
  seed: number;
  stats: SnapshotTreeStats;
  generateS: number;
}

export function removeTree(dir: string): void {
  if (fs.existsSync(dir)) execFileSync('rm', ['-rf', '--', dir]);
}

export function sourceTree(workDir: string, paths: number, seed: number, opts: { fresh: boolean; log: (line: string) => void }): SourceTree {
  const dir = path.join(workDir, `src-${formatCount(paths)}-seed${seed}`);
  const markerFile = `${dir}.json`;
  if (!opts.fresh && fs.existsSync(markerFile) && fs.existsSync(dir)) {
    const m = JSON.parse(fs.readFileSync(markerFile, 'utf8')) as Marker;
    if (m.format === TREE_FORMAT && m.paths === paths && m.seed === seed) {
      return { dir, paths, seed, stats: m.stats, generateS: m.generateS, reused: true };
    }
  }
  fs.rmSync(markerFile, { force: true });
  removeTree(dir);
  opts.log(`generating ${formatCount(paths)} paths (seed ${seed}) in ${dir}`);
  const { value: stats, seconds } = timeIt(() => generateSnapshotTree(dir, { paths, seed }));
  const marker: Marker = { format: TREE_FORMAT, paths, seed, stats, generateS: seconds };
  fs.writeFileSync(markerFile, JSON.stringify(marker, null, 2) + '\n');
  return { dir, paths, seed, stats, generateS: seconds, reused: false };
}
