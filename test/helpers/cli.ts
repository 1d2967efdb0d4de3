// runCli: the command line as a user runs it — `node bin/linkmirror.js …` in a child process,
// stdin closed, stdout not a terminal — with its exit code and both streams.
// test/global-setup.ts builds dist/ first when it is missing or stale.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/linkmirror.js');

export interface CliResult {
  /** The exit code; null when a signal ended the process. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 60_000,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Asserts the exit code, and on a mismatch says how the run ended and what it printed on stderr:
 * "expected null to be +0" alone told nothing of a run that SIGABRT had ended.
 */
export function expectExit(r: CliResult, code: number): void {
  const ended = r.status === null ? `ended by ${r.signal}` : `exit ${r.status}`;
  expect(r.status, `${ended}; stderr: ${r.stderr.trim().slice(-1000) || '(empty)'}`).toBe(code);
}

/** The lines of a stream, without the empty one after the last newline. */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

/**
 * A `sync` first on the PATH of a child linkmirror, that holds the run at the sync before its
 * next commit until release(): the test then acts at a known point (rows placed, staged files
 * in the temp area, nothing committed) instead of racing a window of a few milliseconds. Once
 * released it runs the real `sync` with the same arguments; a killed linkmirror lets it go too.
 */
export function heldSync(dir: string): { env: NodeJS.ProcessEnv; held: () => boolean; release: () => void } {
  const bin = path.join(dir, 'held-sync-bin');
  const gate = path.join(dir, 'held-sync-gate');
  fs.mkdirSync(bin, { recursive: true });
  const real = ['/usr/bin/sync', '/bin/sync'].find((p) => fs.existsSync(p)) ?? 'sync';
  fs.writeFileSync(
    path.join(bin, 'sync'),
    `#!/bin/sh\nparent=$PPID\n: > '${gate}.held'\n` +
      `while [ ! -e '${gate}' ] && kill -0 "$parent" 2>/dev/null; do sleep 0.02; done\nexec ${real} "$@"\n`,
    { mode: 0o755 },
  );
  return {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    held: () => fs.existsSync(`${gate}.held`),
    release: () => fs.writeFileSync(gate, ''),
  };
}
