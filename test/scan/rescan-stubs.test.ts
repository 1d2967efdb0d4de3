// A scan over a complete one takes a path whose directory entry names the inode its row names as
// it is (a stub, no lstat), and lstats one path per inode after the walk (see src/scan/scan.ts):
// the directory entries as getdents64 gives them, the lstats that are left, the rows a rescan
// writes against a scan from scratch, and the scan run again when a sample path no longer holds
// its inode.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { direntInodes, DirentReader } from '../../src/fs/dirents.js';
import { realFsOps } from '../../src/fs/ops.js';
import { scan } from '../../src/scan/scan.js';
import { EntryType, type StoredEntry } from '../../src/store/entry.js';
import { Index } from '../../src/store/index-db.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { buildTree, fifo, file, link, symlink, tempDirs, type TreeNode, type TreeSpec } from '../helpers/tree.js';

const temp = tempDirs();
const open: Index[] = [];
afterEach(() => {
  for (const index of open.splice(0)) index.close();
});

function indexAt(base: string, name: string): Index {
  const index = Index.open(path.join(base, `${name}.db`));
  open.push(index);
  return index;
}

const rows = (index: Index): StoredEntry[] => [...index.srcAll()].flat();
/** Rows as a scan from scratch writes them: ids and atimes (not compared by a rescan) left out. */
const fields = (list: StoredEntry[]) => list.map((e) => ({ ...e, id: undefined, atimeNs: undefined, nlink: undefined }));

/** Three snapshots of 40 files each, all but a few linked to the first snapshot's. */
function snapshots(): TreeSpec {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 40; i++) {
    spec[`s0/d${i % 4}/f${i}`] = file(`content ${i}`, { mtime: 1_600_000_000 + i });
    for (const s of ['s1', 's2']) spec[`${s}/d${i % 4}/f${i}`] = i % 10 === 0 ? file(`${s} ${i}`) : link(`s0/d${i % 4}/f${i}`);
  }
  spec['s0/link'] = symlink('d0/f0');
  spec['s1/link'] = symlink('d0/f0');
  spec['s2/pipe'] = fifo();
  return spec;
}

/** snapshots() built in a new temp dir, and an index there that has scanned it once. */
async function scannedSnapshots(): Promise<{ base: string; src: string; index: Index; first: Awaited<ReturnType<typeof scan>> }> {
  const base = temp();
  const src = path.join(base, 'src');
  buildTree(src, snapshots());
  const index = indexAt(base, 'index');
  return { base, src, index, first: await scan(src, index) };
}

