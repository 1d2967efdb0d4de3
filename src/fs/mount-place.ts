// Where a folder lives inside its filesystem, from /proc/self/mountinfo. A bind mount shows a
// folder of one filesystem at a second path: realpath leaves the two paths apart, and walking up
// one path's parents never meets the other when the bind is of a subfolder. The mount a path is
// on names the filesystem (major:minor) and the folder of it mounted there (its root); the rest
// of the path below the mount point completes the path inside the filesystem, which is the same
// for every path that shows that folder.
//
//   mount  = the entry whose mount point is the longest prefix of the path (stacked: the last)
//   inside = mount.root joined with the path below mount.mountPoint
//
// A btrfs's subvolumes have st_dev numbers of their own, but mountinfo gives every mount of the
// filesystem one major:minor and each subvolume's path as its root: compare mountinfo's device,
// never st_dev.
import fs from 'node:fs';
import path from 'node:path';

export interface MountEntry {
  /** major:minor of the filesystem. */
  device: string;
  /** The folder of the filesystem mounted here, from the filesystem's own root. */
  root: string;
  /** Where it is mounted, from this process's root. */
  mountPoint: string;
}

export interface MountPlace {
  device: string;
  /** The path inside the filesystem, from its own root. */
  inFs: string;
}

/**
 * mountinfo writes space, tab, newline and backslash as \ooo. Names are bytes: undone on latin1
 * text, then read as UTF-8 as realpath reads them, so the two compare as strings.
 */
export function unescapeMountField(field: string): string {
  const raw = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return Buffer.from(raw, 'latin1').toString('utf8');
}

/** This process's mounts, in mountinfo's order; undefined when it cannot be read (not Linux, no /proc). */
export function readMounts(): MountEntry[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo').toString('latin1');
  } catch {
    return undefined;
  }
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5 || !fields[4].startsWith('/')) continue;
    mounts.push({ device: fields[2], root: unescapeMountField(fields[3]), mountPoint: unescapeMountField(fields[4]) });
  }
  return mounts;
}

/** Whether `p` is `dir` or below it, by whole path components (both absolute and normalized). */
export function atOrBelow(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The filesystem and path inside it of `realPath` (an existing, resolved absolute path). */
export function mountPlace(mounts: readonly MountEntry[], realPath: string): MountPlace | undefined {
  let on: MountEntry | undefined;
  for (const m of mounts) {
    if (atOrBelow(realPath, m.mountPoint) && (!on || m.mountPoint.length >= on.mountPoint.length)) on = m;
  }
  if (!on) return undefined;
  const below = realPath.slice(on.mountPoint.length).replace(/^\/+/, '');
  return { device: on.device, inFs: below ? path.posix.join(on.root, below) : on.root };
}
