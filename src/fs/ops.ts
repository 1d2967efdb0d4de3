// The filesystem operations the pipeline uses, gathered in one object that is passed in rather
// than imported. Tests wrap it to make the N-th link() fail with EMLINK or the N-th copy fail
// with ENOSPC (see test/helpers/faulty-ops.ts) without mocking modules.
//
// The calls are synchronous on purpose: each one is a single syscall that the kernel answers
// from cache in microseconds, and the libuv thread-pool hop of the async API costs more than
// the call itself on trees of millions of small entries.
import { execFileSync, spawn } from 'node:child_process';
import { copyRegular, openRegular } from './open-source.js';
import fs from 'node:fs';
import { majorMinor } from './dev-number.js';
import { DirentReader, readdirTypes, type Dirent } from './dirents.js';
import { isErrno } from './errno.js';
import { EntryType } from '../store/entry.js';

export type Path = Buffer | string;

export interface FsOps {
  lstat(p: Path): fs.BigIntStats;
  readdir(p: Path): Buffer[];
  /**
   * The names with what the directory entry says of each (d_type): a directory or not, or
   * undefined where the filesystem does not say (then lstat tells).
   */
  readdirKinds(p: Path): { name: Buffer; isDir: boolean | undefined }[];
  /** The entries with their d_type and d_ino (0n where not known), see dirents.ts. */
  readdirInodes(p: Path): Dirent[];
  readlink(p: Path): Buffer;
  mkdir(p: Path, mode: number): void;
  /** Copy a regular file's content to a new file that must not exist yet (reflink if possible). */
  copyFile(src: Path, dst: Path): void;
  link(existing: Path, created: Path): void;
  symlink(target: Buffer, p: Path): void;
  mknod(p: Path, type: 'fifo' | 'char' | 'block', mode: number, rdev: bigint): void;
  rename(from: Path, to: Path): void;
  unlink(p: Path): void;
  rmdir(p: Path): void;
  chmod(p: Path, mode: number): void;
  /** Whether this process may make and remove entries in the folder `p` (access(2), W_OK | X_OK). */
  canWriteIn(p: Path): boolean;
  lchown(p: Path, uid: number, gid: number): void;
  /** Set atime and mtime (nanoseconds since the epoch) without following a symlink. */
  lutimes(p: Path, atimeNs: bigint, mtimeNs: bigint): void;
  statfs(p: Path): fs.BigIntStatsFs;
  /** Write back everything cached for the filesystem holding `p` (syncfs(2)). */
  syncfs(p: string): void;
  openRead(p: Path): number;
  read(fd: number, buf: Buffer, pos: number): number;
  close(fd: number): void;
}

/**
 * Node takes times as seconds in a double; libuv keeps microseconds of them by truncating
 * (s - whole) * 1e9, so us / 1e6 lands one microsecond low about half the time: aim at the
 * middle of the microsecond instead (below it for a time before 1970, as libuv truncates
 * toward zero). Node takes a negative number of seconds for "now", but a numeric string as it
 * is, so a time before 1970 goes as a string.
 */
export function nsToSeconds(ns: bigint): number | string {
  const us = ns / 1000n;
  if (us >= 0n) return (Number(us) + 0.5) / 1e6;
  return String((Number(us) - 0.5) / 1e6);
}

/**
 * `st` with dev and ino as the unsigned 64-bit numbers they are. Node hands bigint stats over in a
 * BigInt64Array, so an inode number of 2^63 or more (overlayfs with xino, FUSE filesystems that
 * hash their inode numbers) comes back negative, where the index and getdents' d_ino give it
 * unsigned: every file then looked changed since the scan, and none was copied.
 */
export function unsignedIds<T extends { dev: bigint; ino: bigint }>(st: T): T {
  if (st.ino < 0n) st.ino = BigInt.asUintN(64, st.ino);
  if (st.dev < 0n) st.dev = BigInt.asUintN(64, st.dev);
  return st;
}

/** One per thread: each thread that imports this module has its own. */
const dirents = new DirentReader();

