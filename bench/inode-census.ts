// The regular-file inodes of a tree, each once, with its size: what a link-keeping copy has to
// write. Two censuses of one tree, before and after a change, tell which inodes are new.
//
// Sizes are also summed in whole pages, because the kernel's write_bytes counts 4 KiB pages:
// a copy of a tree of small files dirties far more pages than its sizes add up to, so the
// page sum is the least any copy can be measured to write.
import fs from 'node:fs';
import path from 'node:path';

export const PAGE = 4096;

/** `${dev}:${ino}` → size in bytes, for every regular file below `root` (each inode once). */
export type Census = Map<string, number>;

export interface CensusTotals {
  inodes: number;
  bytes: number;
  /** Bytes rounded up to whole pages, per inode. */
  pageBytes: number;
}

export function takeCensus(root: string, skip: (rel: string) => boolean = () => false): Census {
  const census: Census = new Map();
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (skip(child)) continue;
      if (d.isDirectory()) walk(child);
      else if (d.isFile()) {
        const st = fs.lstatSync(path.join(root, child), { bigint: true });
        census.set(`${st.dev}:${st.ino}`, Number(st.size));
      }
    }
  };
  walk('');
  return census;
}

export function censusTotals(census: Census, only: (key: string) => boolean = () => true): CensusTotals {
  const totals: CensusTotals = { inodes: 0, bytes: 0, pageBytes: 0 };
  for (const [key, size] of census) {
    if (!only(key)) continue;
    totals.inodes++;
    totals.bytes += size;
    totals.pageBytes += Math.ceil(size / PAGE) * PAGE;
  }
  return totals;
}
