// 'rotation': the re-copy after an rsnapshot hourly rotation of the source, by linkmirror and by
// rsync -aH --delete beside it (issue 3: linkmirror should write ≤ 1.2 × the bytes of the inodes
// that are new, in ≤ 15 % of the wall time of its first copy).
//
//   cp -al TREE CLONE              a private source: it shares every inode with the cached tree,
//                                  and the rotation only renames, links and writes new files
//   first copies, caches dropped:  linkmirror copy CLONE LM;  rsync -aH CLONE/ RS/
//   census of CLONE's file inodes → rotateSnapshotTree(CLONE) → census again: the new inodes
//   re-copies, caches dropped:     linkmirror copy CLONE LM --delete;  rsync -aH --delete CLONE/ RS/
//   compareTopology of each mirror against CLONE; then a second rotation, census and re-copies
//   CLONE and the mirrors removed
//
// Every run's write_bytes comes from the kernel (kernel-io.ts). The cached tree's inodes are
// never freed (it links them), so an inode number seen after the rotation and not before is a
// new file, never a reused number.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { rotateSnapshotTree, type RotationCounts } from '../fixtures/rotate.js';
import type { CopyTool } from './copy-tools.js';
import { countedStep } from './counted-step.js';
import { censusTotals, takeCensus, type CensusTotals } from './inode-census.js';
import { LINKMIRROR_BIN } from './linkmirror-bin.js';
import { checkCopy, type RunRecord, type SizeContext } from './measurements.js';
import { removeTree } from './source-trees.js';
import { cell, mib, num, times } from './table-cells.js';

interface IncrementalTool {
  key: string;
  first: (src: string, dst: string) => string[];
  again: (src: string, dst: string) => string[];
  label: string;
  /**
   * Whether its content goes through copy_file_range/sendfile, which content-trace.ts counts.
   * rsync's receiver write(2)s it, as it writes to its pipes: no count is given for rsync.
   */
  contentCounted: boolean;
}

const INCREMENTAL_TOOLS: IncrementalTool[] = [
  {
    key: 'linkmirror', label: 'linkmirror copy', contentCounted: true,
    first: (src, dst) => [LINKMIRROR_BIN, 'copy', src, dst, '--quiet'],
    again: (src, dst) => [LINKMIRROR_BIN, 'copy', src, dst, '--delete', '--quiet'],
  },
  {
    key: 'rsync', label: 'rsync -aH', contentCounted: false,
    first: (src, dst) => ['rsync', '-aH', `${src}/`, `${dst}/`],
    again: (src, dst) => ['rsync', '-aH', '--delete', `${src}/`, `${dst}/`],
  },
];

const FIRST = 'first copy';
/**
 * Two rotations: the first incremental run with --delete builds the index's by-path lookup of
 * the source once (later scans keep it up to date), so the second is what a nightly job costs.
 */
const ROUNDS = ['after rotation 1', 'after rotation 2'];

function rotationFigures(counts: RotationCounts, fresh: CensusTotals): Record<string, number | string> {
  return {
    removedSnapshot: counts.removed, changed: counts.changed, added: counts.added, deleted: counts.deleted, moved: counts.moved,
    dirsAdded: counts.dirsAdded, dirsDeleted: counts.dirsDeleted,
    newInodes: fresh.inodes, newBytes: fresh.bytes, newPageBytes: fresh.pageBytes,
  };
}

