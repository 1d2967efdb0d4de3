import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LstatThreads, lstatAhead, lstatHere, type PathFacts } from '../../src/fs/lstat-threads.js';
import { realFsOps } from '../../src/fs/ops.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tree(): Buffer {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-lstat-threads-'));
  dirs.push(root);
  fs.mkdirSync(path.join(root, 'd'));
  fs.writeFileSync(path.join(root, 'd', 'f'), 'twelve bytes');
  fs.linkSync(path.join(root, 'd', 'f'), path.join(root, 'f-link'));
  fs.symlinkSync('nowhere', path.join(root, 'dangling'));
  // A name that is not UTF-8, and one with a newline.
  fs.writeFileSync(Buffer.concat([Buffer.from(root + '/'), Buffer.from([0x66, 0xff, 0xfe])]), 'x');
  fs.writeFileSync(path.join(root, 'new\nline'), '');
  // Times before 1970 travel as negative nanoseconds; an owner other than root where allowed.
  fs.utimesSync(path.join(root, 'new\nline'), '-86400.25', '-86400.25'); // a negative number would mean now
  if (process.getuid?.() === 0) fs.chownSync(path.join(root, 'new\nline'), 1234, 5678);
  return Buffer.from(root);
}

describe('LstatThreads', () => {
  it('answers each path with the inode, mode and size lstat gives, in the order asked, across both threads', async () => {
    const root = tree();
    const rels = ['d/f', 'missing', 'dangling', 'd', '', 'f-link', 'new\nline'].map((r) => Buffer.from(r));
    rels.push(Buffer.from([0x66, 0xff, 0xfe]));
    rels.push(Buffer.from('d/f/under-a-file'));
    const threads = new LstatThreads(root, 2);
    try {
      // The threads' answers, and the same through an ops object on this thread (lstatHere).
      for (const facts of [await threads.lstat(rels), lstatHere(realFsOps, root, rels)] as PathFacts[]) {
      expect(facts.count).toBe(rels.length);
      for (let i = 0; i < rels.length; i++) {
        const p = rels[i].length === 0 ? root : Buffer.concat([root, Buffer.from('/'), rels[i]]);
        let want: fs.BigIntStats | undefined;
        let code: string | undefined;
        try {
          want = fs.lstatSync(p, { bigint: true });
        } catch (err) {
          code = (err as NodeJS.ErrnoException).code;
        }
        if (want) {
          expect(facts.error(i), rels[i].toString()).toBeUndefined();
          expect([facts.ino(i), facts.mode(i), facts.size(i)]).toEqual([want.ino, want.mode, want.size]);
          expect([facts.dev(i), facts.uid(i), facts.gid(i), facts.mtimeNs(i), facts.birthNs(i), facts.rdev(i)]).toEqual([
            want.dev, want.uid, want.gid, want.mtimeNs, want.birthtimeNs, want.rdev,
          ]);
        } else {
          expect((facts.error(i) as NodeJS.ErrnoException).code, rels[i].toString()).toBe(code);
          expect(facts.ino(i)).toBe(0n);
        }
      }
      expect(['missing', 'd/f/under-a-file'].map((r) => (facts.error(rels.findIndex((x) => x.toString() === r)) as NodeJS.ErrnoException).code)).toEqual(['ENOENT', 'ENOTDIR']);
      // Two paths of one inode give one inode number; the symlink is not followed.
      expect(facts.ino(0)).toBe(facts.ino(5));
      expect(facts.mode(2) & 0o170000n).toBe(0o120000n);
      expect(facts.size(0)).toBe(12n);
      expect(facts.mtimeNs(rels.findIndex((x) => x.toString() === 'new\nline'))).toBeLessThan(0n);
      }
    } finally {
      await threads.close();
    }
  });

  it('takes one request after another, an empty one and one larger than a thread count', async () => {
    const root = tree();
    const threads = new LstatThreads(root, 3);
    try {
      expect((await threads.lstat([])).count).toBe(0);
      const one = await threads.lstat([Buffer.from('d/f')]);
      expect(one.size(0)).toBe(12n);
      const many = Array.from({ length: 1000 }, (_, i) => Buffer.from(i % 2 === 0 ? 'd/f' : 'missing'));
      const facts = await threads.lstat(many);
      for (let i = 0; i < many.length; i++) {
        if (i % 2 === 0) expect(facts.size(i)).toBe(12n);
        else expect(facts.error(i)).toBeDefined();
      }
    } finally {
      await threads.close();
    }
  });

  it('lstatAhead: each page with its facts, the next page read and handed over before this one is given out', async () => {
    const root = tree();
    const pages = [['d', 'f-link'], ['dangling', 'missing'], ['d/f']].map((p) => p.map((r) => Buffer.from(r)));
    let read = 0;
    function* source() {
      for (const page of pages) {
        read++;
        yield page;
      }
    }
    for (const threads of [new LstatThreads(root, 2), undefined]) {
      read = 0;
      const seen: [number, bigint[], boolean[]][] = [];
      try {
        for await (const { page, facts } of lstatAhead(source(), (b) => b, root, realFsOps, threads)) {
          seen.push([read, page.map((_, i) => facts.ino(i)), page.map((_, i) => facts.error(i) !== undefined)]);
        }
      } finally {
        await threads?.close();
      }
      const ino = (rel: string) => fs.lstatSync(path.join(root.toString(), rel), { bigint: true }).ino;
      // Page k is given out once page k + 1 has been read (all of them, for the last).
      expect(seen).toEqual([
        [2, [ino('d'), ino('f-link')], [false, false]],
        [3, [ino('dangling'), 0n], [false, true]],
        [3, [ino('d/f')], [false]],
      ]);
    }
    // Stopped early: no page is read beyond the one looked at ahead.
    read = 0;
    for await (const { page } of lstatAhead(source(), (b) => b, root, realFsOps)) {
      expect(page).toBe(pages[0]);
      break;
    }
    expect(read).toBe(2);
  });
});
