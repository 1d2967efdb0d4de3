// The space a plan counts for files with holes that their copies will not take. The plan counts
// every inode by its size, as the index records it; a sparse file's copy keeps its holes (see
// fs/sparse-copy.ts), so a 100 GiB disk image holding 2 GiB of data needs 2 GiB, not 100. The
// index keeps no allocated size, so the files are looked at on the source: only when the plan
// does not fit (a refusal is then at stake), and only those of 1 MiB or more whose content the
// copy still has to write (a hole smaller than that cannot turn a refusal around on its own,
// and the look costs one lstat per file).
//
// Only on filesystems whose block counts are what a file takes before compression: ZFS and NTFS
// count compressed blocks, and so does a share of them over NFS or SMB, where a file that
// compresses well would look like holes its copy will not keep. It is an estimate even so: a
// source with 1 KiB blocks can hold data every 4 KiB, each piece a 4 KiB block on the mirror.
import { fsTypeByMagic, type FsFacts } from '../fs/link-limit.js';
import type { FsOps } from '../fs/ops.js';
import { joinPath } from '../fs/paths.js';
import { hasHoles } from '../fs/sparse-copy.js';
import type { Index } from '../store/index-db.js';
import type { Plan } from './plan.js';

const LARGE = 1n << 20n;

/** Filesystems whose st_blocks count a file's blocks before any compression (btrfs's do too). */
const UNCOMPRESSED_BLOCKS = new Set(['ext4', 'xfs', 'btrfs', 'tmpfs', 'jfs', 'reiserfs']);

/** `plan` without the holes of the source's sparse files, when it does not fit as it is. */
export function withoutHoles(ops: FsOps, index: Index, src: Buffer, facts: FsFacts, plan: Plan): Plan {
  if (plan.bytesNeeded <= facts.freeBytes) return plan;
  const holes = holeBytes(ops, index, src, facts.blockSize);
  return holes === 0n ? plan : { ...plan, holeBytes: holes, bytesNeeded: plan.bytesNeeded - holes };
}

/** Bytes of holes, in whole destination blocks, of the large files the copy has still to write. */
function holeBytes(ops: FsOps, index: Index, src: Buffer, blockSize: bigint): bigint {
  const up = (n: bigint) => ((n + blockSize - 1n) / blockSize) * blockSize;
  /** Whether the filesystem of device `dev` counts blocks before compression: one statfs each. */
  const honest = new Map<bigint, boolean>();
  let holes = 0n;
  for (const page of index.largeFilesToCopy(LARGE)) {
    for (const f of page) {
      const p = joinPath(src, f.path);
      let st;
      let counts: boolean | undefined;
      try {
        st = ops.lstat(p);
        counts = honest.get(st.dev);
        if (counts === undefined) honest.set(st.dev, (counts = UNCOMPRESSED_BLOCKS.has(fsTypeByMagic(ops.statfs(p).type))));
      } catch {
        continue; // gone since the scan: the pass reports it
      }
      // Another file at the path now (or rewritten): counted as the plan counts it.
      if (!counts || st.size !== f.size || !hasHoles(st)) continue;
      const taken = up(st.blocks * 512n);
      if (up(f.size) > taken) holes += up(f.size) - taken;
    }
  }
  return holes;
}
