// `linkmirror scan SRC`: look before copying — the tree's paths, inodes, link groups and bytes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { checkPaths, resolveMaybeMissing } from '../../copy/check-paths.js';
import { scan } from '../../scan/scan.js';
import { STATE_DIR, stateDirInSource } from '../../state-dir.js';
import { Index } from '../../store/index-db.js';
import { LinkmirrorError } from '../../errors.js';
import { useSqliteTempDir } from '../../store/temp-dir.js';
import { ExitCode } from '../exit-codes.js';
import { outputMode, type OutputFlags } from '../output.js';
import { progressBar } from '../progress-bar.js';
import { scanLines, toJson } from '../report.js';

interface ScanFlags extends OutputFlags {
  index?: string;
}

export function registerScan(program: Command, setExit: (code: number) => void): void {
  program
    .command('scan')
    .argument('<src>', 'the tree to look at')
    .description('walk SRC and print its paths, distinct inodes, link groups and bytes')
    .option('--index <file>', 'keep the index in this file (default: a temporary file, removed afterwards)')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--json', 'print the summary as JSON')
    .option('--progress', 'draw the progress bar even when stdout is not a terminal (off a terminal: a progress line every 5 s on stderr)')
    .action(async (src: string, flags: ScanFlags) => {
      const out = outputMode(flags);
      // The same checks as copy, against a destination that cannot clash.
      const root = checkPaths(src, path.join(os.tmpdir(), `linkmirror-none-${process.pid}`)).src;
      const tmp = flags.index ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'linkmirror-scan-'));
      const file = flags.index || path.join(tmp!, 'index.db');
      // A mirror's own index holds its record of the copy and the manifest verify DST reads.
      if (flags.index && path.basename(path.dirname(resolveMaybeMissing(flags.index))) === STATE_DIR) {
        throw new LinkmirrorError('BAD_OPTION', `--index ${flags.index} is inside a mirror's state folder (${STATE_DIR}); a scan there would replace its record of the copy: give another file`);
      }
      const index = Index.open(file, { scratch: !flags.index });
      useSqliteTempDir(path.dirname(path.resolve(file))); // beside the index, once open made its folder (see store/temp-dir.ts)
      const progress = progressBar(out.bar, out.quiet);
      const leftOut = stateDirInSource(root);
      if (leftOut) progress.warn(leftOut);
      try {
        const result = await scan(root, index, { progress, walkThread: true });
        progress.close();
        if (flags.json) out.print(toJson({ src: root, ...result.totals, problems: result.problems, problemCount: result.problemCount }));
        else if (!out.quiet) out.print([`scanned ${root}`, ...scanLines(result.totals), `problems       ${result.problemCount}`].join('\n'));
        setExit(result.problemCount > 0 ? ExitCode.problems : ExitCode.ok);
      } finally {
        progress.close();
        index.close();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
}
