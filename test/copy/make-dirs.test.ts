// The directory pass on a mirror that has its directories already: a read-only one (Back In
// Time makes its snapshots read-only) still takes the next run's files when the user is not
// root, and one path whose file cannot be cleared away for a directory is that path's problem,
// not the end of the run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { isLinkmirrorError } from '../../src/errors.js';
import { realFsOps } from '../../src/fs/ops.js';
import { BIN } from '../helpers/cli.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { buildTree, expectSameTopology, file, link, readTree, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** `linkmirror ARGS` as the nobody user, through setpriv. */
function asNobody(args: string[]) {
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

/** chown -R to nobody. */
function giveToNobody(root: string): void {
  fs.lchownSync(root, NOBODY, NOBODY);
  for (const name of fs.readdirSync(root, { recursive: true }) as string[]) fs.lchownSync(path.join(root, name), NOBODY, NOBODY);
}

describe('a read-only source folder, copied by a user who is not root', () => {
  it.skipIf(!isRoot)('takes a new file and a replaced one on the next run, and is read-only again after it', () => {
    const base = temp();
    fs.chmodSync(base, 0o755);
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, { 'snap/ro/a': file('one'), 'snap/ro/keep': file('kept'), 'snap/other/k': link('snap/ro/keep') });
    giveToNobody(base);
    fs.chmodSync(path.join(src, 'snap/ro'), 0o555);
    fs.chmodSync(path.join(src, 'snap'), 0o555);
    let r = asNobody(['copy', '-q', src, dst]);
    expect(r.status, r.stderr).toBe(ExitCode.ok);
    expect(fs.statSync(path.join(dst, 'snap/ro')).mode & 0o777).toBe(0o555);

    // The source folder gains a file and has one replaced (a new inode), and stays read-only.
    fs.chmodSync(path.join(src, 'snap/ro'), 0o755);
    fs.writeFileSync(path.join(src, 'snap/ro/b'), 'new');
    fs.writeFileSync(path.join(src, 'snap/ro/a.tmp'), 'two!');
    fs.renameSync(path.join(src, 'snap/ro/a.tmp'), path.join(src, 'snap/ro/a'));
    giveToNobody(src);
    fs.chmodSync(path.join(src, 'snap/ro'), 0o555);
    fs.chmodSync(path.join(src, 'snap'), 0o555);

    r = asNobody(['copy', src, dst]);
    expect(r.status, r.stdout + r.stderr).toBe(ExitCode.ok);
    const d = readTree(dst);
    expect(d.get('snap/ro/b')?.content?.toString()).toBe('new');
    expect(d.get('snap/ro/a')?.content?.toString()).toBe('two!');
    expect(fs.statSync(path.join(dst, 'snap/ro')).mode & 0o777).toBe(0o555);
    expect(fs.statSync(path.join(dst, 'snap')).mode & 0o777).toBe(0o555);
    expectSameTopology(src, dst);
    const v = asNobody(['verify', src, dst]);
    expect(v.status, v.stdout + v.stderr).toBe(ExitCode.ok);
    // Its own mirror's drive keeps owners: a user who may not chown does not make it look otherwise.
    expect(v.stdout).not.toMatch(/^owners +not compared/m);
  });
});

describe('a file where the source now has a folder', () => {
  it('that cannot be removed is reported for its path; the rest of the run goes on', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, { 'x': file('a file first'), 'y/old': file('old') });
    await copy(src, dst);
    fs.rmSync(path.join(src, 'x'));
    buildTree(src, { 'x/inside': file('now a folder'), 'y/new': file('added') });

    const ops = faultyOps(realFsOps, [{ op: 'unlink', code: 'EPERM', path: Buffer.from(path.join(dst, 'x')) }]);
    const summary = await copy(src, dst, { ops });
    expect(ops.failures.unlink).toBe(1);
    // Its own path, and the file that was to go in it.
    expect(summary.problems.map((p) => [p.path, p.code])).toEqual([['x', 'EPERM'], ['x/inside', 'ENOTDIR']]);
    expect(summary.problems[0].message).toMatch(/^cannot make directory x: /);
    expect(readTree(dst).get('y/new')?.content?.toString()).toBe('added');
    expect(fs.readFileSync(path.join(dst, 'x'), 'utf8')).toBe('a file first');

    // Once the path can be cleared, the next run puts the folder there.
    await copy(src, dst);
    expect(readTree(dst).get('x/inside')?.content?.toString()).toBe('now a folder');
  });
});

describe('a symlink where the source now has a folder', () => {
  it('that cannot be removed stops the run (DST_UNUSABLE): nothing is written where it points', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    const victim = path.join(base, 'victim');
    buildTree(victim, { 'file.txt': file('the original') });
    buildTree(src, { 'a/x': file('x') });
    fs.symlinkSync(victim, path.join(src, 'a/data'));
    await copy(src, dst);
    expect(fs.lstatSync(path.join(dst, 'a/data')).isSymbolicLink()).toBe(true);
    fs.rmSync(path.join(src, 'a/data'));
    buildTree(src, { 'a/data/file.txt': file('from the source') });

    const ops = faultyOps(realFsOps, [{ op: 'unlink', code: 'EPERM', path: Buffer.from(path.join(dst, 'a/data')) }]);
    const err = await copy(src, dst, { ops }).then(() => undefined, (e: unknown) => e);
    expect(isLinkmirrorError(err, 'DST_UNUSABLE'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/^cannot remove the symlink a\/data in the mirror, where the source has a folder \(.*\); what belongs below it would go where it points: remove it by hand, then run the same command again$/);
    expect(fs.readFileSync(path.join(victim, 'file.txt'), 'utf8')).toBe('the original');
    expect(fs.readdirSync(victim)).toEqual(['file.txt']);

    await copy(src, dst);
    expect(fs.readFileSync(path.join(dst, 'a/data/file.txt'), 'utf8')).toBe('from the source');
    expect(fs.readFileSync(path.join(victim, 'file.txt'), 'utf8')).toBe('the original');
  });
});
