// What an SQLite failure on a linkmirror index means to the user, in one place: a full disk,
// a drive that stopped answering (the index lives on the destination), another linkmirror
// holding it, or a broken index.
import Database from 'better-sqlite3';
import { LinkmirrorError } from '../errors.js';

/** The domain error for `err` when it is an SQLite error on the index `file`; undefined otherwise. */
export function indexError(err: unknown, file: string): LinkmirrorError | undefined {
  if (!(err instanceof Database.SqliteError)) return undefined;
  // The index is held exclusively while a copy runs (see Index.open): a dry run or another
  // process that reads it meanwhile meets it busy.
  if (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED') {
    return new LinkmirrorError('INDEX_LOCKED', `index ${file} is in use by another linkmirror; wait for it or stop it`, { cause: err });
  }
  if (err.code === 'SQLITE_FULL') {
    return new LinkmirrorError('NO_SPACE', `the disk holding the index ${file} is full; free space and run the same command again`, { cause: err });
  }
  if (err.code.startsWith('SQLITE_IOERR')) {
    return new LinkmirrorError(
      'DST_UNUSABLE',
      `disk I/O error on the index ${file}: the drive holding it (the destination) stopped working; reconnect it and run the same command again`,
      { cause: err },
    );
  }
  return new LinkmirrorError('INDEX_BROKEN', `index ${file} failed: ${err.message}`, { cause: err });
}
