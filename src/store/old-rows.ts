// The last scan's rows as a rescan reads them, a page at a time, to merge with the walk's
// entries (see Index.writeScanned).
//
// A page comes from SQLite as one BLOB, not a row of values each: for every row, its id, the
// lengths of its path and symlink target, its compared columns as scanSig() text, then the path
// and target bytes. Read as values, each row cost a JS array, a Buffer for its path and a dozen
// BigInts, all garbage a moment later: a rescan of a 1M-path tree spent 4-6 s reading them and
// about as much again collecting them, on the thread that the walk's entries wait for. As one
// BLOB the same million rows read in about 1 s, and an unchanged entry is compared with its row
// by two byte ranges (path, then scanSig text) without making anything.
import { EntryType, SCAN_SIG_COLUMNS } from './entry.js';
import { compareWalkOrder } from './walk-order.js';

/** SQL for a src row's scanSig() text. */
export const SIG_SQL = `printf('${SCAN_SIG_COLUMNS.map(() => '%d').join(' ')}', ${SCAN_SIG_COLUMNS.join(', ')})`;

/**
 * The page of rows after id ?, as one BLOB (format above; NULL past the last row). `||` joins
 * BLOBs as text byte for byte (SQLite does not check UTF-8), and no path or target holds a NUL,
 * so names that are not UTF-8 come back as they went in.
 *
 * `inodeOnly`: a row that is not a directory carries only the start of its scanSig text, type,
 * dev and ino with the space after them (inodePrefix()), which is all that a stub is compared
 * with. Formatting the other seven numbers of every row was most of the cost of a page: reading
 * a 1M-path index's pages took 0.84-1.03 s this way and 1.55-1.88 s with whole texts. A row read
 * so is not complete(): an entry that came lstatted (a stub's path that changed, a directory
 * entry without its type) is compared with the row's text read by its id (Index.sameAsOld).
 */
export function oldPageSql(rows: number, inodeOnly = false): string {
  const sig = inodeOnly ? `CASE WHEN type = ${EntryType.dir} THEN ${SIG_SQL} ELSE printf('%d %d %d ', type, dev, ino) END` : SIG_SQL;
  return `SELECT CAST(group_concat(
      printf('%d %d %d ', id, length(path), coalesce(length(target), -1)) || ${sig} || '|' || path || coalesce(target, ''), '' ORDER BY id) AS BLOB)
    FROM (SELECT * FROM src WHERE id > ? ORDER BY id LIMIT ${rows})`;
}

const SPACE = 0x20;
const BAR = 0x7c;
const MINUS = 0x2d;
const ZERO = 0x30;

/** Per row in `at`: where its scanSig text, path and target lie in the page's BLOB. */
const SIG = 0;
const SIG_END = 1;
const PATH_END = 2;
const TARGET_END = 3;
const SLOTS = 4;

/** A page of old rows; load() reads the next page into the same arrays. */
export class OldPage {
  count = 0;
  /** The page being read: a view of `own`. */
  private blob: Buffer = Buffer.alloc(0);
  /** The buffer every page is copied into, grown to the largest page. */
  private own: Buffer = Buffer.alloc(0);
  private readonly ids: Float64Array; // ids stay below 2^53 (walk-order.ts's MAX_ID): exact
  private readonly at: Uint32Array;
  private readonly hasTarget: Uint8Array;
  /** 1 when the row's whole scanSig text is on the page (see oldPageSql's inodeOnly). */
  private readonly whole: Uint8Array;
  /** Where the parse is. */
  private p = 0;

  constructor(private readonly capacity: number) {
    this.ids = new Float64Array(capacity);
    this.at = new Uint32Array(capacity * SLOTS);
    this.hasTarget = new Uint8Array(capacity);
    this.whole = new Uint8Array(capacity);
  }

