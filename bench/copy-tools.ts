// The copy tools under test, each as a small object that prepares the destination and runs one
// timed copy. A tool that cannot run here says why (`missing`) and its row reports that instead
// of failing the whole benchmark.
//
// tar is a pipeline, `tar -C SRC -cf - . | tar -C DST -xf -`, run as one `bash -c` under GNU
// time: wall is the pipeline's, CPU is the sum of both tars (and the negligible bash), peak RSS
// is the larger tar. Each tar also runs under its own GNU time; those figures are kept in
// `parts` of the JSON.
import fs from 'node:fs';
import path from 'node:path';
import { readTiming, runTimed, tempTimingFile, timePrefix, type TimedResult, type Timing } from './timed-run.js';

export interface ToolRun extends TimedResult {
  /** Per-process figures for a pipeline. */
  parts?: Record<string, Timing>;
}

export interface CopyTool {
  key: string;
  label: string;
  /** Why the tool cannot run here, or null. */
  missing(): string | null;
  /** Copy the tree at `src` to `dst` (which does not exist yet), stopping it after `timeoutS`. */
  copy(src: string, dst: string, timeoutS?: number): ToolRun;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((dir) => dir !== '' && fs.existsSync(path.join(dir, cmd)));
}

function needs(...cmds: string[]): string | null {
  const absent = cmds.filter((c) => !onPath(c));
  return absent.length === 0 ? null : `not installed: ${absent.join(', ')}`;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function linkmirrorTool(repoRoot: string): CopyTool {
  const bin = path.join(repoRoot, 'bin/linkmirror.js');
  return {
    key: 'linkmirror',
    label: 'linkmirror copy',
    missing: () => (fs.existsSync(bin) ? null : `${path.relative(repoRoot, bin)} not found (the CLI is not there yet)`),
    // Run as a user runs it (npx linkmirror): through its shebang, which sets the V8 flags.
    copy: (src, dst, timeoutS) => runTimed([bin, 'copy', src, dst, '--quiet'], { timeoutS }),
  };
}

export const cpTool: CopyTool = {
  key: 'cp',
  label: 'cp -a',
  missing: () => needs('cp'),
  copy: (src, dst, timeoutS) => runTimed(['cp', '-a', src, dst], { timeoutS }),
};

export const rsyncTool: CopyTool = {
  key: 'rsync',
  label: 'rsync -aH',
  missing: () => needs('rsync'),
  copy: (src, dst, timeoutS) => runTimed(['rsync', '-aH', `${src}/`, `${dst}/`], { timeoutS }),
};

export const tarTool: CopyTool = {
  key: 'tar',
  label: 'tar | tar',
  missing: () => needs('tar', 'bash'),
  copy: (src, dst, timeoutS) => {
    fs.mkdirSync(dst);
    const create = tempTimingFile('tar-c');
    const extract = tempTimingFile('tar-x');
    const line = [
      'set -o pipefail;',
      ...timePrefix(create).map(quote), 'tar -C', quote(src), '-cf - . |',
      ...timePrefix(extract).map(quote), 'tar -C', quote(dst), '-xf -',
    ].join(' ');
    try {
      const run: ToolRun = runTimed(['bash', '-c', line], { timeoutS });
      if (!run.timedOut) run.parts = { 'tar -c': readTiming(create), 'tar -x': readTiming(extract) };
      return run;
    } finally {
      fs.rmSync(create, { force: true });
      fs.rmSync(extract, { force: true });
    }
  },
};

export function allTools(repoRoot: string): CopyTool[] {
  return [cpTool, rsyncTool, tarTool, linkmirrorTool(repoRoot)];
}
