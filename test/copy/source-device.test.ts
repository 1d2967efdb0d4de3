// A source whose filesystem comes back under another device number (a USB disk on another
// /dev/sdX after a replug; here a loop device taken by another image in between) is the same
// source: found by a tester, every inode was copied again, and a drive without room for two
// copies refused the run. The index's records follow the new number when the source's top
// folder has the same inode and birth time (see copy/source-device.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, expectSameTopology, file, link, readTree, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('the source back under another device number', () => {
  it('keeps every copy: nothing is copied again, the mirror matches, and the change is said', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    buildTree(m.dir, {
      'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h2/a': link('h0/a'), 'h0/b': file('beta'), 'h1/b': link('h0/b'),
    });
    const dst = path.join(temp(), 'mirror');
    await copy(m.dir, dst);
    const before = readTree(dst);
    const devBefore = fs.statSync(m.dir).dev;

    // The same image mounted again on another loop device: the one it had is taken meanwhile.
    const loopDev = execFileSync('findmnt', ['-n', '-o', 'SOURCE', m.dir], { encoding: 'utf8' }).trim();
    const dummy = path.join(temp(), 'dummy.img');
    fs.writeFileSync(dummy, '');
    fs.truncateSync(dummy, 1024 * 1024);
    execFileSync('umount', [m.dir]);
    execFileSync('losetup', [loopDev, dummy]);
    try {
      execFileSync('mount', ['-t', 'ext4', '-o', 'loop', m.image, m.dir]);
      expect(fs.statSync(m.dir).dev).not.toBe(devBefore);

      const warnings: string[] = [];
      const progress = { start() {}, advance() {}, end() {}, warn: (w: string) => void warnings.push(w) };
      const again = await copy(m.dir, dst, { progress });
      expect(again.problemCount).toBe(0);
      expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0, replaced: 0 });
      expect(warnings).toContainEqual(expect.stringMatching(/^the source's filesystem is back as device \d+ \(it was \d+\): its \d+ recorded paths keep their copies$/));
      const after = readTree(dst);
      for (const [key, n] of before) if (n.type !== 'dir') expect(after.get(key)?.ino, key).toBe(n.ino);
      expectSameTopology(m.dir, dst);
    } finally {
      execFileSync('losetup', ['-d', loopDev]);
    }
  });
});
