// Where SQLite writes its temp files: the sorts behind CREATE INDEX, GROUP BY and ORDER BY once
// they pass the page cache, and statement journals past 64 KiB (temp_store = FILE, so that
// memory stays flat). By default SQLite puts them in $SQLITE_TMPDIR, $TMPDIR or /var/tmp: the
// machine's own disk, not the destination. A 100k-path copy wrote a 6.7 MB temp file there (the
// size grows with the tree), and with that disk full a copy failed with "the disk holding the
// index ... is full" about a destination that had room. Each run keeps them beside its index
// instead: the space it needs is then on the disk its error names. SQLite unlinks a temp file
// as soon as it has opened it, so a kill leaves none behind.
//
// SQLite holds the folder in one process-wide variable (sqlite3_temp_directory), read whenever
// it makes a temp file; changing it while another thread uses SQLite is unsafe. So it is set on
// the main thread at the start of a run, before any worker that opens an index starts (verify's
// scan threads only read it), and put back when the run ends. A folder that is gone or not
// writable when a temp file is made is passed over for SQLite's default.
import Database from 'better-sqlite3';

/**
 * SQLite names a temp file `DIR/etilqs_` and 16 hex digits, and refuses one past 510 bytes (its
 * unix VFS's limit less the NUL): a folder longer than this keeps SQLite's default.
 */
const MAX_DIR_BYTES = 510 - '/etilqs_'.length - 16;

/**
 * Make SQLite's temp files in `dir` until the function returned is called, which puts back the
 * folder they went to before (runs nest; two runs at once in one process would share one folder).
 * A folder SQLite cannot write to, or one whose temp file names would be too long, is passed over:
 * the folder stays what it was.
 */
export function useSqliteTempDir(dir: string): () => void {
  const before = sqliteTempDir();
  if (Buffer.byteLength(dir) > MAX_DIR_BYTES || !setSqliteTempDir(dir)) return () => {};
  return () => void setSqliteTempDir(before);
}

/** Set the folder (undefined: SQLite's default); false when SQLite refused it (not a writable folder). */
function setSqliteTempDir(dir: string | undefined): boolean {
  const db = new Database(':memory:');
  try {
    db.pragma(`temp_store_directory = '${(dir ?? '').replaceAll("'", "''")}'`);
    return true;
  } catch (err) {
    if (!(err instanceof Database.SqliteError)) throw err;
    return false;
  } finally {
    db.close();
  }
}

/** The folder SQLite makes its temp files in; undefined when it uses its default. */
export function sqliteTempDir(): string | undefined {
  const db = new Database(':memory:');
  try {
    const row = db.pragma('temp_store_directory', { simple: true }) as string | undefined;
    return row === undefined || row === '' ? undefined : row;
  } finally {
    db.close();
  }
}
