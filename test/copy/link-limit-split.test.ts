// Splits: a source inode with more paths than one destination inode can hold is spread over
// several destination inodes, each full up to the limit, every path with the right content.
// Forced at a tiny limit through injected fs operations, and for real: 70,000 links of one
// xfs inode copied onto ext4 (limit 65,000), and btrfs without extended refs, whose refs to one
// inode from one directory must fit in a metadata leaf and give EMLINK after a few hundred.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { realFsOps, type FsOps, type Path } from '../../src/fs/ops.js';
import { faultyOps, linkLimit } from '../helpers/faulty-ops.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, expectSameTopology, file, inodeClasses, link, readTree, symlink, tempDirs, type TreeNode } from '../helpers/tree.js';

const temp = tempDirs();

/** A group of n paths: g/0 holds the content, g/1 … g/(n-1) link to it. */
function groupSpec(n: number, content: string, dirName = 'g'): Record<string, TreeNode> {
  const spec: Record<string, TreeNode> = { [`${dirName}/0`]: file(content) };
  for (let i = 1; i < n; i++) spec[`${dirName}/${i}`] = link(`${dirName}/0`);
  return spec;
}

/** Destination inodes (by ino) of the paths under root whose key starts with prefix, with their path counts. */
function dstInodes(root: string, prefix: string): Map<bigint, { paths: number; nlink: number }> {
  const out = new Map<bigint, { paths: number; nlink: number }>();
  for (const n of readTree(root).values()) {
    if (n.type === 'dir' || !n.key.startsWith(prefix)) continue;
    const seen = out.get(n.ino) ?? { paths: 0, nlink: n.nlink };
    seen.paths++;
    out.set(n.ino, seen);
  }
  return out;
}

/** Record the source path of every copyFile without failing any. */
function recordCopies(into: string[]) {
  return { op: 'copyFile' as const, code: 'EIO', when: (from: Path) => (into.push(from.toString()), false) };
}

describe('link-limit splits, injected', () => {
  it('a group of 10 paths at a limit of 3 becomes ceil(10/3) = 4 inodes, full ones first', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, { ...groupSpec(10, 'ten paths'), 'other/x': file('x'), 'other/y': link('other/x') });
    const copies: string[] = [];
    const ops = faultyOps(realFsOps, [linkLimit(3), recordCopies(copies)]);
    const summary = await copy(src, dst, { ops });

    expect(summary.problemCount).toBe(0);
    expect(summary.placed.splits).toBe(3);
    expect(summary.placed.inodesCopied).toBe(1 + 3 + 1);
    expect(summary.placed.linksMade).toBe(6 + 1);
    expect(ops.failures.link).toBe(3); // one EMLINK per split
    const topo = expectSameTopology(src, dst, { allowSplits: true, linkMax: 3 });
    expect(topo).toMatchObject({ srcInodes: 2, dstInodes: 5, splitGroups: 1 });

    const groups = inodeClasses(dst).filter((c) => c[0].startsWith('g/'));
    expect(groups.map((c) => c.length).sort()).toEqual([1, 3, 3, 3]);
    const d = readTree(dst);
    for (let i = 0; i < 10; i++) expect(d.get(`g/${i}`)!.content!.toString()).toBe('ten paths');
    expect([...dstInodes(dst, 'g/').values()].map((v) => v.nlink).sort()).toEqual([1, 3, 3, 3]);
    // The content is read from the source once; each split copies the destination's first copy.
    const fromSrc = copies.filter((p) => p.startsWith(fs.realpathSync(src)));
    const fromDst = copies.filter((p) => p.startsWith(fs.realpathSync(dst)) && !p.includes('/.linkmirror/'));
    expect(fromSrc.map((p) => path.relative(fs.realpathSync(src), p)).sort()).toEqual(['g/0', 'other/x']);
    expect(fromDst).toHaveLength(3);
  });

  it("splits on ntfs-3g's ERANGE as on EMLINK (its answer past some 8,190 links to one file)", async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, groupSpec(7, 'seven'));
    const ops = faultyOps(realFsOps, [{ ...linkLimit(3), code: 'ERANGE' }]);
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(0);
    expect(summary.placed).toMatchObject({ splits: 2, inodesCopied: 3, linksMade: 4 });
    expect(ops.failures.link).toBe(2);
    expectSameTopology(src, dst, { allowSplits: true, linkMax: 3 });
  });

  it('splits on an EMLINK that comes before the expected limit, with symlinks and content in one run', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, {
      ...groupSpec(6, 'six'),
      's/0': symlink('../g/0'),
      's/1': link('s/0'),
      's/2': link('s/0'),
    });
    // The 3rd link() the copy makes fails once, as a filesystem might refuse early.
    const ops = faultyOps(realFsOps, { op: 'link', nth: 4, code: 'EMLINK' }); // the 1st link is the probe
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(0);
    expect(summary.placed.splits).toBe(1);
    expectSameTopology(src, dst, { allowSplits: true });
    const all = [...dstInodes(dst, '').values()];
    expect(all.reduce((n, v) => n + v.paths, 0)).toBe(9);
    expect(all).toHaveLength(3); // g split in two, s whole
    for (const v of all) expect(v.nlink).toBe(v.paths);
  });
});

