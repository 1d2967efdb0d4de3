// The order of src rows, and the ids that keep it when a rescan inserts rows between old ones.
//
// A scan lists each directory's names sorted bytewise and goes depth first, so the order of two
// paths is decided by their first differing component, and a path comes before everything
// below it. That is not the bytewise order of whole paths: "a.x" sorts before "a/b" as bytes
// ('.' < '/'), but the walk gives "a/b" first (a's children come before the sibling "a.x").

const SLASH = 0x2f;

/**
 * Negative when the walk gives path `a` before path `b`, 0 for the same path. `a` may be the
 * bytes from aStart to aEnd of a larger buffer (a page of index rows, see old-rows.ts).
 */
export function compareWalkOrder(a: Buffer, b: Buffer, aStart = 0, aEnd = a.length): number {
  const aLength = aEnd - aStart;
  const n = Math.min(aLength, b.length);
  let i = 0;
  while (i < n && a[aStart + i] === b[i]) i++;
  if (i === aLength) return i === b.length ? 0 : -1; // a is b, or an ancestor of b, or its component is a prefix of b's
  if (i === b.length) return 1;
  // The component that ends here is the shorter name, which sorts first.
  const x = a[aStart + i];
  if (x === SLASH) return -1;
  if (b[i] === SLASH) return 1;
  return x - b[i];
}

/**
 * Space between the ids of consecutive rows of a fresh scan. A rescan that finds new paths
 * between two old rows gives them ids in the space between (see idBetween), so it writes only
 * the new rows instead of renumbering every row after them. 2^20 leaves room for 93,848 rows
 * between two neighbours (see idBetween) and, counting appends, for 2^33 rows before MAX_ID.
 */
export const ID_GAP = 2 ** 20;

/**
 * Largest id a row may get: ids stay exact JS numbers. A scan that would go past it rewrites
 * the index from the start with fresh ids (Back In Time's dated snapshots append at the end
 * every night: at 1M new paths a night that is after some 8,000 nights).
 */
export const MAX_ID = 2 ** 53 - ID_GAP;

/**
 * An id between `prev` and `next` (exclusive), for a row inserted there; undefined when there
 * is none. Each takes 1/16384 of the space left, so a run of new rows between the same two old
 * ones (a new folder) fits until the space is used up, and new rows between them later find
 * room too (up to 63 between two of a run's rows).
 */
export function idBetween(prev: number, next: number | undefined): number | undefined {
  if (next === undefined) return prev + ID_GAP <= MAX_ID ? prev + ID_GAP : undefined;
  const id = prev + Math.max(1, Math.min(ID_GAP, Math.floor((next - prev) / 16384)));
  return id < next ? id : undefined;
}
