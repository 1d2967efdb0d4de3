// Ctrl-C during `linkmirror verify`, in a child process: it stops with exit 130 and one line,
// removes its work files and leaves the mirror's lock free, so the next copy or verify runs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSnapshotTree } from '../../fixtures/snapshot-tree.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { BIN, expectExit, lines, runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('linkmirror verify, interrupted', () => {
  for (const form of ['SRC DST', 'DST'] as const) {
    it(`Ctrl-C during verify ${form}: exit 130, one line, no work files left, the lock free`, async (ctx) => {
      const base = temp();
      const src = path.join(base, 'src');
      const dst = path.join(base, 'dst');
      const work = path.join(base, 'work');
      fs.mkdirSync(work);
      generateSnapshotTree(src, { paths: 15_000, seed: 5 });
      expectExit(runCli(['copy', '-q', src, dst], { timeoutMs: 120_000 }), ExitCode.ok);
      const child = spawn(process.execPath, [BIN, 'verify', '--temp-dir', work, ...(form === 'DST' ? [dst] : [src, dst])], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b));
      const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const deadline = Date.now() + 30_000;
      while (child.exitCode === null && fs.readdirSync(work).length === 0 && Date.now() < deadline) await sleep(5);
      await sleep(100);
      if (child.exitCode !== null) return ctx.skip('verify finished before it could be interrupted');
      child.kill('SIGINT');
      const code = await done;
      if (code === ExitCode.ok) return ctx.skip('verify finished before the signal arrived');
      expect(code, stderr).toBe(ExitCode.interrupted);
      expect(lines(stderr).filter((l) => l.startsWith('linkmirror:')), stderr).toEqual([expect.stringMatching(/interrupted/)]);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(fs.readdirSync(work)).toEqual([]);
      expect(fs.existsSync(path.join(dst, '.linkmirror/lock'))).toBe(false);
      expectExit(runCli(['verify', '-q', ...(form === 'DST' ? [dst] : [src, dst])], { timeoutMs: 120_000 }), ExitCode.ok);
    });
  }
});
