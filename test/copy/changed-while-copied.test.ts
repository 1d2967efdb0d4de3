// A source file that changes while linkmirror copies it (found by a tester: a 300 MB file written
// to with dd during the copy was copied torn, stamped with the scan's mtime, hashed into the
// manifest as it was, and the run said "problems 0"). After its content is copied, the source is
// looked at again: a size, mtime or birth time other than the scan's means the copy may mix old
// and new bytes, so it is not put in place, no row is written for it, and the path is reported.
// The next run, with the source at rest, copies it as it is then.
//
// Deterministic: the main thread's copy goes through an injected FsOps whose copyFile tears the
// file the way a writer beside it would (first half old, a write into the source, second half
// new); the copy thread, which takes no injected ops, gets a source changed between the scan and
// its copy (from the content pass's start), which the same comparison catches. A change in the
// middle of the copy thread's copyFile would need a timer racing a large copy: not made here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy, type CopySummary } from '../../src/copy/copy.js';
import { CopyThread } from '../../src/copy/copy-thread.js';
import { realFsOps, type FsOps } from '../../src/fs/ops.js';
import { noProgress, type Progress } from '../../src/progress.js';
import { EntryType, type StoredEntry } from '../../src/store/entry.js';
import { verifyMirror } from '../../src/verify/verify.js';
import { indexRows, tmpLeft } from '../helpers/mirror-state.js';
import { buildTree, expectSameTopology, file, link, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** Long ago, so that any write now moves the mtime. */
const OLD = new Date('2021-03-04T05:06:07Z');
const NEWER = new Date('2022-03-04T05:06:07Z');
const BIG = 256 * 1024;

/** Three snapshots sharing `big` by hard links, with a few small files beside it. */
function setup(): { src: string; dst: string } {
  const base = temp();
  const src = path.join(base, 'src');
  const big = Buffer.alloc(BIG, 'a');
  buildTree(src, {
    'h0/big': file(big, { mtime: OLD }),
    'h1/big': link('h0/big'),
    'h2/big': link('h0/big'),
    ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`h0/small${i}`, file(`small ${i}`, { mtime: OLD })])),
    'h1/small0': link('h0/small0'),
  });
  return { src, dst: path.join(base, 'dst') };
}

/** What a writer beside the copy does: a few bytes in each half of the file, in place (dd conv=notrunc). */
function writeInPlace(p: fs.PathLike): void {
  const fd = fs.openSync(p, 'r+');
  try {
    for (const at of [1000, BIG / 2 + 1000]) fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, at);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The real filesystem operations, but the first copy of a source path ending in `/big` is torn:
 * its first half is read, the source is written to, then its second half is read. Returns the
 * torn bytes as copied, for the test to look for in the destination.
 */
function tearingOps(): { ops: FsOps; torn: () => Buffer | undefined } {
  let torn: Buffer | undefined;
  const ops: FsOps = {
    ...realFsOps,
    copyFile: (from, to) => {
      if (torn !== undefined || !String(from).endsWith('/big')) return realFsOps.copyFile(from, to);
      const half = fs.readFileSync(from).subarray(0, BIG / 2);
      writeInPlace(from);
      torn = Buffer.concat([half, fs.readFileSync(from).subarray(BIG / 2)]);
      fs.writeFileSync(to, torn, { flag: 'wx' });
    },
  };
  return { ops, torn: () => torn };
}

/** A Progress that runs `then` once, as the content pass starts: after the scan, before any copy. */
function atContentPass(then: () => void): Progress {
  return { ...noProgress, start: (phase) => void (phase === 'content' && then()) };
}

/** Every regular file of the big file's size under root (the state folder too), with its bytes. */
function filesUnder(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const rel of fs.readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const p = path.join(root, rel);
    if (fs.lstatSync(p).isFile() && fs.statSync(p).size === BIG) out.set(rel, fs.readFileSync(p));
  }
  return out;
}

/** The changed file's group is reported (its first path as changed), absent from DST and from the index. */
function expectReportedNotPlaced(summary: CopySummary, dst: string): void {
  expect(summary.interrupted).toBe(false);
  const changed = summary.problems.find((p) => p.path === 'h0/big');
  expect(changed, JSON.stringify(summary.problems)).toBeDefined();
  expect(changed!.code).toBe('ECHANGED');
  expect(changed!.message).toMatch(/changed while it was copied.*run the same command again/);
  // Its other paths are not copied either: they would be links to it.
  expect(summary.problems.map((p) => p.path).sort()).toEqual(['h0/big', 'h1/big', 'h2/big']);
  expect(summary.problemCount).toBe(3);
  const rows = indexRows(dst);
  for (const key of ['h0/big', 'h1/big', 'h2/big']) {
    expect(fs.existsSync(path.join(dst, key))).toBe(false);
    expect(rows.has(key)).toBe(false);
  }
  expect(rows.has('h0/small3')).toBe(true); // the rest of the tree was copied
  expect(tmpLeft(dst)).toEqual([]);
}

