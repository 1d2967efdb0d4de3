// The SQL side of verify: a throw-away work database that attaches two scans — `e`, what is
// expected (a scan of SRC, or a mirror's manifest), and `a`, what is actually there (a scan of
// DST) — and compares them with set queries, so no tree is ever held in JS memory.
//
//   pairs     one pass joins e and a on path and groups by (e inode, a inode): each row is a
//             pair of inodes with the paths they share. It is as small as the number of inodes,
//             and every inode-level check runs over it: type, size, mode, owner, mtime, symlink
//             target, content (once the inodes are hashed), and topology — an e inode on more
//             than one a inode is a link-split, an a inode with more than one e inode a merge.
//   missing   e paths without an a path (anti-join), extra the reverse.
//   diffs     every difference found, in one table the report pages through.
//
// The optional `m` is the mirror's own index (DST/.linkmirror/index.db): its `mirror` table
// tells which splits the copy made at the link limit, its `src` and `hashes` tables are the
// manifest that `verify DST` checks against. It is only read.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { LinkmirrorError } from '../errors.js';
import { BEFORE_ALL_INODES, keysetPages } from './keyset.js';
import { EntryType } from './entry.js';

type Row = Record<string, unknown>;

/** Sockets are not compared: they cannot be copied (a socket is a live endpoint, not data). */
const NOT_SOCKET = (t: string) => `${t}.type <> ${EntryType.socket}`;
const DIR = EntryType.dir;
const FILE = EntryType.file;
const SYMLINK = EntryType.symlink;

/** The categories, in the order reports list them. */
export const CATEGORIES = [
  'missing', 'extra', 'type', 'size', 'content', 'mode', 'owner', 'mtime', 'symlink', 'link-split', 'link-merged', 'source-inode',
] as const;
export type Category = (typeof CATEGORIES)[number];
/** Not a difference: a split the copy made at the link limit and recorded in the mirror's index. */
export const RECORDED_SPLIT = 'recorded-split';
/**
 * Not a difference: an inode of the mirror with more links than the mirror has paths on it, so
 * linked from outside the mirror (a cp -al of it on the same drive, a stray ln): what is done to
 * the file there is done to the mirror. Said, not failed: keeping versions of a mirror so is a
 * use, not damage.
 */
export const LINKED_OUTSIDE = 'linked-outside';
/**
 * Not a difference: a path the expected side lacks that the mirror's index says a copy made and
 * kept when the source lost it (a copy without --delete keeps such paths, and says so).
 */
export const KEPT = 'kept';

/** One stored difference, with SQL values as they are; src/verify gives them words. */
export interface DiffRow {
  category: Category | typeof RECORDED_SPLIT | typeof KEPT | typeof LINKED_OUTSIDE;
  path: Buffer;
  /** Paths that share this difference (the paths of one pair of inodes). */
  paths: number;
  expected: unknown;
  actual: unknown;
  /** Another path involved (the other side of a split or merge). */
  other: Buffer | null;
}

/** An inode to hash: its key as stored (signed 64-bit dev, ino), one of its paths, its size. */
export interface HashTodo {
  dev: bigint;
  ino: bigint;
  path: Buffer;
  size: bigint;
}

export interface HashResult {
  dev: bigint;
  ino: bigint;
  /** null when the inode could not be read; error says why. */
  hash: Buffer | null;
  error: string | null;
}

export type Side = 'e' | 'a';

/** Paths compared, per kind, and the inodes on each side. */
export interface CompareTotals {
  expectedPaths: number;
  actualPaths: number;
  expectedInodes: number;
  actualInodes: number;
}

