// Where a command's words go: the bar only on a terminal (or when asked), nothing with --quiet
// but errors, and with --json only the JSON document on stdout.
export interface OutputFlags {
  quiet?: boolean;
  json?: boolean;
  progress?: boolean;
}

export function outputMode(flags: OutputFlags): { bar: boolean; quiet: boolean; print: (text: string) => void } {
  const quiet = Boolean(flags.quiet);
  const bar = !quiet && !flags.json && (Boolean(flags.progress) || Boolean(process.stdout.isTTY));
  return { bar, quiet, print: (text) => process.stdout.write(text + '\n') };
}
