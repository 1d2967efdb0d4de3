// Reading the index ahead, on real files: what it leaves in the page cache (util-linux's fincore),
// that SQLite keeps its lock on the index meanwhile, and on which drives it is done.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceName } from '../../src/fs/dev-number.js';
import { diskOf, readAhead, worthReadingAhead } from '../../src/fs/read-ahead.js';
import { Index } from '../../src/store/index-db.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const SIZE = 8 * 1024 * 1024;

/**
 * Drop a file's pages from the page cache: written back (sync FILE), then POSIX_FADV_DONTNEED
 * over the whole file. Both in processes of their own, for the test of SQLite's lock below.
 */
function dropFromCache(file: string): void {
  execFileSync('sync', [file]);
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function coldFile(): { file: string; sha: string } {
  const file = path.join(temp(), 'index.db');
  const bytes = crypto.randomBytes(SIZE);
  fs.writeFileSync(file, bytes);
  dropFromCache(file);
  return { file, sha: crypto.createHash('sha256').update(bytes).digest('hex') };
}

const cached = (file: string) => Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim());

describe('readAhead', () => {
  it('brings a whole file into the page cache, and leaves it as it was', async () => {
    const { file, sha } = coldFile();
    const before = fs.statSync(file, { bigint: true });
    expect(cached(file), 'dd could not drop the file from the cache').toBeLessThan(SIZE / 4);
    await readAhead(file).done;
    expect(cached(file)).toBe(SIZE);
    const after = fs.statSync(file, { bigint: true });
    expect([after.size, after.mtimeNs]).toEqual([before.size, before.mtimeNs]);
    expect(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(sha);
  });

  it('reads nothing of a file bigger than its share of the available memory, or of a missing one', async () => {
    const { file } = coldFile();
    await readAhead(file, SIZE / 2 / os.freemem()).done; // a share of half the file's size
    expect(cached(file)).toBeLessThan(SIZE / 4);
    await expect(readAhead(path.join(temp(), 'missing')).done).resolves.toBeUndefined();
  });

  // POSIX locks belong to the process: closing any descriptor of a file drops all its locks on
  // it, SQLite's too. Read in this process, the index would be open to a second writer.
  it('leaves SQLite its lock on the index it reads', async () => {
    const file = path.join(temp(), 'index.db');
    const index = Index.open(file);
    try {
      index.setMeta('state', 'copying'); // exclusive locking mode: the lock is taken and kept
      dropFromCache(file);
      await readAhead(file).done;
      expect(cached(file)).toBeGreaterThan(0);
      const otherWrites = () =>
        spawnSync(
          process.execPath,
          ['-e', `const D = require('better-sqlite3'); const db = new D(process.argv[1], { timeout: 0 }); db.pragma('user_version = 99'); console.log('wrote')`, file],
          { cwd: process.cwd(), encoding: 'utf8' },
        );
      const other = otherWrites();
      expect(other.stdout).not.toContain('wrote');
      expect(other.stderr).toMatch(/database is locked/);
      // What a read in this process would have done: the lock is gone, a second writer gets in.
      fs.closeSync(fs.openSync(file, 'r'));
      expect(otherWrites().stdout).toContain('wrote');
    } finally {
      index.close();
    }
  });

  it('a reader that cannot be started is no error (spawn throws E2BIG for an oversized environment)', async () => {
    const { file } = coldFile();
    process.env.LINKMIRROR_TEST_BIG = 'x'.repeat(200_000);
    try {
      await readAhead(file).done;
    } finally {
      delete process.env.LINKMIRROR_TEST_BIG;
    }
    expect(cached(file)).toBeLessThan(SIZE / 4);
  });

  it('stop() ends the reader', async () => {
    const { file } = coldFile();
    const r = readAhead(file);
    await r.stop();
    await r.done; // resolved: the reader is gone
  });
});

describe('worthReadingAhead', () => {
  it('names the device as the kernel does (against findmnt)', () => {
    expect(deviceName(0x801n)).toBe('8:1');
    expect(deviceName(0x10300n)).toBe('259:0');
    expect(deviceName(0x100000n | 0x800n | 0x2cn)).toBe('8:300'); // minor 300: its high bits above the major
    const dir = temp();
    const majMin = execFileSync('findmnt', ['--noheadings', '--output', 'MAJ:MIN', '--target', dir], { encoding: 'utf8' }).trim();
    expect(deviceName(fs.statSync(dir, { bigint: true }).dev)).toBe(majMin);
  });

  // (A partition's disk, one folder up in sysfs, is not tested: this kernel makes no partitions
  // of a partitioned loop device.)
  it('diskOf: a disk is its own; there is none behind tmpfs', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    const loop = execFileSync('findmnt', ['--noheadings', '--output', 'SOURCE', '--target', m.dir], { encoding: 'utf8' }).trim();
    expect(diskOf(fs.statSync(m.dir, { bigint: true }).dev)).toBe(path.basename(loop));
    expect(diskOf(fs.statSync('/dev/shm', { bigint: true }).dev)).toBeUndefined();
  });

  it('not when the index is on the source’s drive; on another, when that one is rotational', (ctx) => {
    const src = temp();
    const same = path.join(temp(), 'index.db');
    fs.writeFileSync(same, 'x');
    expect(worthReadingAhead(src, same)).toBe(false);

    const m = useLoopMount(ctx, 'ext4', 16);
    const other = path.join(m.dir, 'index.db');
    fs.writeFileSync(other, 'x');
    const loop = execFileSync('findmnt', ['--noheadings', '--output', 'SOURCE', '--target', m.dir], { encoding: 'utf8' }).trim();
    const spins = fs.readFileSync(`/sys/block/${path.basename(loop)}/queue/rotational`, 'utf8').trim() === '1';
    expect(worthReadingAhead(src, other)).toBe(spins);
    expect(worthReadingAhead(src, path.join(m.dir, 'missing'))).toBe(false);
  });
});
