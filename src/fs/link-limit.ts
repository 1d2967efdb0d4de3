// What the destination filesystem can hold: its type (from statfs and /proc/self/mountinfo) and
// its per-inode hard-link limit. The limit only tells the plan how many splits to expect; the
// error from link() stays the final word (EMLINK; ntfs-3g's ERANGE), because some filesystems
// (btrfs, per directory) stop earlier.
//
// FUSE filesystems all answer statfs with one magic. mountinfo names the filesystem for some
// (`fuse.<subtype>`: libfuse's fuse_main takes the subtype from the program's name, so fusefat
// shows as fuse.fusefat) and only `fuse`, or `fuseblk` on a block device, for others (ntfs-3g
// and exfat-fuse as Debian ships them): those stay 'fuse'/'fuseblk', of no known limit.
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
  '65735546': 'fuse',
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
  // NTFS through ntfs-3g (a fuse.ntfs-3g mount), whose link() answers ERANGE, not EMLINK, once
  // an inode has about 8190 links (8190 with short names on a fresh volume; 8188 keeps a margin).
  // (The old kernel driver, of this statfs magic and gone since Linux 6.9, creates no files.)
  ntfs: 8188,
  // The kernel's ntfs3 (fs/ntfs3: NTFS_LINK_MAX, 4000 since 2021).
  ntfs3: 4000,
  // No 'fuse' or 'fuseblk': they name how a filesystem is served, not which it is. Most often
  // fuseblk is ntfs-3g (8188 links) but it may be exfat-fuse (none, which the probe finds) or
  // anything else; any number here would be a guess, and a guess too low makes the plan count
  // splits that never happen (and ask for space they never take).
  vfat: 0,
  msdos: 0,
  exfat: 0,
};

/**
 * FUSE subtypes (mountinfo's `fuse.<subtype>`, or `fuseblk.<subtype>` on a block device) that
 * say for certain which filesystem is served. A plain `ntfs` subtype is given ntfs-3g's limit
 * (the FUSE NTFS in use); were it another daemon's, its own link() answer still decides.
 */
const FUSE_SUBTYPE: Record<string, string> = {
  fusefat: 'vfat',
  exfat: 'exfat',
  'exfat-fuse': 'exfat',
  'ntfs-3g': 'ntfs',
  'lowntfs-3g': 'ntfs',
  ntfs: 'ntfs',
};

/**
 * The mount type from mountinfo: it tells ext2/ext3 from ext4, which share one statfs magic, and
 * names a FUSE mount's subtype.
 */
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

/** The name of a filesystem by its statfs magic (ext2/3/4 all read ext4 here), 'unknown' for others. */
export function fsTypeByMagic(magic: bigint): string {
  return MAGIC[magic.toString(16)] ?? 'unknown';
}

export function fsFacts(ops: FsOps, dir: Path): FsFacts {
  const st = ops.statfs(dir);
  let type = fsTypeByMagic(st.type);
  const mounted = mountType(ops.lstat(dir).dev);
  if (mounted && (type === 'ext4' || type === 'unknown' || type === 'fuse')) {
    const subtype = /^fuse(?:blk)?\.(.+)$/.exec(mounted)?.[1];
    type = (subtype && FUSE_SUBTYPE[subtype]) ?? mounted;
  }
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