const WORK_SCHEMA = `
CREATE TABLE IF NOT EXISTS pairs (
  e_dev INTEGER NOT NULL, e_ino INTEGER NOT NULL, a_dev INTEGER NOT NULL, a_ino INTEGER NOT NULL,
  path BLOB NOT NULL, last BLOB NOT NULL, n INTEGER NOT NULL,
  e_type INTEGER, a_type INTEGER, e_size INTEGER, a_size INTEGER, e_mode INTEGER, a_mode INTEGER,
  e_uid INTEGER, a_uid INTEGER, e_gid INTEGER, a_gid INTEGER, e_mtime INTEGER, a_mtime INTEGER,
  e_birth INTEGER, e_target BLOB, a_target BLOB, e_rdev INTEGER, a_rdev INTEGER
);
CREATE TABLE IF NOT EXISTS e_todo (dev INTEGER, ino INTEGER, path BLOB NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS a_todo (dev INTEGER, ino INTEGER, path BLOB NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS e_hash (dev INTEGER, ino INTEGER, hash BLOB, error TEXT, PRIMARY KEY (dev, ino)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS a_hash (dev INTEGER, ino INTEGER, hash BLOB, error TEXT, PRIMARY KEY (dev, ino)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS diffs (
  seq INTEGER PRIMARY KEY, category TEXT NOT NULL, path BLOB NOT NULL, paths INTEGER NOT NULL,
  expected, actual, other BLOB
);
CREATE INDEX IF NOT EXISTS diffs_by_category ON diffs (category, seq);
`;

/** Content is compared for a pair of regular files of the same size. */
const CONTENT_PAIR = `p.e_type = ${FILE} AND p.a_type = ${FILE} AND p.e_size = p.a_size`;

