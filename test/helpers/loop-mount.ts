// Real filesystems for tests: a sparse image file, mkfs, and a mount, in a temp dir of its own
// (so parallel test files never share a mount point or an image). Where that cannot work —
// not root, no mkfs, no driver for the filesystem, no loop devices — the caller gets a reason
// to skip with, never a failure; a mkfs that fails on its arguments is a test bug and throws.
//
// Drivers: the kernel's (`mount -o loop`), or a FUSE daemon where the kernel has none, so that
// a container whose kernel lacks vfat still tests it:
//   vfat   the kernel's vfat when it has one (and it mounts), else fusefat on the image (mount
//          type fuse.fusefat)
//   exfat  exfat-fuse, even where the kernel has exfat; it needs a block device: a loop device
//          we attach (type fuseblk)
//   ntfs   ntfs-3g, on a loop device too (type fuseblk): a user's NTFS drive is a block device,
//          so fsFacts sees what it sees there (on an image file it would be plain `fuse`), and
//          a fuseblk umount waits for the daemon to write the volume back
// A FUSE daemon goes on after its umount: it is waited for (by its pid, found by its command
// line, which names our unique mount point), so a remount never runs two on one image.
//
// Unmounting retries (a just-closed file can keep the mount busy for a moment), then falls
// back to a lazy `umount -l` (then stops a FUSE daemon that would not go), detaches the loop
// devices left on the image and removes the image. Mounts still up when the process exits are
// undone then too.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'vitest';

export type LoopFsType = 'ext4' | 'ext2' | 'xfs' | 'btrfs' | 'vfat' | 'exfat' | 'ntfs';

/** What serves the mount: the kernel, or one of the FUSE daemons. */
export type LoopDriver = 'kernel' | 'fusefat' | 'exfat-fuse' | 'ntfs-3g';

type FuseDriver = Exclude<LoopDriver, 'kernel'>;

export interface LoopMount {
  /** The mount point: an empty directory (ext's lost+found is removed unless kept). */
  dir: string;
  fsType: LoopFsType;
  driver: LoopDriver;
  /** The image file behind the mount. */
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
  /**
   * ntfs: mount with ntfs-3g's `-o permissions`, which keeps POSIX modes and owners. Without it
   * (the usual mount of an NTFS drive) every mode reads 0777 and every owner 0:0, and
   * chmod/chown succeed without effect.
   */
  ntfsPermissions?: boolean;
}

/** The package with each type's mkfs. */
const PACKAGE: Record<LoopFsType, string> = {
  ext4: 'e2fsprogs',
  ext2: 'e2fsprogs',
  xfs: 'xfsprogs',
  btrfs: 'btrfs-progs',
  vfat: 'dosfstools',
  exfat: 'exfatprogs',
  ntfs: 'ntfs-3g',
};

/** Each FUSE driver: the program that mounts, and its package. */
const FUSE: Record<FuseDriver, { tool: string; pkg: string }> = {
  fusefat: { tool: 'fusefat', pkg: 'fusefat' },
  'exfat-fuse': { tool: 'mount.exfat-fuse', pkg: 'exfat-fuse' },
  'ntfs-3g': { tool: 'ntfs-3g', pkg: 'ntfs-3g' },
};

/** The FUSE driver for each type the helper can mount without the kernel's own driver. */
const FUSE_FOR: Partial<Record<LoopFsType, FuseDriver>> = { vfat: 'fusefat', exfat: 'exfat-fuse', ntfs: 'ntfs-3g' };

/** Types mounted through FUSE even when the kernel could (see the top of the file). */
const FUSE_ONLY: ReadonlySet<LoopFsType> = new Set(['exfat', 'ntfs']);

const MKFS_ARGS: Record<LoopFsType, string[]> = {
  ext4: ['-q', '-F'],
  ext2: ['-q', '-F'],
  xfs: ['-q', '-f'],
  btrfs: ['-q', '-f'],
  vfat: [],
  exfat: [],
  // -F: an image file is not a block device; -f: no zeroing of the volume.
  ntfs: ['-q', '-F', '-f'],
};

/** Smallest images the mkfs tools accept with their defaults. */
export const MIN_SIZE_MIB: Record<LoopFsType, number> = { ext4: 2, ext2: 1, xfs: 300, btrfs: 114, vfat: 1, exfat: 3, ntfs: 2 };

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

/** Why this FUSE driver cannot work here; undefined when it may. */
function fuseUnavailable(driver: FuseDriver): string | undefined {
  const { tool, pkg } = FUSE[driver];
  if (!findTool(tool)) return `${tool} not found (apt-get install ${pkg})`;
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    return `${driver} needs /dev/fuse (${(err as NodeJS.ErrnoException).code})`;
  }
  return undefined;
}

