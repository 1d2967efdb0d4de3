// The state folder a mirror keeps at its root. Scan, copy and verify leave it out of the tree.
import fs from 'node:fs';
import path from 'node:path';

export const STATE_DIR = '.linkmirror';
export const STATE_DIR_BYTES = Buffer.from(STATE_DIR);
export const INDEX_FILE = 'index.db';
/**
 * The index and the files SQLite opens beside it by name, following symlinks: its rollback
 * journal (a first copy's, see store/index-db.ts), its WAL and the WAL's index.
 */
export const INDEX_FILES = [INDEX_FILE, `${INDEX_FILE}-journal`, `${INDEX_FILE}-wal`, `${INDEX_FILE}-shm`];

/** True for the state folder at the top of a tree (and only there). */
export function isStateDir(rel: Buffer): boolean {
  return rel.equals(STATE_DIR_BYTES);
}

/**
 * What to tell the user when a source has an entry of the state folder's name at its top that
 * is not a mirror's state: it is left out like a mirror's own, so a user's file or folder of
 * that name is never copied; said rather than dropped unseen. Undefined when there is none, or
 * when it is a mirror's state folder (a mirror copied on to a second drive: nothing to say).
 */
export function stateDirInSource(src: string): string | undefined {
  const p = path.join(src, STATE_DIR);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return undefined;
  }
  if (st.isDirectory() && fs.existsSync(path.join(p, INDEX_FILE))) return undefined;
  return `left out ${p}: linkmirror keeps a mirror's state under that name, at the top of a tree`;
}