export const realFsOps: FsOps = {
  lstat: (p) => unsignedIds(fs.lstatSync(p, { bigint: true })),
  readdir: (p) => fs.readdirSync(p, { encoding: 'buffer' }),
  readdirKinds: (p) => readdirTypes(p).map(({ name, type }) => ({ name, isDir: type === undefined ? undefined : type === EntryType.dir })),
  readdirInodes: (p) => dirents.read(p),
  readlink: (p) => fs.readlinkSync(p, { encoding: 'buffer' }),
  mkdir: (p, mode) => fs.mkdirSync(p, { mode }),
  copyFile: (src, dst) => copyRegular(src, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE),
  link: (existing, created) => fs.linkSync(existing, created),
  symlink: (target, p) => fs.symlinkSync(target, p),
  mknod: (p, type, mode, rdev) => mknodViaCoreutils(p, type, mode, rdev),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (p) => fs.unlinkSync(p),
  rmdir: (p) => fs.rmdirSync(p),
  chmod: (p, mode) => fs.chmodSync(p, mode),
  canWriteIn: (p) => {
    try {
      fs.accessSync(p, fs.constants.W_OK | fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  lchown: (p, uid, gid) => fs.lchownSync(p, uid, gid),
  lutimes: (p, atimeNs, mtimeNs) => fs.lutimesSync(p, nsToSeconds(atimeNs), nsToSeconds(mtimeNs)),
  statfs: (p) => fs.statfsSync(p, { bigint: true }),
  // Node has no syncfs(2); coreutils' `sync -f` is that one call. A few a minute cost nothing.
  syncfs: (p) => {
    for (let tries = 1; ; tries++) {
      try {
        execFileSync('sync', ['-f', p], { stdio: 'ignore' });
        return;
      } catch (err) {
        // Ctrl-C in a terminal signals the whole foreground group, `sync` too: that is no
        // failure of the drive, so it runs again (the run itself stops at its next check).
        if ((err as { signal?: string | null }).signal && tries < 3) continue;
        throw syncFailed(p, err);
      }
    }
  },
  openRead: (p) => openNoAtime(p),
  read: (fd, buf, pos) => fs.readSync(fd, buf, 0, buf.length, pos),
  close: (fd) => fs.closeSync(fd),
};

function syncFailed(p: string, err: unknown): Error {
  // No sync(1) to run says nothing of the drive.
  const missing = commandMissing(err, 'sync');
  if (missing) return missing;
  // sync(1) failing means the filesystem could not write back what it holds.
  return Object.assign(new Error(`sync -f ${p} failed: ${(err as Error).message.split('\n')[0]}`), { code: 'EIO', syscall: 'syncfs', cause: err });
}

/**
 * realFsOps.syncfs without blocking the thread: the write-back takes 0.1-0.3 s each time on a
 * 1M-path copy, which the main thread spends placing the next files instead. Never rejects: it
 * resolves to the error, so that a run that fails meanwhile leaves no rejection unhandled. The
 * child is a process group of its own (detached), so Ctrl-C in the terminal does not kill it
 * while linkmirror stops cleanly.
 */
export function syncfsInBackground(p: string): Promise<Error | undefined> {
  return new Promise((resolve) => {
    try {
      const child = spawn('sync', ['-f', p], { detached: true, stdio: 'ignore' });
      child.once('error', (err) => resolve(syncFailed(p, err)));
      child.once('exit', (code, signal) =>
        resolve(code === 0 ? undefined : syncFailed(p, new Error(signal ? `killed by ${signal}` : `exit code ${code}`))),
      );
    } catch (err) {
      resolve(syncFailed(p, err)); // the child could not be started (ENOMEM, say)
    }
  });
}

// Reading a file to hash or compare it must not move its atime: the copy set the mirror's to the
// source's, and a verify run should leave both trees as it found them. O_NOATIME is allowed to
// the file's owner and to root only (EPERM otherwise): then the file is opened without it.
const READ = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
const NOATIME = fs.constants.O_NOATIME ?? 0;

function openNoAtime(p: Path): number {
  if (NOATIME === 0) return openRegular(p, READ);
  try {
    return openRegular(p, READ | NOATIME);
  } catch (err) {
    if (!isErrno(err, 'EPERM')) throw err;
    return openRegular(p, READ);
  }
}

// Node has no mknod(2). FIFOs and device nodes are rare in backup trees, so the coreutils
// command is good enough; it is only ever run with a path we created the parent of.
function mknodViaCoreutils(p: Path, type: 'fifo' | 'char' | 'block', mode: number, rdev: bigint): void {
  const path = typeof p === 'string' ? p : p.toString('utf8');
  // argv is passed as UTF-8: a name that is not UTF-8 cannot reach the command intact.
  if (typeof p !== 'string' && !Buffer.from(path, 'utf8').equals(p)) {
    throw Object.assign(new Error('special file with a non-UTF-8 name'), { code: 'EILSEQ' });
  }
  // Permission bits only: coreutils' mknod refuses set-uid, set-gid and sticky bits in -m
  // ("mode must specify only file permission bits"); the copy's chmod after it sets them.
  const modeArg = ['-m', (mode & 0o777).toString(8)];
  let args = [path, 'p'];
  if (type !== 'fifo') {
    const { major, minor } = majorMinor(rdev);
    args = [path, type === 'char' ? 'c' : 'b', String(major), String(minor)];
  }
  try {
    // In the C locale: its message is read for the error's code (see mknodFailed).
    execFileSync('mknod', [...modeArg, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANGUAGE: '' } });
  } catch (err) {
    throw commandMissing(err, 'mknod') ?? mknodFailed(err, type);
  }
}

/**
 * The error of a failed mknod(1) as the system call's would be: its code, from the strerror text
 * the command printed (a full disk must stop the run as ENOSPC does), and that text, not "Command
 * failed: mknod -m 644 <temp path> c 1 3" (a tester's copy as another user than root). Text is
 * all a command gives back (its exit status is 1 for every error), so the command runs in the C
 * locale, where the texts are these.
 */
function mknodFailed(err: unknown, type: 'fifo' | 'char' | 'block'): Error {
  const said = String((err as { stderr?: Buffer | string }).stderr ?? '').trim().split('\n').pop() ?? '';
  const code = Object.entries(STRERROR).find(([, text]) => said.endsWith(text))?.[0];
  if (code === undefined) return err as Error;
  const why = code === 'EPERM' && type !== 'fifo' ? 'a device node can be made by root only' : STRERROR[code]!.toLowerCase();
  return Object.assign(new Error(`${code}: ${why} (mknod)`), { code, cause: err });
}

/** The texts of strerror(3) that mknod(1) ends its message with, by code. */
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  EACCES: 'Permission denied',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EEXIST: 'File exists',
  EROFS: 'Read-only file system',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  EINVAL: 'Invalid argument',
};

/** The error to give when `command` could not be started because it is not on PATH. */
export function commandMissing(err: unknown, command: string): Error | undefined {
  if (!isErrno(err, 'ENOENT') || !String((err as { syscall?: string }).syscall).startsWith('spawn')) return undefined;
  return Object.assign(new Error(`the ${command} command (coreutils) is not on PATH; run linkmirror with a PATH that has it`), { code: 'ENOCMD', cause: err });
}
