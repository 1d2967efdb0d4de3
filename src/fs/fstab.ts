// A destination on a drive that is not mounted. The folder a drive is mounted on stays when the
// drive is not there (a USB disk unplugged, a NAS share that failed to mount at boot), empty, on
// the disk below it: a cron job's copy into it, or into a folder under it, made a whole new
// mirror there, filling the system disk, and said "copied" (exit 0). A missing parent folder is
// refused already (copy.ts); this is the case where the folder exists. What says that a drive
// belongs there is /etc/fstab: a path at or below one of its mount points that is not mounted
// now (per /proc/self/mountinfo, which a bind mount and an automount point are in too) is
// refused, with what to do. Nothing is assumed without an fstab entry: a desktop's automounted
// drives (/media/USER/LABEL) are made and removed with their mount, and their missing folder is
// the missing parent. An existing mirror found there is refused too (the drive mounted there may
// have hidden an old one), unless a run with --force put it there (see copy.ts, BELOW_UNMOUNTED).
import fs from 'node:fs';
import path from 'node:path';
import { atOrBelow, readMounts, unescapeMountField } from './mount-place.js';

export const FSTAB = '/etc/fstab';

/**
 * The mount point of `fstab` that `p` (absolute, resolved) is at or below, that is not mounted
 * now, and that is deeper than the mount `p` is on (a drive mounted below an fstab point that
 * is not, cloud-init's /mnt say, holds `p` itself): the deepest.
 */
export function unmountedFstabPoint(p: string, fstab = FSTAB): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(fstab, 'latin1');
  } catch {
    return undefined;
  }
  const mounts = readMounts();
  if (!mounts) return undefined;
  const mounted = new Set(mounts.map((m) => m.mountPoint));
  // The mount `p` is on: the deepest mount point at or above it.
  const on = mounts.map((m) => m.mountPoint).filter((m) => atOrBelow(p, m)).reduce((a, b) => (b.length > a.length ? b : a), '/');
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2 || fields[0].startsWith('#')) continue;
    const listed = unescapeMountField(fields[1]);
    // "none" (swap), and the root, which is always mounted.
    if (!listed.startsWith('/') || listed === '/') continue;
    let at: string;
    try {
      at = fs.realpathSync(path.resolve(listed));
    } catch {
      continue; // no such folder: nothing can be below it, and a missing parent is refused apart
    }
    if (!atOrBelow(p, at) || mounted.has(at) || !(at !== on && atOrBelow(at, on))) continue;
    if (found === undefined || at.length > found.length) found = at;
  }
  return found;
}
