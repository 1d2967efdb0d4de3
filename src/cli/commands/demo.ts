// `linkmirror demo`: make a small rsnapshot-like tree in a temp folder (git cannot store hard
// links, so the project generates it), copy it, and show that the topology matched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { generateDemoTree } from '../../../fixtures/snapshot-tree.js';
import { compareTopology } from '../../../fixtures/topology.js';
import { copy } from '../../copy/copy.js';
import { ExitCode } from '../exit-codes.js';
import { progressBar } from '../progress-bar.js';
import { copyLines } from '../report.js';

export function registerDemo(program: Command, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('generate a small snapshot tree in a temp folder, copy it, and check the copy')
    .option('--keep', 'keep the demo folders instead of removing them')
    .action(async (flags: { keep?: boolean }) => {
      const base = fs.mkdtempSync(path.join(os.tmpdir(), 'linkmirror-demo-'));
      const src = path.join(base, 'snapshots');
      const dst = path.join(base, 'mirror');
      try {
        generateDemoTree(src);
        process.stdout.write(`demo tree generated in ${src}\n\n$ linkmirror copy ${src} ${dst}\n`);
        const progress = progressBar(Boolean(process.stdout.isTTY), false);
        const summary = await copy(src, dst, { progress });
        progress.close();
        process.stdout.write(copyLines(summary).join('\n') + '\n\n');
        const diffs = compareTopology(src, dst);
        if (diffs.length === 0) {
          process.stdout.write('topology matched: every path, its content, metadata and hard links are the same in the copy\n');
          setExit(summary.problemCount > 0 ? ExitCode.problems : ExitCode.ok);
        } else {
          process.stdout.write(`topology did NOT match (${diffs.length} differences):\n`);
          for (const d of diffs.slice(0, 20)) process.stdout.write(`  ${JSON.stringify(d)}\n`);
          setExit(ExitCode.problems);
        }
        if (flags.keep) process.stdout.write(`kept: ${base}\n`);
      } finally {
        if (!flags.keep) fs.rmSync(base, { recursive: true, force: true });
      }
    });
}
