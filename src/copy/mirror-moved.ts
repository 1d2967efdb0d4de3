// A mirror copied or moved to another folder or drive (cp -a, rsync -aH, a move across drives, a
// restore) keeps its files and its index but not its inode numbers: every mirror row then names
// an inode that is not there, and a plain re-run copied everything again ("replaced ... older
// content", though nothing had changed). So each run records where the mirror is: the inode
// number and birth time of the destination's top folder and of its state folder. When they are
// not what the last run recorded, the run takes the files that are there as --adopt does (same
// size and mtime as the source) and records their inodes; nothing that matches is written.
// A rename within the filesystem, or the drive mounted elsewhere, keeps both inodes: nothing
// changes then.
import fs from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../state-dir.js';
import type { Index } from '../store/index-db.js';

/** Index meta key: where the last run found the mirror (see placeOf). */
const DST_PLACE = 'dst_place';

function placeOf(dst: string): string {
  const id = (p: string) => {
    const st = fs.lstatSync(p, { bigint: true });
    return `${st.ino}:${st.birthtimeNs}`;
  };
  return `${id(dst)}/${id(path.join(dst, STATE_DIR))}`;
}

/**
 * Whether the mirror at `dst` is not where the last run recorded it (an index without a record
 * says no); either way, records where it is now.
 */
export function mirrorMoved(index: Index, dst: string): boolean {
  const was = index.getMeta(DST_PLACE);
  const now = placeOf(dst);
  if (was !== now) index.setMeta(DST_PLACE, now);
  return was !== undefined && was !== now;
}
