// `linkmirror verify` through the built bin: exit 0 with a one-line verdict on a clean mirror,
// exit 1 with the categories and first paths when something differs, --json with every
// difference and the summary, exit 2 (one line on stderr) for DST alone without a manifest or a
// bad --sample, and the help naming the categories and exit codes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { expectExit, lines, runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tree.js';
import { keepingMtimes, mirrorOf } from './mirrors.js';

const temp = tempDirs();

describe('linkmirror verify (the built CLI)', () => {
  it('exit 0 on a clean mirror, both forms, and nothing on stderr', async () => {
    const { src, dst } = await mirrorOf(temp());
    // Against the source both sides are read; alone, only the mirror (the source's hashes are recorded).
    for (const [args, read] of [[[src, dst], 16], [[dst], 8]] as const) {
      const r = runCli(['verify', ...args]);
      expect(r.stderr).toBe('');
      expectExit(r, ExitCode.ok);
      expect(lines(r.stdout)[0]).toMatch(/^verified .* in .*: they match$/);
      expect(r.stdout).toContain(`content        ${read} inodes read`);
    }
    expect(runCli(['verify', '-q', src, dst])).toMatchObject({ status: ExitCode.ok, stdout: '', stderr: '' });
  });

  it('a mirror whose last copy finished with failed paths: the note says it finished, not that it stopped', async () => {
    const { dst } = await mirrorOf(temp());
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path.join(dst, '.linkmirror/index.db'));
    db.prepare(`UPDATE meta SET value = 'complete-with-errors' WHERE key = 'state'`).run();
    db.close();
    const r = runCli(['verify', dst]);
    expectExit(r, ExitCode.ok);
    expect(lines(r.stdout)[1]).toBe('note           the last copy into this mirror finished, but some paths could not be copied: see its summary, run it again, then verify');
  });

  it('exit 1 with each category and its first paths', async () => {
    const { src, dst } = await mirrorOf(temp());
    keepingMtimes(dst, ['daily.1'], () => fs.unlinkSync(path.join(dst, 'daily.1/empty')));
    fs.chmodSync(path.join(dst, 'daily.0/bin/tool'), 0o700);
    for (const args of [[src, dst], [dst]]) {
      const r = runCli(['verify', ...args]);
      expectExit(r, ExitCode.problems);
      expect(lines(r.stdout)[0]).toMatch(/: 2 differences$/);
      expect(r.stdout).toMatch(/^missing\s+1\n {2}daily\.1\/empty \(file\)$/m);
      expect(r.stdout).toMatch(/^mode\s+1\n {2}daily\.0\/bin\/tool \(2 paths\): 0755 in (src|the manifest), 0700 (in dst|now)$/m);
    }
    // -q is quiet only when the trees match: a cron job mails what is printed, not the exit code.
    const quiet = runCli(['verify', '-q', dst]);
    expectExit(quiet, ExitCode.problems);
    expect(lines(quiet.stdout)[0]).toMatch(/: 2 differences$/);
    expect(runCli(['verify', '-q', src, dst + '-none'])).toMatchObject({ status: ExitCode.usage, stdout: '' });
  });

  it('--json lists every difference and the summary', async () => {
    const { src, dst } = await mirrorOf(temp());
    keepingMtimes(dst, ['daily.1/docs'], () => {
      for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dst, `daily.1/docs/extra-${i}`), 'x');
    });
    const r = runCli(['verify', '--json', src, dst]);
    expectExit(r, ExitCode.problems);
    const doc = JSON.parse(r.stdout) as { differences: { category: string; path: string }[]; summary: Record<string, unknown> };
    expect(doc.differences).toHaveLength(30);
    expect(doc.differences.every((d) => d.category === 'extra')).toBe(true);
    expect(doc.summary).toMatchObject({ match: false, differenceCount: 30, categories: { extra: 30, missing: 0 }, mode: 'source' });
    const clean = runCli(['verify', '--json', '--fast', src, path.join(dst)]);
    expect(JSON.parse(clean.stdout).differences).toHaveLength(30);
  });

  it('--json on a match is an empty list', async () => {
    const { dst } = await mirrorOf(temp());
    const r = runCli(['verify', '--json', dst]);
    expectExit(r, ExitCode.ok);
    expect(JSON.parse(r.stdout)).toMatchObject({ differences: [], summary: { match: true, mode: 'manifest' } });
  });

  it('exit 2 for DST alone without a manifest, saying to give the source', async () => {
    const { dst } = await mirrorOf(temp(), 'cp -a');
    const r = runCli(['verify', dst]);
    expectExit(r, ExitCode.usage);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/no linkmirror manifest.*give the source too: linkmirror verify SRC /);
    // With --json the refusal is on stdout too, as a document a script can read.
    const j = runCli(['verify', '--json', dst]);
    expectExit(j, ExitCode.usage);
    expect(JSON.parse(j.stdout)).toEqual({ error: { code: 'MANIFEST_MISSING', message: expect.stringMatching(/no linkmirror manifest/), exitCode: ExitCode.usage } });
  });

  it('exit 2 for a bad --sample, --fast with --sample, a missing mirror', async () => {
    const base = temp();
    const { src, dst } = await mirrorOf(base);
    const badArgs = [
      ['--sample', '0%', dst], ['--sample', 'lots', dst], ['--fast', '--sample', '5%', dst], [src, path.join(base, 'nope')],
      ['--sample', '5%', '--seed', 'x', dst], ['--sample', '5%', '--seed', '4294967296', dst], ['--seed', '7', dst],
    ];
    for (const args of badArgs) {
      const r = runCli(['verify', ...args]);
      expect(r.status, args.join(' ')).toBe(ExitCode.usage);
      expect(lines(r.stderr), args.join(' ')).toHaveLength(1);
    }
    const ok = runCli(['verify', '--sample', '50%', dst]);
    expectExit(ok, ExitCode.ok);
    expect(ok.stdout).toMatch(/sample 50% \(seed \d+\)/);
    // The seed a run printed chooses the same files again.
    const seed = /seed (\d+)/.exec(ok.stdout)![1];
    const again = runCli(['verify', '--sample', '50%', '--seed', seed, '--json', dst]);
    const twice = runCli(['verify', '--sample', '50%', '--seed', seed, '--json', dst]);
    expectExit(again, ExitCode.ok);
    const read = (r: { stdout: string }) => JSON.parse(r.stdout).summary as { sampleSeed: number; inodesHashed: number };
    expect(read(again).sampleSeed).toBe(Number(seed));
    expect(read(again).inodesHashed).toBe(Number(/content +(\d+) inodes read/.exec(ok.stdout)![1]));
    expect(read(twice).inodesHashed).toBe(read(again).inodesHashed);
  });

  it('the built library scans the source on a second thread (the tests run the sources, which scan on one)', async () => {
    const built = (await import('../../dist/src/verify/verify.js')) as typeof import('../../src/verify/verify.js');
    const { src, dst } = await mirrorOf(temp());
    expect(await built.verifyAgainstSource(src, dst)).toMatchObject({ match: true, paths: { expected: 22, actual: 22 } });
    keepingMtimes(dst, ['daily.1'], () => fs.unlinkSync(path.join(dst, 'daily.1/empty')));
    fs.chmodSync(path.join(src, 'daily.0/docs/notes.txt'), 0o600);
    const r = await built.verifyAgainstSource(src, dst);
    expect(r.categories).toMatchObject({ missing: 1, mode: 1 });
    expect(r.differenceCount).toBe(2);
    expect(r.differences.map((d) => d.path)).toEqual(['daily.1/empty', 'daily.0/docs/notes.txt']);
  });

  it('--help names the categories and the exit codes', () => {
    const r = runCli(['verify', '--help']);
    expectExit(r, ExitCode.ok);
    for (const word of ['missing', 'extra', 'link-split', 'link-merged', '--fast', '--sample', 'Exit codes:', 'verify: differences found']) {
      expect(r.stdout).toContain(word);
    }
  });
});
