// Flushing and dropping the page cache between runs, so each tool reads the source from disk
// rather than from what the previous tool left in memory. Dropping needs root (writing 3 to
// /proc/sys/vm/drop_caches); without it the runs are warm-cache and the report says so.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { timeIt } from './timed-run.js';

/** `sync`: write out dirty pages, returning the seconds it took. */
export function syncDisks(): number {
  return timeIt(() => execFileSync('sync')).seconds;
}

/** Flush and drop clean caches; false when this process may not. */
export function dropCaches(): boolean {
  syncDisks();
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}
