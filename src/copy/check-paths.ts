// The refusals that come before anything is read or written: the source must be a directory,
// and source and destination must be distinct trees, neither inside the other. Paths are
// compared after resolving symlinks (realpath), so /a/link-to-b and /b are one place; then by
// inode, and by where each lies in its filesystem (mountinfo), so a bind mount of one tree, or of
// a folder in it, is not taken for another place.
import fs from 'node:fs';
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno } from '../fs/errno.js';
import { atOrBelow, mountPlace, readMounts } from '../fs/mount-place.js';

export interface CheckedPaths {
  /** Resolved absolute source. */
  src: string;
  /** Resolved absolute destination (it may not exist yet). */
  dst: string;
  dstExists: boolean;
}

/** realpath of the longest existing prefix, with the missing tail appended. */
export function resolveMaybeMissing(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse());
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      const parent = path.dirname(head);
      if (parent === head) return abs;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Whether the folder `dir` (resolved; it or a parent may not exist yet) is the folder `tree`, or
 * below it, by inode: a bind mount shows one folder at two paths, which realpath leaves apart.
 */
function insideByInode(dir: string, tree: string): boolean {
  const t = fs.statSync(tree, { bigint: true });
  for (let at = nearestExisting(dir); ; at = path.dirname(at)) {
    const st = fs.statSync(at, { bigint: true });
    if (st.dev === t.dev && st.ino === t.ino) return true;
    if (path.dirname(at) === at) return false;
  }
}

/**
 * How src and dst (resolved; dst may not exist yet) overlap as places in one filesystem: a bind
 * mount of a subfolder of one tree shows it at a path that neither realpath nor the parents'
 * inodes lead back from. Undefined when they do not, or when mountinfo cannot be read (the
 * checks by path and inode still stand).
 */
function overlapByMount(src: string, dst: string): Overlap | undefined {
  const mounts = readMounts();
  if (!mounts) return undefined;
  // A missing destination lies where its nearest existing folder does, with the missing tail.
  const existing = nearestExisting(dst);
  const s = mountPlace(mounts, src);
  const at = mountPlace(mounts, existing);
  if (!s || !at || s.device !== at.device) return undefined;
  const d = path.posix.join(at.inFs, path.relative(existing, dst));
  // Each answer is checked on the filesystem itself: the place found through one path's mount
  // must be the other's folder (by inode). mountinfo alone would mislead where a mount is hidden
  // under a later one, or where every mount shows "/" as its root (NFS mounts that share a
  // server's filesystem).
  const through = (from: string, fromFs: string, toFs: string, other: string) => sameFolder(path.join(from, path.posix.relative(fromFs, toFs)), other);
  if (atOrBelow(at.inFs, s.inFs)) {
    // The destination's nearest existing folder lies in the source: it, or DST below it.
    if (!through(src, s.inFs, at.inFs, existing)) return undefined;
    return d === s.inFs ? 'same' : 'dst-inside';
  }
  if (atOrBelow(s.inFs, d) && atOrBelow(s.inFs, at.inFs)) {
    if (!through(existing, at.inFs, s.inFs, src)) return undefined;
    return d === s.inFs ? 'same' : 'src-inside';
  }
  // DST is to be made above the source's place: only by a path through what does not exist yet.
  return undefined;
}

type Overlap = 'same' | 'dst-inside' | 'src-inside';

/** The refusal of two trees that one folder mounted twice makes overlap. */
function mountedTwice(overlap: Overlap, src: string, dst: string): LinkmirrorError {
  const twice = '(the same folder mounted twice)';
  if (overlap === 'same') return new LinkmirrorError('DST_IS_SRC', `source ${src} and destination ${dst} are the same folder ${twice}; give another destination`);
  if (overlap === 'dst-inside') return new LinkmirrorError('DST_INSIDE_SRC', `destination ${dst} is inside the source ${src} ${twice}; choose a destination outside it`);
  return new LinkmirrorError('SRC_INSIDE_DST', `source ${src} is inside the destination ${dst} ${twice}; choose a destination outside it`);
}

/** Whether two paths name one folder (by dev and inode); false when either cannot be looked at. */
function sameFolder(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a, { bigint: true });
    const y = fs.statSync(b, { bigint: true });
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * Node hands the program its arguments decoded as UTF-8: bytes that are not become U+FFFD, and
 * the path named is another one (a mirror made beside the one meant). Refused, with what to do.
 */
function utf8Only(arg: string, what: string): void {
  if (arg.includes('\uFFFD') && !typedAsIs(arg)) {
    throw new LinkmirrorError(
      'PATH_NOT_UTF8',
      `${what} ${arg} has bytes that are not UTF-8, which cannot reach linkmirror intact; give it through a symlink with a UTF-8 name (names inside the tree may be any bytes)`,
    );
  }
}

