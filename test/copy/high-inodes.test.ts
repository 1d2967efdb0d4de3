// Inode numbers of 2^63 and more, from a real overlayfs with xino (which puts the layer's number
// in the top bits). Node hands bigint stats over in a BigInt64Array, so such a number came back
// negative from lstat, where the index and getdents give it unsigned: found by a tester, every
// file of such a source was reported as "changed while it was copied" on every run, and nothing
// was copied (see fs/ops.ts, unsignedIds).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import { expectExit, runCli } from '../helpers/cli.js';
import { buildTree, expectSameTopology, file, link, makeTemp, removeTemp, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** An overlay of `lower` with xino on (a tmpfs upper layer), or the test skipped with the reason. */
function overlayWithXino(ctx: TestContext, lower: string): string {
  // Not a tempDirs() folder: those go after each test, before onTestFinished unmounts.
  const base = makeTemp();
  const [up, merged] = [path.join(base, 'up'), path.join(base, 'merged')];
  const mounted: string[] = [];
  ctx.onTestFinished(() => {
    for (const m of mounted.reverse()) execFileSync('umount', [m]);
    removeTemp(base);
  });
  const mount = (args: string[], what: string) => {
    try {
      execFileSync('mount', args, { stdio: 'pipe' });
      mounted.push(args[args.length - 1]!);
    } catch (err) {
      const why = `cannot mount ${what} (${String((err as Error).message).split('\n')[0]})`;
      console.warn(`skipped "${ctx.task.name}": ${why}`);
      ctx.skip(why);
    }
  };
  fs.mkdirSync(up);
  fs.mkdirSync(merged);
  mount(['-t', 'tmpfs', 'tmpfs', up], 'a tmpfs');
  fs.mkdirSync(path.join(up, 'u'));
  fs.mkdirSync(path.join(up, 'w'));
  mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${up}/u,workdir=${up}/w,xino=on`, merged], 'an overlay with xino');
  return merged;
}

describe('inode numbers of 2^63 and more', () => {
  it('a source on overlayfs with xino is copied and verified, and a change to it is copied again', async (ctx) => {
    const lower = path.join(temp(), 'lower');
    buildTree(lower, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h0/b': file('beta'), 'h1/c': file('gamma') });
    const src = overlayWithXino(ctx, lower);
    // What the test is about: the kernel's number is past 2^63, and lstat reports it unsigned.
    const ino = BigInt(execFileSync('stat', ['-c', '%i', path.join(src, 'h0/a')], { encoding: 'utf8' }).trim());
    expect(ino).toBeGreaterThanOrEqual(2n ** 63n);
    expect(realFsOps.lstat(path.join(src, 'h0/a')).ino).toBe(ino);

    const dst = path.join(temp(), 'mirror');
    const first = await copy(src, dst);
    expect(first.problemCount).toBe(0);
    expect(first.placed.inodesCopied).toBe(3);
    expectSameTopology(src, dst);

    // Rewritten (overlayfs copies it up to the upper layer, which parts it from h1/a): copied
    // again, through this thread's pass, and the topology follows.
    fs.writeFileSync(path.join(src, 'h0/b'), 'beta, longer now');
    const again = await copy(src, dst);
    expect(again.problemCount).toBe(0);
    expect(again.placed.inodesCopied).toBe(1);
    expectSameTopology(src, dst);
    expect(fs.readFileSync(path.join(dst, 'h0/b'), 'utf8')).toBe('beta, longer now');

    expectExit(runCli(['verify', src, dst]), 0);
    expectExit(runCli(['verify', dst]), 0);
  });
});