describe('link-limit splits, run again', () => {
  it('a split mirror run again: nothing rewritten; new paths of the group join it, still within the limit', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(base, 'dst');
    buildTree(src, groupSpec(10, 'ten paths'));
    await copy(src, dst, { ops: faultyOps(realFsOps, linkLimit(3)) });
    const before = readTree(dst);

    const same = await copy(src, dst, { ops: faultyOps(realFsOps, linkLimit(3)) });
    expect(same.problemCount).toBe(0);
    expect(same.placed).toMatchObject({ inodesCopied: 0, linksMade: 0, alreadyPresent: 10 });
    const after = readTree(dst);
    for (const [key, n] of before) expect(after.get(key)!.ino, key).toBe(n.ino);

    fs.linkSync(path.join(src, 'g/0'), path.join(src, 'g/10'));
    fs.linkSync(path.join(src, 'g/0'), path.join(src, 'g/11'));
    const grown = await copy(src, dst, { ops: faultyOps(realFsOps, linkLimit(3)) });
    expect(grown.problemCount).toBe(0);
    expect(grown.placed.alreadyPresent).toBe(10);
    // The part of the group with room (one path of three) takes both: no new content.
    expect(grown.placed).toMatchObject({ inodesCopied: 0, bytesCopied: 0n, splits: 0, linksMade: 2 });
    expectSameTopology(src, dst, { allowSplits: true, linkMax: 3 });
    const final = readTree(dst);
    for (const [key, n] of before) expect(final.get(key)!.ino, key).toBe(n.ino);
    expect(dstInodes(dst, 'g/').size).toBe(4);
  });
});

