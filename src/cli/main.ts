// The command line: commander wiring, and the one place that turns errors into words and exit
// codes. Each command lives in its own thin file under commands/.
import { Command, CommanderError } from 'commander';
import { isLinkmirrorError } from '../errors.js';
import { registerCopy } from './commands/copy.js';
import { registerDemo } from './commands/demo.js';
import { registerScan } from './commands/scan.js';
import { registerVerify } from './commands/verify.js';
import { EXIT_CODES_HELP, ExitCode, exitCodeFor } from './exit-codes.js';

let stdoutUsed = false;
let watching = false;

/**
 * A reader that went away (`linkmirror verify --json | head`) is no failure of the command: the
 * rest of its output is dropped, and it finishes and exits with its own code. Output that cannot
 * be written (a log on a full disk: ENOSPC) is said in one line on stderr and ends the run with
 * the fatal code, not a stack trace and 1, which would mean "some paths not copied" or
 * "differences found" to the cron job reading it.
 */
function watchOutput(): void {
  // Whether anything went to stdout (a --json error document goes there only when nothing did);
  // the wrapper and the error listener are put once, should main() run twice in one process.
  stdoutUsed = false;
  if (watching) return;
  watching = true;
  const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  process.stdout.write = ((...args: unknown[]) => {
    stdoutUsed = true;
    return write(...args);
  }) as typeof process.stdout.write;
  let failed = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || failed) return;
    failed = true;
    process.stderr.write(`linkmirror: cannot write the output: ${err.code ?? err.message}; the run went on, but what it printed is lost\n`);
    process.exitCode = ExitCode.fatal;
    // Past main's own exit code, which the bin sets when main returns.
    process.once('exit', () => {
      process.exitCode = ExitCode.fatal;
    });
  });
}

export async function main(argv: string[]): Promise<number> {
  watchOutput();
  let exitCode: number = ExitCode.ok;
  const setExit = (code: number) => {
    exitCode = code;
  };
  const program = new Command()
    .name('linkmirror')
    .description('Copy hard-link-heavy snapshot trees (rsnapshot, rsync --link-dest, Back In Time, dirvish) to another drive, keeping every hard link, in flat memory.')
    .addHelpText(
      'after',
      `
Typical use:
  linkmirror copy /backup/snapshots /mnt/usb/snapshots    # copy; run again to resume or update
  linkmirror copy -n /backup/snapshots /mnt/usb/snapshots # dry run: the plan, nothing written
  linkmirror scan /backup/snapshots                       # paths, inodes, link groups, bytes
  linkmirror verify /mnt/usb/snapshots                    # check the mirror against its manifest

From cron, after each rsnapshot run (prints nothing unless something needs a look):
  linkmirror copy -q --delete /backup/snapshots /mnt/usb/snapshots`,
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) })
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run linkmirror --help for usage)');
  registerScan(program, setExit);
  registerCopy(program, setExit);
  registerVerify(program, setExit);
  registerDemo(program, setExit);
  for (const cmd of program.commands) cmd.exitOverride().addHelpText('after', EXIT_CODES_HELP);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.ok;
      return ExitCode.usage;
    }
    // A script reading --json's stdout gets the failure there too, not an empty document: when
    // nothing was written there yet (verify streams its document; one cut off stays cut off).
    const jsonError = (code: string, message: string, exitCode: number) => {
      if (argv.includes('--json') && !stdoutUsed) {
        process.stdout.write(`${JSON.stringify({ error: { code, message, exitCode } })}\n`);
      }
      return exitCode;
    };
    if (isLinkmirrorError(err)) {
      process.stderr.write(`linkmirror: ${err.message}\n`);
      return jsonError(err.code, err.message, exitCodeFor(err));
    }
    // One line for the user; the stack only when asked for (it helps a bug report, not a cron mail).
    const debug = Boolean(process.env.LINKMIRROR_DEBUG);
    const detail = debug ? (err as Error)?.stack : (err as Error)?.message;
    process.stderr.write(`linkmirror: unexpected error: ${detail ?? String(err)}${debug ? '' : ' (set LINKMIRROR_DEBUG=1 for details)'}\n`);
    return jsonError('UNEXPECTED', `unexpected error: ${(err as Error)?.message ?? String(err)}`, ExitCode.fatal);
  }
}
