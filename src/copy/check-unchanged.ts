// Whether a source file is still what the scan saw, asked once its content is copied to the temp
// file and before that is renamed into place or gets its index row. A file written to while it
// is read (a log, a VM image, a database) gives a copy that mixes old and new bytes; put in place
// with the scan's mtime and hashed into the manifest, it would pass every later check. So the
// source is looked at once more and compared with the scan's row: (dev, ino), as the path may
// name another file now; size; mtime; birth time where the filesystem reports one. Not ctime:
// it moves whenever a link to the inode is made, as rsnapshot's `cp -al` does beside a copy.
//
// The copy is made by path (copyFile takes no fd), so the path is what is looked at again: one
// lstat per copied file, and a path replaced since the copy opened it counts as changed too.
// A file gone since counts as changed as well: the next run's scan no longer has it. Not seen:
// a write that leaves size and mtime as they were (a writer that puts the mtime back).
import type { FsOps, Path } from '../fs/ops.js';
import { isErrno } from '../fs/errno.js';
import type { Entry } from '../store/entry.js';
import { CLAMP_NS_JS, clampNs } from '../fs/time-ns.js';

/** The scan's facts of a file that a copy compares with the source's lstat after it. */
export type ScanFacts = Pick<Entry, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'birthNs'>;

/** Stable: the code of the per-path problem (as the scan's ECHANGED for a path replaced under it). */
export const CHANGED_CODE = 'ECHANGED';
const CHANGED_MESSAGE = 'it changed while it was copied; run the same command again to copy it as it is then';

/** Throws CHANGED_CODE when the source at `p` is no longer the file the scan saw as `e`. */
export function checkUnchanged(ops: FsOps, p: Path, e: ScanFacts): void {
  let st;
  try {
    st = ops.lstat(p);
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
    throw changedWhileCopied(err);
  }
  if (!sameFile(e, st)) throw changedWhileCopied();
}

/** Whether the lstat `st` is of the file the scan saw as `e` (see above for what is compared). */
export function sameFile(e: ScanFacts, st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; birthtimeNs: bigint }): boolean {
  return st.dev === e.dev && st.ino === e.ino && st.size === e.size && clampNs(st.mtimeNs) === e.mtimeNs && (e.birthNs === 0n || clampNs(st.birthtimeNs) === e.birthNs);
}

function changedWhileCopied(cause?: unknown): Error {
  return Object.assign(new Error(CHANGED_MESSAGE, { cause }), { code: CHANGED_CODE });
}

/**
 * Source text of `checkUnchanged(p, e)` for the copy thread, which runs code given as text (see
 * copy-thread.ts): the same test through `fs` directly, `e` holding the ScanFacts as bigints.
 */
export const CHECK_UNCHANGED_JS = `${CLAMP_NS_JS}
function checkUnchanged(p, e) {
  let st;
  try { st = fs.lstatSync(p, { bigint: true }); } catch (err) {
    if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
  }
  const same = st !== undefined && BigInt.asUintN(64, st.dev) === e.dev && BigInt.asUintN(64, st.ino) === e.ino && st.size === e.size && clampNs(st.mtimeNs) === e.mtimeNs &&
    (e.birthNs === 0n || clampNs(st.birthtimeNs) === e.birthNs);
  if (!same) throw Object.assign(new Error(${JSON.stringify(CHANGED_MESSAGE)}), { code: ${JSON.stringify(CHANGED_CODE)} });
}
`;
