// Real filesystems for tests: a sparse image file, mkfs, `mount -o loop`, in a temp dir of its
// own (so parallel test files never share a mount point or an image). Where that cannot work —
// not root, no mkfs, a kernel without the filesystem, no loop devices — the caller gets a
// reason to skip with, never a failure; a mkfs that fails on its arguments is a test bug and
// throws.
//
// Unmounting retries (a just-closed file can keep the mount busy for a moment), then falls
// back to a lazy `umount -l`, detaches a loop device left on the image and removes the image.
// Mounts still up when the process exits are undone then too.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'vitest';

export type LoopFsType = 'ext4' | 'ext2' | 'xfs' | 'btrfs' | 'vfat';

export interface LoopMount {
  /** The mount point: an empty directory (ext's lost+found is removed unless kept). */
  dir: string;
  fsType: LoopFsType;
  /** The image file behind the loop device. */
  image: string;
  /** Unmount and remove the image; safe to call more than once. */
  unmount(): void;
}

export interface LoopSkip {
  skip: string;
}

export interface LoopOptions {
  /** Keep ext2/ext4's lost+found directory in the mount point. */
  keepLostFound?: boolean;
  /** Extra `-o` options for mount, e.g. 'nodev'. */
  mountOptions?: string;
}

const PACKAGE: Record<LoopFsType, string> = {
  ext4: 'e2fsprogs',
  ext2: 'e2fsprogs',
  xfs: 'xfsprogs',
  btrfs: 'btrfs-progs',
  vfat: 'dosfstools',
};

const MKFS_ARGS: Record<LoopFsType, string[]> = {
  ext4: ['-q', '-F'],
  ext2: ['-q', '-F'],
  xfs: ['-q', '-f'],
  btrfs: ['-q', '-f'],
  vfat: [],
};

/** Smallest images the mkfs tools accept with their defaults. */
export const MIN_SIZE_MIB: Record<LoopFsType, number> = { ext4: 2, ext2: 1, xfs: 300, btrfs: 114, vfat: 1 };

/** The kernel's module directory for a filesystem, where it differs from the type name. */
const MODULE: Partial<Record<LoopFsType, string>> = { ext2: 'ext2', vfat: 'fat' };

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function kernelHas(fsType: LoopFsType): boolean {
  try {
    const known = fs.readFileSync('/proc/filesystems', 'utf8').split('\n').map((l) => l.trim().split(/\s+/).pop());
    if (known.includes(fsType)) return true;
  } catch {
    return false;
  }
  // Not loaded yet: it may still be a module that mount can load.
  const modules = path.join('/lib/modules', os.release(), 'kernel/fs', MODULE[fsType] ?? fsType);
  return fs.existsSync(modules);
}

