// A drive formatted with mkfs.ext4 and mounted as the destination has lost+found at its root.
// The mirror does not own it: copy takes the drive as empty, --delete leaves the folder, verify
// leaves it out, all only while it is empty (files in it are what e2fsck recovered from a
// damaged mirror). A source with its own lost+found at the top is copied into it like any folder.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { BIN } from '../helpers/cli.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, file, link, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const fails = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

function source(): string {
  const src = path.join(temp(), 'src');
  buildTree(src, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h1/gone': file('only in h1') });
  return src;
}

describe('the lost+found of a freshly made filesystem at the destination', () => {
  it('is taken as empty, left out by verify both ways, and kept by --delete', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16, [], { keepLostFound: true });
    const lostFound = path.join(m.dir, 'lost+found');
    expect(fs.readdirSync(m.dir)).toEqual(['lost+found']);
    const src = source();
    const first = await copy(src, m.dir);
    expect(first.problemCount).toBe(0);
    expect(fs.lstatSync(path.join(m.dir, 'h1/a')).ino).toBe(fs.lstatSync(path.join(m.dir, 'h0/a')).ino);
    expect((await verifyAgainstSource(src, m.dir)).match).toBe(true);
    expect((await verifyMirror(m.dir)).match).toBe(true);

    fs.rmSync(path.join(src, 'h1/gone'));
    const pruned = await copy(src, m.dir, { delete: true, recheck: true }); // --recheck: --delete walks the whole mirror
    expect(pruned.deleted).toBe(1);
    expect(fs.existsSync(lostFound)).toBe(true);
    expect((await verifyMirror(m.dir)).match).toBe(true);

    // What e2fsck recovered into it is shown.
    fs.writeFileSync(path.join(lostFound, '#12'), 'recovered');
    const damaged = await verifyMirror(m.dir);
    expect(damaged.match).toBe(false);
    expect(damaged.differences.filter((d) => d.category === 'extra').map((d) => d.path)).toEqual(['lost+found', 'lost+found/#12']);
  });

  it.skipIf(process.getuid?.() !== 0)('for a user given the drive but not root\'s lost+found: copied into, and verified both ways', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16, [], { keepLostFound: true });
    const src = source();
    fs.chmodSync(path.dirname(src), 0o755);
    fs.chmodSync(path.dirname(m.dir), 0o755);
    fs.chownSync(m.dir, 65534, 65534);
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8' });
    const copied = asNobody(['copy', '-q', src, m.dir]);
    expect(copied.status, copied.stderr).toBe(0);
    // --no-owner: a copy by another user than root cannot give the files the source's owners.
    for (const args of [['verify', '--no-owner', src, m.dir], ['verify', m.dir]]) {
      const v = asNobody(args);
      expect(v.status, `${args.join(' ')}: ${v.stdout}${v.stderr}`).toBe(0);
      expect(v.stderr).toBe('');
    }
    expect(fs.readdirSync(path.join(m.dir, 'lost+found'))).toEqual([]);
  });

  it('only at a filesystem root: an empty lost+found in an ordinary folder makes it a folder that is not empty', async () => {
    const dst = path.join(temp(), 'dst');
    fs.mkdirSync(path.join(dst, 'lost+found'), { recursive: true });
    const err = await fails(copy(source(), dst));
    expect((err as { code?: string }).code).toBe('DST_NOT_EMPTY');
  });

  it.skipIf(process.getuid?.() !== 0)('a source drive\'s root copied by a user who may not read its lost+found: left out with a warning, so the run completes and --delete runs', async (ctx) => {
    const s = useLoopMount(ctx, 'ext4', 16, [], { keepLostFound: true });
    buildTree(s.dir, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h2/a': link('h0/a') });
    for (const rel of ['', 'h0', 'h1', 'h2', 'h0/a']) fs.chownSync(path.join(s.dir, rel), 65534, 65534);
    fs.chmodSync(path.dirname(s.dir), 0o755); // the mount point's folder
    const base = temp();
    fs.chmodSync(base, 0o777);
    const dst = path.join(base, 'mirror');
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8' });
    const warning = `warning: left out ${path.join(s.dir, 'lost+found')}: the filesystem's folder for what e2fsck recovers, which only root may read`;
    const copied = asNobody(['copy', s.dir, dst]);
    // Was exit 1 on every run: "cannot read lost+found".
    expect(copied.status, copied.stderr).toBe(0);
    expect(copied.stderr.split('\n')).toContain(warning);
    expect(fs.existsSync(path.join(dst, 'lost+found'))).toBe(false);
    expect(fs.lstatSync(path.join(dst, 'h2/a')).ino).toBe(fs.lstatSync(path.join(dst, 'h0/a')).ino);

    // A rotation: --delete was skipped on every run ("the scan could not read every path").
    fs.rmSync(path.join(s.dir, 'h2'), { recursive: true });
    const pruned = asNobody(['copy', '-q', '--delete', s.dir, dst]);
    expect(pruned.status, pruned.stderr).toBe(0);
    expect(fs.existsSync(path.join(dst, 'h2'))).toBe(false);
    const v = asNobody(['verify', '--no-owner', s.dir, dst]);
    expect(v.status, `${v.stdout}${v.stderr}`).toBe(0);
  });

  it('a source with its own lost+found at the top (a filesystem root too) is copied into the destination one', async (ctx) => {
    const s = useLoopMount(ctx, 'ext4', 16, [], { keepLostFound: true });
    const d = useLoopMount(ctx, 'ext4', 16, [], { keepLostFound: true });
    buildTree(s.dir, { 'h0/a': file('alpha'), 'h1/a': link('h0/a') });
    expect((await copy(s.dir, d.dir)).problemCount).toBe(0);
    expect(fs.statSync(path.join(d.dir, 'lost+found')).mode & 0o777).toBe(fs.statSync(path.join(s.dir, 'lost+found')).mode & 0o777);
    expect((await verifyAgainstSource(s.dir, d.dir)).match).toBe(true);
    expect((await verifyMirror(d.dir)).match).toBe(true);
  });
});
