// btrfs without extended inode refs holds about 15 long names of one inode per folder. A group
// split there on its first copy must be put back in place after its source inode changes: the
// staged files' rename() into that folder fails with EMLINK too, and each path beyond the
// folder's room goes onto a new inode (shared by the next paths), as link() splits do.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('a split group whose source changed, on btrfs without extended refs', () => {
  it('is put back in place: every path holds the new content, on as few inodes as the folder allows', async (ctx) => {
    const m = useLoopMount(ctx, 'btrfs', 256, ['-n', '4096', '-O', '^extref']);
    const src = path.join(temp(), 'src');
    const dir = path.join(src, 's/d');
    fs.mkdirSync(dir, { recursive: true });
    const base = path.join(dir, 'base');
    fs.writeFileSync(base, 'content');
    const names = Array.from({ length: 60 }, (_, i) => `n${String(i).padStart(3, '0')}_${'0'.repeat(240)}`);
    for (const n of names) fs.linkSync(base, path.join(dir, n));
    const dst = path.join(m.dir, 'mirror');
    const first = await copy(src, dst);
    expect(first.problemCount).toBe(0);
    expect(first.placed.splits).toBeGreaterThan(0); // the folder's limit is met on the first copy already

    fs.writeFileSync(base, 'changed'); // same inode, new content
    const again = await copy(src, dst);
    expect(again.problemCount).toBe(0);
    const inodes = new Set<bigint>();
    for (const n of ['base', ...names]) {
      const p = path.join(dst, 's/d', n);
      expect(fs.readFileSync(p, 'utf8'), n).toBe('changed');
      inodes.add(fs.statSync(p, { bigint: true }).ino);
    }
    expect(inodes.size).toBeLessThan(names.length / 4); // shared, not one inode per path
    // Counted as the first copy counts: each inode written once, every other path a link.
    expect(again.placed.inodesCopied).toBe(inodes.size);
    expect(again.placed.linksMade).toBe(names.length + 1 - inodes.size);
    expect(again.placed.bytesCopied).toBe(BigInt(inodes.size * 'changed'.length));
    expect((await verifyAgainstSource(src, dst)).match).toBe(true);
    expect((await verifyMirror(dst)).match).toBe(true);
    // Nothing left to do.
    const third = await copy(src, dst);
    expect(third.problemCount).toBe(0);
    expect(third.placed.inodesCopied).toBe(0);
  });
});
