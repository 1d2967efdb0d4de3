// --delete: remove from the destination every path the source no longer has (rsync's
// convention), walking the destination from the top and removing a whole subtree at the first
// path that is not in the source. The state folder is never touched.
import type { FsOps } from '../fs/ops.js';
import { childPath, joinPath } from '../fs/paths.js';
import type { Problems } from '../problems.js';
import type { Progress } from '../progress.js';
import { isStateDir } from '../state-dir.js';
import type { Index } from '../store/index-db.js';
import { Pacer, yieldNow } from '../yield.js';
import { removeTree } from './remove-tree.js';

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;

export async function deleteExtras(ops: FsOps, index: Index, dst: Buffer, progress: Progress, problems: Problems): Promise<number> {
  let deleted = 0;
  const pacer = new Pacer();
  const stack: Buffer[] = [Buffer.alloc(0)];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: { name: Buffer; isDir: boolean | undefined }[];
    try {
      entries = ops.readdirKinds(joinPath(dst, dir));
    } catch (err) {
      problems.add(dir, 'cannot list', err);
      continue;
    }
    for (const { name, isDir } of entries) {
      if (pacer.due()) await yieldNow();
      const rel = childPath(dir, name);
      if (isStateDir(rel)) continue;
      progress.advance(1);
      const p = joinPath(dst, rel);
      if (index.srcHasPath(rel)) {
        // The entry's own type saves an lstat per path (a million on a large mirror, most of
        // them cold); only a filesystem that does not record it is asked.
        if (isDir === false) continue;
        try {
          if (isDir || (ops.lstat(p).mode & S_IFMT) === S_IFDIR) stack.push(rel);
        } catch (err) {
          problems.add(rel, 'cannot read', err);
        }
        continue;
      }
      try {
        removeTree(ops, p);
        deleted++;
      } catch (err) {
        problems.add(rel, 'cannot delete', err);
      }
    }
  }
  index.dropMirrorNotInSrc();
  return deleted;
}
