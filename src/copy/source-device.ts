// A source on a drive that comes back under another device number (a USB disk on another
// /dev/sdX after a replug or a reboot, loop devices attached in another order) is the same
// filesystem with the same inodes; known by (dev, ino), every one of them would look new and be
// copied again, and on a drive without room for two copies the run would be refused. So before
// the scan, the source's top folder is compared with the index's record of it: the same inode
// number and the same birth time under another device number mean the same filesystem, and the
// index's records take the new number. Without a birth time nothing is assumed (ext4's root is
// always inode 2: another filesystem's root would pass on the number alone). The look at one path
// per inode after the scan still checks each inode's birth time, size and mtime.
import fs from 'node:fs';
import { unsignedIds } from '../fs/ops.js';
import type { Progress } from '../progress.js';
import type { Index } from '../store/index-db.js';

export function followSourceDevice(index: Index, src: string, progress: Progress): void {
  const was = index.srcRoot();
  if (!was) return;
  const now = unsignedIds(fs.lstatSync(src, { bigint: true }));
  if (now.dev === was.dev) return;
  if (was.birthNs === 0n || now.birthtimeNs !== was.birthNs || now.ino !== was.ino) return;
  const moved = index.remapSourceDevice(was.dev, now.dev);
  if (moved === 0) return;
  progress.warn(`the source's filesystem is back as device ${now.dev} (it was ${was.dev}): its ${moved} recorded paths keep their copies`);
}
