// This boot's id (Linux's random boot_id): what tells one boot of the machine from the next,
// and one machine from another.
import fs from 'node:fs';

/** This boot's id, or undefined where there is none to read. */
export function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