describe('link-limit splits, on real filesystems', () => {
  // The source must hold one inode with 70,000 links: only xfs (2^31-1) of the usual ones can.
  // Creating them takes a few seconds; the copy and the checks take some more.
  it('70,000 links of one xfs inode onto ext4 (limit 65,000): two inodes, 65,000 + 5,000', async (ctx) => {
    const N = 70_000;
    const srcFs = useLoopMount(ctx, 'xfs', 300);
    const dstFs = useLoopMount(ctx, 'ext4', 128, ['-N', '4096']);
    const src = path.join(srcFs.dir, 's');
    const dst = path.join(dstFs.dir, 'd');
    const dirs = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const per = N / dirs.length;
    fs.mkdirSync(src);
    for (const d of dirs) fs.mkdirSync(path.join(src, d));
    const first = path.join(src, 'a/0');
    fs.writeFileSync(first, 'one inode, seventy thousand names\n');
    for (const d of dirs) {
      for (let i = d === 'a' ? 1 : 0; i < per; i++) fs.linkSync(first, path.join(src, d, String(i)));
    }
    fs.writeFileSync(path.join(src, 'solo'), 'not linked');
    expect(fs.lstatSync(first).nlink).toBe(N);

    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expect(summary.plan).toMatchObject({ fsType: 'ext4', linkMax: 65_000, expectedSplits: 1 });
    expect(summary.placed.splits).toBeGreaterThanOrEqual(1);
    expect(summary.placed).toMatchObject({ splits: 1, inodesCopied: 3, linksMade: N - 2 });

    // Every path present, with its content, on one of two inodes whose nlink is its path count.
    const content = fs.readFileSync(first);
    const byIno = new Map<bigint, number>();
    let wrong = 0;
    for (const d of dirs) {
      for (let i = 0; i < per; i++) {
        const p = path.join(dst, d, String(i));
        const st = fs.lstatSync(p, { bigint: true });
        byIno.set(st.ino, (byIno.get(st.ino) ?? 0) + 1);
        if (st.size !== BigInt(content.length)) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(byIno.size).toBe(2);
    const counts = [...byIno.values()].sort((x, y) => y - x);
    expect(counts).toEqual([65_000, 5_000]);
    // nlink of each destination inode, and the content of both copies.
    const inodes = new Map<bigint, string>();
    for (const d of dirs) {
      for (const i of [0, per - 1]) {
        const p = path.join(dst, d, String(i));
        inodes.set(fs.lstatSync(p, { bigint: true }).ino, p);
      }
    }
    for (const [ino, p] of inodes) {
      expect(fs.lstatSync(p).nlink).toBe(byIno.get(ino));
      expect(fs.readFileSync(p).equals(content)).toBe(true);
    }
    expect(inodes.size).toBe(2);
    expect(fs.readFileSync(path.join(dst, 'solo'), 'utf8')).toBe('not linked');
    expectSameTopology(src, dst, { allowSplits: true, linkMax: 65_000 });
  }, 300_000);

  it('btrfs without extended refs: EMLINK after a few hundred names in one directory, and the copy splits', async (ctx) => {
    const N = 1000;
    const dstFs = useLoopMount(ctx, 'btrfs', 128, ['-O', '^extref', '-n', '4096']);
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(dstFs.dir, 'd');
    buildTree(src, { ...groupSpec(N, 'many names in one directory'), 'h/0': file('small group'), 'h/1': link('h/0') });
    // The real operations, counting the kernel's refusals.
    let emlinks = 0;
    const ops: FsOps = {
      ...realFsOps,
      link(existing, created) {
        try {
          realFsOps.link(existing, created);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EMLINK') emlinks++;
          throw err;
        }
      },
    };
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(0);
    expect(summary.plan.fsType).toBe('btrfs');
    expect(summary.plan.expectedSplits).toBe(0); // 1000 < 65,535: only the kernel knows
    expect(emlinks).toBeGreaterThan(0); // the kernel really refused
    expect(summary.placed.splits).toBeGreaterThanOrEqual(1);

    const inodes = dstInodes(dst, 'g/');
    expect(inodes.size).toBe(summary.placed.splits + 1);
    let paths = 0;
    for (const v of inodes.values()) {
      expect(v.nlink).toBe(v.paths);
      paths += v.paths;
    }
    expect(paths).toBe(N);
    // Split only when full: every inode but the last holds as many names as the leaf allowed.
    const sizes = [...inodes.values()].map((v) => v.paths).sort((x, y) => y - x);
    for (const s of sizes.slice(0, -1)) expect(s).toBeGreaterThan(200);
    expectSameTopology(src, dst, { allowSplits: true });
    const d = readTree(dst);
    for (let i = 0; i < N; i++) expect(d.get(`g/${i}`)!.content!.toString()).toBe('many names in one directory');
  });

  it('btrfs (extended refs, the default): 5,000 links in one directory stay one inode', async (ctx) => {
    const N = 5000;
    const dstFs = useLoopMount(ctx, 'btrfs', 128);
    const base = temp();
    const src = path.join(base, 'src');
    const dst = path.join(dstFs.dir, 'd');
    buildTree(src, groupSpec(N, 'five thousand'));
    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expect(summary.placed).toMatchObject({ splits: 0, inodesCopied: 1, linksMade: N - 1 });
    const inodes = dstInodes(dst, 'g/');
    expect([...inodes.values()]).toEqual([{ paths: N, nlink: N }]);
    expectSameTopology(src, dst);
  });
});
