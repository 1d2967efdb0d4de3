// A new ext2/3/4 filesystem has one entry at its root: lost+found, an empty folder into which
// e2fsck puts files it finds detached. A drive formatted for the mirror and mounted as the
// destination brings it along, and the mirror does not own it: copy takes such a destination
// as empty, --delete leaves it, verify leaves it out. Only while it is empty: files in it are
// what e2fsck recovered from a damaged mirror, which verify must show (and a source with its own
// lost+found at the top is copied into it like any folder).
import fs from 'node:fs';

export const LOST_FOUND = 'lost+found';
export const LOST_FOUND_BYTES = Buffer.from(LOST_FOUND);

/** Whether `dir` is the root of a mounted filesystem holding an empty lost+found folder. */
export function emptyLostFoundAtRoot(dir: Buffer | string): boolean {
  const at = Buffer.concat([Buffer.from(dir), Buffer.from(`/${LOST_FOUND}`)]);
  try {
    if (!fs.lstatSync(at).isDirectory() || fs.readdirSync(at).length > 0) return false;
    const self = fs.statSync(dir, { bigint: true });
    const parent = fs.statSync(Buffer.concat([Buffer.from(dir), Buffer.from('/..')]), { bigint: true });
    // A mount point's device differs from its parent's; "/" is its own parent.
    return self.dev !== parent.dev || self.ino === parent.ino;
  } catch {
    return false; // not there, or not readable: not known to be the filesystem's
  }
}
