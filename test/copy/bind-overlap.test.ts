// A bind mount of a SUBFOLDER of one tree shows it at a path that neither realpath nor walking
// up the other tree's parents by inode leads back from: a mirror made under it was written into
// the source, and `copy --delete` from it into the tree it came from deleted the source's files.
// checkPaths finds both by where each path lies in its filesystem (/proc/self/mountinfo), with
// real bind mounts here, at paths that mountinfo must escape; a bind of a folder beside the tree
// (its name a prefix of the tree's) must not be refused. The mounts are undone in `finally`,
// before the temp folders go.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { checkPaths } from '../../src/copy/check-paths.js';
import { copy } from '../../src/copy/copy.js';
import { isLinkmirrorError, type ErrorCode } from '../../src/errors.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, file, link, readTree, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** Everything under root that could show a write: paths, types, inodes, sizes, mtimes. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, n] of readTree(root)) out[key] = `${n.type} ${n.ino} ${n.nlink} ${n.size} ${n.mtimeNs} ${n.sha256 ?? ''}`;
  return out;
}

function umount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
}

/**
 * `mount --bind from onto` (onto is made), run body, unmount. Skips the test, with the reason
 * printed, where a bind mount cannot be made (not root, no mount, a namespace that forbids it).
 */
async function withBind(ctx: TestContext, from: string, onto: string, body: () => void | Promise<void>): Promise<void> {
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = `bind mounts need Linux (this is ${process.platform})`;
  else if (process.getuid?.() !== 0) reason = `bind mounts need root (running as uid ${process.getuid?.()})`;
  else {
    fs.mkdirSync(onto, { recursive: true });
    try {
      execFileSync('mount', ['--bind', from, onto], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer; message?: string };
      reason = `mount --bind failed: ${e.stderr?.toString().trim() || e.message}`;
    }
  }
  if (reason) {
    console.warn(`skipped "${ctx.task.name}": ${reason}`);
    ctx.skip(reason);
    return;
  }
  try {
    await body();
  } finally {
    umount(onto);
  }
}

/** checkPaths(src, dst) must throw a LinkmirrorError with this code, saying it is one folder mounted twice. */
function expectRefused(src: string, dst: string, code: ErrorCode): void {
  let err: unknown;
  try {
    checkPaths(src, dst);
  } catch (e) {
    err = e;
  }
  expect(isLinkmirrorError(err), `checkPaths(${src}, ${dst}) should have been refused, got ${String(err)}`).toBe(true);
  expect((err as Error & { code: ErrorCode }).code).toBe(code);
  expect((err as Error).message).toMatch(/\(the same folder mounted twice\)/);
}

const SOURCE = { 'a.txt': file('a'), 'sub/b.txt': link('a.txt'), 'sub/deep/c.txt': file('c') };

