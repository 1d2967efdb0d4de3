// Checks of the destination made before any data is written: that it can hold hard links at all
// (a probe link in the state folder: vfat and exFAT answer EPERM or EOPNOTSUPP), and that the
// bytes and inodes the plan needs fit in what statfs says is free.
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno, NO_LINK_CODES } from '../fs/errno.js';
import type { FsFacts } from '../fs/link-limit.js';
import type { FsOps } from '../fs/ops.js';
import { formatBytes } from '../format.js';
import type { Plan } from './plan.js';

/**
 * Make a file and a hard link to it in `dir`; remove both. Throws DST_NO_HARDLINKS when refused.
 * Returns the destination's time granularity as timeGranularity() measures it on that file.
 */
export function probeHardLinks(ops: FsOps, dir: string, facts: FsFacts, plan: Plan): bigint {
  const a = path.join(dir, `probe-${process.pid}`);
  const b = `${a}-link`;
  const cleanup = () => {
    for (const p of [a, b]) {
      try {
        ops.unlink(p);
      } catch {
        // already gone
      }
    }
  };
  cleanup();
  const refuse = (cause?: unknown) =>
    new LinkmirrorError(
      'DST_NO_HARDLINKS',
      `destination filesystem (${facts.type}) cannot hold hard links; a copy without links would need ` +
        `${formatBytes(plan.logicalBytes)} (the source holds ${formatBytes(plan.physicalBytes)} with its links). ` +
        `Use a filesystem with hard links (ext4, xfs, btrfs, NTFS)`,
      { cause },
    );
  if (facts.linkMax === 0) throw refuse();
  try {
    writeEmpty(ops, a);
  } catch (err) {
    cleanup();
    throw new LinkmirrorError('DST_UNUSABLE', `cannot write to the destination: ${(err as Error).message}`, { cause: err });
  }
  try {
    ops.link(a, b);
  } catch (err) {
    cleanup();
    if (isErrno(err, ...NO_LINK_CODES)) throw refuse(err);
    throw new LinkmirrorError('DST_UNUSABLE', `cannot make a hard link in the destination: ${(err as Error).message}`, { cause: err });
  }
  let granularity = 0n;
  try {
    granularity = timeGranularity(ops, a);
  } catch {
    // a destination that takes files and links but not times is told by the copy itself
  }
  cleanup();
  return granularity;
}

/**
 * The unit a destination keeps times in, when it keeps less than what utimes(2) can carry
 * (microseconds, see fs/ops.ts): 0 then, else the largest difference of two probe times (one
 * just past a whole second, one just before the next) rounded up to its unit: a power of ten
 * below a second (exFAT's 10 ms), whole seconds above (ext2/3 with 128-byte inodes, HFS+,
 * ReiserFS: 1 s). A time comes back less than one unit off, whichever way the
 * filesystem rounds; verify allows that (see the manifest's 'dst_time_ns'), as copy --recheck
 * allows two seconds.
 */
export function timeGranularity(ops: FsOps, p: string): bigint {
  let most = 0n;
  for (const ns of [1_700_000_001_000_001_000n, 1_700_000_002_999_999_000n]) {
    ops.lutimes(p, ns, ns);
    const back = ops.lstat(p).mtimeNs;
    const off = back > ns ? back - ns : ns - back;
    if (off > most) most = off;
  }
  if (most < 1000n) return 0n;
  if (most >= SECOND) return ((most + SECOND - 1n) / SECOND) * SECOND;
  let unit = 1000n;
  while (unit < most) unit *= 10n;
  return unit;
}

const SECOND = 1_000_000_000n;

/** An empty regular file, made through the same ops as the copy so tests can fail it too. */
function writeEmpty(ops: FsOps, p: string): void {
  ops.copyFile('/dev/null', p);
}

/**
 * Refuse when the plan does not fit (unless forced). `unrecorded`: an interrupted run may have
 * left files the index does not count yet (written since its last commit), which this run takes
 * without copying them again: the plan counts them as needed, so the refusal says so.
 */
export function checkCapacity(facts: FsFacts, plan: Plan, force: boolean, unrecorded = false): void {
  const bytesShort = plan.bytesNeeded > facts.freeBytes;
  const inodesShort = facts.inodesLimited && BigInt(plan.inodesNeeded) > facts.freeInodes;
  if ((bytesShort || inodesShort) && !force) {
    throw new LinkmirrorError(
      'DST_TOO_SMALL',
      `destination has ${formatBytes(facts.freeBytes)} and ${facts.inodesLimited ? facts.freeInodes.toString() : 'unlimited'} inodes free; ` +
        `the copy needs ${formatBytes(plan.bytesNeeded)} and ${plan.inodesNeeded} inodes. ` +
        (unrecorded
          ? `Part of that may be on the drive already: the interrupted run's files written since its last commit (every 256 MiB or 10 s), which are taken, not copied again. Pass --force to go on, or free some space`
          : `Free some space, or pass --force to try anyway`),
    );
  }
}
