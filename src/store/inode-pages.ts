// The by-inode pass of a first copy reads every path but the directories once, in (dev, ino, id)
// order, and needs only id, path, type, dev and ino of each (see Index.srcByInodeLean). Read as
// rows, each cost a JS array, a Buffer of its own for the path and three BigInts: a 1M-path
// tree's 981k rows took 4.7-5.0 s to read, on the thread that places the files, and more to
// collect. Here a page comes from SQLite as one BLOB — per row "id type dev ino length " and
// the path bytes — read in 1.5 s: each path is a view into it, and a group's paths share one
// pair of BigInts.
//
// The first path of each inode is the one whose content the pass copies, and it needs the whole
// row (size, mode, owner, times, target). Read by id afterwards, each cost a lookup in src
// whose pages the page's read had already dropped from SQLite's cache: 76,580 of them took
// 1.4-1.7 s more than the pages alone. So a page gives the whole row of each path that is its
// inode's first, read with the rest: type + FULL_ROW, then after the path "nlink size mode uid
// gid mtime atime birth rdev tlen " and the target (tlen is the target's length + 1, 0 for none).
// The pages of a 1M-path tree: 2.6 s with those rows, against 3.4-3.8 s for the pages and the
// lookups by id.
import { EntryType, type StoredEntry } from './entry.js';
import type { InodeEntry } from './index-db.js';

/** Added to the type of a row that carries its whole row (its inode's first path). */
const FULL_ROW = 16;

/**
 * The page of at most ? rows after the key (dev, ino, id) = (?, ?, ?), as one BLOB (NULL past the
 * last row). `||` joins BLOBs as text byte for byte (SQLite does not check UTF-8) and paths hold
 * no NUL, so names that are not UTF-8 come back as they went in.
 */
export const LEAN_PAGE_SQL = `SELECT CAST(group_concat(printf('%d %d %d %d %d ', id, type + ${FULL_ROW} * first, dev, ino, length(path)) || path ||
    CASE WHEN first THEN printf('%d %d %d %d %d %d %d %d %d %d ', nlink, size, mode, uid, gid, mtime_ns, atime_ns, birth_ns, rdev,
      COALESCE(length(target) + 1, 0)) || COALESCE(target, '') ELSE '' END, '' ORDER BY dev, ino, id) AS BLOB)
  FROM (SELECT id, path, type, dev, ino, nlink, size, mode, uid, gid, mtime_ns, atime_ns, birth_ns, target, rdev,
          NOT EXISTS (SELECT 1 FROM src t INDEXED BY src_by_inode WHERE t.dev = s.dev AND t.ino = s.ino AND t.id < s.id AND t.type <> ${EntryType.dir}) AS first
        FROM src s INDEXED BY src_by_inode
        WHERE type <> ${EntryType.dir} AND (dev, ino, id) > (?, ?, ?) ORDER BY dev, ino, id LIMIT ?)`;

export interface LeanPage {
  /** The first path of each inode as a whole row (a StoredEntry), the others lean. */
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
    const typeField = decimal();
    const full = typeField >= FULL_ROW;
    const type = (full ? typeField - FULL_ROW : typeField) as EntryType;
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
    if (!full) {
      rows.push({ id, path, type, dev: uDev, ino: uIno });
      continue;
    }
    const nlink = decimal();
    const size = int64();
    const mode = decimal();
    const uid = decimal();
    const gid = decimal();
    const mtimeNs = int64();
    const atimeNs = int64();
    const birthNs = int64();
    const rdev = BigInt.asUintN(64, int64());
    const targetLength = decimal();
    if (p + targetLength - 1 > blob.length) throw new Error('an index page ends inside a row');
    const target = targetLength === 0 ? null : blob.subarray(p, p + targetLength - 1);
    p += Math.max(0, targetLength - 1);
    const row: StoredEntry = { id, path, type, dev: uDev, ino: uIno, nlink, size, mode, uid, gid, mtimeNs, atimeNs, birthNs, target, rdev };
    rows.push(row);
  }
  return { rows, next: [dev, ino, id] };
}
