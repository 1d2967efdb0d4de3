// The differences verify reports, in words a person (and a JSON reader) can use: printable
// paths, modes in octal, times as ISO dates to the nanosecond, hashes in hex. The store keeps
// them as SQL values; this is the one place that turns them into strings.
import { deviceName } from '../fs/dev-number.js';
import { showPath } from '../fs/paths.js';
import { typeName, type EntryType } from '../store/entry.js';
import type { Category, DiffRow } from '../store/verify-store.js';

export { CATEGORIES, type Category } from '../store/verify-store.js';

export interface Difference {
  category: Category | 'recorded-split' | 'kept' | 'linked-outside';
  /** The path (printable; '.' for the root); for an inode-level difference, the first of its paths. */
  path: string;
  /** Paths that share this difference: the paths of one inode (1 for missing and extra). */
  paths: number;
  /** What the source (or the manifest) has, and what the destination has. */
  expected?: string;
  actual?: string;
  /** Another path involved: one on another inode of the mirror (a split), or of the source (a merge). */
  other?: string;
}

const isoNs = (ns: bigint): string => {
  const ms = ns / 1_000_000n;
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return new Date(Number(ms)).toISOString().slice(0, 19) + '.' + frac.toString().padStart(9, '0') + 'Z';
};

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(Number(v)));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function words(category: DiffRow['category'], v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  switch (category) {
    case 'missing':
    case 'extra':
    case 'kept':
    case 'type': {
      if (typeof v !== 'string') return typeName(Number(v) as EntryType);
      // A device node's number as major:minor, as ls -l and /proc/devices have it.
      const dev = /^device (\d+)$/.exec(v);
      return dev ? `device ${deviceName(BigInt(dev[1]))}` : v;
    }
    case 'size':
      return `${big(v)} bytes`;
    case 'mode':
      return '0' + Number(v).toString(8).padStart(3, '0');
    case 'mtime':
      return isoNs(big(v));
    case 'symlink':
      return Buffer.isBuffer(v) ? showPath(v) : String(v);
    case 'content':
      return Buffer.isBuffer(v) ? v.toString('hex') : String(v);
    case 'link-split':
    case 'link-merged':
    case 'recorded-split':
      return plural(Number(v), 'inode');
    default:
      return String(v);
  }
}

export function differenceFrom(row: DiffRow): Difference {
  const d: Difference = { category: row.category, path: row.path.length === 0 ? '.' : showPath(row.path), paths: row.paths };
  const expected = words(row.category, row.expected);
  const actual = words(row.category, row.actual);
  if (expected !== undefined) d.expected = expected;
  if (actual !== undefined) d.actual = actual;
  if (row.other && !row.other.equals(row.path)) d.other = showPath(row.other);
  return d;
}