/** The drivers to try for a type, in order, or why there is none. */
function driversFor(fsType: LoopFsType): LoopDriver[] | { skip: string } {
  const drivers: LoopDriver[] = [];
  const reasons: string[] = [];
  if (!FUSE_ONLY.has(fsType)) {
    if (kernelHas(fsType)) drivers.push('kernel');
    else reasons.push(`the kernel has no ${fsType} support (not in /proc/filesystems, no module to load)`);
  }
  const fuse = FUSE_FOR[fsType];
  if (fuse) {
    const why = fuseUnavailable(fuse);
    if (why) reasons.push(why);
    else drivers.push(fuse);
  }
  return drivers.length > 0 ? drivers : { skip: `${fsType}: ${reasons.join('; ')}` };
}

/** Why a loop mount of this type cannot work here, from cheap checks; undefined when it may. */
export function loopMountUnavailable(fsType: LoopFsType): string | undefined {
  if (process.platform !== 'linux') return `loop mounts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return `loop mounts need root (running as uid ${process.getuid?.()})`;
  for (const tool of ['mount', 'umount', 'losetup']) {
    if (!findTool(tool)) return `${tool} not found`;
  }
  if (!findTool(`mkfs.${fsType}`)) return `mkfs.${fsType} not found (apt-get install ${PACKAGE[fsType]})`;
  const drivers = driversFor(fsType);
  return 'skip' in drivers ? drivers.skip : undefined;
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

/**
 * The FUSE daemon serving `dir`: the process whose arguments name it (our mount points are
 * unique temp paths). A daemon that has exited has no command line, even while a zombie (an
 * init that does not reap leaves it one), so this also tells whether it still runs.
 */
function daemonOf(dir: string): number | undefined {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (daemonRuns(Number(name), dir)) return Number(name);
  }
  return undefined;
}

function daemonRuns(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dir);
  } catch {
    return false;
  }
}

/** Wait up to `ms` for the daemon to exit; whether it did. */
function daemonExited(pid: number, dir: string, ms: number): boolean {
  for (let waited = 0; daemonRuns(pid, dir); waited += 50) {
    if (waited >= ms) return false;
    sleepMs(50);
  }
  return true;
}

/** What one mounting left to undo: the FUSE daemon and the loop device we attached for it. */
interface Plugged {
  pid?: number;
  device?: string;
}

interface Mounted {
  base: string;
  options: LoopOptions;
  plugged: Plugged;
}

const live = new Map<LoopMount, Mounted>();
let exitHook = false;

/** Attach a free loop device to the image; retried, as two processes may race for one. */
function attachLoop(image: string): string {
  for (let attempt = 0; ; attempt++) {
    try {
      return run('losetup', ['-f', '--show', image]).toString().trim();
    } catch (err) {
      if (attempt >= 2) throw err;
      sleepMs(200 * (attempt + 1));
    }
  }
}

function detachLoop(device: string): void {
  try {
    run('losetup', ['-d', device]);
  } catch {
    // already gone; a device still held is detached by the kernel when let go (autoclear)
  }
}

/** Mount the image on dir with the driver. Throws with the tool's words when it cannot. */
function plugIn(driver: LoopDriver, fsType: LoopFsType, image: string, dir: string, options: LoopOptions): Plugged {
  if (driver === 'kernel') {
    const opts = ['loop', ...(options.mountOptions ? [options.mountOptions] : [])].join(',');
    for (let attempt = 0; ; attempt++) {
      try {
        run('mount', ['-t', fsType, '-o', opts, image, dir]);
        return {};
      } catch (err) {
        // Two processes may race for the same free loop device: try again.
        if (attempt >= 2) throw err;
        sleepMs(200 * (attempt + 1));
      }
    }
  }
  const opts = [
    ...(driver === 'fusefat' ? ['rw+'] : []), // read-only unless told (its writing is marked experimental)
    ...(driver === 'ntfs-3g' && options.ntfsPermissions ? ['permissions'] : []),
    ...(options.mountOptions ? [options.mountOptions] : []),
  ];
  const device = driver === 'fusefat' ? undefined : attachLoop(image);
  try {
    // The daemon detaches from its terminal once the mount is up, so this returns then.
    run(FUSE[driver].tool, [...(opts.length > 0 ? ['-o', opts.join(',')] : []), device ?? image, dir]);
    if (!isMounted(dir)) throw new Error(`${FUSE[driver].tool} exited without mounting ${dir}`);
  } catch (err) {
    if (device) detachLoop(device);
    throw err;
  }
  return { pid: daemonOf(dir), device };
}

/** Unmount dir, retried, then lazily if it stays busy; whether it had to be lazy. */
function unmountDir(dir: string): boolean {
  for (let attempt = 0; attempt < 5 && isMounted(dir); attempt++) {
    try {
      run('umount', [dir]);
    } catch {
      sleepMs(100 * (attempt + 1));
    }
  }
  if (!isMounted(dir)) return false;
  try {
    run('umount', ['-l', dir]);
  } catch {
    // the image is still removed below
  }
  return true;
}

/**
 * After the umount: the daemon gone (stopped when it would not go) and the loop device detached.
 * A lazily unmounted FUSE filesystem keeps its daemon while a file on it is open: `lazy` waits
 * for it only a moment.
 */
function unplugged(p: Plugged, dir: string, lazy: boolean): void {
  if (p.pid !== undefined && !daemonExited(p.pid, dir, lazy ? 200 : 5000)) {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (!daemonRuns(p.pid, dir)) break;
      try {
        process.kill(p.pid, signal);
      } catch {
        // gone meanwhile
      }
      daemonExited(p.pid, dir, 2000);
    }
  }
  if (p.device) detachLoop(p.device);
}

function unmountAt(m: LoopMount, { base, plugged }: Mounted): void {
  unplugged(plugged, m.dir, unmountDir(m.dir));
  // mount -o loop sets autoclear; a lazy umount may leave the device until its last user goes.
  try {
    const out = run('losetup', ['-j', m.image]).toString();
    for (const line of out.split('\n')) {
      const dev = line.split(':')[0];
      if (dev) detachLoop(dev);
    }
  } catch {
    // losetup missing or nothing attached
  }
  fs.rmSync(base, { recursive: true, force: true });
}

/**
 * Unmount and mount again, as a drive unplugged and plugged back in (an ext4's journal is
 * replayed; a FUSE daemon exits and a new one starts, on a loop device attached anew). Retried
 * as mountLoop and unmount are: a file just closed can keep the mount busy for a moment, and
 * two processes can race for a free loop device.
 */
export function remount(m: LoopMount, options?: LoopOptions): void {
  const mounted = live.get(m);
  if (!mounted) throw new Error(`remount: ${m.dir} was unmounted`);
  // Plugged back in with other options (ntfs-3g's permissions, say), when given.
  if (options) mounted.options = options;
  for (let attempt = 0; isMounted(m.dir); attempt++) {
    try {
      run('umount', [m.dir]);
    } catch (err) {
      if (attempt >= 4) throw new Error(`umount ${m.dir} failed: ${stderrOf(err)}`);
      sleepMs(100 * (attempt + 1));
    }
  }
  const { pid, device } = mounted.plugged;
  mounted.plugged = {};
  // A second daemon on an image the first still writes would corrupt it.
  if (pid !== undefined && !daemonExited(pid, m.dir, 10_000)) throw new Error(`${m.driver} (pid ${pid}) still runs 10 s after the umount of ${m.dir}`);
  if (device) detachLoop(device);
  try {
    mounted.plugged = plugIn(m.driver, m.fsType, m.image, m.dir, mounted.options);
  } catch (err) {
    throw new Error(`mount ${m.image} on ${m.dir} (${m.driver}) failed: ${stderrOf(err)}`);
  }
}

/**
 * Make a sizeMiB image of fsType, format it (mkfsArgs go before the image path) and mount it
 * on a fresh directory. Returns { skip: reason } where the machine cannot do it.
 */
export function mountLoop(fsType: LoopFsType, sizeMiB: number, mkfsArgs: string[] = [], options: LoopOptions = {}): LoopMount | LoopSkip {
  const unavailable = loopMountUnavailable(fsType);
  if (unavailable) return { skip: unavailable };
  const drivers = driversFor(fsType) as LoopDriver[];
  // The real path: mountinfo lists mount points resolved.
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `linkmirror-loop-${fsType}-`)));
  const image = path.join(base, 'image');
  // Empty, as exfat-fuse requires.
  const dir = path.join(base, 'mnt');
  fs.mkdirSync(dir);
  let driver: LoopDriver | undefined;
  let plugged: Plugged = {};
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
    // The kernel's driver first; a FUSE one where the kernel's is missing or will not mount.
    const failures: string[] = [];
    for (const d of drivers) {
      try {
        plugged = plugIn(d, fsType, image, dir, options);
        driver = d;
        break;
      } catch (err) {
        const who = d === 'kernel' ? `cannot mount ${fsType} from a loop device here` : `${d} (package ${FUSE[d].pkg}) cannot mount ${fsType} here`;
        failures.push(`${who}: ${stderrOf(err).split('\n')[0]}`);
      }
    }
    if (!driver) {
      fs.rmSync(base, { recursive: true, force: true });
      return { skip: failures.join('; ') };
    }
  } catch (err) {
    fs.rmSync(base, { recursive: true, force: true });
    throw err;
  }
  if (!options.keepLostFound) fs.rmSync(path.join(dir, 'lost+found'), { recursive: true, force: true });

  const mount: LoopMount = {
    dir,
    fsType,
    driver,
    image,
    unmount() {
      const mounted = live.get(mount);
      if (!mounted) return;
      live.delete(mount);
      unmountAt(mount, mounted);
    },
  };
  live.set(mount, { base, options, plugged });
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const m of [...live.keys()]) m.unmount();
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