/** Why a loop mount of this type cannot work here, from cheap checks; undefined when it may. */
export function loopMountUnavailable(fsType: LoopFsType): string | undefined {
  if (process.platform !== 'linux') return `loop mounts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return `loop mounts need root (running as uid ${process.getuid?.()})`;
  for (const tool of ['mount', 'umount', 'losetup']) {
    if (!findTool(tool)) return `${tool} not found`;
  }
  if (!findTool(`mkfs.${fsType}`)) return `mkfs.${fsType} not found (apt-get install ${PACKAGE[fsType]})`;
  if (!kernelHas(fsType)) return `the kernel has no ${fsType} support (not in /proc/filesystems, no module to load)`;
  return undefined;
}

const stderrOf = (err: unknown): string => {
  const e = err as { stderr?: Buffer | string; message?: string };
  const text = e.stderr?.toString().trim();
  return text || e.message || String(err);
};

const run = (tool: string, args: string[]) =>
  execFileSync(findTool(tool) ?? tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function isMounted(dir: string): boolean {
  try {
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => unescape(l.split(' ')[4] ?? '') === dir);
  } catch {
    return false;
  }
}

const live = new Set<LoopMount>();
let exitHook = false;

function unmountAt(base: string, dir: string, image: string): void {
  for (let attempt = 0; attempt < 5 && isMounted(dir); attempt++) {
    try {
      run('umount', [dir]);
    } catch {
      sleepMs(100 * (attempt + 1));
    }
  }
  if (isMounted(dir)) {
    try {
      run('umount', ['-l', dir]);
    } catch {
      // reported below if the loop device stays
    }
  }
  // mount -o loop sets autoclear; a lazy umount may leave the device until its last user goes.
  try {
    const out = run('losetup', ['-j', image]).toString();
    for (const line of out.split('\n')) {
      const dev = line.split(':')[0];
      if (dev) {
        try {
          run('losetup', ['-d', dev]);
        } catch {
          // already gone
        }
      }
    }
  } catch {
    // losetup missing or nothing attached
  }
  fs.rmSync(base, { recursive: true, force: true });
}

/**
 * Unmount and mount again, as a drive unplugged and plugged back in (an ext4's journal is
 * replayed). Retried as mountLoop and unmount are: a file just closed can keep the mount busy
 * for a moment, and two processes can race for a free loop device.
 */
export function remount(m: LoopMount): void {
  for (let attempt = 0; isMounted(m.dir); attempt++) {
    try {
      run('umount', [m.dir]);
    } catch (err) {
      if (attempt >= 4) throw new Error(`umount ${m.dir} failed: ${stderrOf(err)}`);
      sleepMs(100 * (attempt + 1));
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      run('mount', ['-t', m.fsType, '-o', 'loop', m.image, m.dir]);
      return;
    } catch (err) {
      if (attempt >= 2) throw new Error(`mount ${m.image} on ${m.dir} failed: ${stderrOf(err)}`);
      sleepMs(200 * (attempt + 1));
    }
  }
}

/**
 * Make a sizeMiB image of fsType, format it (mkfsArgs go before the image path) and mount it
 * on a fresh directory. Returns { skip: reason } where the machine cannot do it.
 */
export function mountLoop(fsType: LoopFsType, sizeMiB: number, mkfsArgs: string[] = [], options: LoopOptions = {}): LoopMount | LoopSkip {
  const unavailable = loopMountUnavailable(fsType);
  if (unavailable) return { skip: unavailable };
  // The real path: mountinfo lists mount points resolved.
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `linkmirror-loop-${fsType}-`)));
  const image = path.join(base, 'image');
  const dir = path.join(base, 'mnt');
  fs.mkdirSync(dir);
  try {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, sizeMiB * 1024 * 1024);
    try {
      run(`mkfs.${fsType}`, [...MKFS_ARGS[fsType], ...mkfsArgs, image]);
    } catch (err) {
      throw new Error(
        `mkfs.${fsType} ${mkfsArgs.join(' ')} on a ${sizeMiB} MiB image failed (smallest default size: ${MIN_SIZE_MIB[fsType]} MiB): ${stderrOf(err)}`,
      );
    }
    const opts = ['loop', ...(options.mountOptions ? [options.mountOptions] : [])].join(',');
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        run('mount', ['-t', fsType, '-o', opts, image, dir]);
        lastError = '';
        break;
      } catch (err) {
        // Two processes may race for the same free loop device: try again.
        lastError = stderrOf(err);
        sleepMs(200 * (attempt + 1));
      }
    }
    if (lastError) {
      fs.rmSync(base, { recursive: true, force: true });
      return { skip: `cannot mount ${fsType} from a loop device here: ${lastError.split('\n')[0]}` };
    }
  } catch (err) {
    fs.rmSync(base, { recursive: true, force: true });
    throw err;
  }
  if (!options.keepLostFound) fs.rmSync(path.join(dir, 'lost+found'), { recursive: true, force: true });

  const mount: LoopMount = {
    dir,
    fsType,
    image,
    unmount() {
      if (!live.delete(mount)) return;
      unmountAt(base, dir, image);
    },
  };
  live.add(mount);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const m of [...live]) m.unmount();
    });
  }
  return mount;
}

/**
 * In a test: mount, or skip the test with the reason (printed too), and unmount when the test
 * finishes. `it('…', (ctx) => { const m = useLoopMount(ctx, 'ext4', 64); … })`.
 */
export function useLoopMount(
  ctx: TestContext,
  fsType: LoopFsType,
  sizeMiB: number,
  mkfsArgs: string[] = [],
  options: LoopOptions = {},
): LoopMount {
  const m = mountLoop(fsType, sizeMiB, mkfsArgs, options);
  if ('skip' in m) {
    console.warn(`skipped "${ctx.task.name}": ${m.skip}`);
    return ctx.skip(m.skip);
  }
  ctx.onTestFinished(() => m.unmount());
  return m;
}

/** The bytes free to an unprivileged writer on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const st = fs.statfsSync(dir, { bigint: true });
  return Number(st.bavail * st.bsize);
}

/** Fill the filesystem holding `dir` with one file, `name`, until `bytes` stay free (no more than were free). */
export function leaveFree(dir: string, bytes: number, name = 'ballast'): void {
  fs.writeFileSync(path.join(dir, name), Buffer.alloc(Math.max(0, freeBytes(dir) - bytes)));
}
