// Files with holes (disk images, preallocated databases) keep their holes in the mirror, on real
// loop-mounted filesystems: before, the kernel's copy wrote every hole as zeros, so a 96 MiB
// image holding 12 KiB took 96 MiB on the mirror, and the pre-flight refused a drive that could
// hold the copy. Checked by the copies' allocated blocks (st_blocks), their content and inodes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import { bufferBytes, dataRuns, hasHoles } from '../../src/fs/sparse-copy.js';
import { expectExit, runCli } from '../helpers/cli.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { expectSameTopology } from '../helpers/tree.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A file of `size` bytes that holds `data` at each offset and holes everywhere else. */
function writeSparse(p: string, size: number, data: Record<number, Buffer>): void {
  const fd = fs.openSync(p, 'wx');
  try {
    for (const [at, bytes] of Object.entries(data)) fs.writeSync(fd, bytes, 0, bytes.length, Number(at));
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

const block = (fill: number) => Buffer.alloc(4 * KiB, fill);
const allocated = (p: string) => Number(fs.lstatSync(p).blocks) * 512;

/**
 * Two snapshots: a 96 MiB image with data at its start, middle and last block (linked into the
 * second snapshot), a 40 MiB file that is one hole, a file whose last 20 MiB are a hole, with a
 * short last block, and a small ordinary file.
 */
function sparseSource(src: string): void {
  fs.mkdirSync(path.join(src, 'snap.0'), { recursive: true });
  fs.mkdirSync(path.join(src, 'snap.1'));
  writeSparse(path.join(src, 'snap.0/disk.img'), 96 * MiB, { 0: block(1), [48 * MiB]: block(2), [96 * MiB - 4 * KiB]: block(3) });
  fs.linkSync(path.join(src, 'snap.0/disk.img'), path.join(src, 'snap.1/disk.img'));
  writeSparse(path.join(src, 'snap.0/empty.img'), 40 * MiB, {});
  writeSparse(path.join(src, 'snap.1/tail.db'), 20 * MiB + 100, { 0: Buffer.alloc(10 * KiB + 7, 9) });
  fs.writeFileSync(path.join(src, 'snap.1/notes.txt'), 'not sparse\n');
}

describe('files with holes', () => {
  it('dataRuns: the 4 KiB pieces that are not all zeros, neighbours joined, a short last piece too', () => {
    const buf = Buffer.alloc(5 * 4096 + 10);
    buf[1] = 1; // piece 0
    buf[4096 + 4095] = 1; // piece 1, its last byte: joined with piece 0
    buf[3 * 4096 + 2048] = 1; // piece 3 alone
    buf[5 * 4096 + 9] = 1; // the short last piece
    expect(dataRuns(buf, buf.length)).toEqual([0, 2 * 4096, 3 * 4096, 4 * 4096, 5 * 4096, 5 * 4096 + 10]);
    expect(dataRuns(Buffer.alloc(3 * 4096), 3 * 4096)).toEqual([]);
    // Only the first n bytes count.
    expect(dataRuns(buf, 4096)).toEqual([0, 4096]);
    expect(hasHoles({ size: 1000n, blocks: 0n })).toBe(true);
    expect(hasHoles({ size: 4096, blocks: 8 })).toBe(false);
    // A small file's buffer is small (many copies are in flight at once), in whole 4 KiB pieces.
    expect([bufferBytes(1), bufferBytes(5000), bufferBytes(3 << 20)]).toEqual([4096, 8192, 1 << 20]);
  });

  it('a first copy and an incremental one keep the holes; the pre-flight counts what the copies take, not their sizes', async (ctx) => {
    const s = useLoopMount(ctx, 'ext4', 32);
    const d = useLoopMount(ctx, 'ext4', 32); // less than the 156 MiB the files' sizes add up to
    const src = path.join(s.dir, 'snapshots');
    const dst = path.join(d.dir, 'mirror');
    sparseSource(src);
    expect(hasHoles(fs.lstatSync(path.join(src, 'snap.0/disk.img')))).toBe(true);

    // The plan says the holes are not counted, and needs no --force.
    const dry = runCli(['copy', '--dry-run', src, dst]);
    expectExit(dry, 0);
    expect(dry.stdout).toMatch(/holes of sparse files not counted: 15\d\.\d MiB/);
    expect(dry.stdout).not.toMatch(/would stop/);

    await copy(src, dst); // the copy thread's copies (a first copy)
    expectSameTopology(src, dst);
    for (const rel of ['snap.0/disk.img', 'snap.0/empty.img', 'snap.1/tail.db', 'snap.1/notes.txt']) {
      // The copy takes no more than its source (ext4's extent blocks aside), and reads the same.
      expect(allocated(path.join(dst, rel)), rel).toBeLessThanOrEqual(allocated(path.join(src, rel)) + 8 * KiB);
      expect(fs.readFileSync(path.join(dst, rel)).equals(fs.readFileSync(path.join(src, rel))), rel).toBe(true);
    }
    expect(allocated(path.join(dst, 'snap.0/disk.img'))).toBeLessThan(64 * KiB);
    expect(fs.lstatSync(path.join(dst, 'snap.1/disk.img')).ino).toBe(fs.lstatSync(path.join(dst, 'snap.0/disk.img')).ino);

    // A new image in place of the old (a new inode): copied by the incremental pass, on this thread.
    fs.rmSync(path.join(src, 'snap.1/disk.img'));
    writeSparse(path.join(src, 'snap.1/disk.img'), 64 * MiB, { [32 * MiB]: block(7) });
    const before = fs.lstatSync(path.join(dst, 'snap.0/disk.img')).ino;
    await copy(src, dst);
    expectSameTopology(src, dst);
    expect(allocated(path.join(dst, 'snap.1/disk.img'))).toBeLessThan(64 * KiB);
    expect(fs.readFileSync(path.join(dst, 'snap.1/disk.img')).equals(fs.readFileSync(path.join(src, 'snap.1/disk.img')))).toBe(true);
    expect(fs.lstatSync(path.join(dst, 'snap.0/disk.img')).ino).toBe(before);

    const verified = runCli(['verify', src, dst]);
    expectExit(verified, 0);
  });

  it('through the injected ops (this thread\'s copy, not the copy thread\'s) too', async (ctx) => {
    const s = useLoopMount(ctx, 'ext4', 32);
    const d = useLoopMount(ctx, 'ext4', 32);
    const src = path.join(s.dir, 'snapshots');
    const dst = path.join(d.dir, 'mirror');
    sparseSource(src);
    const copied: string[] = [];
    const ops = {
      ...realFsOps,
      copyFile: (from: Buffer | string, to: Buffer | string) => {
        if (from !== '/dev/null') copied.push(String(from)); // not the pre-flight's probe files
        realFsOps.copyFile(from, to);
      },
    };
    await copy(src, dst, { ops });
    expect(copied.length).toBe(4); // every inode through ops.copyFile
    expectSameTopology(src, dst);
    for (const rel of ['snap.0/disk.img', 'snap.0/empty.img', 'snap.1/tail.db']) {
      expect(allocated(path.join(dst, rel)), rel).toBeLessThanOrEqual(allocated(path.join(src, rel)) + 8 * KiB);
      expect(fs.readFileSync(path.join(dst, rel)).equals(fs.readFileSync(path.join(src, rel))), rel).toBe(true);
    }
  });

  it('where source and mirror share a filesystem that clones (btrfs), a file with holes is still a reflink', async (ctx) => {
    const b = useLoopMount(ctx, 'btrfs', 160);
    const src = path.join(b.dir, 'snapshots');
    const dst = path.join(b.dir, 'mirror');
    sparseSource(src);
    await copy(src, dst);
    expectSameTopology(src, dst);
    for (const rel of ['snap.0/disk.img', 'snap.0/empty.img', 'snap.1/tail.db']) {
      expect(allocated(path.join(dst, rel)), rel).toBeLessThanOrEqual(allocated(path.join(src, rel)));
    }
    // A clone: the copy's one extent is the source's (FIEMAP's shared flag, as e2fsprogs' filefrag shows it).
    expect(execFileSync('filefrag', ['-v', path.join(dst, 'snap.1/tail.db')], { encoding: 'utf8' })).toMatch(/\bshared\b/);
  });
});