describe('bind mounts of a subfolder (checkPaths by mountinfo)', () => {
  it('a destination under a bind mount of a source subfolder: DST_INSIDE_SRC, nothing made in the source', async (ctx) => {
    const base = fs.realpathSync(temp());
    const src = path.join(base, 'src');
    buildTree(src, SOURCE);
    // A space: mountinfo writes it as \040.
    const view = path.join(base, 'a view');
    const before = snapshot(src);
    await withBind(ctx, path.join(src, 'sub'), view, async () => {
      // Missing (made under the bind), the bind itself, and a folder that exists below it.
      expectRefused(src, path.join(view, 'mirror'), 'DST_INSIDE_SRC');
      expectRefused(src, path.join(view, 'mirror/deeper'), 'DST_INSIDE_SRC');
      expectRefused(src, view, 'DST_INSIDE_SRC');
      expectRefused(src, path.join(view, 'deep'), 'DST_INSIDE_SRC');
      // Through the library: refused before anything is written.
      await expect(copy(src, path.join(view, 'mirror'))).rejects.toMatchObject({ code: 'DST_INSIDE_SRC' });
      expect(fs.existsSync(path.join(src, 'sub/mirror'))).toBe(false);
    });
    expect(snapshot(src)).toEqual(before);
  });

  it('a source that is a bind mount of a destination subfolder: SRC_INSIDE_DST, copy --delete deletes nothing', async (ctx) => {
    const base = fs.realpathSync(temp());
    const s0 = path.join(base, 's0');
    buildTree(s0, { 'x.txt': file('x'), 'sub/y.txt': file('y'), 'sub/z.txt': link('sub/y.txt') });
    const dst = path.join(base, 'dst');
    await copy(s0, dst);
    const view = path.join(base, 'a\tview');
    const before = snapshot(dst);
    await withBind(ctx, path.join(dst, 'sub'), view, async () => {
      expectRefused(view, dst, 'SRC_INSIDE_DST');
      await expect(copy(view, dst, { delete: true, maxDelete: { share: 1 } })).rejects.toMatchObject({ code: 'SRC_INSIDE_DST' });
    });
    // The source (dst/sub, seen as view) and the rest of the mirror are as they were.
    expect(snapshot(dst)).toEqual(before);
  });

  it('a bind mount of a folder beside the source (its name a prefix of the source’s): no refusal', async (ctx) => {
    const base = fs.realpathSync(temp());
    const src = path.join(base, 'src');
    buildTree(src, SOURCE);
    const beside = path.join(base, 'src-old');
    buildTree(beside, { 'old.txt': file('old') });
    const view = path.join(base, 'view');
    const before = snapshot(src);
    await withBind(ctx, beside, view, () => {
      expect(checkPaths(src, path.join(view, 'mirror'))).toMatchObject({ src, dst: path.join(view, 'mirror'), dstExists: false });
      expect(checkPaths(view, path.join(base, 'mirror'))).toMatchObject({ src: view, dstExists: false });
      expect(checkPaths(view, src)).toMatchObject({ src: view, dst: src, dstExists: true });
      expect(checkPaths(src, view)).toMatchObject({ src, dst: view, dstExists: true });
    });
    expect(snapshot(src)).toEqual(before);
  });

  // mountinfo lists a mount that a later one hid (a tmpfs mounted over its parent): its entry
  // would place the path in the source. The place is checked on the filesystem itself.
  it('a bind of the source hidden under a tmpfs mounted over its parent: no refusal for a destination on the tmpfs', async (ctx) => {
    const base = fs.realpathSync(temp());
    const src = path.join(base, 'src');
    buildTree(src, SOURCE);
    const over = path.join(base, 'm');
    await withBind(ctx, src, path.join(over, 'inner'), () => {
      execFileSync('mount', ['-t', 'tmpfs', 'none', over], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        fs.mkdirSync(path.join(over, 'inner'));
        expect(checkPaths(src, path.join(over, 'inner', 'dst'))).toMatchObject({ src, dstExists: false });
      } finally {
        umount(over);
      }
    });
  });

  // A btrfs subvolume has an st_dev of its own, unlike the mountinfo device of the mounts that
  // show it: comparing st_dev would take the source (the subvolume) for another filesystem.
  it('btrfs: a destination under a bind mount of a subfolder of a source subvolume: DST_INSIDE_SRC', async (ctx) => {
    const m = useLoopMount(ctx, 'btrfs', 120);
    const src = path.join(m.dir, 'vol');
    execFileSync('btrfs', ['subvolume', 'create', src], { stdio: ['ignore', 'pipe', 'pipe'] });
    buildTree(src, SOURCE);
    expect(fs.statSync(src, { bigint: true }).dev).not.toBe(fs.statSync(m.dir, { bigint: true }).dev);
    const view = path.join(fs.realpathSync(temp()), 'view');
    const before = snapshot(src);
    await withBind(ctx, path.join(src, 'sub'), view, () => {
      expectRefused(src, path.join(view, 'mirror'), 'DST_INSIDE_SRC');
      expectRefused(view, src, 'SRC_INSIDE_DST');
    });
    expect(snapshot(src)).toEqual(before);
  });
});
