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
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deviceName } from './dev-number.js';

// argv: the file, and the pid of the run: a run that was killed leaves the rest unread.
const READER = `
const fs = require('node:fs');
const [file, parent] = process.argv.slice(1);
const fd = fs.openSync(file, 'r');
const size = fs.fstatSync(fd).size;
const chunk = 1024 * 1024;
const buf = Buffer.allocUnsafe(chunk);
for (let pos = Math.floor((size - 1) / chunk) * chunk; pos >= 0 && String(process.ppid) === parent; pos -= chunk) {
  fs.readSync(fd, buf, 0, chunk, pos);
}
`;

/** How long stop() waits for a reader stuck in a read (a stalled drive) before leaving it. */
const STOP_WAIT_MS = 2000;

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
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['-e', READER, '--', file, String(process.pid)], { stdio: 'ignore' });
  } catch {
    return NONE; // spawn throws some errors (ENOMEM, E2BIG) instead of emitting them
  }
  const done = new Promise<void>((resolve) => {
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
  return {
    done,
    stop: async () => {
      child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)));
      await Promise.race([done, late]);
      clearTimeout(timer);
      child.unref(); // a read the kernel has not answered yet: the reader goes when it returns
    },
  };
}

/**
 * The disk a device is on, as sysfs names it (a partition's parent: sda for sda2), or undefined
 * when the device has no block device behind it (NFS, tmpfs, btrfs's anonymous devices).
 * (Volumes of LVM or RAID are taken as disks of their own.)
 */
export function diskOf(dev: bigint): string | undefined {
  try {
    const real = fs.realpathSync(`/sys/dev/block/${deviceName(dev)}`);
    return fs.existsSync(`${real}/partition`) ? path.basename(path.dirname(real)) : path.basename(real);
  } catch {
    return undefined;
  }
}

/** Whether a disk (diskOf's name) says it is rotational. */
function rotational(disk: string): boolean {
  try {
    return fs.readFileSync(`/sys/block/${disk}/queue/rotational`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** Read the index ahead when it sits on a drive that seeks and that the source walk does not share. */
export function worthReadingAhead(src: string, indexFile: string): boolean {
  try {
    const s = fs.statSync(src, { bigint: true }).dev;
    const d = fs.statSync(indexFile, { bigint: true }).dev;
    const disk = diskOf(d);
    if (s === d || disk === undefined || !rotational(disk)) return false;
    // Two partitions of one disk are one drive; a source with no disk of its own (NFS) is not this one.
    const sDisk = diskOf(s);
    return sDisk === undefined || sDisk !== disk;
  } catch {
    return false;
  }
}