/**
 * Whether an argument holding U+FFFD was given as that very character (valid UTF-8 on the
 * command line, per /proc/self/cmdline), not made of bytes that are not UTF-8.
 */
function typedAsIs(arg: string): boolean {
  try {
    // The program's own arguments are the last of the command line's (node's options and the
    // script come first), in process.argv's order.
    const raw = fs.readFileSync('/proc/self/cmdline').toString('latin1').split('\0');
    if (raw[raw.length - 1] === '') raw.pop();
    const own = process.argv.slice(2);
    const mine = raw.slice(raw.length - own.length).map((a) => Buffer.from(a, 'latin1'));
    return own.some((a, i) => a === arg && Buffer.from(arg, 'utf8').equals(mine[i]));
  } catch {
    return false;
  }
}

export function checkPaths(srcArg: string, dstArg: string): CheckedPaths {
  utf8Only(srcArg, 'source');
  utf8Only(dstArg, 'destination');
  let src: string;
  try {
    src = fs.realpathSync(srcArg);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) {
      throw new LinkmirrorError('SRC_MISSING', `source ${srcArg} does not exist; give the folder to copy`, { cause: err });
    }
    throw new LinkmirrorError('SRC_MISSING', `source ${srcArg} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!fs.statSync(src).isDirectory()) {
    throw new LinkmirrorError('SRC_NOT_DIR', `source ${srcArg} is not a directory; give the folder to copy`);
  }
  const dst = resolveMaybeMissing(dstArg);
  let dstExists = false;
  try {
    const st = fs.statSync(dst);
    if (!st.isDirectory()) {
      throw new LinkmirrorError('DST_NOT_DIR', `destination ${dstArg} exists and is not a directory; give a folder`);
    }
    dstExists = true;
  } catch (err) {
    if (err instanceof LinkmirrorError) throw err;
    if (!isErrno(err, 'ENOENT')) throw new LinkmirrorError('DST_UNUSABLE', `destination ${dstArg}: ${(err as Error).message}`, { cause: err });
    danglingLink(dst, dstArg);
  }
  if (dst === src) {
    throw new LinkmirrorError('DST_IS_SRC', `source and destination are the same folder (${src}); give another destination`);
  }
  if (inside(dst, src)) {
    throw new LinkmirrorError('DST_INSIDE_SRC', `destination ${dst} is inside the source ${src}; choose a destination outside it`);
  }
  if (inside(src, dst)) {
    throw new LinkmirrorError('SRC_INSIDE_DST', `source ${src} is inside the destination ${dst}; choose a destination outside it`);
  }
  if (insideByInode(dst, src)) throw mountedTwice('dst-inside', src, dst);
  if (dstExists && insideByInode(src, dst)) throw mountedTwice('src-inside', src, dst);
  const overlap = overlapByMount(src, dst);
  if (overlap) throw mountedTwice(overlap, src, dst);
  return { src, dst, dstExists };
}

/**
 * A destination that is a symlink to nothing, most often to a folder on a drive that is not
 * mounted: refused as a missing parent is, rather than failing in mkdir ("unexpected error").
 */
function danglingLink(dst: string, dstArg: string): void {
  let target: string;
  try {
    target = fs.readlinkSync(dst);
  } catch {
    return; // not a symlink (or gone): the destination is simply missing
  }
  throw new LinkmirrorError(
    'DST_PARENT_MISSING',
    `destination ${dstArg} is a symlink to ${target}, which does not exist: is the drive mounted? Make the folder it points to first if it should be there`,
  );
}

/** `p` itself when it exists, else its nearest existing ancestor (the folder it would be made in). */
export function nearestExisting(p: string): string {
  let at = p;
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

/**
 * The destination (its state folder when it has one), or the folder it is to be made in, takes writes: else one line before
 * anything is written. (A recursive mkdir on a read-only filesystem fails with ENOENT, not
 * EROFS, and the lock file's EACCES would say nothing about whose folder it is.)
 */
export function checkWritable(dst: string, stateDir: string): void {
  const probe = fs.existsSync(stateDir) ? stateDir : nearestExisting(dst);
  try {
    fs.accessSync(probe, fs.constants.W_OK | (probe === stateDir ? fs.constants.X_OK : 0));
  } catch (err) {
    if (isErrno(err, 'EROFS')) {
      throw new LinkmirrorError('DST_READ_ONLY', `destination ${dst} is on a read-only filesystem: remount it read-write, or choose another destination`, { cause: err });
    }
    if (isErrno(err, 'EACCES', 'EPERM')) {
      throw new LinkmirrorError('DST_NO_ACCESS', `cannot write to ${probe}: permission denied; run as a user who may write there, or choose another destination`, { cause: err });
    }
    throw err;
  }
}
