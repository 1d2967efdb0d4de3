// The state folder a mirror keeps at its root. Scan, copy and verify leave it out of the tree.

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