/** A run with the source at rest: clean, and the mirror is the source, content, times and links. */
async function expectCleanRerun(src: string, dst: string): Promise<void> {
  const again = await copy(src, dst);
  expect(again.problems).toEqual([]);
  expect(again.problemCount).toBe(0);
  expect(again.placed.inodesCopied).toBe(1);
  expectSameTopology(src, dst);
  expect(fs.readFileSync(path.join(dst, 'h2/big')).equals(fs.readFileSync(path.join(src, 'h0/big')))).toBe(true);
  const report = await verifyMirror(dst);
  expect(report.match).toBe(true);
}

describe('a source file that changes while it is copied', () => {
  it('regression: a file torn by a write during its copy is reported, not placed, and copied by the next run', async () => {
    const { src, dst } = setup();
    const { ops, torn } = tearingOps();
    const summary = await copy(src, dst, { ops });
    expect(torn()).toBeDefined();
    expectReportedNotPlaced(summary, dst);
    // No file in the destination holds the torn bytes, under any name.
    for (const [rel, content] of filesUnder(dst)) expect(content.equals(torn()!), rel).toBe(false);
    await expectCleanRerun(src, dst);
  });

  it('on an incremental run, the copy made before stays as it was, and the torn one is not put over it', async () => {
    const { src, dst } = setup();
    expect((await copy(src, dst)).problemCount).toBe(0);
    const before = fs.readFileSync(path.join(dst, 'h0/big'));
    const beforeStat = fs.lstatSync(path.join(dst, 'h0/big'), { bigint: true });
    // A new version in the source (its mtime moves), which the next run copies, torn.
    fs.writeFileSync(path.join(src, 'h0/big'), Buffer.alloc(BIG, 'b'));
    fs.utimesSync(path.join(src, 'h0/big'), NEWER, NEWER); // not the instant of the tear's write
    const { ops, torn } = tearingOps();
    const summary = await copy(src, dst, { ops });
    expect(torn()).toBeDefined();
    const changed = summary.problems.find((p) => p.path === 'h0/big');
    expect(changed?.code, JSON.stringify(summary.problems)).toBe('ECHANGED');
    for (const key of ['h0/big', 'h1/big', 'h2/big']) {
      const st = fs.lstatSync(path.join(dst, key), { bigint: true });
      expect(st.ino).toBe(beforeStat.ino);
      expect(st.mtimeNs).toBe(beforeStat.mtimeNs);
      expect(fs.readFileSync(path.join(dst, key)).equals(before)).toBe(true);
    }
    for (const [rel, content] of filesUnder(dst)) expect(content.equals(torn()!), rel).toBe(false);
    await expectCleanRerun(src, dst);
  });

  it('a first copy on the copy thread does not place a file changed after the scan', async () => {
    const { src, dst } = setup();
    // Through realFsOps: the content copies run on the copy thread (copy-thread.ts).
    const summary = await copy(src, dst, { progress: atContentPass(() => writeInPlace(path.join(src, 'h0/big'))) });
    expectReportedNotPlaced(summary, dst);
    await expectCleanRerun(src, dst);
  });

  it('the copy thread answers ECHANGED for a source that is not what the scan saw, and leaves its path free', async () => {
    const base = temp();
    const srcOf = (i: number) => path.join(base, `s${i}`);
    const dstOf = (i: number) => path.join(base, `d${i}`);
    for (let i = 0; i < 4; i++) fs.writeFileSync(srcOf(i), `content ${i}`);
    const scanned = (i: number): StoredEntry => {
      const st = fs.lstatSync(srcOf(i), { bigint: true });
      return {
        id: i, path: Buffer.from(`s${i}`), type: EntryType.file, dev: st.dev, ino: st.ino, nlink: 1, size: st.size, mode: 0o644, uid: 0, gid: 0,
        mtimeNs: st.mtimeNs, atimeNs: st.atimeNs, birthNs: st.birthtimeNs, target: null, rdev: 0n,
      };
    };
    const rows = [
      scanned(0), // as it is
      { ...scanned(1), mtimeNs: scanned(1).mtimeNs - 1_000_000_000n }, // written since the scan
      { ...scanned(2), size: scanned(2).size + 1n }, // truncated since
      { ...scanned(3), ino: scanned(3).ino + 1n }, // another file renamed over it since
    ];
    const t = new CopyThread(16, false, 'sha256');
    try {
      rows.forEach((e, i) => t.start({ e, src: Buffer.from(srcOf(i)), tmp: path.join(base, `t${i}`), to: Buffer.from(dstOf(i)) }));
      const answers = [];
      for (let i = 0; i < rows.length; i++) answers.push(await t.take(i)!);
      expect(answers[0].renamed).toBe(true);
      expect(fs.readFileSync(dstOf(0), 'utf8')).toBe('content 0');
      for (let i = 1; i < rows.length; i++) {
        expect((answers[i].err as NodeJS.ErrnoException | undefined)?.code, `s${i}`).toBe('ECHANGED');
        expect(fs.existsSync(dstOf(i))).toBe(false);
      }
    } finally {
      await t.drain();
    }
  });
});
