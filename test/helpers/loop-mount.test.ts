// The loop-mount helper must leave nothing behind — no mount, no loop device, no image —
// even when a file on the mount is still open at unmount.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loopMountUnavailable, mountLoop, useLoopMount } from './loop-mount.js';

const mounted = (dir: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);

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
    const m = useLoopMount(ctx, 'ext4', 32);
    fs.writeFileSync(path.join(m.dir, 'open'), 'x');
    const fd = fs.openSync(path.join(m.dir, 'open'), 'r');
    try {
      m.unmount();
      expect(mounted(m.dir)).toBe(false);
      expect(fs.existsSync(m.image)).toBe(false);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('throws with mkfs’s words when the image is too small for it', () => {
    if (loopMountUnavailable('xfs')) return;
    expect(() => mountLoop('xfs', 16)).toThrow(/mkfs\.xfs .*16 MiB.*300 MiB/s);
  });

  it('explains why a type cannot be used, or mounts it', () => {
    // vfat is the one most often missing from a container's kernel.
    const m = mountLoop('vfat', 16);
    if ('skip' in m) {
      console.info(`vfat: ${m.skip}`);
      expect(m.skip).toMatch(/vfat/);
    } else {
      expect(mounted(m.dir)).toBe(true);
      m.unmount();
    }
  });
});