describe('directory entries with their inode numbers', () => {
  it('getdents64 gives every name as bytes, its type and the inode lstat gives, without . and ..', () => {
    expect(direntInodes()).toBe(true);
    const dir = temp();
    const odd = Buffer.from([0x6f, 0x64, 0x64, 0xff, 0x0a, 0x6e]); // not UTF-8, with a newline
    fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), odd]), 'x');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
    // Enough long names that the listing takes several getdents64 calls (256 KiB each).
    for (let i = 0; i < 1500; i++) fs.writeFileSync(path.join(dir, `${'n'.repeat(200)}${i}`), '');
    const got = new DirentReader().read(dir);
    expect(got).toHaveLength(1503);
    const byName = new Map(got.map((d) => [d.name.toString('latin1'), d]));
    expect(byName.get(odd.toString('latin1'))?.type).toBe(EntryType.file);
    expect(byName.get('sub')?.type).toBe(EntryType.dir);
    expect(byName.get('dangling')?.type).toBe(EntryType.symlink);
    for (const d of got) {
      expect(d.ino).toBe(fs.lstatSync(Buffer.concat([Buffer.from(`${dir}/`), d.name]), { bigint: true }).ino);
    }
    expect(() => new DirentReader().read(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('a rescan over a complete scan', () => {
  it('lstats the directories and one path per inode, and writes no row for a tree as it was', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    buildTree(src, snapshots());
    const ops = faultyOps(realFsOps, []);
    const index = indexAt(base, 'index');
    const first = await scan(src, index, { ops });
    const paths = first.totals.paths;
    expect(ops.calls.lstat).toBe(paths); // a scan from scratch looks at every path
    const before = ops.calls.lstat;
    const again = await scan(src, index, { ops });
    expect(again.rowsWritten).toBe(0);
    // The root and 3 + 12 directories, then one path for each of the 40 + 8 files, 2 symlinks and the FIFO.
    expect(ops.calls.lstat - before).toBe(16 + first.totals.inodes);
    expect(first.totals.inodes).toBe(51);
    expect(ops.calls.readdirInodes).toBeGreaterThan(0);
  });

  it('ends with the rows a scan from scratch writes, whatever changed: in place, replaced, moved, a new number, chmod', async () => {
    const { base, src, index } = await scannedSnapshots();
    const at = (rel: string) => path.join(src, rel);
    fs.appendFileSync(at('s0/d1/f1'), ' and more'); // in place: size and mtime, every path of the inode
    fs.chmodSync(at('s0/d2/f2'), 0o600); // in place: mode
    fs.utimesSync(at('s2/d3/f3'), 1_500_000_000, 1_500_000_000); // in place: mtime alone, through another path
    fs.rmSync(at('s1/d0/f4')); // a path replaced by another inode
    fs.writeFileSync(at('s1/d0/f4'), 'new');
    fs.renameSync(at('s2/d1/f5'), at('s2/d1/moved')); // a path moved
    fs.rmSync(at('s0/link')); // a symlink replaced
    fs.symlinkSync('d1/f1', at('s0/link'));
    fs.rmSync(at('s2/d2/f10')); // an inode gone, and a new file at its path (perhaps with its number)
    fs.writeFileSync(at('s2/d2/f10'), 'another');
    const rescan = await scan(src, index);
    expect(rescan.rowsWritten).toBeGreaterThan(0);
    const fresh = indexAt(base, 'fresh');
    await scan(src, fresh);
    expect(fields(rows(index))).toEqual(fields(rows(fresh)));
    expect(rescan.totals).toEqual((await scan(src, fresh)).totals);
  });

  it('a sample path that no longer holds its inode after the walk: the scan runs again and lstats every path', async () => {
    const { base, src, index, first } = await scannedSnapshots();
    // The first lstat of s0/d0/f0 in the rescan is the one after the walk (the walk took it as a
    // stub): it says the path is gone, as if the file were removed between the two.
    const ops = faultyOps(realFsOps, { op: 'lstat', path: Buffer.from(path.join(src, 's0/d0/f0')), nth: 1, code: 'ENOENT' });
    const again = await scan(src, index, { ops });
    expect(ops.failures.lstat).toBe(1);
    expect(again.problemCount).toBe(0);
    expect(again.totals).toEqual(first.totals);
    // The samples up to that one, then a scan that lstats every path.
    expect(ops.calls.lstat).toBeGreaterThan(first.totals.paths);
    const fresh = indexAt(base, 'fresh');
    await scan(src, fresh);
    expect(fields(rows(index))).toEqual(fields(rows(fresh)));
  });

  it('paths whose directory entries carry no type come lstatted, and are compared with the whole row (read by its id)', async () => {
    const { base, src, index } = await scannedSnapshots();
    // As a filesystem that leaves d_type unknown would list s1 and everything below it.
    const s1 = Buffer.from(path.join(src, 's1'));
    const typeless: typeof realFsOps = {
      ...realFsOps,
      readdirInodes: (p) => {
        const list = realFsOps.readdirInodes(p);
        const b = Buffer.from(p);
        return b.subarray(0, s1.length).equals(s1) ? list.map((d) => ({ ...d, type: undefined })) : list;
      },
    };
    const ops = faultyOps(typeless, []);
    const same = await scan(src, index, { ops });
    expect(same.rowsWritten).toBe(0);
    expect(ops.calls.lstat).toBeGreaterThan(16 + 51); // s1's 41 paths each, beside the samples
    fs.chmodSync(path.join(src, 's1/d0/f0'), 0o600); // s1's own inode (i % 10 === 0)
    fs.writeFileSync(path.join(src, 's1/d1/f1'), 'replaced'); // through the link: s0's inode changes in place
    const changed = await scan(src, index, { ops: faultyOps(typeless, []) });
    expect(changed.rowsWritten).toBeGreaterThan(0);
    const fresh = indexAt(base, 'fresh');
    await scan(src, fresh);
    expect(fields(rows(index))).toEqual(fields(rows(fresh)));
  });
});
