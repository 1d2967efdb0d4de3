// Reading the index ahead, back to front, so that its pages are in the page cache before the run
// needs them one at a time. A run into an existing mirror reads its index at random (the rescan's
// updates, each query's lookups by path and by inode), and a nightly run starts with a cold
// cache. On a drive that seeks (a USB hard disk) each of those reads costs a seek: 100k-path
// rotations into a mirror on a loop-mounted ext4 whose reads were throttled to 150 a second
// (cgroup blkio), alternating: 34.6 and 33.9 s without, 29.0 and 26.3 s with the read ahead
// (an earlier series: 22.1-29.6 s without, 19.2-22.6 s with). With the source on the same
// drive, which its walk is reading meanwhile (these machines' one virtio disk, which says it is
// rotational), reading the 440 MB of a 1M-path index cost more than it saved: 1M rotations
// took 21.9-26.0 s with against 19.7-23.2 s without. So: only on a rotational drive that is not
// the source's. (A drive that does not seek answers random reads fast enough without.)
//
// In a process of its own: closing a descriptor of the index file in this process would drop
// the POSIX locks SQLite holds on it. Back to front: the kernel does not take each read for
// part of a sequential one, so it reads just the chunk asked, into 4 KiB pages, instead of
// running ahead with ever larger folios, each of which this kernel (6.18) counts whole as
// written when SQLite later changes one page of it (see store/index-db.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

const READER = `
const fs = require('node:fs');
const fd = fs.openSync(process.argv[1], 'r');
const size = fs.fstatSync(fd).size;
const chunk = 1024 * 1024;
const buf = Buffer.allocUnsafe(chunk);
for (let pos = Math.floor((size - 1) / chunk) * chunk; pos >= 0; pos -= chunk) fs.readSync(fd, buf, 0, chunk, pos);
`;

export interface ReadAhead {
  /** Resolves when the file was read (or could not be), and the reader is gone. */
  done: Promise<void>;
  /** Stops the reader; resolves when it is gone. */
  stop(): Promise<void>;
}

const NONE: ReadAhead = { done: Promise.resolve(), stop: async () => {} };

/**
 * Read `file` in the background, unless it is bigger than `share` of the memory available (its
 * pages would push others, or its own first ones, out of the cache before they are used).
 * Failures are not reported: the reads that need the data report theirs.
 */
export function readAhead(file: string, share = 0.5): ReadAhead {
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch {
    return NONE;
  }
  if (size === 0 || size > os.freemem() * share) return NONE;
  const child = spawn(process.execPath, ['-e', READER, file], { stdio: 'ignore' });
  const done = new Promise<void>((resolve) => {
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
  return {
    done,
    stop: async () => {
      child.kill();
      await done;
    },
  };
}

/** The block device a st_dev names (Linux's encoding), as "major:minor". */
export function deviceName(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** Whether the block device behind `dev` says it is rotational; false when it has none (NFS, tmpfs). */
export function rotational(dev: bigint): boolean {
  const sys = `/sys/dev/block/${deviceName(dev)}`;
  // A partition's queue is its disk's, one folder up.
  for (const q of [`${sys}/queue/rotational`, `${sys}/../queue/rotational`]) {
    try {
      return fs.readFileSync(q, 'utf8').trim() === '1';
    } catch {
      // not this one
    }
  }
  return false;
}

/** Read the index ahead when it sits on a drive that seeks and that the source walk does not share. */
export function worthReadingAhead(src: string, indexFile: string): boolean {
  try {
    const s = fs.statSync(src, { bigint: true }).dev;
    const d = fs.statSync(indexFile, { bigint: true }).dev;
    return s !== d && rotational(d);
  } catch {
    return false;
  }
}