  /**
   * Take the rows of `blob` (oldPageSql's BLOB; empty past the last row). It is copied, so that
   * SQLite's buffer is garbage at once: held while its rows were compared (about 130 KB, outside
   * the heap), each page's outlived the young generation and waited for a collection of the old,
   * which, once scan entries stopped being promoted (see scan/walk-batch.ts), came only after
   * 64 MB of them: peak RSS of a 1M-path rescan 192 MB against 136 with a collection every 64
   * pages. The copy costs a memcpy of the page.
   */
  load(blob: Buffer): void {
    if (this.own.length < blob.length) this.own = Buffer.allocUnsafeSlow(Math.max(blob.length, 2 * this.own.length));
    blob.copy(this.own);
    this.blob = this.own.subarray(0, blob.length);
    this.p = 0;
    let n = 0;
    while (this.p < blob.length) {
      if (n === this.capacity) throw new Error('an index page holds more rows than asked for');
      const id = this.decimal();
      const pathLength = this.decimal();
      const targetLength = this.decimal();
      const p = this.p;
      const sigEnd = blob.indexOf(BAR, p);
      if (sigEnd < 0) throw new Error('an index page ends inside a row');
      const pathEnd = sigEnd + 1 + pathLength;
      const targetEnd = pathEnd + Math.max(0, targetLength);
      if (targetEnd > blob.length) throw new Error('an index page ends inside a row');
      this.ids[n] = id;
      const a = n * SLOTS;
      this.at[a + SIG] = p;
      this.at[a + SIG_END] = sigEnd;
      this.at[a + PATH_END] = pathEnd;
      this.at[a + TARGET_END] = targetEnd;
      this.hasTarget[n] = targetLength >= 0 ? 1 : 0;
      // A whole text ends with a number; the inode's part alone, with its space.
      this.whole[n] = sigEnd > p && blob[sigEnd - 1] !== SPACE ? 1 : 0;
      this.p = targetEnd;
      n++;
    }
    this.count = n;
  }

  id(i: number): number {
    return this.ids[i];
  }

  /** Row i was given another id (see Index.makeRoom). */
  setId(i: number, id: number): void {
    this.ids[i] = id;
  }

  /** compareWalkOrder(row i's path, path). */
  comparePath(i: number, path: Buffer): number {
    const a = i * SLOTS;
    return compareWalkOrder(this.blob, path, this.at[a + SIG_END] + 1, this.at[a + PATH_END]);
  }

  /** Whether row i's whole scanSig text is on the page: only then can same() answer. */
  complete(i: number): boolean {
    return this.whole[i] === 1;
  }

  /** Whether row i has the compared fields `sig` (scanSig text) and symlink target `target`. */
  same(i: number, sig: Buffer, target: Buffer | null): boolean {
    if (this.whole[i] === 0) throw new Error('same() on a row read with its inode only');
    const a = i * SLOTS;
    if (this.blob.compare(sig, 0, sig.length, this.at[a + SIG], this.at[a + SIG_END]) !== 0) return false;
    if (this.hasTarget[i] === 0) return target === null;
    return target !== null && this.blob.compare(target, 0, target.length, this.at[a + PATH_END], this.at[a + TARGET_END]) === 0;
  }

  /**
   * Whether row i names inode `prefix`: the first three fields of its scanSig text (type, dev,
   * ino) as inodePrefix() gives them.
   */
  sameInode(i: number, prefix: Buffer): boolean {
    const a = i * SLOTS;
    const start = this.at[a + SIG];
    return start + prefix.length <= this.at[a + SIG_END] && this.blob.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
  }

  /** Row i's values of SCAN_SIG_COLUMNS as the index stores them (the first three of a row not complete()). */
  columns(i: number): bigint[] {
    const a = i * SLOTS;
    return this.blob.toString('latin1', this.at[a + SIG], this.at[a + SIG_END]).trimEnd().split(' ').map(BigInt);
  }

  /** The decimal integer at the parse's position; the parse goes past the space that ends it. */
  private decimal(): number {
    const b = this.blob;
    let p = this.p;
    const negative = b[p] === MINUS;
    if (negative) p++;
    let v = 0;
    for (; b[p] !== SPACE; p++) {
      const digit = b[p] - ZERO;
      if (!(digit >= 0 && digit <= 9)) throw new Error('an index page holds a row that is not as linkmirror writes it');
      v = v * 10 + digit;
    }
    this.p = p + 1;
    return negative ? -v : v;
  }
}
