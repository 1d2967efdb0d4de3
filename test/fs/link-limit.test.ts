// fsFacts on real filesystems, loop-mounted: the type it names and the link limit it expects.
// The limit must never promise more links than the kernel gives (the copy splits at it), so
// where it is cheap enough the test also links until EMLINK and compares.
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

  it('vfat: linkMax 0, and link() is refused', (ctx) => {
    const m = useLoopMount(ctx, 'vfat', 32);
    const facts = fsFacts(realFsOps, m.dir);
    expect(facts).toMatchObject({ type: 'vfat', linkMax: 0 });
    expect(linkUntilRefused(m.dir, 1).code).toBe('EPERM');
  });

  it('the temp directory’s filesystem is recognised', () => {
    const facts = fsFacts(realFsOps, temp());
    expect(facts.type).not.toBe('unknown');
    expect(facts.linkMax).toBeGreaterThan(0);
  });
});
