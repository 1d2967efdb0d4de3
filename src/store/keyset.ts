// Keyset paging: a large query read a page at a time, each page bounded by the last key of the
// one before ("WHERE key > ? ORDER BY key LIMIT ?"), never by OFFSET. A page is read completely
// before it is handed out, so the caller may write to the database between pages, and memory
// holds one page however large the table is.

/**
 * `read(key)` runs the page query after `key` (starting at `first`); `keyOf` gives the next
 * bound from a page's last row.
 */
export function* keysetPages<R>(read: (key: readonly unknown[]) => R[], first: readonly unknown[], keyOf: (last: R) => readonly unknown[]): Generator<R[]> {
  let key = first;
  for (;;) {
    const rows = read(key);
    if (rows.length === 0) return;
    key = keyOf(rows[rows.length - 1]);
    yield rows;
  }
}

/** Below every signed 64-bit (dev, ino): the bound before the first page of a (dev, ino) query. */
export const BEFORE_ALL_INODES: readonly bigint[] = [-(2n ** 63n), -(2n ** 63n)];
