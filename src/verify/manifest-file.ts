// Where a mirror keeps its manifest: DST/.linkmirror/index.db, the copy's own index. Verify
// only reads it, but SQLite opens the file and its companions (journal, -wal, -shm) by name and
// follows symlinks, so (as copy does) anything but a real folder and regular files there is refused.
import fs from 'node:fs';
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno } from '../fs/errno.js';
import { INDEX_FILE, INDEX_FILES, STATE_DIR } from '../state-dir.js';

function lstatOrNone(p: string, advice: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    // The state folder is made 0700 by the user who copied (often root); its split records and
    // manifest are needed to judge the mirror, so another user is told, not shown false differences.
    if (isErrno(err, 'EACCES', 'EPERM')) {
      throw new LinkmirrorError('DST_NO_ACCESS', `cannot read ${path.dirname(p)}: permission denied; ${advice}`, { cause: err });
    }
    throw err;
  }
}

/**
 * The index file of the mirror at dst, or undefined when dst is not a linkmirror mirror (copy
 * asks too, before it opens the index). `advice`: what a user who may not read the state folder
 * is told to do.
 */
export function findManifest(dst: string, advice = 'run verify as the user who made the copy'): string | undefined {
  const stateDir = path.join(dst, STATE_DIR);
  const st = lstatOrNone(stateDir, advice);
  if (!st) return undefined;
  if (!st.isDirectory()) {
    throw new LinkmirrorError('DST_UNUSABLE', `${stateDir} is not a directory (a symlink or file is in its place); remove it`);
  }
  for (const name of INDEX_FILES) {
    const f = lstatOrNone(path.join(stateDir, name), advice);
    if (f && !f.isFile()) {
      throw new LinkmirrorError('DST_UNUSABLE', `${path.join(stateDir, name)} is not a regular file (a symlink or other entry is in its place); remove it`);
    }
  }
  const index = path.join(stateDir, INDEX_FILE);
  return fs.existsSync(index) ? index : undefined;
}
