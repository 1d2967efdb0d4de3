// What the destination filesystem can hold: its type (from statfs and /proc/self/mountinfo) and
// its per-inode hard-link limit. The limit only tells us when to expect a split; EMLINK from
// link() stays the final word, because some filesystems (btrfs, per directory) stop earlier.
import fs from 'node:fs';
import { deviceName } from './dev-number.js';
import type { FsOps, Path } from './ops.js';

export interface FsFacts {
  /** Filesystem type name, e.g. ext4, xfs, btrfs, vfat; 'unknown' when not recognised. */
  type: string;
  /** Largest nlink one inode may have; Infinity when no limit is known. 0 when links are impossible. */
  linkMax: number;
  blockSize: bigint;
  freeBytes: bigint;
  freeInodes: bigint;
  /** Some filesystems (btrfs) report no inode limit: free inodes mean nothing there. */
  inodesLimited: boolean;
}

const MAGIC: Record<string, string> = {
  ef53: 'ext4',
  '58465342': 'xfs',
  '9123683e': 'btrfs',
  '1021994': 'tmpfs',
  '2fc12fc1': 'zfs',
  f2f52010: 'f2fs',
  '4d44': 'vfat',
  '2011bab0': 'exfat',
  '5346544e': 'ntfs',
  '7366746e': 'ntfs3',
  '65735546': 'fuseblk',
  '6969': 'nfs',
  ff534d42: 'cifs',
  '794c7630': 'overlay',
  '3153464a': 'jfs',
  '52654973': 'reiserfs',
};

const LINK_MAX: Record<string, number> = {
  ext2: 32000,
  ext3: 32000,
  ext4: 65000,
  btrfs: 65535,
  xfs: 2 ** 31 - 1,
  zfs: 2 ** 31 - 1,
  tmpfs: 2 ** 31 - 1,
  f2fs: 2 ** 31 - 1,
  jfs: 65535,
  reiserfs: 64535,
  ntfs: 1024,
  ntfs3: 1024,
  fuseblk: 1024,
  vfat: 0,
  msdos: 0,
  exfat: 0,
};

/** The mount type from mountinfo tells ext2/ext3 from ext4, which share one statfs magic. */
function mountType(devNumber: bigint): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const want = deviceName(devNumber);
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] !== want) continue;
    const sep = fields.indexOf('-');
    if (sep > 0) found = fields[sep + 1];
  }
  return found;
}

export function fsFacts(ops: FsOps, dir: Path): FsFacts {
  const st = ops.statfs(dir);
  const magic = st.type.toString(16);
  let type = MAGIC[magic] ?? 'unknown';
  const mounted = mountType(ops.lstat(dir).dev);
  if (mounted && (type === 'ext4' || type === 'unknown' || type === 'fuseblk')) type = mounted;
  const linkMax = LINK_MAX[type] ?? Infinity;
  return {
    type,
    linkMax,
    blockSize: st.bsize,
    freeBytes: st.bavail * st.bsize,
    freeInodes: st.ffree,
    inodesLimited: st.files > 0n && type !== 'btrfs',
  };
}
