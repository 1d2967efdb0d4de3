// A new ext2/3/4 filesystem has one entry at its root: lost+found, an empty folder (root's, mode
// 0700) into which e2fsck puts files it finds detached. A drive formatted for the mirror and
// mounted as the destination brings it along, and the mirror does not own it: copy takes such a
// destination as empty, --delete leaves it, verify leaves it out. Only while it is empty, or
// cannot be looked into (a user who was given the drive's root, but not root's lost+found): files
// in it are what e2fsck recovered from a damaged mirror, which verify must show (and a source
// with its own lost+found at the top is copied into it like any folder).
import fs from 'node:fs';
import { isErrno } from './errno.js';

export const LOST_FOUND = 'lost+found';
export const LOST_FOUND_BYTES = Buffer.from(LOST_FOUND);

const under = (dir: Buffer | string, name: string) => Buffer.concat([Buffer.from(dir), Buffer.from(`/${name}`)]);

/** Whether `dir` is the root of a mounted filesystem: its device differs from its parent's, or it is "/". */
export function isMountRoot(dir: Buffer | string): boolean {
  try {
    const self = fs.statSync(dir, { bigint: true });
    const parent = fs.statSync(under(dir, '..'), { bigint: true });
    return self.dev !== parent.dev || self.ino === parent.ino;
  } catch {
    return false;
  }
}

/** Whether `dir` holds a folder lost+found and is a filesystem's root: the filesystem's, not the mirror's. */
export function lostFoundAtRoot(dir: Buffer | string): boolean {
  try {
    return fs.lstatSync(under(dir, LOST_FOUND)).isDirectory() && isMountRoot(dir);
  } catch {
    return false;
  }
}

/** lostFoundAtRoot(dir), and that folder empty, or closed to this user (lostFoundClosed). */
export function emptyLostFoundAtRoot(dir: Buffer | string): boolean {
  if (!lostFoundAtRoot(dir)) return false;
  try {
    return fs.readdirSync(under(dir, LOST_FOUND)).length === 0;
  } catch (err) {
    return isErrno(err, 'EACCES') && closedFolder(under(dir, LOST_FOUND));
  }
}

/** lostFoundAtRoot(dir), root's, and this user may not list it. */
export function lostFoundClosed(dir: Buffer | string): boolean {
  return lostFoundAtRoot(dir) && closedFolder(under(dir, LOST_FOUND));
}

/** Whether the folder `at` is root's and this user may not list it. */
function closedFolder(at: Buffer): boolean {
  try {
    fs.accessSync(at, fs.constants.R_OK | fs.constants.X_OK);
    return false;
  } catch {
    return fs.lstatSync(at).uid === 0;
  }
}
