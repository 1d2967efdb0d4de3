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

/** The probe's files in the state folder; a run removes any it finds (one killed mid-probe leaves them). */
export const PROBE_PREFIX = 'probe-';

/** Types that name only how a filesystem is served (see fs/link-limit.ts). */
const FUSE_NAMES = new Set(['fuse', 'fuseblk']);

/** DST_NO_HARDLINKS, with what a copy without links would need. */
export function noHardLinks(facts: FsFacts, plan: Plan, cause?: unknown): LinkmirrorError {
  return new LinkmirrorError(
    'DST_NO_HARDLINKS',
    `destination filesystem (${FUSE_NAMES.has(facts.type) ? `${facts.type}: a FUSE filesystem such as exFAT` : facts.type}) cannot hold hard links; a copy without links would need ` +
      `${formatBytes(plan.logicalBytes)} (the source holds ${formatBytes(plan.physicalBytes)} with its links). ` +
      `Use a filesystem with hard links (ext4, xfs, btrfs, NTFS)`,
    { cause },
  );
}

/**
 * Before a new mirror's index is made on the destination: the error a probe link in `dir` got
 * when the filesystem cannot hold links (FAT, exFAT), else undefined. The index waits for this
 * because it may not work there at all (fusefat refuses to grow a file by truncate, so SQLite's
 * checkpoint fails as "disk I/O error"), which would hide the reason behind a wrong one.
 */
export function linksRefused(ops: FsOps, dir: string): unknown {
  const probe = probeFiles(ops, dir);
  try {
    writeEmpty(ops, probe.file);
    ops.link(probe.file, probe.link);
    return undefined;
  } catch (err) {
    if (isErrno(err, ...NO_LINK_CODES)) return err;
    return undefined; // the probe after the scan says what else is wrong, as it did before
  } finally {
    probe.remove();
  }
}

/** The probe's file and link in `dir` (a killed run's of this pid removed first), and their removal. */
export function probeFiles(ops: FsOps, dir: string): { file: string; link: string; remove: () => void } {
  const file = path.join(dir, `${PROBE_PREFIX}${process.pid}`);
  const link = `${file}-link`;
  const remove = () => {
    for (const p of [file, link]) {
      try {
        ops.unlink(p);
      } catch {
        // not made, or gone
      }
    }
  };
  remove();
  return { file, link, remove };
}

/** What the destination keeps of a file's metadata, as the probe found. */
export interface DestinationKeeps {
  /** Its time unit, when coarser than a microsecond (see timeGranularity); else 0. */
  timeUnit: bigint;
  /** Whether it rounds times down to that unit (every probe time came back at or below what was set). */
  timesDown: boolean;
  /** Permission bits: false where every file reads back alike (ntfs-3g without -o permissions: 0777). */
  modes: boolean;
  /** Owner and group (asked only when the copy sets them): false where a chown does not take. */
  owners: boolean;
}

/** Modes and owners the probe sets: the first, or the second where the file has the first already. */
const PROBE_MODES = [0o640, 0o604] as const;
const PROBE_IDS = [65534, 65533] as const;

/**
 * Make a file and a hard link to it in `dir`; remove both. Throws DST_NO_HARDLINKS when refused.
 * Returns what the destination keeps of the metadata set on that file: its time unit, and
 * whether a chmod (and, when `owners`, a chown) took.
 */
export function probeHardLinks(ops: FsOps, dir: string, facts: FsFacts, plan: Plan, owners = false): DestinationKeeps {
  const { file: a, link: b, remove: cleanup } = probeFiles(ops, dir);
  const refuse = (cause?: unknown) => noHardLinks(facts, plan, cause);
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
  const keeps: DestinationKeeps = { timeUnit: 0n, timesDown: false, modes: true, owners: true };
  try {
    const t = timeGranularity(ops, a);
    keeps.timeUnit = t.unit;
    keeps.timesDown = t.down;
  } catch {
    // a destination that takes files and links but not times is told by the copy itself
  }
  Object.assign(keeps, metadataKept(ops, a, owners));
  cleanup();
  return keeps;
}