export function measureRotation(ctx: SizeContext, tools: CopyTool[]): RunRecord[] {
  const chosen = INCREMENTAL_TOOLS.filter((t) => tools.some((u) => u.key === t.key));
  if (chosen.length === 0) {
    ctx.log('  rotation: neither linkmirror nor rsync among --tools; nothing to measure');
    return [];
  }
  const clone = path.join(ctx.workDir, 'rotation-src');
  const mirrors = chosen.map((tool) => ({
    tool,
    ctx: tool.contentCounted ? ctx : { ...ctx, contentTrace: undefined },
    dst: path.join(ctx.workDir, `rotation-${tool.key}`),
    first: { measurement: 'rotation', tool: tool.label, ok: false, figures: { run: FIRST } } as RunRecord,
    again: ROUNDS.map((run) => ({ measurement: 'rotation', tool: `${tool.label} --delete`, ok: false, figures: { run } }) as RunRecord),
  }));
  const missing = (tool: IncrementalTool): string | null => tools.find((u) => u.key === tool.key)!.missing();
  try {
    removeTree(clone);
    for (const m of mirrors) removeTree(m.dst);
    ctx.log(`  rotation: cp -al into ${clone}`);
    execFileSync('cp', ['-al', '--', ctx.tree.dir, clone]);
    for (const m of mirrors) {
      const why = missing(m.tool);
      if (why !== null) {
        m.first.error = why;
        for (const r of m.again) r.error = why;
        continue;
      }
      ctx.log(`  rotation: ${m.tool.label}, first copy`);
      m.first.ok = countedStep(m.ctx, m.first, m.tool.first(clone, m.dst)) !== undefined;
    }
    for (let round = 0; round < ROUNDS.length; round++) {
      const before = takeCensus(clone);
      ctx.log(`  rotation: rotating hourly (${ROUNDS[round]})`);
      const counts = rotateSnapshotTree(clone, { paths: ctx.tree.paths, seed: ctx.tree.seed, earlier: round });
      const fresh = censusTotals(takeCensus(clone), (key) => !before.has(key));
      ctx.log(`  rotation: ${counts.changed} changed, ${counts.added} added, ${counts.deleted} deleted; ${fresh.inodes} new inodes, ${fresh.bytes} bytes`);
      for (const m of mirrors) {
        const again = m.again[round];
        Object.assign(again.figures!, rotationFigures(counts, fresh));
        if (again.error !== undefined) continue;
        const previous = round === 0 ? m.first : m.again[round - 1];
        if (!previous.ok) {
          again.error = `${previous.figures?.run} failed: ${previous.error}`;
          continue;
        }
        ctx.log(`  rotation: ${m.tool.label}, ${ROUNDS[round]}`);
        const run = countedStep(m.ctx, again, m.tool.again(clone, m.dst));
        if (run === undefined) {
          ctx.log(`  rotation: ${m.tool.label} failed, ${again.error}`);
          continue;
        }
        Object.assign(again.figures!, {
          writePerNewByte: run.writeBytes / fresh.bytes,
          writePerNewPage: run.writeBytes / fresh.pageBytes,
          wallPerFirst: run.wallS / m.first.wallS!,
          ...(run.contentBytes === undefined ? {} : { contentPerNewByte: run.contentBytes / fresh.bytes }),
        });
        ctx.log(`  rotation: ${m.tool.label} ${run.wallS} s, ${run.writeBytes} bytes written; checking`);
        again.check = checkCopy(clone, m.dst, ctx.content);
        again.ok = again.check.topologyOk;
      }
    }
  } catch (err) {
    for (const m of mirrors) {
      for (const r of [m.first, ...m.again]) if (r.error === undefined && !r.ok) r.error = (err as Error).message;
    }
    ctx.log(`  rotation: failed, ${(err as Error).message}`);
  } finally {
    removeTree(clone);
    for (const m of mirrors) removeTree(m.dst);
  }
  return mirrors.flatMap((m) => [m.first, ...m.again]);
}

function checkCells(r: RunRecord): [string, string] {
  if (r.error !== undefined) return [`**failed**: ${cell(r.error)}`, '–'];
  if (!r.check) return ['–', '–'];
  const counts = Object.entries(r.check.counts).map(([k, v]) => `${v} ${k}`).join(', ');
  return [
    r.check.topologyOk ? `yes${r.check.content ? ' (+content)' : ''}` : `**no**: ${counts}`,
    r.check.metadataOk ? 'yes' : r.check.topologyOk ? `no: ${counts}` : 'see topology',
  ];
}

export function rotationTable(runs: RunRecord[]): string {
  const f = runs.find((r) => r.figures?.run === ROUNDS[0] && r.figures.newBytes !== undefined)?.figures;
  const lines: string[] = [];
  if (f) {
    lines.push(`Rotation: ${f.removedSnapshot} removed, the other hourlies renamed up, \`cp -al hourly.1 hourly.0\`; in hourly.0 ` +
      `${f.changed} files changed, ${f.added} added, ${f.deleted} deleted, ${f.moved} moved, ${f.dirsAdded} dirs added, ` +
      `${f.dirsDeleted} removed: ${f.newInodes} new inodes, ${mib(f.newBytes as number)} MiB ` +
      `(${mib(f.newPageBytes as number)} MiB in whole 4 KiB pages, as write_bytes counts file data). ` +
      'Written: the kernel\'s write_bytes (content, index, directories and inodes); content: the bytes copy_file_range and ' +
      'sendfile returned (kernel tracepoints). Targets for linkmirror: written ≤ 1.2 × new bytes, wall ≤ 0.15 × its first copy.', '');
  }
  lines.push(
    '| tool | run | wall s | ÷ its first copy | CPU s | peak RSS MB | sync s | written MiB | ÷ new bytes | ÷ new pages | content MiB | content ÷ new bytes | topology | mode+mtime |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|',
  );
  for (const r of runs) {
    const g = r.figures ?? {};
    const [topo, meta] = checkCells(r);
    lines.push(`| ${cell(r.tool)} | ${g.run} | ${num(r.wallS)} | ${times(g.wallPerFirst as number | undefined)} | ${num(r.cpuS)} | ` +
      `${num(r.maxRssMb, 0)} | ${num(r.syncS)} | ${mib(g.writeBytes as number | undefined)} | ` +
      `${times(g.writePerNewByte as number | undefined)} | ${times(g.writePerNewPage as number | undefined)} | ` +
      `${mib(g.contentBytes as number | undefined)} | ${times(g.contentPerNewByte as number | undefined, 3)} | ${topo} | ${meta} |`);
  }
  return lines.join('\n');
}
