// `linkmirror copy SRC DST`: parses flags, calls the library, prints the summary.
import type { Command } from 'commander';
import { copy } from '../../copy/copy.js';
import { DEFAULT_DELETE_LIMIT, formatDeleteLimit, parseDeleteLimit } from '../../copy/delete-limit.js';
import { LinkmirrorError } from '../../errors.js';
import { ExitCode } from '../exit-codes.js';
import { progressBar } from '../progress-bar.js';
import { copyLines, planLines, toJson } from '../report.js';
import { stopOnSignals } from '../signals.js';
import { outputMode, type OutputFlags } from '../output.js';

interface CopyFlags extends OutputFlags {
  dryRun?: boolean;
  force?: boolean;
  delete?: boolean;
  maxDelete?: string;
  adopt?: boolean;
  checksum?: boolean;
  recheck?: boolean;
}

export function registerCopy(program: Command, setExit: (code: number) => void): void {
  program
    .command('copy')
    .argument('<src>', 'the tree to copy (read only, never written)')
    .argument('<dst>', 'an empty or new folder, or an earlier linkmirror mirror to continue')
    .description('copy SRC to DST keeping every hard link; content is written once per inode')
    .option('-n, --dry-run', 'print the plan (paths, inodes, links, bytes, expected splits) and write nothing; exits 2 or 3 when it says the copy would stop, as the copy would')
    .option('-f, --force', 'go on even when the destination looks too small, is under a mount point of /etc/fstab that is not mounted, or the source is empty and the mirror is not')
    .option('--delete', 'remove paths from the mirror that the source no longer has, as the index lists them (the state folder is kept); with --recheck, or after an interrupted run, the whole mirror is walked, so files put there by hand go too')
    .option('--max-delete <limit>', `with --delete: stop before writing anything when more paths would go than this, a number or a share of the mirror (default ${formatDeleteLimit(DEFAULT_DELETE_LIMIT)}: an unmounted, empty source must not empty the mirror); 100% allows any`)
    .option('--adopt', 'take over a destination filled without hard links (rsync -a, cp -r): keep files that match, link duplicates')
    .option('--checksum', 'with --adopt: a file matches only when its content is the same too, not just size and mtime; with --recheck: read every file of the mirror and of the source and copy again what differs (bit rot that verify found, or a source file rewritten keeping its size and mtime)')
    .option('--recheck', 'look at every path of the mirror, not only what changed: puts back files removed or replaced in the mirror by hand (and with --delete removes files added by hand)')
    .option('-q, --quiet', 'print nothing when all went well; the summary when some paths failed or the run was interrupted (and errors always)')
    .option('--json', 'print the summary as JSON')
    .option('--progress', 'draw the progress bar even when stdout is not a terminal (off a terminal: a progress line every 5 s on stderr)')
    .addHelpText(
      'after',
      `
The index is kept in DST/.linkmirror/. Run the same command again after an interruption and it
continues where it stopped; run it after the source changed (an rsnapshot rotation) and only
inodes new to the mirror are copied — the rest are linked or kept.

Examples:
  linkmirror copy /backup/snapshots /mnt/usb/snapshots
  linkmirror copy -n /backup/snapshots /mnt/usb/snapshots         # plan only
  linkmirror copy --delete /backup/snapshots /mnt/usb/snapshots   # also drop rotated-out snapshots
  linkmirror copy -n --delete /backup/snapshots /mnt/usb/snapshots  # plan, and what --delete would remove
  linkmirror copy --adopt /backup/snapshots /mnt/usb/old-rsync-copy`,
    )
    .action(async (src: string, dst: string, flags: CopyFlags) => {
      const maxDelete = flags.maxDelete === undefined ? undefined : parseDeleteLimit(flags.maxDelete);
      if (flags.maxDelete !== undefined && maxDelete === undefined) {
        throw new LinkmirrorError('BAD_OPTION', `--max-delete ${flags.maxDelete}: give a number of paths (500) or a share of the mirror (10%, at most 100%)`);
      }
      if (flags.checksum && !flags.adopt && !flags.recheck) {
        throw new LinkmirrorError('BAD_OPTION', '--checksum compares content, of the files --adopt takes over or the mirror --recheck looks at: give one of them too, or leave it out');
      }
      if (maxDelete !== undefined && !flags.delete) throw new LinkmirrorError('BAD_OPTION', '--max-delete limits --delete: give --delete too, or leave it out');
      const out = outputMode(flags);
      const progress = progressBar(out.bar, out.quiet);
      const signals = stopOnSignals(
        () => progress.warn('stopping after the current file (a second Ctrl-C or SIGTERM quits at once)'),
        () => progress.warn('quitting at once: run the same command again to continue'),
      );
      try {
        const summary = await copy(src, dst, {
          progress, dryRun: flags.dryRun, force: flags.force, delete: flags.delete, maxDelete, adopt: flags.adopt, checksum: flags.checksum, recheck: flags.recheck,
          shouldStop: signals.requested,
        });
        progress.close();
        if (flags.json) out.print(toJson(summary));
        // Quiet only when all went well: a cron job mails what is printed, not its exit code.
        else if (!out.quiet || summary.interrupted || summary.problemCount > 0) out.print((summary.dryRun ? planLines(summary) : copyLines(summary)).join('\n'));
        // A dry run whose plan says the copy would stop exits as that copy would (a script that
        // checks the plan by its exit code learnt nothing from 0): 3 too small or no hard links,
        // 2 the delete limit or an empty source. (Only a dry run's summary has these.)
        const refused = summary.capacityRefusal ? ExitCode.fatal : summary.deleteRefusal ? ExitCode.usage : undefined;
        setExit(summary.interrupted ? ExitCode.interrupted : refused ?? (summary.problemCount > 0 ? ExitCode.problems : ExitCode.ok));
      } finally {
        progress.close();
        signals.dispose();
      }
    });
}
