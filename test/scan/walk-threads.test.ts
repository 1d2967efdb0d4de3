// The walk threads (compiled code only, so through the built CLI): `linkmirror scan --index`
// lists on one thread and lstats on others; its index must hold exactly the rows a walk on the
// main thread writes — same order, same fields, byte names and targets — across more chunks
// than the threads may have out at once, so that each stat thread answers many in turn.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scan } from '../../src/scan/scan.js';
import { Index } from '../../src/store/index-db.js';
import type { StoredEntry } from '../../src/store/entry.js';
import { expectExit, runCli } from '../helpers/cli.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, dir, fifo, file, link, symlink, tempDirs, type TreeNode } from '../helpers/tree.js';

const temp = tempDirs();

function rows(file: string): StoredEntry[] {
  const index = Index.open(file);
  try {
    return [...index.srcAll()].flat();
  } finally {
    index.close();
  }
}

describe('the walk threads', () => {
  it('write the same index rows as a walk on the main thread, over many chunks', async () => {
    const base = temp();
    const src = path.join(base, 'src');
    const odd = Buffer.from([0x6e, 0xe9, 0xff]).toString('latin1'); // not UTF-8 once written as latin1 bytes
    const spec: Record<string, TreeNode> = {
      'hourly.0/a.txt': file('alpha'),
      'hourly.1/a.txt': link('hourly.0/a.txt'),
      'hourly.0/s': symlink('a.txt'),
      'hourly.0/dangling': symlink('../nowhere'),
      'hourly.0/p': fifo(),
      'hourly.0/empty': dir(),
      'hourly.0/sub/.linkmirror/kept': file('a state folder below the top is user data'),
      '.linkmirror/index.db': file('the state folder at the top is left out'),
    };
    // 60,000 more paths, most of them links (quick to make): 15 chunks of 4,096, where the list
    // thread may have at most 2n + 2 out (n stat threads, at most 4).
    for (let i = 0; i < 60000; i++) spec[`bulk/d${i % 50}/f${i}`] = i % 20 === 0 ? file(`content ${i}`) : link('hourly.0/a.txt');
    buildTree(src, spec);
    const oddName = Buffer.concat([Buffer.from(path.join(src, 'hourly.0')), Buffer.from('/'), Buffer.from(odd, 'latin1')]);
    fs.writeFileSync(oddName, 'bytes');
    fs.symlinkSync(Buffer.from([0x2e, 0x2f, 0xfe]), Buffer.concat([oddName, Buffer.from('-link')]));

    // Without the compiled threads scan() walks on the main thread, and this test would compare that with itself.
    expect(fs.existsSync(new URL('../../dist/src/scan/list-thread.js', import.meta.url))).toBe(true);
    const threadDb = path.join(base, 'thread.db');
    const r = runCli(['scan', src, '--index', threadDb, '--quiet']);
    expect(r.stderr).toBe('');
    expectExit(r, 0);

    const hereDb = path.join(base, 'here.db');
    const index = Index.open(hereDb);
    try {
      await scan(src, index); // no walkThread: the walk runs here
    } finally {
      index.close();
    }
    const fromThread = rows(threadDb);
    // The root, bulk/ with 50 dirs and 60,000 files, hourly.0/ with its 6 entries, sub/.linkmirror/kept
    // and the two byte-named paths, hourly.1/ with its link; not the top .linkmirror/.
    expect(fromThread.length).toBe(1 + 1 + 50 + 60000 + 1 + 6 + 2 + 2 + 1 + 1);
    // Reading a directory may update its atime (relatime), so the second walk sees later atimes.
    const noAtime = (list: StoredEntry[]) => list.map((e) => ({ ...e, atimeNs: undefined }));
    expect(noAtime(fromThread)).toEqual(noAtime(rows(hereDb)));
    expect(fromThread.some((e) => e.path.equals(Buffer.from('.linkmirror')))).toBe(false);
    expect(fromThread.some((e) => e.path.equals(Buffer.from('hourly.0/sub/.linkmirror/kept')))).toBe(true);
    expect(fromThread.find((e) => e.path.equals(Buffer.concat([Buffer.from('hourly.0/'), Buffer.from(odd, 'latin1'), Buffer.from('-link')])))?.target)
      .toEqual(Buffer.from([0x2e, 0x2f, 0xfe]));
  });

  it('rescan: no row written for a tree as it was, the changed rows only, across pages of old rows and batches of entries', async () => {
    const dist = '../../dist/src';
    const { scan: threadScan } = (await import(`${dist}/scan/scan.js`)) as typeof import('../../src/scan/scan.js');
    const { Index: DistIndex } = (await import(`${dist}/store/index-db.js`)) as typeof import('../../src/store/index-db.js');
    const base = temp();
    const src = path.join(base, 'src');
    const spec: Record<string, TreeNode> = { 'a/one': file('1'), 'a/two': file('2'), 'a/s': symlink('one'), 'a/gone': file('x') };
    // Three chunks of 4,096 paths, so that pages of old rows and batches of entries end at different places.
    for (let i = 0; i < 9000; i++) spec[`b/d${i % 30}/f${i}`] = i % 10 === 0 ? file(`content ${i}`) : link('a/one');
    buildTree(src, spec);
    const odd = Buffer.concat([Buffer.from(path.join(src, 'a')), Buffer.from('/'), Buffer.from([0x7c, 0x20, 0x31, 0xff])]);
    fs.writeFileSync(odd, 'bytes');
    const threadRescan = async (file: string) => {
      const index = DistIndex.open(file);
      try {
        return (await threadScan(src, index, { walkThread: true })).rowsWritten;
      } finally {
        index.close();
      }
    };
    const db = path.join(base, 'thread.db');
    expect(await threadRescan(db)).toBe(1 + 2 + 30 + 9000 + 5);
    expect(await threadRescan(db)).toBe(0);

    fs.chmodSync(path.join(src, 'a/two'), 0o600);
    fs.utimesSync(odd, new Date(2001, 1, 1), new Date(2001, 1, 1));
    fs.rmSync(path.join(src, 'a/gone'));
    fs.writeFileSync(path.join(src, 'b/d3/new'), 'new');
    fs.rmSync(path.join(src, 'a/s'));
    fs.symlinkSync('two', path.join(src, 'a/s'));
    // a/two, the odd name, a/gone, b/d3/new and a/s; b/d3 itself (its mtime) and a's.
    expect(await threadRescan(db)).toBe(7);
    const hereDb = path.join(base, 'here.db');
    const index = Index.open(hereDb);
    try {
      await scan(src, index);
    } finally {
      index.close();
    }
    const fields = (list: StoredEntry[]) => list.map((e) => ({ ...e, id: undefined, atimeNs: undefined }));
    expect(fields(rows(db))).toEqual(fields(rows(hereDb)));
  });

  it('a second filesystem bound inside the source, with the same inode numbers: each path has its own filesystem\'s facts', async (ctx) => {
    // A stat thread takes a further path of an inode it lstatted from its cache, by inode number
    // (stat-cache.ts); here the same numbers name other files on the other filesystem, so the
    // main thread must lstat such a path after all (its dev is not its directory's).
    const dist = '../../dist/src';
    const { scan: threadScan } = (await import(`${dist}/scan/scan.js`)) as typeof import('../../src/scan/scan.js');
    const { Index: DistIndex } = (await import(`${dist}/store/index-db.js`)) as typeof import('../../src/store/index-db.js');
    const a = useLoopMount(ctx, 'ext4', 16);
    const b = useLoopMount(ctx, 'ext4', 16);
    // Both fresh, the same files made in the same order: the same inode numbers, two links each.
    for (const [m, text] of [[b, 'on b'], [a, 'on a']] as const) {
      buildTree(m.dir, { one: file(`one ${text}`, { mtime: 1_600_000_000 }), 'one-again': link('one'), two: file(`two ${text}!`, { mtime: 1_600_000_001 }), 'two-again': link('two') });
    }
    fs.mkdirSync(path.join(a.dir, 'b-inside'));
    const inside = path.join(a.dir, 'b-inside');
    execFileSync('mount', ['--bind', b.dir, inside]);
    try {
      const ino = (p: string) => fs.lstatSync(p, { bigint: true }).ino;
      expect(ino(path.join(inside, 'one'))).toBe(ino(path.join(a.dir, 'one')));
      // The walk lists b-inside/ first ('b' < 'o'), so a's files meet b's inodes in the cache.
      const db = path.join(temp(), 'thread.db');
      const index = DistIndex.open(db);
      try {
        const r = await threadScan(a.dir, index, { walkThread: true });
        expect(r.totals.inodes).toBe(4);
      } finally {
        index.close();
      }
      const hereDb = path.join(temp(), 'here.db');
      const here = Index.open(hereDb);
      try {
        await scan(a.dir, here);
      } finally {
        here.close();
      }
      const fields = (list: StoredEntry[]) => list.map((e) => ({ ...e, atimeNs: undefined }));
      const fromThread = rows(db);
      expect(fields(fromThread)).toEqual(fields(rows(hereDb)));
      const devOf = (rel: string) => fromThread.find((e) => e.path.equals(Buffer.from(rel)))!.dev;
      expect(devOf('one-again')).toBe(fs.lstatSync(a.dir, { bigint: true }).dev);
      expect(devOf('b-inside/one-again')).toBe(fs.lstatSync(b.dir, { bigint: true }).dev);
    } finally {
      execFileSync('umount', [inside]);
    }
  });

  it('stop a scan whose root is a file, or missing, with its own error code', async () => {
    // The CLI checks SRC before it scans; the threads must still say it right when the root
    // changes after that check. The compiled modules, as the threads exist only there.
    const dist = '../../dist/src';
    const { scan: threadScan } = (await import(`${dist}/scan/scan.js`)) as typeof import('../../src/scan/scan.js');
    const { Index: DistIndex } = (await import(`${dist}/store/index-db.js`)) as typeof import('../../src/store/index-db.js');
    const base = temp();
    fs.writeFileSync(path.join(base, 'plain'), 'a file');
    for (const [root, code] of [['plain', 'SRC_NOT_DIR'], ['missing', 'SRC_MISSING']]) {
      const index = DistIndex.open(path.join(base, `${root}.db`));
      try {
        await expect(threadScan(path.join(base, root), index, { walkThread: true })).rejects.toMatchObject({ code });
      } finally {
        index.close();
      }
    }
  });
});
