// A file dated past 2262-04-11, where nanoseconds since 1970 pass signed 64 bits (ext4 keeps
// dates to 2446): found by a tester, it was "changed while it was copied" on every run, and
// verify SRC DST crashed binding its time. Its time is taken as the end of the range everywhere
// (see fs/time-ns.ts): copied, left alone by the next run, verified.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { NS_MAX } from '../../src/fs/time-ns.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { buildTree, file, link, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('times past the 64-bit nanosecond range', () => {
  it('a file dated 2300 is copied (dated 2262-04-11 in the mirror), a re-run leaves it, both verify forms pass', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, { 'h0/far': file('from the future'), 'h1/far': link('h0/far'), 'h0/near': file('today') });
    execFileSync('touch', ['-h', '-d', '2300-01-01T00:00:00Z', path.join(src, 'h0/far')]);
    expect(fs.lstatSync(path.join(src, 'h0/far'), { bigint: true }).mtimeNs).toBeGreaterThan(NS_MAX);

    const first = await copy(src, dst);
    expect(first.problemCount).toBe(0);
    expect(first.placed.inodesCopied).toBe(2);
    const copied = fs.lstatSync(path.join(dst, 'h1/far'), { bigint: true });
    expect(copied.mtimeNs / 1_000_000_000n).toBe(NS_MAX / 1_000_000_000n);
    expect(fs.readFileSync(path.join(dst, 'h1/far'), 'utf8')).toBe('from the future');
    // The two paths of the far-dated inode are still one inode (its time aside, the mirror is the source).
    expect(fs.lstatSync(path.join(dst, 'h0/far')).ino).toBe(Number(copied.ino));
    expect(Number(copied.nlink)).toBe(2);

    const again = await copy(src, dst);
    expect(again).toMatchObject({ problemCount: 0 });
    expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0, replaced: 0 });
    expect((await verifyAgainstSource(src, dst)).match).toBe(true);
    expect((await verifyMirror(dst)).match).toBe(true);
  });
});
