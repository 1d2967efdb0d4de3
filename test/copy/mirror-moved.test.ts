// A mirror copied to another folder or drive (cp -a) keeps its files and index but not its inode
// numbers. The next run takes its files as --adopt does instead of copying them all again; a
// rename in place changes nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { verifyMirror } from '../../src/verify/verify.js';
import { buildTree, expectSameTopology, file, link, readTree, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

function warnings(): { list: string[]; progress: { start(): void; advance(): void; end(): void; warn(w: string): void } } {
  const list: string[] = [];
  return { list, progress: { start() {}, advance() {}, end() {}, warn: (w: string) => void list.push(w) } };
}

describe('a mirror copied elsewhere', () => {
  it('is taken as it is by the next run: nothing copied again, its inodes kept, verify passes', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    buildTree(src, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h2/a': link('h0/a'), 'h0/b': file('beta'), 'h1/b': link('h0/b') });
    const first = path.join(base, 'first');
    await copy(src, first);
    const moved = path.join(base, 'moved');
    execFileSync('cp', ['-a', first, moved]);
    const before = readTree(moved);

    const w = warnings();
    const s = await copy(src, moved, { progress: w.progress });
    expect(s.problemCount).toBe(0);
    expect(s.placed.inodesCopied).toBe(0);
    expect(s.adopted).toBe(5);
    expect(w.list.some((m) => m.startsWith('this mirror was copied here from another folder or drive'))).toBe(true);
    const after = readTree(moved);
    for (const p of ['h0/a', 'h1/a', 'h0/b']) expect(after.get(p)!.ino, p).toBe(before.get(p)!.ino);
    expectSameTopology(src, moved);
    expect((await verifyMirror(moved)).match).toBe(true);

    // Recorded now: the next run is a plain one, and so is one after a rename in place.
    const renamed = path.join(base, 'renamed');
    fs.renameSync(moved, renamed);
    const w2 = warnings();
    const again = await copy(src, renamed, { progress: w2.progress });
    expect(w2.list).toEqual([]);
    expect(again.adopted).toBe(0);
    expect(again.placed.inodesCopied).toBe(0);
    expect(again.placed.leftAlone).toBe(5);
  });

  it('is not taken for one when files were replaced in it by hand', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    buildTree(src, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`h0/f${i}`, file(`file ${i}`)])));
    const dst = path.join(base, 'mirror');
    await copy(src, dst);
    // Three of the twelve put back as copies (new inodes, the same bytes and times).
    for (const i of [0, 5, 11]) {
      const p = path.join(dst, `h0/f${i}`);
      execFileSync('cp', ['-p', p, `${p}.new`]);
      fs.renameSync(`${p}.new`, p);
    }
    const w = warnings();
    const s = await copy(src, dst, { progress: w.progress });
    expect(w.list).toEqual([]);
    expect(s.adopted).toBe(0);
  });
});
