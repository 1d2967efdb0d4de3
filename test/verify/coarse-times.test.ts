// A mirror on a drive that keeps whole seconds (ext2/3/4 made with 128-byte inodes; HFS+,
// ReiserFS) holds every mtime rounded down. Each copy measures that on the destination and
// records it in the manifest; verify allows that much and no more.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { timeGranularity } from '../../src/copy/preflight.js';
import { realFsOps } from '../../src/fs/ops.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, dir, file, link, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('a destination that keeps whole seconds', () => {
  it('verify allows the rounding the copy measured, and still finds an mtime a second or more off', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16, ['-I', '128']);
    const src = path.join(temp(), 'src');
    // Times with a fraction of a second, as most files have; one a few hundred ns short of the
    // next second, more than the probe's own microsecond-aligned times are.
    buildTree(src, {
      'h0': dir({ mtime: 1_700_000_000.25 }), 'h0/a': file('alpha', { mtime: 1_700_000_100.75 }), 'h1/a': link('h0/a'),
      'h0/late': file('late', { mtime: 1_700_000_200_999_999_700n }),
    });
    const dst = path.join(m.dir, 'mirror');
    expect((await copy(src, dst)).problemCount).toBe(0);
    expect(fs.statSync(path.join(dst, 'h0/a'), { bigint: true }).mtimeNs % 1_000_000_000n).toBe(0n); // the drive did round
    expect((await verifyMirror(dst)).match).toBe(true);
    expect((await verifyAgainstSource(src, dst)).match).toBe(true);

    fs.utimesSync(path.join(dst, 'h0/a'), 1_700_000_102, 1_700_000_102);
    for (const report of [await verifyMirror(dst), await verifyAgainstSource(src, dst)]) {
      expect(report.categories.mtime).toBe(1);
      expect(report.differences.find((d) => d.category === 'mtime')?.path).toBe('h0/a');
    }
    // Moved on by a second, to a time the drive holds less than a second from the source's: it
    // cannot be the drive's rounding, which only ever goes down (a tester's touch passed).
    fs.utimesSync(path.join(dst, 'h0/a'), 1_700_000_101, 1_700_000_101); // the source's is 100.75
    for (const report of [await verifyMirror(dst), await verifyAgainstSource(src, dst)]) {
      expect(report.categories.mtime).toBe(1);
    }
    // And copy --recheck, which compares as verify does, sets it back.
    expect((await copy(src, dst, { recheck: true })).placed.metadataFixed).toBe(1);
    expect((await verifyMirror(dst)).match).toBe(true);
  });

  it('a mirror whose copies recorded no unit, or the probe\'s raw difference (older linkmirrors): verify asks the drive', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16, ['-I', '128']);
    const src = path.join(temp(), 'src');
    buildTree(src, { 'h0/a': file('alpha', { mtime: 1_700_000_100.75 }), 'h0/late': file('late', { mtime: 1_700_000_200_999_999_700n }) });
    const dst = path.join(m.dir, 'mirror');
    await copy(src, dst);
    for (const recorded of [undefined, '999999000']) {
      const db = new Database(path.join(dst, '.linkmirror/index.db'));
      db.prepare("DELETE FROM meta WHERE key IN ('dst_time_ns', 'dst_time_down')").run();
      if (recorded) db.prepare("INSERT INTO meta (key, value) VALUES ('dst_time_ns', ?)").run(recorded);
      db.close();
      for (const report of [await verifyMirror(dst), await verifyAgainstSource(src, dst)]) {
        expect(report.categories.mtime, `recorded ${recorded}`).toBe(0); // were every file, and h0/late
      }
    }
  });

  it('timeGranularity: 0 where microseconds are kept, a whole second where they are not, rounded down', (ctx) => {
    const plain = path.join(temp(), 'probe');
    fs.writeFileSync(plain, '');
    expect(timeGranularity(realFsOps, plain)).toEqual({ unit: 0n, down: false });
    const m = useLoopMount(ctx, 'ext4', 16, ['-I', '128']);
    const coarse = path.join(m.dir, 'probe');
    fs.writeFileSync(coarse, '');
    expect(timeGranularity(realFsOps, coarse)).toEqual({ unit: 1_000_000_000n, down: true }); // ext4 drops what it cannot hold
  });
});
