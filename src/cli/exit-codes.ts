// Exit codes, in one place (after rclone's lib/exitcode). Documented in the README and --help;
// a cron job acts on them, so they never change meaning.
import { isLinkmirrorError } from '../errors.js';

export const ExitCode = {
  /** Everything was done (copy) or the trees match (verify). */
  ok: 0,
  /** Finished, but some paths failed (copy) or differences were found (verify). */
  problems: 1,
  /** Bad arguments or input: nothing was written. */
  usage: 2,
  /** Stopped: disk full, index failure, destination unusable. */
  fatal: 3,
  /** Stopped by Ctrl-C or SIGTERM after a clean checkpoint; run the same command to continue. */
  interrupted: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (isLinkmirrorError(err)) {
    if (err.code === 'INTERRUPTED') return ExitCode.interrupted;
    return err.kind === 'usage' ? ExitCode.usage : ExitCode.fatal;
  }
  return ExitCode.fatal;
}

export const EXIT_CODES_HELP = `
Exit codes:
  0    copy: all copied; verify: the trees match
  1    copy: finished, but some paths could not be copied; verify: differences found
  2    usage error or bad input: nothing was written (also: --delete would remove more than
       --max-delete allows; a drive not mounted: DST under an fstab mount point with nothing
       mounted, or SRC empty and the mirror not; verify DST of a folder without a manifest)
  3    fatal: destination full, too small or unusable, index failure or in use by another linkmirror
  130  interrupted (Ctrl-C or SIGTERM); run the same command again to continue
  143  a second Ctrl-C or SIGTERM that was SIGTERM (two within a second are one, as timeout(1)
       sends them): quit at once; run the same command again`;
