// The by-inode pass of a first copy reads every path but the directories once, in (dev, ino, id)
// order, and needs only id, path, type, dev and ino of each (see Index.srcByInodeLean). Read as
// rows, each cost a JS array, a Buffer of its own for the path and three BigInts: a 1M-path
// tree's 981k rows took 4.7-5.0 s to read, on the thread that places the files, and more to
// collect. Here a page comes from SQLite as one BLOB — per row "id type dev ino length " and
// the path bytes — read in 1.5 s: each path is a view into it, and a group's paths share one
// pair of BigInts.
import { EntryType } from './entry.js';
import type { InodeEntry } from './index-db.js';

/**
 * The page of at most ? rows after the key (dev, ino, id) = (?, ?, ?), as one BLOB (NULL past the
 * last row). `||` joins BLOBs as text byte for byte (SQLite does not check UTF-8) and paths hold
 * no NUL, so names that are not UTF-8 come back as they went in.
 */
export const LEAN_PAGE_SQL = `SELECT CAST(group_concat(printf('%d %d %d %d %d ', id, type, dev, ino, length(path)) || path, '' ORDER BY dev, ino, id) AS BLOB)
  FROM (SELECT id, path, type, dev, ino FROM src INDEXED BY src_by_inode
        WHERE type <> ${EntryType.dir} AND (dev, ino, id) > (?, ?, ?) ORDER BY dev, ino, id LIMIT ?)`;

export interface LeanPage {
  rows: InodeEntry[];
  /** The key of the last row, as stored (dev and ino signed): where the next page starts. */
  next: [bigint, bigint, number];
}

const SPACE = 0x20;
const ZERO = 0x30;

/** The rows of a LEAN_PAGE_SQL BLOB. */
export function parseLeanPage(blob: Buffer): LeanPage {
  const rows: InodeEntry[] = [];
  let p = 0;
  /** The decimal integer at p; p moves past the space that ends it. */
  const decimal = (): number => {
    let v = 0;
    for (; blob[p] !== SPACE; p++) {
      const digit = blob[p] - ZERO;
      if (!(digit >= 0 && digit <= 9)) throw new Error('an index page holds a row that is not as linkmirror writes it');
      v = v * 10 + digit;
    }
    p++;
    return v;
  };
  /** The signed 64-bit integer at p, as stored; p moves past its space. */
  const int64 = (): bigint => {
    const start = p;
    while (blob[p] !== SPACE) {
      if (p >= blob.length) throw new Error('an index page ends inside a row');
      p++;
    }
    return BigInt(blob.toString('latin1', start, p++));
  };
  // The text of the last row's "dev ino ": the paths of a group repeat it, and take its BigInts.
  let keyStart = 0;
  let keyEnd = 0;
  let dev = 0n;
  let ino = 0n;
  let uDev = 0n; // as the rest of linkmirror has them: unsigned
  let uIno = 0n;
  let id = 0;
  while (p < blob.length) {
    id = decimal();
    const type = decimal() as EntryType;
    const start = p;
    let end = p;
    for (let spaces = 0; spaces < 2; end++) {
      if (end >= blob.length) throw new Error('an index page ends inside a row');
      if (blob[end] === SPACE) spaces++;
    }
    if (rows.length === 0 || blob.compare(blob, keyStart, keyEnd, start, end) !== 0) {
      dev = int64();
      ino = int64();
      uDev = BigInt.asUintN(64, dev);
      uIno = BigInt.asUintN(64, ino);
      keyStart = start;
      keyEnd = end;
    } else {
      p = end;
    }
    const length = decimal();
    if (p + length > blob.length) throw new Error('an index page ends inside a row');
    const path = blob.subarray(p, p + length);
    p += length;
    rows.push({ id, path, type, dev: uDev, ino: uIno });
  }
  return { rows, next: [dev, ino, id] };
}
