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

export class Problems {
  count = 0;
  readonly kept: Problem[] = [];
  constructor(private readonly progress: Progress) {}

  add(rel: Buffer, what: string, err: unknown): void {
    this.count++;
    const code = errnoCode(err) ?? 'EIO';
    // Node's error messages hold the path as they were given it: raw, controls and all.
    const message = `${what} ${showPath(rel) || '.'}: ${printable((err as Error)?.message ?? String(err))}`;
    if (this.kept.length < MAX_KEPT_PROBLEMS) this.kept.push({ path: showPath(rel), code, message });
    this.progress.warn(message);
  }
}
