// The last pass: directory owners, modes and times, children before parents, so that setting a
// directory's mtime is not undone by a later change inside it (and a read-only parent is made
// read-only only after its children are finished).
import { joinPath } from '../fs/paths.js';
import type { FsOps } from '../fs/ops.js';
import type { Problems } from '../problems.js';
import type { Progress } from '../progress.js';
import type { Index } from '../store/index-db.js';
import { applyMeta } from './apply-meta.js';

export function finishDirs(ops: FsOps, index: Index, dst: Buffer, owner: boolean, progress: Progress, problems: Problems): void {
  for (const page of index.srcDirs('children-first')) {
    for (const d of page) {
      try {
        applyMeta(ops, joinPath(dst, d.path), d, owner);
      } catch (err) {
        problems.add(d.path, 'cannot set metadata of directory', err);
      }
      progress.advance(1);
    }
  }
}