/**
 * Whether the file at `p` keeps a mode (and, with `owners`, an owner) set on it. Some
 * filesystems take a chmod or chown and keep nothing of it (ntfs-3g mounted without
 * `permissions`, a CIFS share, FAT): every file would differ from its source in verify, run
 * after run. The copy says so once, and verify leaves out what the destination cannot hold.
 * The values set are ones the file does not have already: a drive that shows every file as
 * 0640, or as owned by nobody (root squashed on NFS, a FAT mount's uid=), would otherwise pass.
 */
export function metadataKept(ops: FsOps, p: string, owners: boolean): { modes: boolean; owners: boolean } {
  const kept = { modes: true, owners: true };
  let before: { mode: bigint; uid: bigint; gid: bigint };
  try {
    before = ops.lstat(p);
  } catch {
    return kept; // nothing to judge by: what the copies recorded stands
  }
  try {
    const mode = Number(before.mode & 0o7777n) === PROBE_MODES[0] ? PROBE_MODES[1] : PROBE_MODES[0];
    ops.chmod(p, mode);
    kept.modes = Number(ops.lstat(p).mode & 0o7777n) === mode;
  } catch {
    kept.modes = false;
  }
  if (owners) {
    const id = Number(before.uid) === PROBE_IDS[0] || Number(before.gid) === PROBE_IDS[0] ? PROBE_IDS[1] : PROBE_IDS[0];
    try {
      ops.lchown(p, id, id);
      const st = ops.lstat(p);
      kept.owners = Number(st.uid) === id && Number(st.gid) === id;
    } catch {
      kept.owners = false;
    }
  }
  return kept;
}

/** The warning a copy gives when the destination keeps no modes or owners; undefined when it keeps both. */
export function keepsWarning(keeps: DestinationKeeps, facts: FsFacts): string | undefined {
  const lost = [...(keeps.modes ? [] : ['permission bits']), ...(keeps.owners ? [] : ['owners'])];
  if (lost.length === 0) return undefined;
  return `the destination (${facts.type}) does not keep ${lost.join(' or ')} (what is set on a file reads back otherwise): they are not copied, and verify does not compare them; ` +
    `an NTFS drive keeps them when mounted with ntfs-3g's -o permissions, and the next copy then sets them`;
}

/**
 * The unit a destination keeps times in, when it keeps less than what utimes(2) can carry
 * (microseconds, see fs/ops.ts): 0 then, else the largest difference of two probe times (one
 * just past a whole second, one just before the next) rounded up to its unit: a power of ten
 * below a second (exFAT's 10 ms), whole seconds above (ext2/3 with 128-byte inodes, HFS+,
 * ReiserFS: 1 s). A time comes back less than one unit off, whichever way the filesystem rounds;
 * copy --recheck allows two seconds. `down`: both came back at or below what was set (the
 * filesystem drops what its unit cannot hold, as every one above does), so verify can allow a
 * unit below the source's time and none above it (allowed either way, a mirror file's mtime
 * moved on by a second passed).
 */
export function timeGranularity(ops: FsOps, p: string): { unit: bigint; down: boolean } {
  let most = 0n;
  let down = true;
  for (const ns of [1_700_000_001_000_001_000n, 1_700_000_002_999_999_000n]) {
    ops.lutimes(p, ns, ns);
    const back = ops.lstat(p).mtimeNs;
    if (back > ns) down = false;
    const off = back > ns ? back - ns : ns - back;
    if (off > most) most = off;
  }
  if (most < 1000n) return { unit: 0n, down: false };
  if (most >= SECOND) return { unit: ((most + SECOND - 1n) / SECOND) * SECOND, down };
  let unit = 1000n;
  while (unit < most) unit *= 10n;
  return { unit, down };
}

const SECOND = 1_000_000_000n;

/** An empty regular file (never over an existing one), made through the same ops as the copy so tests can fail it too. */
export function writeEmpty(ops: FsOps, p: string): void {
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
        `the copy needs ${formatBytes(plan.bytesNeeded)}${plan.holeBytes > 0n ? ` (not counting ${formatBytes(plan.holeBytes)} of holes in sparse files, which are kept)` : ''} and ${plan.inodesNeeded} inodes. ` +
        (unrecorded
          ? `Part of that may be on the drive already: the interrupted run's files written since its last commit (every 256 MiB or 10 s), which are taken, not copied again. Pass --force to go on, or free some space`
          : `Free some space, or pass --force to try anyway`),
    );
  }
}
