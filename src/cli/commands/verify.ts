// `linkmirror verify SRC DST` and `linkmirror verify DST`: parses flags, calls the library,
// prints the summary (or, with --json, every difference as it is read back).
import type { Command } from 'commander';
import { LinkmirrorError } from '../../errors.js';
import { parseSample } from '../../verify/sample.js';
import { verifyAgainstSource, verifyMirror, type Difference, type VerifyOptions, type VerifyReport } from '../../verify/verify.js';
import { ExitCode } from '../exit-codes.js';
import { outputMode, type OutputFlags } from '../output.js';
import { progressBar } from '../progress-bar.js';
import { toJson } from '../report.js';
import { stopOnSignals } from '../signals.js';
import { verifyLines } from '../verify-lines.js';

interface VerifyFlags extends OutputFlags {
  fast?: boolean;
  sample?: string;
  seed?: string;
  owner?: boolean;
  tempDir?: string;
}

export function registerVerify(program: Command, setExit: (code: number) => void): void {
  program
    .command('verify')
    .argument('<src-or-dst>', 'the source, or (alone) the mirror to check against its manifest')
    .argument('[dst]', 'the mirror to check against the source')
    .description('compare a mirror with its source (SRC DST), or with the manifest its copies recorded (DST)')
    .option('--fast', 'compare sizes and mtimes (and metadata, links) but read no content')
    .option('--sample <percent>', 'read the content of this share of the files, e.g. 5%')
    .option('--seed <n>', 'with --sample: choose the same files as the run that printed this seed')
    .option('--no-owner', 'do not compare owners (uid:gid)')
    .option('--temp-dir <dir>', 'where the work files go (about two indexes of the tree; default the system temp folder)')
    .option('-q, --quiet', 'print nothing when the trees match (the exit code tells it); the summary when they do not')
    .option('--json', 'print the report as JSON, with every difference')
    .option('--progress', 'draw the progress bar even when stdout is not a terminal (off a terminal: a progress line every 5 s on stderr)')
    .addHelpText(
      'after',
      `
Differences, by category: missing (in SRC, not in DST), extra (in DST, not in SRC; the state
folder .linkmirror is left out), type, size, content, mode, owner, mtime (compared to the
microsecond, or to the unit of a drive that keeps less), symlink (target), link-split (paths
that share an inode in SRC but not in DST; splits the copy made at the destination's link limit
are allowed and listed apart), link-merged (paths that share an inode in DST but not in
SRC) and source-inode (a mirror path that is the source's own file, not a copy). verify DST
also lists apart, and allows, the paths copies without --delete kept when the source lost them
(kept); both forms, mirror files also linked from outside the mirror (linked outside).

With SRC and DST the mirror may have been made by any tool (cp -a, rsync -aH). DST alone
needs a mirror made by linkmirror copy: its manifest (DST/.linkmirror/index.db) holds every
path's metadata and a SHA-256 of every inode, so bit rot shows as content differences.

Examples:
  linkmirror verify /backup/snapshots /mnt/usb/snapshots
  linkmirror verify --fast /backup/snapshots /mnt/usb/snapshots
  linkmirror verify /mnt/usb/snapshots                   # against its manifest
  linkmirror verify --sample 5% /mnt/usb/snapshots       # a quick look at 5% of the content`,
    )
    .action(async (first: string, second: string | undefined, flags: VerifyFlags) => {
      let sample: number | undefined;
      if (flags.sample !== undefined) {
        sample = parseSample(flags.sample);
        if (sample === undefined) throw new LinkmirrorError('BAD_OPTION', `--sample ${flags.sample}: give a share above 0% and at most 100%, e.g. 5%`);
      }
      if (flags.fast && sample !== undefined) throw new LinkmirrorError('BAD_OPTION', '--fast reads no content; --sample chooses which content to read: give one of them');
      let sampleSeed: number | undefined;
      if (flags.seed !== undefined) {
        sampleSeed = /^\d+$/.test(flags.seed) ? Number(flags.seed) : NaN;
        if (!(sampleSeed < 2 ** 31)) throw new LinkmirrorError('BAD_OPTION', `--seed ${flags.seed}: give the seed a sampled verify printed, a whole number below 2147483648`);
        if (sample === undefined) throw new LinkmirrorError('BAD_OPTION', '--seed chooses which files --sample reads: give --sample too');
      }
      const out = outputMode(flags);
      const progress = progressBar(out.bar, out.quiet);
      const signals = stopOnSignals(() => progress.warn('stopping (a second Ctrl-C or SIGTERM quits at once)'));
      // --json streams the differences: the document is opened before the first and closed with the summary.
      let listed = 0;
      const onDifference = flags.json
        ? (d: Difference) => {
            process.stdout.write((listed++ === 0 ? '{\n  "differences": [\n    ' : ',\n    ') + JSON.stringify(d));
          }
        : undefined;
      const options: VerifyOptions = {
        progress, fast: flags.fast, sample, sampleSeed, owner: flags.owner === false ? false : undefined, tempDir: flags.tempDir,
        onDifference, shouldStop: signals.requested,
      };
      try {
        const report: VerifyReport = second === undefined ? await verifyMirror(first, options) : await verifyAgainstSource(first, second, options);
        progress.close();
        if (flags.json) {
          const { differences: _firsts, ...summary } = report;
          process.stdout.write((listed === 0 ? '{\n  "differences": [' : '\n  ') + '],\n  "summary": ' + toJson(summary).replace(/\n/g, '\n  ') + '\n}\n');
        } else if (!out.quiet || !report.match) {
          // Quiet only when the mirror matched: a cron job mails what is printed, not its exit code.
          out.print(verifyLines(report).join('\n'));
        }
        setExit(report.match ? ExitCode.ok : ExitCode.problems);
      } finally {
        progress.close();
        signals.dispose();
      }
    });
}
