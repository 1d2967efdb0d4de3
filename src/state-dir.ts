// The state folder a mirror keeps at its root. Scan, copy and verify leave it out of the tree.

export const STATE_DIR = '.linkmirror';
export const STATE_DIR_BYTES = Buffer.from(STATE_DIR);
export const INDEX_FILE = 'index.db';

/** True for the state folder at the top of a tree (and only there). */
export function isStateDir(rel: Buffer): boolean {
  return rel.equals(STATE_DIR_BYTES);
}
