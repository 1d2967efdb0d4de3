// Per-path problems: reported, counted, and the run goes on. Only the first ones are kept in
// memory (a tree where every file fails must not grow the process); the count is exact.
import { errnoCode } from './fs/errno.js';
import { printable, showPath } from './fs/paths.js';
import type { Progress } from './progress.js';

export interface Problem {
  path: string;
  code: string;
  message: string;
}

export const MAX_KEPT_PROBLEMS = 1000;

/** Calls whose EINVAL, on the destination, is a name it refuses (see NAME_INVALID). */
const NAMING_CALLS = new Set(['rename', 'link', 'mkdir']);
const NAME_INVALID =
  'the filesystem cannot hold this name (EINVAL: FAT, exFAT and NTFS mounted with windows_names refuse \\ : * ? " < > | and names that end in a dot or a space); rename it in the source, or copy to a Linux filesystem (ext4, xfs, btrfs)';
const NAME_REFUSED =
  'the filesystem cannot hold this name (EILSEQ: it takes only valid UTF-8 names); rename it in the source, or copy to a Linux filesystem (ext4, xfs, btrfs)';

export class Problems {
  count = 0;
  readonly kept: Problem[] = [];
  constructor(private readonly progress: Progress) {}

  add(rel: Buffer, what: string, err: unknown): void {
    this.count++;
    const code = errnoCode(err) ?? 'EIO';
    // Node's error messages hold the path as they were given it: raw, controls and all. A name
    // the destination refuses (NTFS and exFAT store UTF-16: ntfs-3g answers EILSEQ for bytes that
    // are not UTF-8) is said as such; Node's message would show it mangled, beside a temp name.
    const syscall = (err as { syscall?: string } | undefined)?.syscall;
    const why =
      code === 'EILSEQ' ? NAME_REFUSED
      : code === 'EINVAL' && syscall !== undefined && NAMING_CALLS.has(syscall) ? NAME_INVALID
      : printable((err as Error)?.message ?? String(err));
    const message = `${what} ${showPath(rel) || '.'}: ${why}`;
    if (this.kept.length < MAX_KEPT_PROBLEMS) this.kept.push({ path: showPath(rel), code, message });
    this.progress.warn(message);
  }
}
