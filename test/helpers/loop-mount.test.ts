// The loop-mount helper must leave nothing behind — no mount, no loop device, no image, no FUSE
// daemon — even when a file on the mount is still open at unmount.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopMountUnavailable, mountLoop, remount, useLoopMount, type LoopMount } from './loop-mount.js';

const mounted = (dir: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);

/** Unmount `m` while a file on it is held open: it must still go, with its image. */
function unmountBusy(m: LoopMount): void {
  fs.writeFileSync(path.join(m.dir, 'open'), 'x');
  const fd = fs.openSync(path.join(m.dir, 'open'), 'r');
  try {
    m.unmount();
    expect(mounted(m.dir)).toBe(false);
    expect(fs.existsSync(m.image)).toBe(false);
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // a FUSE daemon behind it was stopped
    }
  }
}

/** mountinfo's type of the mount on dir (vfat, fuse.fusefat, fuseblk, …). */
const mountTypeOf = (dir: string) => {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);
  const fields = line?.split(' ') ?? [];
  return fields[fields.indexOf('-') + 1];
};

/** The pid of a process (a FUSE daemon) whose arguments name dir. */
const daemonOf = (dir: string) =>
  fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .find((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dir);
      } catch {
        return false;
      }
    });

const loopOf = (image: string) => {
  try {
    return execFileSync('losetup', ['-j', image], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

describe('mountLoop', () => {
  it('mounts an empty ext4 and cleans up after itself', (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 32);
    expect(mounted(m.dir)).toBe(true);
    expect(fs.readdirSync(m.dir)).toEqual([]);
    fs.writeFileSync(path.join(m.dir, 'x'), 'data');
    const base = path.dirname(m.dir);
    m.unmount();
    expect(mounted(m.dir)).toBe(false);
    expect(fs.existsSync(base)).toBe(false);
    expect(loopOf(m.image)).toBe('');
    m.unmount(); // a second call is harmless
  });

  it('keeps lost+found when asked', (ctx) => {
    const m = useLoopMount(ctx, 'ext2', 16, [], { keepLostFound: true });
    expect(fs.readdirSync(m.dir)).toEqual(['lost+found']);
  });

  it('unmounts a busy filesystem lazily and still removes the image', (ctx) => {
    unmountBusy(useLoopMount(ctx, 'ext4', 32));
  });

  it('throws with mkfs’s words when the image is too small for it', () => {
    if (loopMountUnavailable('xfs')) return;
    expect(() => mountLoop('xfs', 16)).toThrow(/mkfs\.xfs .*16 MiB.*300 MiB/s);
  });

  it('explains why a type cannot be used, or mounts it', () => {
    // vfat is the one most often missing from a container's kernel; fusefat serves it then.
    const m = mountLoop('vfat', 16);
    if ('skip' in m) {
      console.info(`vfat: ${m.skip}`);
      expect(m.skip).toMatch(/vfat/);
    } else {
      expect(mounted(m.dir)).toBe(true);
      m.unmount();
    }
  });

  // The FUSE-served types: the daemon goes with the umount, and so does the loop device that
  // exfat-fuse and ntfs-3g are given. vfat is FUSE only where the kernel has no vfat.
  const FUSE_CASES = [
    { fsType: 'vfat', sizeMiB: 16, driver: /^(kernel|fusefat)$/, mountType: /^(vfat|fuse\.fusefat)$/ },
    { fsType: 'exfat', sizeMiB: 16, driver: /^exfat-fuse$/, mountType: /^fuseblk$/ },
    { fsType: 'ntfs', sizeMiB: 16, driver: /^ntfs-3g$/, mountType: /^fuseblk$/ },
  ] as const;
  for (const c of FUSE_CASES) {
    it(`mounts an empty ${c.fsType} and cleans up after itself`, (ctx) => {
      const m = useLoopMount(ctx, c.fsType, c.sizeMiB);
      expect(m.driver).toMatch(c.driver);
      expect(mountTypeOf(m.dir)).toMatch(c.mountType);
      expect(fs.readdirSync(m.dir)).toEqual([]);
      fs.writeFileSync(path.join(m.dir, 'x'), 'data');
      const base = path.dirname(m.dir);
      const daemon = daemonOf(m.dir);
      if (m.driver !== 'kernel') expect(daemon).toBeDefined();
      m.unmount();
      expect(mounted(m.dir)).toBe(false);
      expect(fs.existsSync(base)).toBe(false);
      expect(loopOf(m.image)).toBe('');
      expect(daemonOf(m.dir)).toBeUndefined();
    });
  }

  it('ntfs keeps modes and owners with ntfsPermissions, and only then', (ctx) => {
    const plain = useLoopMount(ctx, 'ntfs', 16);
    const kept = useLoopMount(ctx, 'ntfs', 16, [], { ntfsPermissions: true });
    for (const m of [plain, kept]) {
      const f = path.join(m.dir, 'f');
      fs.writeFileSync(f, 'x');
      fs.chmodSync(f, 0o640);
      fs.chownSync(f, 1234, 5678);
    }
    expect(fs.statSync(path.join(plain.dir, 'f'))).toMatchObject({ mode: 0o100777, uid: 0, gid: 0 });
    expect(fs.statSync(path.join(kept.dir, 'f'))).toMatchObject({ mode: 0o100640, uid: 1234, gid: 5678 });
  });

  it('remounts a FUSE-served filesystem with what was written on it', (ctx) => {
    const m = useLoopMount(ctx, 'ntfs', 16, [], { ntfsPermissions: true });
    fs.writeFileSync(path.join(m.dir, 'kept'), 'data');
    fs.chmodSync(path.join(m.dir, 'kept'), 0o600);
    const before = daemonOf(m.dir);
    remount(m);
    expect(mountTypeOf(m.dir)).toBe('fuseblk');
    const after = daemonOf(m.dir);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(fs.readFileSync(path.join(m.dir, 'kept'), 'utf8')).toBe('data');
    expect(fs.statSync(path.join(m.dir, 'kept')).mode & 0o777).toBe(0o600);
    m.unmount();
    expect(loopOf(m.image)).toBe('');
    expect(daemonOf(m.dir)).toBeUndefined();
  });

  it('unmounts a busy FUSE mount lazily, stops its daemon and detaches its loop device', (ctx) => {
    const m = useLoopMount(ctx, 'exfat', 16);
    unmountBusy(m);
    expect(daemonOf(m.dir)).toBeUndefined();
    expect(loopOf(m.image)).toBe('');
  });
});
