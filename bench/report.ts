// The benchmark's output: one markdown table per source tree and measurement, with each tool's
// figures and its ratio to cp -a (the reference: everyone has it, and it keeps hard links).
import { formatCount } from '../fixtures/counts.js';
import type { RunRecord } from './measurements.js';
import type { SourceTree } from './source-trees.js';

const REFERENCE = 'cp -a';

function num(n: number | undefined, digits = 1): string {
  return n === undefined ? '–' : n.toFixed(digits);
}

function ratio(n: number | undefined, ref: number | undefined): string {
  if (n === undefined || ref === undefined || ref === 0) return '–';
  return `${(n / ref).toFixed(2)}×`;
}

function checkCell(r: RunRecord): [string, string] {
  if (!r.check) return ['–', '–'];
  const c = r.check;
  const counts = Object.entries(c.counts).map(([k, v]) => `${v} ${k}`).join(', ');
  return [
    c.topologyOk ? `yes${c.content ? ' (+content)' : ''}` : `**no**: ${counts}`,
    c.metadataOk ? 'yes' : c.topologyOk ? `no: ${counts}` : 'see topology',
  ];
}

export function treeHeading(tree: SourceTree): string {
  const s = tree.stats;
  return `### ${formatCount(tree.paths)} paths (seed ${tree.seed}): ${s.paths} paths, ${s.inodes} inodes, ` +
    `${(s.bytes / 2 ** 20).toFixed(0)} MiB in ${s.snapshots.length} snapshots; generated in ${tree.generateS.toFixed(1)} s` +
    (tree.reused ? ' (earlier run)' : '');
}

/** A table cell: a literal | would end the cell, a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(runs: RunRecord[]): string {
  const ref = runs.find((r) => r.tool === REFERENCE && r.wallS !== undefined && r.error === undefined);
  const lines = [
    '| tool | wall s | ×cp | CPU s | ×cp | peak RSS MB | ×cp | sync s | topology | mode+mtime | check s |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|---|--:|',
  ];
  for (const r of runs) {
    if (r.error !== undefined && r.wallS === undefined) {
      lines.push(`| ${cell(r.tool)} | ${cell(r.error)} | | | | | | | | | |`);
      continue;
    }
    const [topo, meta] = r.error !== undefined ? [`**failed**: ${cell(r.error)}`, '–'] : checkCell(r);
    lines.push(`| ${cell(r.tool)} | ${num(r.wallS)} | ${ratio(r.wallS, ref?.wallS)} | ${num(r.cpuS)} | ${ratio(r.cpuS, ref?.cpuS)} | ` +
      `${num(r.maxRssMb, 0)} | ${ratio(r.maxRssMb, ref?.maxRssMb)} | ${num(r.syncS)} | ${topo} | ${meta} | ${num(r.check?.seconds)} |`);
  }
  return lines.join('\n');
}
