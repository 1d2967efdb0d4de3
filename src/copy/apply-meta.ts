// Metadata of a written entry: owner first (chown clears set-uid bits), then permission bits,
// then times — which must come last, since every other change would touch them.
import type { FsOps } from '../fs/ops.js';
import { EntryType, type Entry } from '../store/entry.js';

export function applyMeta(ops: FsOps, p: Buffer, e: Pick<Entry, 'type' | 'uid' | 'gid' | 'mode' | 'atimeNs' | 'mtimeNs'>, owner: boolean): void {
  if (owner) ops.lchown(p, e.uid, e.gid);
  if (e.type !== EntryType.symlink) ops.chmod(p, e.mode);
  ops.lutimes(p, e.atimeNs, e.mtimeNs);
}
