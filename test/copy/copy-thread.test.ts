import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CopyThread } from '../../src/copy/copy-thread.js';
import { nsToSeconds } from '../../src/fs/ops.js';
import { EntryType, type StoredEntry } from '../../src/store/entry.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function entry(id: number, over: Partial<StoredEntry> = {}): StoredEntry {
  return {
    id, path: Buffer.from(`f${id}`), type: EntryType.file, dev: 1n, ino: BigInt(id), nlink: 1, size: 0n, mode: 0o640, uid: 1234, gid: 5678,
    mtimeNs: 1_600_000_000_123_456_789n, atimeNs: 1_500_000_000_987_654_321n, birthNs: 0n, target: null, rdev: 0n, ...over,
  } as StoredEntry;
}

/**
 * entry(id) as the scan of the file at `p` would have it, after setting the file's times to the
 * entry's: the thread compares the source with its scan after copying (see check-unchanged.ts).
 */
function scanned(id: number, p: Buffer | string): StoredEntry {
  const e = entry(id);
  fs.utimesSync(p, nsToSeconds(e.atimeNs), nsToSeconds(e.mtimeNs));
  const st = fs.lstatSync(p, { bigint: true });
  return { ...e, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, birthNs: st.birthtimeNs };
}

describe('CopyThread', () => {
  it('copies ahead with owner, mode and times set, renames into place, and answers each id with the inode', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-copy-thread-'));
    dirs.push(base);
    fs.mkdirSync(path.join(base, 'src'));
    fs.mkdirSync(path.join(base, 'dst'));
    fs.mkdirSync(path.join(base, 'tmp'));
    const name = (i: number) => (i === 3 ? Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe])]) : Buffer.from(`f${i}`));
    const srcOf = (i: number) => Buffer.concat([Buffer.from(path.join(base, 'src') + '/'), name(i)]);
    const dstOf = (i: number) => Buffer.concat([Buffer.from(path.join(base, 'dst') + '/'), name(i)]);
    for (let i = 0; i < 10; i++) if (i !== 7) fs.writeFileSync(srcOf(i), `content ${i}`.repeat(i + 1));
    // Where f8 goes stands a non-empty directory: the rename fails and the temp file stays.
    fs.mkdirSync(dstOf(8));
    fs.writeFileSync(Buffer.concat([dstOf(8), Buffer.from('/x')]), 'x');

    const owner = process.getuid?.() === 0;
    const t = new CopyThread(16, owner);
    const tmpOf = (i: number) => path.join(base, 'tmp', `t${i}`);
    try {
      for (let i = 0; i < 10; i++) t.start({ e: i === 7 ? entry(i) : scanned(i, srcOf(i)), src: srcOf(i), tmp: tmpOf(i), to: dstOf(i) });
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await t.take(i)!);
      expect(t.hasRoom()).toBe(true);
      expect(t.take(0)).toBeUndefined(); // taken once

      for (let i = 0; i < 10; i++) {
        const a = answers[i];
        expect(a.tmp).toBe(tmpOf(i));
        if (i === 7) {
          expect((a.err as NodeJS.ErrnoException).code).toBe('ENOENT'); // no such source file
          continue;
        }
        const st = fs.lstatSync(i === 8 ? tmpOf(8) : dstOf(i), { bigint: true });
        expect(a.ino).toBe(st.ino);
        expect(Number(st.mode & 0o7777n)).toBe(0o640);
        // Times to the microsecond, as utimes carries them.
        expect(st.mtimeNs / 1000n).toBe(1_600_000_000_123_456n);
        expect(st.atimeNs / 1000n).toBe(1_500_000_000_987_654n);
        if (owner) expect([st.uid, st.gid]).toEqual([1234n, 5678n]);
        if (i === 8) {
          expect(a.renamed).toBe(false);
          expect((a.renameErr as NodeJS.ErrnoException).code).toMatch(/^(EISDIR|ENOTEMPTY|EEXIST)$/);
        } else {
          expect(a.renamed).toBe(true);
          expect(fs.readFileSync(dstOf(i), 'utf8')).toBe(`content ${i}`.repeat(i + 1));
          expect(fs.existsSync(tmpOf(i))).toBe(false);
        }
      }
    } finally {
      await t.drain();
    }
  });

  it('drain() waits for copies not taken and drops those never posted', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-copy-thread-'));
    dirs.push(base);
    fs.writeFileSync(path.join(base, 'a'), 'a');
    const t = new CopyThread(16, false);
    for (let i = 0; i < 6; i++) t.start({ e: scanned(i, path.join(base, 'a')), src: Buffer.from(path.join(base, 'a')), tmp: path.join(base, `t${i}`), to: Buffer.from(path.join(base, `d${i}`)) });
    await t.drain();
    // Four were posted at once and are all in place; two waited for a fifth and were never made.
    expect([0, 1, 2, 3].map((i) => fs.readFileSync(path.join(base, `d${i}`), 'utf8'))).toEqual(['a', 'a', 'a', 'a']);
    expect([4, 5].map((i) => fs.existsSync(path.join(base, `d${i}`)) || fs.existsSync(path.join(base, `t${i}`)))).toEqual([false, false]);
  });

  it('with a hash algorithm, answers each copy with the digest of what it wrote, and still sets its atime', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-copy-thread-'));
    dirs.push(base);
    // Empty, one chunk, exactly one chunk (1 MiB), and several chunks with a short last one.
    const sizes = [0, 1000, 1 << 20, (3 << 20) + 17];
    const contents = sizes.map((n, i) => crypto.createHash('sha512').update(`seed ${i}`).digest().toString('hex').repeat(Math.ceil(n / 128)).slice(0, n));
    contents.forEach((c, i) => fs.writeFileSync(path.join(base, `s${i}`), c));
    const t = new CopyThread(16, false, 'sha256');
    try {
      for (let i = 0; i < sizes.length; i++) {
        t.start({ e: scanned(i, path.join(base, `s${i}`)), src: Buffer.from(path.join(base, `s${i}`)), tmp: path.join(base, `t${i}`), to: Buffer.from(path.join(base, `d${i}`)) });
      }
      for (let i = 0; i < sizes.length; i++) {
        const a = await t.take(i)!;
        expect(a.err).toBeUndefined();
        expect(a.hash?.bytes).toBe(BigInt(sizes[i]));
        expect(a.hash?.hash.toString('hex')).toBe(crypto.createHash('sha256').update(contents[i]).digest('hex'));
        // Read back before its times were set: the atime is the source's, not the moment of the read.
        expect(fs.lstatSync(path.join(base, `d${i}`), { bigint: true }).atimeNs / 1000n).toBe(1_500_000_000_987_654n);
      }
    } finally {
      await t.drain();
    }
    // Without one, no digest.
    const plain = new CopyThread(16, false);
    try {
      plain.start({ e: scanned(9, path.join(base, 's1')), src: Buffer.from(path.join(base, 's1')), tmp: path.join(base, 't9'), to: Buffer.from(path.join(base, 'd9')) });
      const a = await plain.take(9)!;
      expect(a.renamed).toBe(true);
      expect(a.hash).toBeUndefined();
      expect(fs.readFileSync(path.join(base, 'd9'), 'utf8')).toBe(contents[1]);
    } finally {
      await plain.drain();
    }
  });
});
