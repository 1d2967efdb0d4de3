// fsFacts on real filesystems, loop-mounted: the type it names and the link limit it expects.
// The limit should not promise more links than the kernel gives (the plan counts splits by it),
// so where it is cheap enough the test also links until EMLINK and compares. vfat, exFAT and
// NTFS are served by FUSE daemons where the kernel has no driver (see test/helpers/loop-mount.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsFacts } from '../../src/fs/link-limit.js';
import { realFsOps } from '../../src/fs/ops.js';
import { useLoopMount, type LoopFsType } from '../helpers/loop-mount.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** Link one file until link() fails; the nlink reached and the error code. */
function linkUntilRefused(dir: string, max: number): { nlink: number; code: string | undefined } {
  const f = path.join(dir, 'f');
  fs.writeFileSync(f, 'x');
  let code: string | undefined;
  for (let i = 1; i <= max; i++) {
    try {
      fs.linkSync(f, path.join(dir, `l${i}`));
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
      break;
    }
  }
  return { nlink: fs.lstatSync(f).nlink, code };
}

const CASES: { fsType: LoopFsType; sizeMiB: number; type: string; linkMax: number; inodesLimited: boolean }[] = [
  { fsType: 'ext4', sizeMiB: 64, type: 'ext4', linkMax: 65000, inodesLimited: true },
  { fsType: 'ext2', sizeMiB: 64, type: 'ext2', linkMax: 32000, inodesLimited: true },
  { fsType: 'xfs', sizeMiB: 300, type: 'xfs', linkMax: 2 ** 31 - 1, inodesLimited: true },
  { fsType: 'btrfs', sizeMiB: 128, type: 'btrfs', linkMax: 65535, inodesLimited: false },
];

describe('fsFacts', () => {
  for (const c of CASES) {
    it(`${c.fsType}: type ${c.type}, linkMax ${c.linkMax}`, (ctx) => {
      const m = useLoopMount(ctx, c.fsType, c.sizeMiB);
      const facts = fsFacts(realFsOps, m.dir);
      expect(facts).toMatchObject({ type: c.type, linkMax: c.linkMax, inodesLimited: c.inodesLimited });
      expect(facts.blockSize).toBeGreaterThan(0n);
      expect(facts.freeBytes).toBeGreaterThan(0n);
      expect(facts.freeBytes).toBeLessThanOrEqual(BigInt(c.sizeMiB) * 1024n * 1024n);
      // A Buffer path gives the same answer.
      expect(fsFacts(realFsOps, Buffer.from(m.dir)).type).toBe(c.type);
    });
  }

  // ext2 may be served by the ext4 driver (CONFIG_EXT4_USE_FOR_EXT2), which allows 65000:
  // 32000 is then low, which costs extra splits but never a failed link.
  for (const c of CASES.filter((x) => x.linkMax <= 65535)) {
    it(`${c.fsType}: link() gives at least linkMax links, and then EMLINK`, (ctx) => {
      const m = useLoopMount(ctx, c.fsType, c.sizeMiB);
      const { linkMax } = fsFacts(realFsOps, m.dir);
      const { nlink, code } = linkUntilRefused(m.dir, 70000);
      expect(code).toBe('EMLINK');
      expect(nlink).toBeGreaterThanOrEqual(linkMax);
      if (nlink !== linkMax) console.info(`${c.fsType}: the kernel allows ${nlink} links, fsFacts expects ${linkMax}`);
    });
  }

  // fusefat shows as fuse.fusefat, which fsFacts knows for vfat.
  it('vfat: linkMax 0, and link() is refused', (ctx) => {
    const m = useLoopMount(ctx, 'vfat', 32);
    const facts = fsFacts(realFsOps, m.dir);
    expect(facts).toMatchObject({ type: 'vfat', linkMax: 0 });
    expect(linkUntilRefused(m.dir, 1).code).toBe('EPERM');
  });

  // exfat-fuse and ntfs-3g show as plain fuseblk: fsFacts cannot tell which filesystem that is,
  // and claims no limit; the copy's probe link() finds exfat's refusal (see src/fs/link-limit.ts).
  it('exfat (exfat-fuse): fuseblk, no limit claimed, and link() is refused', (ctx) => {
    const m = useLoopMount(ctx, 'exfat', 16);
    const facts = fsFacts(realFsOps, m.dir);
    expect(facts).toMatchObject({ type: 'fuseblk', linkMax: Infinity });
    expect(linkUntilRefused(m.dir, 1).code).toBe('EPERM');
  });

  // Linking until ntfs-3g refuses (ERANGE, past 8188) takes minutes: a few links show it links.
  it('ntfs (ntfs-3g): fuseblk, no limit claimed, and link() makes one inode of many paths', (ctx) => {
    const m = useLoopMount(ctx, 'ntfs', 16, [], { ntfsPermissions: true });
    const facts = fsFacts(realFsOps, m.dir);
    expect(facts).toMatchObject({ type: 'fuseblk', linkMax: Infinity });
    expect(facts.freeBytes).toBeGreaterThan(0n);
    fs.mkdirSync(path.join(m.dir, 'd'));
    const { nlink, code } = linkUntilRefused(m.dir, 20);
    fs.linkSync(path.join(m.dir, 'f'), path.join(m.dir, 'd', 'elsewhere'));
    expect(code).toBeUndefined();
    expect(nlink).toBe(21);
    const ino = fs.lstatSync(path.join(m.dir, 'f'), { bigint: true }).ino;
    expect(fs.lstatSync(path.join(m.dir, 'l20'), { bigint: true }).ino).toBe(ino);
    expect(fs.lstatSync(path.join(m.dir, 'd', 'elsewhere'), { bigint: true })).toMatchObject({ ino, nlink: 22n });
  });

  it('the temp directory’s filesystem is recognised', () => {
    const facts = fsFacts(realFsOps, temp());
    expect(facts.type).not.toBe('unknown');
    expect(facts.linkMax).toBeGreaterThan(0);
  });
});