export class VerifyStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly attached = new Set<string>();

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
  }

  /** A fresh work database (the file must not hold one yet: it is private to one run). */
  static open(file: string): VerifyStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      // Scratch data: durability buys nothing, a crash just means running verify again.
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('cache_size = -32768');
      db.pragma('temp_store = FILE');
      db.exec(WORK_SCHEMA);
      return new VerifyStore(file, db);
    } catch (err) {
      db?.close();
      throw new LinkmirrorError('INDEX_BROKEN', `cannot make verify's work database ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof Database.SqliteError) {
        if (err.code === 'SQLITE_FULL') {
          throw new LinkmirrorError('NO_SPACE', `the disk holding verify's work files (${this.file}) is full; give --temp-dir on a larger disk`, { cause: err });
        }
        if (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED') {
          throw new LinkmirrorError('INDEX_LOCKED', `an index verify reads is in use by another linkmirror; wait for it`, { cause: err });
        }
        throw new LinkmirrorError('INDEX_BROKEN', `verify's query failed: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  private get(sql: string, ...params: unknown[]): Row | undefined {
    return this.guard(() => this.db.prepare(sql).safeIntegers(true).get(...params)) as Row | undefined;
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.guard(() => this.db.prepare(sql).safeIntegers(true).all(...params)) as Row[];
  }

  private run(sql: string, ...params: unknown[]): number {
    return this.guard(() => this.db.prepare(sql).run(...params).changes);
  }

  /**
   * Attach a database as e, a or m. `e` and `a` are scans written by Index (a `src` table each);
   * `m` is a mirror's index, read only by these queries.
   */
  attach(alias: Side | 'm', file: string): void {
    if (!fs.existsSync(file)) throw new LinkmirrorError('INDEX_BROKEN', `index ${file} is gone`);
    this.guard(() => this.db.prepare(`ATTACH DATABASE ? AS ${alias}`).run(file));
    // Each schema has its own page cache (2 MiB by default): the joins and index builds over a
    // million rows want more, a bounded amount whatever the tree's size.
    this.db.pragma(`${alias}.cache_size = -16384`);
    if (alias !== 'm') this.db.pragma(`${alias}.synchronous = OFF`);
    this.attached.add(alias);
  }

  /** Detach `alias` if it is attached (a mirror's index found unreadable). */
  detach(alias: Side | 'm'): void {
    if (!this.attached.delete(alias)) {
      // ATTACH may have failed after SQLite took the name; DETACH of a name it does not hold throws.
      try {
        this.db.prepare(`DETACH DATABASE ${alias}`).run();
      } catch {
        // not attached
      }
      return;
    }
    this.guard(() => this.db.prepare(`DETACH DATABASE ${alias}`).run());
  }

  hasManifest(): boolean {
    return this.attached.has('m');
  }

  /** A meta value of the mirror's index. */
  manifestMeta(key: string): string | undefined {
    const r = this.get('SELECT value FROM m.meta WHERE key = ?', key);
    return r?.value as string | undefined;
  }

  /**
   * Whether the mirror's index records a source path whose content no mirror row records at that
   * path, among the inodes a scan listed as changed (dirty_groups): its record of the source runs
   * ahead of the mirror. Not whether dirty_groups has rows: --delete lists the groups of the paths
   * it removes there, for the next pass, after the pass that completed. False for an index from
   * before that table, or one that cannot answer.
   */
  manifestAheadOfMirror(): boolean {
    try {
      if (this.all(`SELECT 1 FROM m.sqlite_master WHERE type = 'table' AND name = 'dirty_groups'`).length === 0) return false;
      return this.all(
        `SELECT 1 FROM m.dirty_groups d JOIN m.src s ON s.dev = d.dev AND s.ino = d.ino
         WHERE s.type <> ${DIR} AND s.type <> ${EntryType.socket} AND NOT EXISTS (
           SELECT 1 FROM m.mirror mm WHERE mm.path = s.path AND mm.src_dev = s.dev AND mm.src_ino = s.ino
             AND mm.birth_ns = s.birth_ns AND mm.size = s.size AND mm.mtime_ns = s.mtime_ns)
         LIMIT 1`,
      ).length > 0;
    } catch {
      return false;
    }
  }

  /** True when the mirror's index has the tables a manifest needs (an index of an old layout may not). */
  manifestHasTables(): boolean {
    const r = this.all(`SELECT name FROM m.sqlite_master WHERE type = 'table' AND name IN ('src', 'mirror', 'hashes')`);
    return r.length === 3;
  }

  /** verify DST: the expected side is the manifest's record of the source, copied into e. */
  importManifest(): number {
    const cols = 'id, path, type, dev, ino, nlink, size, mode, uid, gid, mtime_ns, atime_ns, birth_ns, target, rdev';
    return this.guard(() =>
      this.db.transaction(() => {
        this.db.exec('DELETE FROM e.src; DELETE FROM e.groups;');
        const n = this.db.prepare(`INSERT INTO e.src (${cols}) SELECT ${cols} FROM m.src ORDER BY id`).run().changes;
        this.db.exec('INSERT INTO e.groups (dev, ino, first_id, paths, size) SELECT dev, ino, first_id, paths, size FROM m.groups');
        return n;
      })(),
    );
  }

  /**
   * Leave the mirror's top-level `name` out of the comparison when the expected side has no such
   * path (the destination filesystem's own lost+found, see fs/lost-found.ts): its row in a goes.
   * Only for an empty directory, which has no rows below it and no inode group.
   */
  leaveOutTop(name: Buffer): void {
    this.guard(() => {
      if (this.db.prepare('SELECT 1 FROM e.src WHERE path = ?').get(name) !== undefined) return;
      this.db.prepare(`DELETE FROM a.src WHERE path = ? AND type = ${EntryType.dir}`).run(name);
    });
  }

  /** Path lookups in a, for the join from e; e gets its own only when there are extra paths to find. */
  indexPaths(side: Side = 'a'): void {
    this.guard(() => this.db.exec(`CREATE INDEX IF NOT EXISTS ${side}.src_by_path ON src (path)`));
  }

  /** From the scans' own summaries: `groups` has one row per non-directory inode (sockets left out here). */
  totals(): CompareTotals {
    const n = (sql: string) => Number(this.get(sql)!.n as bigint);
    const paths = (side: Side) => n(`SELECT COUNT(*) - (SELECT TOTAL(g.paths) FROM ${side}.groups g JOIN ${side}.src s ON s.id = g.first_id WHERE s.type = ${EntryType.socket}) AS n FROM ${side}.src`);
    const inodes = (side: Side) => n(`SELECT COUNT(*) AS n FROM ${side}.groups g JOIN ${side}.src s ON s.id = g.first_id WHERE s.type <> ${EntryType.socket}`);
    return { expectedPaths: paths('e'), actualPaths: paths('a'), expectedInodes: inodes('e'), actualInodes: inodes('a') };
  }

  // ---- the comparison passes ----

  /**
   * The one join pass: paths present on both sides, grouped by their pair of inodes. The
   * grouping sorts a row per path, so it carries only keys and row ids; the attributes are
   * fetched afterwards, once per pair. A pair's path is the first of its paths in scan order
   * (a directory before its contents, names bytewise), `last` the last.
   */
  buildPairs(): number {
    return this.guard(() => {
      this.db.exec(
        `CREATE TEMP TABLE pair_keys AS
         SELECT e.dev AS e_dev, e.ino AS e_ino, a.dev AS a_dev, a.ino AS a_ino, MIN(e.id) AS eid, MAX(e.id) AS lid, a.id AS aid, COUNT(*) AS n
         FROM e.src e JOIN a.src a ON a.path = e.path
         WHERE ${NOT_SOCKET('e')} AND ${NOT_SOCKET('a')}
         GROUP BY e.dev, e.ino, a.dev, a.ino`,
      );
      const n = this.db.prepare(
        `INSERT INTO pairs
         SELECT k.e_dev, k.e_ino, k.a_dev, k.a_ino, e.path, l.path, k.n,
                e.type, a.type, e.size, a.size, e.mode, a.mode, e.uid, a.uid, e.gid, a.gid, e.mtime_ns, a.mtime_ns,
                e.birth_ns, e.target, a.target, e.rdev, a.rdev
         FROM temp.pair_keys k JOIN e.src e ON e.id = k.eid JOIN e.src l ON l.id = k.lid JOIN a.src a ON a.id = k.aid`,
      ).run().changes;
      this.db.exec('DROP TABLE temp.pair_keys; CREATE INDEX pairs_by_e ON pairs (e_dev, e_ino); CREATE INDEX pairs_by_a ON pairs (a_dev, a_ino);');
      return n;
    });
  }

  /**
   * Paths of e that a lacks, and paths of a that e lacks. Each anti-join runs only when the
   * counts say there is something to find: on a clean mirror every path is in a pair.
   */
  findMissingAndExtra(options: { kept: boolean }): void {
    const matched = Number(this.get('SELECT TOTAL(n) AS n FROM pairs')!.n);
    const t = this.totals();
    if (t.expectedPaths > matched) this.findMissing();
    if (t.actualPaths > matched) {
      this.indexPaths('e');
      this.findExtra(options.kept);
    }
  }

  private findMissing(): void {
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual)
       SELECT 'missing', e.path, 1, e.type, NULL FROM e.src e
       WHERE ${NOT_SOCKET('e')} AND NOT EXISTS (SELECT 1 FROM a.src a WHERE a.path = e.path AND ${NOT_SOCKET('a')})
       ORDER BY e.path`,
    );
  }

  /**
   * `keptAllowed`: e is the manifest (verify DST), so a path the mirror's index holds and e lacks
   * is one a copy kept when the source lost it. Against a scan of SRC that is not known (the
   * source may have lost it since the last copy): there it is extra.
   */
  private findExtra(keptAllowed: boolean): void {
    const madeByCopy = (table: string) => `EXISTS (SELECT 1 FROM m.${table} k WHERE k.path = a.path)`;
    const kept = !this.hasManifest() || !keptAllowed
      ? '0'
      : this.all(`SELECT 1 FROM m.sqlite_master WHERE type = 'table' AND name = 'mirror_dirs'`).length > 0
        ? `${madeByCopy('mirror')} OR ${madeByCopy('mirror_dirs')}`
        : madeByCopy('mirror');
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual)
       SELECT CASE WHEN ${kept} THEN '${KEPT}' ELSE 'extra' END, a.path, 1, NULL, a.type FROM a.src a
       WHERE ${NOT_SOCKET('a')} AND NOT EXISTS (SELECT 1 FROM e.src e WHERE e.path = a.path AND ${NOT_SOCKET('e')})
       ORDER BY a.path`,
    );
  }

  /**
   * Everything about a pair of inodes but content: type (and device numbers), size, mode,
   * owner, mtime (in microseconds: all that a copy through utimes(2) can carry; or less than
   * `timeSlack` ns apart, the unit of a destination that keeps times less exactly), symlink target.
   */
  findAttributeDiffs(options: { owner: boolean; modes?: boolean; timeSlack?: bigint; timesDown?: boolean }): void {
    const insert = (category: string, expected: string, actual: string, where: string) =>
      this.run(
        `INSERT INTO diffs (category, path, paths, expected, actual)
         SELECT '${category}', path, n, ${expected}, ${actual} FROM pairs WHERE ${where} ORDER BY path`,
      );
    const sameType = 'e_type = a_type';
    // Device files of one type with other device numbers are of another type of device.
    const dev = (t: string) => `CASE WHEN e_type <> a_type THEN ${t}_type ELSE 'device ' || ${t}_rdev END`;
    insert('type', dev('e'), dev('a'), `e_type <> a_type OR (e_type IN (${EntryType.char}, ${EntryType.block}) AND ${sameType} AND e_rdev <> a_rdev)`);
    insert('size', 'e_size', 'a_size', `${sameType} AND e_type = ${FILE} AND e_size <> a_size`);
    // Linux has no use for a symlink's own mode bits (always 0777); they are not compared.
    if (options.modes ?? true) insert('mode', 'e_mode', 'a_mode', `${sameType} AND e_type <> ${SYMLINK} AND e_mode <> a_mode`);
    if (options.owner) {
      insert('owner', `e_uid || ':' || e_gid`, `a_uid || ':' || a_gid`, `${sameType} AND (e_uid <> a_uid OR e_gid <> a_gid)`);
    }
    const slack = options.timeSlack ?? 0n;
    // A destination's unit: a time comes back less than one unit off (see copy/preflight.ts),
    // and where the destination rounds down, never above the source's.
    const offByUnit = options.timesDown ? `(a_mtime > e_mtime OR e_mtime - a_mtime >= ${slack})` : `abs(e_mtime - a_mtime) >= ${slack}`;
    insert('mtime', 'e_mtime', 'a_mtime', `${sameType} AND ${slack > 0n ? offByUnit : 'e_mtime / 1000 <> a_mtime / 1000'}`);
    insert('symlink', 'e_target', 'a_target', `${sameType} AND e_type = ${SYMLINK} AND e_target IS NOT a_target`);
  }

  /**
   * Topology, over non-directories: an e inode whose paths sit on several a inodes is split
   * (allowed when the mirror's index recorded each of those a inodes for it: a split at the
   * link limit); an a inode holding paths of several e inodes is a merge.
   */
  findTopologyDiffs(options: { againstManifest: boolean }): void {
    const nonDir = `e_type <> ${DIR} AND a_type <> ${DIR}`;
    const recorded = this.hasManifest()
      ? `MIN(EXISTS (SELECT 1 FROM m.mirror mm WHERE mm.src_dev = pairs.e_dev AND mm.src_ino = pairs.e_ino AND mm.dst_ino = pairs.a_ino))`
      : '0';
    // Each group's pairs in path order: the first pair's path names the difference, the second
    // pair's (a path on another inode of the other side) goes with it as `other`.
    const ranked = (by: string) => `(SELECT *, ROW_NUMBER() OVER (PARTITION BY ${by} ORDER BY path) AS rank FROM pairs WHERE ${nonDir}) AS pairs`;
    const firstTwo = `MIN(CASE WHEN rank = 1 THEN path END) AS path, MIN(CASE WHEN rank = 2 THEN path END) AS other`;
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual, other)
       SELECT CASE WHEN recorded THEN '${RECORDED_SPLIT}' ELSE 'link-split' END, path, paths, 1, inodes, other FROM (
         SELECT ${firstTwo}, SUM(n) AS paths, COUNT(*) AS inodes, ${recorded} AS recorded
         FROM ${ranked('e_dev, e_ino')} GROUP BY e_dev, e_ino HAVING COUNT(*) > 1)
       ORDER BY path`,
    );
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual, other)
       SELECT 'link-merged', path, paths, inodes, 1, other FROM (
         SELECT ${firstTwo}, SUM(n) AS paths, COUNT(*) AS inodes
         FROM ${ranked('a_dev, a_ino')} GROUP BY a_dev, a_ino HAVING COUNT(*) > 1)
       ORDER BY path`,
    );
    // A mirror on the source's own filesystem whose file is the source's inode, not a copy of it
    // (a cp -al of the source, a hand-made link): it matched in every other respect, and shares
    // every change and every bad sector with the source. Against a manifest, (dev, ino) is the
    // source's as the last copy recorded it, and a device number is the mount's, not the
    // drive's: after a reboot or a remount the mirror's drive may have the number the source's
    // had, and its inodes the source's numbers (btrfs gives them out in order). There the inode
    // the copy recorded for the path is the copy's own.
    const copied = options.againstManifest && this.hasManifest()
      ? 'AND NOT EXISTS (SELECT 1 FROM m.mirror mm WHERE mm.path = pairs.path AND mm.dst_ino = pairs.a_ino)'
      : '';
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual)
       SELECT 'source-inode', path, n, NULL, NULL FROM pairs WHERE ${nonDir} AND e_dev = a_dev AND e_ino = a_ino ${copied} ORDER BY path`,
    );
    // Inodes of the mirror with more links than it has paths on them (see LINKED_OUTSIDE); not
    // those already found to be the source's own.
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual)
       SELECT '${LINKED_OUTSIDE}', s.path, g.paths, g.paths, s.nlink FROM a.groups g JOIN a.src s ON s.id = g.first_id
       WHERE s.type NOT IN (${DIR}, ${EntryType.socket}) AND s.nlink > g.paths
         AND NOT EXISTS (SELECT 1 FROM pairs p WHERE p.a_dev = g.dev AND p.a_ino = g.ino AND p.e_dev = p.a_dev AND p.e_ino = p.a_ino)
       ORDER BY s.path`,
    );
  }

  // ---- content ----

  /**
   * The inodes of one side whose content must be read: those of pairs of same-size files, each
   * once. For `a` with `onlyKnown`, only where the expected hash is known (verify DST).
   */
  planHashes(side: Side, options: { onlyKnown?: boolean } = {}): { inodes: number; bytes: bigint } {
    const known = options.onlyKnown ? 'AND EXISTS (SELECT 1 FROM e_hash h WHERE h.dev = p.e_dev AND h.ino = p.e_ino AND h.hash IS NOT NULL)' : '';
    this.run(
      `INSERT INTO ${side}_todo (dev, ino, path, size)
       SELECT p.${side}_dev, p.${side}_ino, MIN(p.path), MAX(p.${side}_size) FROM pairs p
       WHERE ${CONTENT_PAIR} ${known}
       GROUP BY p.${side}_dev, p.${side}_ino`,
    );
    const r = this.get(`SELECT COUNT(*) AS n, TOTAL(size) AS bytes FROM ${side}_todo`)!;
    return { inodes: Number(r.n as bigint), bytes: BigInt(Math.round(Number(r.bytes))) };
  }

  /** The inodes to hash, in (dev, ino) order — close to disk order on most filesystems — a page at a time. */
  *todoPages(side: Side, pageSize = 1024): Generator<HashTodo[]> {
    const s = this.db.prepare(`SELECT dev, ino, path, size FROM ${side}_todo WHERE (dev, ino) > (?, ?) ORDER BY dev, ino LIMIT ?`).safeIntegers(true);
    const pages = keysetPages((key) => this.guard(() => s.all(...key, pageSize)) as Row[], BEFORE_ALL_INODES, (last) => [last.dev, last.ino]);
    for (const rows of pages) yield rows.map((r) => ({ dev: r.dev as bigint, ino: r.ino as bigint, path: r.path as Buffer, size: r.size as bigint }));
  }

  putHashes(side: Side, rows: readonly HashResult[]): void {
    if (rows.length === 0) return;
    const put = this.db.prepare(`INSERT OR REPLACE INTO ${side}_hash (dev, ino, hash, error) VALUES (?, ?, ?, ?)`);
    this.guard(() =>
      this.db.transaction(() => {
        for (const r of rows) put.run(r.dev, r.ino, r.hash, r.error);
      })(),
    );
  }

  /**
   * verify DST: the expected hashes are the manifest's, recorded per source inode. A hash counts
   * only when the inode's identity (birth time, size, mtime) is the one the manifest describes.
   */
  importManifestHashes(): number {
    return this.run(
      `INSERT OR IGNORE INTO e_hash (dev, ino, hash, error)
       SELECT p.e_dev, p.e_ino, h.hash, NULL FROM pairs p
       JOIN m.hashes h ON h.dev = p.e_dev AND h.ino = p.e_ino AND h.birth_ns = p.e_birth AND h.size = p.e_size AND h.mtime_ns = p.e_mtime
       WHERE ${CONTENT_PAIR}`,
    );
  }

  /** Content differences: pairs whose two hashes are known and differ, or whose a side could not be read. */
  findContentDiffs(): void {
    this.run(
      `INSERT INTO diffs (category, path, paths, expected, actual)
       SELECT 'content', p.path, p.n, eh.hash, COALESCE(ah.hash, ah.error) FROM pairs p
       JOIN e_hash eh ON eh.dev = p.e_dev AND eh.ino = p.e_ino
       JOIN a_hash ah ON ah.dev = p.a_dev AND ah.ino = p.a_ino
       WHERE ${CONTENT_PAIR} AND eh.hash IS NOT NULL AND (ah.hash IS NULL OR ah.hash <> eh.hash)
       ORDER BY p.path`,
    );
  }

  /** Pairs of same-size files: an upper bound of the inodes to read on each side. */
  contentPairs(): number {
    return Number(this.get(`SELECT COUNT(*) AS n FROM pairs p WHERE ${CONTENT_PAIR}`)!.n as bigint);
  }

  /** Pairs of same-size files whose content could not be compared (no expected hash, not sampled, unreadable source). */
  contentUnchecked(): number {
    const r = this.get(
      `SELECT COUNT(*) AS n FROM pairs p WHERE ${CONTENT_PAIR} AND NOT (
         EXISTS (SELECT 1 FROM e_hash eh WHERE eh.dev = p.e_dev AND eh.ino = p.e_ino AND eh.hash IS NOT NULL)
         AND EXISTS (SELECT 1 FROM a_hash ah WHERE ah.dev = p.a_dev AND ah.ino = p.a_ino))`,
    )!;
    return Number(r.n as bigint);
  }

  // ---- reading the result ----

  /** Differences per category (recorded splits included, under their own name). */
  counts(): Map<string, { items: number; paths: number }> {
    const out = new Map<string, { items: number; paths: number }>();
    for (const r of this.all('SELECT category, COUNT(*) AS items, SUM(paths) AS paths FROM diffs GROUP BY category')) {
      out.set(r.category as string, { items: Number(r.items as bigint), paths: Number(r.paths as bigint) });
    }
    return out;
  }

  /** The first differences of one category, by path. */
  firstOf(category: string, limit: number): DiffRow[] {
    return this.all('SELECT * FROM diffs WHERE category = ? ORDER BY seq LIMIT ?', category, limit).map(diffFrom);
  }

  /** Every difference, category by category (in CATEGORIES order, recorded splits last), a page at a time. */
  *allDiffs(pageSize = 1024): Generator<DiffRow[]> {
    for (const category of [...CATEGORIES, RECORDED_SPLIT, KEPT]) {
      let after = 0n;
      for (;;) {
        const rows = this.all('SELECT * FROM diffs WHERE category = ? AND seq > ? ORDER BY seq LIMIT ?', category, after, pageSize);
        if (rows.length === 0) break;
        after = rows[rows.length - 1].seq as bigint;
        yield rows.map(diffFrom);
      }
    }
  }
}

function diffFrom(r: Row): DiffRow {
  return {
    category: r.category as DiffRow['category'],
    path: r.path as Buffer,
    paths: Number(r.paths as bigint),
    expected: r.expected,
    actual: r.actual,
    other: (r.other as Buffer | null) ?? null,
  };
}
