// SQLite's temp files (sorts past its page cache, statement journals) go beside the index, on the
// destination, not into SQLite's default folder on the machine's own disk (see
// src/store/temp-dir.ts). Shown by pointing that default ($SQLITE_TMPDIR) at a full filesystem:
// before, the copy below failed there with "the disk holding the index ... is full", about a
// destination that had room.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import type { Progress } from '../../src/progress.js';
import { sqliteTempDir, useSqliteTempDir } from '../../src/store/temp-dir.js';
import { verifyAgainstSource } from '../../src/verify/verify.js';
import { expectExit, runCli } from '../helpers/cli.js';
import { buildLongNameLinks, expectSameTopology, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** A tmpfs of one page, already full once a page is used: mounted, or the test skipped with the reason. */
function fullFilesystem(ctx: TestContext): string {
  // Not under tempDirs(): its cleanup runs before onTestFinished, and a mount point will not go.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linkmirror-full-'));
  ctx.onTestFinished(() => fs.rmdirSync(dir));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    const reason = `cannot mount a tmpfs (${(r.stderr || r.error?.message || '').trim()}): run the tests as root`;
    console.warn(`skipped "${ctx.task.name}": ${reason}`);
    return ctx.skip(reason);
  }
  // Registered last, run first: unmounted before the folder is removed.
  ctx.onTestFinished(() => void spawnSync('umount', [dir]));
  return dir;
}

describe("SQLite's temp files", () => {
  it('are made beside the index: a copy succeeds while the default temp folder is full', (ctx) => {
    const full = fullFilesystem(ctx);
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildLongNameLinks(src); // its sorts spill into a temp file
    const r = runCli(['copy', '--quiet', src, dst], { env: { SQLITE_TMPDIR: full } });
    expectExit(r, 0);
    expect(r.stderr).toBe('');
    expectSameTopology(src, dst);
    expect(fs.readdirSync(path.join(dst, '.linkmirror'))).toEqual(['index.db']); // no temp file left
  });

  it('the folder is the state folder while a copy runs, verify\'s work folder while it runs, and SQLite\'s default after each', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'x');
    const dst = path.join(base, 'dst');
    const seen: (string | undefined)[] = [];
    const progress: Progress = { start: () => void seen.push(sqliteTempDir()), advance: () => {}, warn: () => {}, end: () => {} };
    await copy(src, dst, { progress });
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([path.join(dst, '.linkmirror')]));
    expect(sqliteTempDir()).toBeUndefined();

    // verify: its work folder, under --temp-dir
    const work = temp();
    seen.length = 0;
    const report = await verifyAgainstSource(src, dst, { progress, tempDir: work });
    expect(report.match).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    const dirs = [...new Set(seen)];
    expect(dirs).toHaveLength(1);
    expect(path.dirname(dirs[0]!)).toBe(work);
    expect(sqliteTempDir()).toBeUndefined();
  });

  it('nest: each run puts back the folder before it; a folder too long for SQLite, or missing, is passed over', () => {
    const [a, b] = [temp(), temp()];
    const restoreA = useSqliteTempDir(a);
    const restoreB = useSqliteTempDir(b);
    expect(sqliteTempDir()).toBe(b);
    const long = path.join(b, 'x'.repeat(250), 'y'.repeat(250));
    fs.mkdirSync(long, { recursive: true });
    const restoreLong = useSqliteTempDir(long); // temp file names there would pass 510 bytes
    expect(sqliteTempDir()).toBe(b);
    const restoreMissing = useSqliteTempDir(path.join(a, 'missing'));
    expect(sqliteTempDir()).toBe(b);
    restoreMissing();
    restoreLong();
    expect(sqliteTempDir()).toBe(b);
    restoreB();
    expect(sqliteTempDir()).toBe(a);
    restoreA();
    expect(sqliteTempDir()).toBeUndefined();
  });
});
