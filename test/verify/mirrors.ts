// Test trees for verify: a source with links across snapshots and inside one, two unrelated
// files with equal content, a file above the hash's 1 MiB chunk, symlinks, a fifo, an empty
// file and fixed modes and times; mirrors of it made by linkmirror copy, cp -a or rsync -aH;
// and a way to change a mirror without touching the mtimes of the folders around the change,
// so that each test sees exactly the one difference it makes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { copy } from '../../src/copy/copy.js';
import type { FsOps } from '../../src/fs/ops.js';
import type { VerifyReport } from '../../src/verify/verify.js';
import { CATEGORIES, type Category } from '../../src/verify/verify.js';
import { buildTree, dir, fifo, file, link, symlink, utimesSeconds, type TreeSpec } from '../helpers/tree.js';

export const T = (s: number) => 1_600_000_000 + s;

/** 2.5 MiB that do not repeat: more than one read chunk. */
export const BIG = Buffer.from(Array.from({ length: (5 << 19) / 32 }, (_, i) => `${i.toString(36).padStart(31, '.')}\n`).join(''));

export const SPEC: TreeSpec = {
  'daily.0': dir({ mtime: T(100) }),
  'daily.0/docs': dir({ mode: 0o750, mtime: T(101) }),
  'daily.0/docs/report.txt': file('quarterly numbers\n', { mode: 0o640, mtime: T(1) }),
  'daily.0/docs/notes.txt': file('notes', { mtime: T(2) }),
  'daily.0/docs/copy-a.txt': file('same bytes', { mtime: T(3) }),
  'daily.0/docs/copy-b.txt': file('same bytes', { mtime: T(3) }),
  'daily.0/bin': dir({ mtime: T(102) }),
  'daily.0/bin/tool': file(Buffer.alloc(200_000, 7), { mode: 0o755, mtime: T(4) }),
  'daily.0/big.bin': file(BIG, { mtime: T(5) }),
  'daily.0/to-notes': symlink('docs/notes.txt', { mtime: T(6) }),
  'daily.0/pipe': fifo({ mtime: T(9) }),
  'daily.1': dir({ mtime: T(110) }),
  'daily.1/docs': dir({ mtime: T(111) }),
  'daily.1/docs/report.txt': link('daily.0/docs/report.txt'),
  'daily.1/docs/report-again.txt': link('daily.0/docs/report.txt'),
  'daily.1/docs/notes.txt': file('notes, edited', { mtime: T(7) }),
  'daily.1/bin': dir({ mtime: T(112) }),
  'daily.1/bin/tool': link('daily.0/bin/tool'),
  'daily.1/big.bin': link('daily.0/big.bin'),
  'daily.1/to-notes': symlink('docs/notes.txt', { mtime: T(6) }),
  'daily.1/empty': file('', { mtime: T(8) }),
};

export type Maker = 'linkmirror' | 'cp -a' | 'rsync -aH';

/** Build SPEC (or spec) in base/src and mirror it into base/dst. */
export async function mirrorOf(base: string, maker: Maker = 'linkmirror', spec: TreeSpec = SPEC, ops?: FsOps): Promise<{ src: string; dst: string }> {
  const src = path.join(base, 'src');
  const dst = path.join(base, 'dst');
  buildTree(src, spec);
  // The source root's own time, set last (building the tree moved it).
  fs.utimesSync(src, T(200), T(200));
  if (maker === 'linkmirror') await copy(src, dst, { ops });
  else if (maker === 'cp -a') execFileSync('cp', ['-a', src, dst]);
  else execFileSync('rsync', ['-aH', `${src}/`, `${dst}/`]);
  return { src, dst };
}

/** Run fn on the mirror, then put back the mtimes of the given paths (relative to root) as they were. */
export function keepingMtimes(root: string, rels: string[], fn: () => void): void {
  const before = rels.map((rel) => [path.join(root, rel), fs.lstatSync(path.join(root, rel), { bigint: true })] as const);
  fn();
  for (const [p, st] of before) {
    if (!fs.existsSync(p) && !isSymlink(p)) continue;
    fs.lutimesSync(p, utimesSeconds(st.atimeNs), utimesSeconds(st.mtimeNs));
  }
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The categories with a count, e.g. { content: 1 }. */
export function found(r: VerifyReport): Partial<Record<Category, number>> {
  const out: Partial<Record<Category, number>> = {};
  for (const c of CATEGORIES) if (r.categories[c]) out[c] = r.categories[c];
  return out;
}
