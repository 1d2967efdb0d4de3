// faultyOps: the real filesystem operations with failures injected where a test says, so the
// pipeline's error paths run against real trees: the N-th link() fails with EMLINK, every copy
// after the third with ENOSPC, every link with EPERM, readdir of one path with EACCES.
// The errors look like Node's own (message, code, errno, syscall, path, dest), because the
// code under test matches them by code. Calls and failures are counted per operation.
import fs from 'node:fs';
import os from 'node:os';
import util from 'node:util';
import { realFsOps, type FsOps, type Path } from '../../src/fs/ops.js';

export type OpName = keyof FsOps;

/** Which path a fault is about: exact bytes, a RegExp on the UTF-8 text, or a predicate. */
export type PathMatch = string | Buffer | RegExp | ((p: Buffer) => boolean);

export interface Fault {
  op: OpName;
  /** The errno name to throw, e.g. 'EMLINK', 'ENOSPC', 'EPERM', 'EACCES', 'EIO'. */
  code: string;
  /** Fail only the n-th matching call (1-based). */
  nth?: number;
  /** Fail every matching call after the first `after` of them. Without nth or after: every matching call. */
  after?: number;
  /** Only calls whose (first) path matches count: link's existing, copyFile's src, rename's from, symlink's path. */
  path?: PathMatch;
  /** Only calls whose second path matches count: link's created, copyFile's dst, rename's to. */
  dest?: PathMatch;
  /** Only calls for which this returns true count (it gets the call's arguments). */
  when?: (...args: any[]) => boolean;
  /** copyFile only: leave the first half of the content at dst before failing, like a disk filling mid-write. */
  partial?: boolean;
}

export type FaultyOps = FsOps & {
  /** Calls per operation, failed ones included. */
  readonly calls: Record<OpName, number>;
  /** Injected failures per operation. */
  readonly failures: Record<OpName, number>;
};

const SYSCALL: Record<OpName, string> = {
  lstat: 'lstat',
  readdir: 'scandir',
  readdirKinds: 'scandir',
  readdirInodes: 'getdents64',
  readlink: 'readlink',
  mkdir: 'mkdir',
  copyFile: 'copyfile',
  link: 'link',
  symlink: 'symlink',
  mknod: 'mknod',
  rename: 'rename',
  unlink: 'unlink',
  rmdir: 'rmdir',
  chmod: 'chmod',
  canWriteIn: 'access',
  lchown: 'lchown',
  lutimes: 'lutime',
  statfs: 'statfs',
  syncfs: 'syncfs',
  openRead: 'open',
  read: 'read',
  close: 'close',
};

const OPS = Object.keys(SYSCALL) as OpName[];

const asBytes = (p: unknown): Buffer | undefined =>
  Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : undefined;

/** The (path, dest) arguments of a call, by operation. */
function pathsOf(op: OpName, args: unknown[]): [Buffer | undefined, Buffer | undefined] {
  switch (op) {
    case 'copyFile':
    case 'link':
    case 'rename':
      return [asBytes(args[0]), asBytes(args[1])];
    case 'symlink':
      return [asBytes(args[1]), undefined];
    case 'read':
    case 'close':
      return [undefined, undefined];
    default:
      return [asBytes(args[0]), undefined];
  }
}

function matches(m: PathMatch | undefined, p: Buffer | undefined): boolean {
  if (m === undefined) return true;
  if (p === undefined) return false;
  if (typeof m === 'function') return m(p);
  if (m instanceof RegExp) return m.test(p.toString('utf8'));
  return Buffer.from(m).equals(p);
}

/** An Error shaped like the one Node throws for this errno from this syscall. */
export function errnoError(code: string, syscall: string, path?: Path, dest?: Path): NodeJS.ErrnoException {
  const num = (os.constants.errno as Record<string, number>)[code];
  if (num === undefined) throw new Error(`errnoError: unknown errno name ${code}`);
  const description = util.getSystemErrorMap().get(-num)?.[1] ?? code.toLowerCase();
  const show = (p: Path) => (typeof p === 'string' ? p : p.toString('utf8'));
  let message = `${code}: ${description}, ${syscall}`;
  if (path !== undefined) message += ` '${show(path)}'`;
  if (dest !== undefined) message += ` -> '${show(dest)}'`;
  const err: NodeJS.ErrnoException = new Error(message);
  err.errno = -num;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = show(path);
  if (dest !== undefined) (err as { dest?: string }).dest = show(dest);
  return err;
}

/** A fault that makes link() behave as on a filesystem whose inodes hold at most `max` links. */
export function linkLimit(max: number, base: FsOps = realFsOps): Fault {
  return { op: 'link', code: 'EMLINK', when: (existing: Path) => Number(base.lstat(existing).nlink) >= max };
}

export function faultyOps(base: FsOps, faults: Fault | readonly Fault[]): FaultyOps {
  const list = Array.isArray(faults) ? (faults as readonly Fault[]) : [faults as Fault];
  const seen = list.map(() => 0);
  const calls = Object.fromEntries(OPS.map((op) => [op, 0])) as Record<OpName, number>;
  const failures = Object.fromEntries(OPS.map((op) => [op, 0])) as Record<OpName, number>;

  const wrap = (op: OpName) =>
    (...args: unknown[]): unknown => {
      calls[op]++;
      const [p, dest] = pathsOf(op, args);
      for (let i = 0; i < list.length; i++) {
        const f = list[i];
        if (f.op !== op || !matches(f.path, p) || !matches(f.dest, dest)) continue;
        if (f.when && !f.when(...args)) continue;
        const n = ++seen[i];
        const fire = f.nth !== undefined ? n === f.nth : f.after !== undefined ? n > f.after : true;
        if (!fire) continue;
        failures[op]++;
        if (op === 'copyFile' && f.partial) {
          const content = fs.readFileSync(args[0] as Path);
          fs.writeFileSync(args[1] as Path, content.subarray(0, Math.floor(content.length / 2)), { flag: 'wx' });
        }
        // Node names symlink's target first: symlink 'target' -> 'path'.
        const [shown, shownDest] = op === 'symlink' ? [args[0], args[1]] : [p && args[0], dest && args[1]];
        throw errnoError(f.code, SYSCALL[op], shown as Path | undefined, shownDest as Path | undefined);
      }
      return (base[op] as (...a: unknown[]) => unknown).apply(base, args);
    };

  const ops = Object.fromEntries(OPS.map((op) => [op, wrap(op)])) as unknown as FsOps;
  return Object.assign(ops, { calls, failures });
}
