// The only module that opens SQLite. It owns the connection, the pragmas and the prepared
// statements; the rest of the pipeline sees plain records and never SQL.
//
// Durability: WAL with synchronous=NORMAL. A transaction that committed survives a kill of the
// process at any instant; after a power loss the last few commits may be lost, which the copy
// tolerates because every row in `mirror` is written after the file it describes is in place
// (so a lost row only means redoing, and checking, work already on disk). An index opened empty
// or before its first copy completed uses a rollback journal instead, with synchronous=FULL: see
// journalFor().
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { BEFORE_ALL_INODES, keysetPages } from './keyset.js';
import { indexError } from './sqlite-error.js';
import { EntryType, inodePrefix, sameTarget, scanSig, type Entry, type StoredEntry } from './entry.js';
import { OldPage, oldPageSql, SIG_SQL } from './old-rows.js';
import { LEAN_PAGE_SQL, parseLeanPage } from './inode-pages.js';
import { MIRROR_SRC_INDEX, SCHEMA, SCHEMA_VERSION, SRC_GROUP_INDEX, SRC_PATH_INDEX } from './schema.js';
import { ID_GAP, idBetween, MAX_ID } from './walk-order.js';
import { ManifestStore, PUT_HASH_OF_SRC_SQL } from './manifest-store.js';

type Row = Record<string, unknown>;

/**
 * Rows of the last scan read at a time to compare with a rescan's entries (see old-rows.ts).
 * When each row came as a dozen BigInts and Buffers, pages of 4096 rows took a rerun's peak RSS
 * from 139 to 166 MB at 1M paths (pages of 1024: 139 MB, of 256: 135 MB).
 */
const RESCAN_PAGE = 1024;
/**
 * Rows of a page read by id before the rest of the scan reads whole rows (see oldPageSql's
 * inodeOnly): a filesystem whose directory entries carry no type (DT_UNKNOWN) sends every path
 * lstatted, each of which would cost a read by id.
 */
const MAX_LOOKUPS = 64;

/**
 * When a rescan finds no id left for a new row, at most this many rows (the next old row and
 * those after it) are given new ids to make room, ROOM_STEP apart or as far apart as they can
 * be (see Index.makeRoom).
 */
const ROOM_ROWS = 64;
const ROOM_STEP = 256;

/**
 * WAL frames (4 KiB pages) before SQLite copies them into the index file; SQLite's default is
 * 1000. Each copy writes a changed page into the middle of the file, and this kernel (6.18)
 * counts and writes back the whole large folio that readahead put it in: a batch of 1024 mirror
 * rows updated at random paths wrote 10 MiB to the WAL and then 95-130 MiB at its checkpoint. With
 * the WAL checkpointed every 512 MiB instead, a page changed many times is copied once: a 1M-path
 * rotation's re-copy wrote 462 MiB instead of 834 (a first copy, whose pages are new and
 * sequential, writes as much either way). The WAL is folded in and removed when a run ends; one
 * left by a kill is read back by the next run.
 */
const WAL_CHECKPOINT_PAGES = 131072;

/**
 * Meta key: 'yes' while the gone table lists every path the mirror holds (mirror, mirror_dirs)
 * that src does not, and none that src has (see mirrorNotInSrc). Anything else: not known.
 */
const GONE = 'gone';

/** SQL: gone's row g is a path the mirror holds (a file or a directory). */
const GONE_HELD = '(EXISTS (SELECT 1 FROM mirror m WHERE m.path = g.path) OR EXISTS (SELECT 1 FROM mirror_dirs d WHERE d.path = g.path))';

/** Placed rows per INSERT statement (768 parameters; SQLite allows 32,766). */
const PLACED_PER_INSERT = 256;

/** Meta key: when a copy last completed (an ISO date). None: the first copy is not done yet. */
export const COPIED_AT = 'copied_at';

/**
 * Meta key: the unit (ns) the destination keeps times in, '0' for all that utimes(2) can carry
 * (see copy/preflight.ts timeGranularity). Written by each copy; verify allows less than one unit.
 */
export const DST_TIME_NS = 'dst_time_ns';

/** Meta key: 'yes' when the destination rounds times down to that unit (see timeGranularity); verify then allows it below the source's time only. */
export const DST_TIME_DOWN = 'dst_time_down';

/**
 * Meta keys: 'lost' when the destination kept no permission bits (DST_MODES) or owners
 * (DST_OWNERS) that the last copy set on its probe file (see copy/preflight.ts); else 'kept'.
 * Verify leaves out what it lost; a copy that finds it kept again looks at every path.
 */
export const DST_MODES = 'dst_modes';
export const DST_OWNERS = 'dst_owners';

/**
 * Meta 'state' of a mirror whose index holds a newer scan of the source than the mirror was
 * copied from: the run that scanned stopped before its pass (refused, or killed). Verify DST
 * then vouches for nothing (see verify.ts).
 */
export const SCANNED = 'scanned';

/**
 * The journal for a run. An index with rows in it gets the WAL, which copies each changed page
 * into the file once per checkpoint however often the run changes it: a rescan's and a
 * rotation's updates land at random pages (1M-path rotations wrote 390 MiB through the WAL and
 * 1,325 MiB through a rollback journal, and took 18.8 and 16.8 s against 24.8 and 21.4).
 *
 * An empty one (a first copy, or a first scan) gets a rollback journal: its rows go into new
 * pages at the end of the file, which a rollback journal does not copy (only pages that held
 * data before a transaction are), where the WAL writes every page twice, once into the WAL and
 * once at the checkpoint. 1M-path first copies wrote 1,589 and 1,599 MB instead of 1,957 and
 * 1,954 (571 MB of them the files' content), in 36.4 and 37.8 s against 43.0 and 38.6.
 *
 * So does an index whose first copy has not completed yet (no copy ever set COPIED_AT): a run
 * that resumes it mostly appends too (the placed rows of the pass, the fold of the last run's
 * into the mirror). Through the WAL, each such run wrote its new pages twice, the second time at
 * the checkpoint when the index was closed: a cold resume of a 1M first copy killed at 22 s wrote
 * 560 MiB in all, 189 of them at that checkpoint, and 381 MiB through a rollback journal (in
 * 16.0 and 14.6 s). A resume whose source changed meanwhile (rsnapshot rotating during a long
 * first copy) merges its scan at random pages; the same killed copy resumed from a rotated source
 * wrote 1,435 MiB through a rollback journal and 1,437 through the WAL (34.8 and 44.9 s, one run
 * each). Once a copy has completed, every run uses the WAL.
 *
 * synchronous=FULL with it: SQLite documents that NORMAL can, rarely, leave a rollback-journal
 * database corrupt after a power loss. Each commit then syncs the journal (about three times)
 * and the index: 397 and 124 fsyncs in a 1M first copy (see SCAN_COMMIT_ROWS), against the
 * WAL's 8. A run killed midway leaves a hot journal, which the next open rolls back. In
 * exclusive locking mode SQLite keeps the journal through the run (its header zeroed at each
 * commit); DELETE removes it when the index is closed.
 */
function journalFor(db: Database.Database): { mode: 'WAL' | 'DELETE'; synchronous: 'NORMAL' | 'FULL' } {
  const appending = db.prepare(`SELECT (NOT EXISTS (SELECT 1 FROM src) AND NOT EXISTS (SELECT 1 FROM mirror)
    AND NOT EXISTS (SELECT 1 FROM placed) AND NOT EXISTS (SELECT 1 FROM mirror_dirs))
    OR NOT EXISTS (SELECT 1 FROM meta WHERE key = ?)`).pluck().get(COPIED_AT) === 1;
  return appending ? { mode: 'DELETE', synchronous: 'FULL' } : { mode: 'WAL', synchronous: 'NORMAL' };
}

/**
 * Scanned entries per commit under a rollback journal: 8 commits for 1M paths instead of 122
 * (one per batch of 8,192).
 */
const SCAN_COMMIT_ROWS = 131072;

/**
 * Meta key: 'complete' when src, its indexes and groups describe one whole scan; 'partial' when
 * a scan that changed rows did not end (verify DST then has no manifest to go by).
 */
export const SCAN_STATE = 'scan';

/**
 * Meta key: 'owner' or 'modes' when the last complete pass of a copy left every src path in
 * the mirror as the src row says (owners compared or not), except the groups listed in
 * dirty_groups since: the inodes of the rows the scans changed after it. Anything else
 * ('no', or none: a first copy, an older index, a scan that rewrote src) means not known.
 */
const MIRROR_SYNCED = 'mirror_synced';

const toDb = (v: bigint): bigint => BigInt.asIntN(64, v);
const fromDb = (v: unknown): bigint => ((v as bigint) < 0n ? BigInt.asUintN(64, v as bigint) : (v as bigint));
const num = (v: unknown): number => Number(v as bigint);

export interface ScanTotals {
  paths: number;
  dirs: number;
  files: number;
  symlinks: number;
  specials: number;
  inodes: number;
  linkGroups: number;
  largestGroup: number;
  logicalBytes: bigint;
  physicalBytes: bigint;
}

export interface PlanTotals {
  paths: number;
  dirs: number;
  /**
   * Non-directory paths the destination does not hold yet. A real incremental run does not count
   * them up front (a join of every path with the mirror, which its pass does again): there it is
   * the number of paths the pass visited, known when the pass is over.
   */
  pathsToPlace: number;
  /**
   * Directories below the top that the mirror does not record as made (mirror_dirs): all of them
   * on a first copy. (The top one exists before the plan is made.)
   */
  dirsToMake: number;
  inodes: number;
  inodesToCopy: number;
  /** Bytes of the inodes to copy. */
  bytesToCopy: bigint;
  /** The same, each inode rounded up to whole blocks of the destination. */
  blocksToCopy: bigint;
  physicalBytes: bigint;
  logicalBytes: bigint;
  expectedSplits: number;
  splitBytes: bigint;
  /**
   * What the index will grow by on the destination while this copy places its paths (see
   * indexGrowth): on a first copy, and on a run that resumes one; 0 once a copy has completed
   * (an incremental run adds rows for its new paths only).
   */
  indexBytes: bigint;
}

/**
 * Bytes the index grows by as a copy places `paths` new paths with `pathBytes` bytes of path
 * among them and copies `inodes` inodes: a mirror row (its path and some 45-60 bytes) and an
 * entry of its by-source index (the path again and some 15) per path, a hash row (about 75
 * bytes) per inode, and 15 % more for the B-trees' free space. Against first copies, measured
 * from the index size at the plan to the end: 100k benchmark paths (55 bytes of path each) grew
 * 19.0 MB, estimated 22.2; 40,081 links with 206-byte names, 20.8 MB, estimated 22.7.
 */
function indexGrowth(paths: number, pathBytes: bigint, inodes: number): bigint {
  const exact = 2n * pathBytes + 75n * BigInt(paths) + 75n * BigInt(inodes);
  return (exact * 115n) / 100n;
}

export interface MirrorRow {
  path: Buffer;
  type: EntryType;
  srcDev: bigint;
  srcIno: bigint;
  birthNs: bigint;
  size: bigint;
  mtimeNs: bigint;
  mode: number;
  uid: number;
  gid: number;
  dstIno: bigint;
  written: boolean;
}

/** A group's sample path, as an incremental run looks at it (see cleanGroupSamples). */
export type SampleRow = Pick<MirrorRow, 'path' | 'type' | 'srcDev' | 'srcIno' | 'size' | 'dstIno'>;

/** A path as the by-inode pass of a first copy reads it (see srcByInodeLean). */
export type InodeEntry = Pick<StoredEntry, 'id' | 'path' | 'type' | 'dev' | 'ino'>;

/** A path placed by the running pass (see foldPlaced). */
/** What the index says of a source inode, by one of its paths (see Index.inodeSamples). */
export interface InodeFacts {
  dev: bigint;
  ino: bigint;
  type: EntryType;
  size: bigint;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  birthNs: bigint;
  rdev: bigint;
  /** A symlink's target (an inode's content, like a file's bytes); null for other types. */
  target: Buffer | null;
}

export interface InodeSample extends InodeFacts {
  path: Buffer;
  dirty: boolean;
}

export interface PlacedRow {
  srcId: number;
  dstIno: bigint;
  written: boolean;
  /** The digest of the content written, for the manifest (see copy/copy-thread.ts). */
  hash?: Buffer;
}

/**
 * A file the running pass staged (see pending in store/schema.ts): its temp name, the src row it
 * stands for and the destination inode. addPending() takes the rest from the src row, so that a
 * pass holding 100k of them until its flush keeps a few numbers each, not the path and identity.
 */
export interface StagedRow {
  tmp: string;
  srcId: number;
  dstIno: bigint;
  written: boolean;
}

/** The mirror row that records `e` placed at its path on destination inode `dstIno`. */
export function mirrorRowFor(e: Entry, dstIno: bigint, written: boolean): MirrorRow {
  return {
    path: e.path, type: e.type, srcDev: e.dev, srcIno: e.ino, birthNs: e.birthNs, size: e.size, mtimeNs: e.mtimeNs,
    mode: e.mode, uid: e.uid, gid: e.gid, dstIno, written,
  };
}

/** Same source inode, not changed since: birth time (where reported), size and mtime agree. */
export function sameContent(m: MirrorRow, e: Entry): boolean {
  return m.srcDev === e.dev && m.srcIno === e.ino && m.birthNs === e.birthNs && m.size === e.size && m.mtimeNs === e.mtimeNs;
}

/** SQL of sameContent(): mirror row `m` holds the content of src row `s` as it is now. */
function sameContentSql(m: string, s: string): string {
  return `${m}.src_dev = ${s}.dev AND ${m}.src_ino = ${s}.ino AND ${m}.birth_ns = ${s}.birth_ns AND ${m}.size = ${s}.size AND ${m}.mtime_ns = ${s}.mtime_ns`;
}

/**
 * The placed rows of database `db` as mirror rows, from their src rows: in src id order, and a
 * path placed twice by one pass (a metadata fix, then a replacement) in the order it was put, so
 * that its last row wins. The placed rows are sorted alone, before the join: sorting the joined
 * rows, paths and all, took longer (a 1M-path first copy's fold: 4.9-5.2 s and 558 MiB written,
 * against 3.3-3.4 s and 479 MiB). MATERIALIZED is what keeps that sort (SQLite drops the ORDER BY
 * of a subquery it joins); the outer ORDER BY then costs nothing (the rows come sorted) and makes
 * the order the query's promise rather than how SQLite happens to scan its temp table. WHERE true
 * keeps a following ON CONFLICT from parsing as the join's.
 */
function placedAsMirror(db: 'main' | 'other'): string {
  return `WITH p AS MATERIALIZED (SELECT src_id, rowid AS seq, dst_ino, written FROM ${db}.placed ORDER BY src_id, seq)
    SELECT s.path, s.type, s.dev, s.ino, s.birth_ns, s.size, s.mtime_ns, s.mode, s.uid, s.gid, p.dst_ino, p.written
    FROM p CROSS JOIN ${db}.src s ON s.id = p.src_id WHERE true ORDER BY p.src_id, p.seq`;
}

export class Index {
  readonly file: string;
  private readonly db: Database.Database;
  /** The index took a rollback journal: opened empty, or before a first copy completed (see journalFor). */
  private readonly rollback: boolean;
  private readonly stmts = new Map<string, Database.Statement>();

  private constructor(file: string, db: Database.Database, rollback: boolean) {
    this.file = file;
    this.db = db;
    this.rollback = rollback;
  }

  /**
   * Open (or create) an index file. A file that is not a usable index is INDEX_BROKEN.
   * `scratch`: a throw-away index (verify's scans, a dry run's plan), which no fsync protects:
   * after a crash nobody reads it again.
   */
  static open(file: string, { scratch = false } = {}): Index {
    let db: Database.Database | undefined;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      db = new Database(file);
      // The WAL's index in this process's memory, not in a -shm file mapped into it: when the
      // destination is full, a page of that mapping the kernel cannot back kills the process
      // with SIGBUS ("Bus error") instead of an error to report. Exclusive: one linkmirror at a
      // time per mirror anyway (the lock file), and the manifest shares this connection.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('busy_timeout = 0');
      // A bounded page cache (8 MiB): the index may be gigabytes, the process stays small.
      db.pragma('cache_size = -8192');
      db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      db.pragma('temp_store = FILE');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new LinkmirrorError(
          'INDEX_BROKEN',
          `index ${file} was written by a newer linkmirror (schema ${version}); upgrade linkmirror`,
        );
      }
      // One commit for the whole schema: before journalFor() a new file is in SQLite's default
      // rollback mode with synchronous=FULL, where each CREATE alone would cost its fsyncs.
      db.transaction(() => {
        db!.exec(SCHEMA);
        db!.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
      const journal = journalFor(db);
      db.pragma(`journal_mode = ${journal.mode}`);
      db.pragma(`synchronous = ${scratch ? 'OFF' : journal.synchronous}`);
      return new Index(file, db, journal.mode !== 'WAL');
    } catch (err) {
      db?.close();
      if (err instanceof LinkmirrorError) throw err;
      // Another linkmirror, a full disk or a drive gone is no broken index: removing the index
      // is not the remedy.
      const failed = indexError(err, file);
      if (failed && failed.code !== 'INDEX_BROKEN') throw failed;
      throw new LinkmirrorError('INDEX_BROKEN', `cannot open index ${file}: ${(err as Error).message}; remove it to start over`, { cause: err });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Run fn in one transaction; index errors become INDEX_BROKEN, other errors pass through.
   * Called inside a transaction, fn joins it, without a savepoint of its own: under a savepoint
   * SQLite copies each page it changes for the first time into a statement journal, a temp file
   * once it passes 64 KiB (and in exclusive locking mode that file stays for the rest of the
   * run). Staged files' rows, settled by putMirror inside settlePending's transaction, wrote 40
   * MiB there in a 1M-path rotation. No caller goes on with a transaction after an error in it:
   * the error rolls the whole of it back.
   */
  transaction<T>(fn: () => T): T {
    return this.guard(() => (this.db.inTransaction ? fn() : this.db.transaction(fn)()));
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw indexError(err, this.file) ?? err;
    }
  }

  getMeta(key: string): string | undefined {
    const row = this.guard(() => this.stmt('SELECT value FROM meta WHERE key = ?').get(key)) as Row | undefined;
    return row?.value as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.guard(() => this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value));
  }

  // ---- src: the scanned source ----

  /** Forget the src rows from `id` on, and with them the indexes and groups derived from src. */
  private dropScanFrom(id: number): void {
    this.setMeta(SCAN_STATE, 'partial');
    this.guard(() => {
      this.db.exec('DROP INDEX IF EXISTS src_by_inode; DROP INDEX IF EXISTS src_by_path; DELETE FROM groups;');
      // Without a WHERE, SQLite truncates the table instead of deleting row by row.
      if (this.stmt('SELECT 1 FROM src WHERE id < ? LIMIT 1').get(id) === undefined) this.db.exec('DELETE FROM src');
      else this.stmt('DELETE FROM src WHERE id >= ?').run(id);
    });
  }

  // ---- a scan written over the last one ----
  //
  // A resumed or repeated copy scans a source that has mostly not changed, and after an
  // rsnapshot rotation most paths are still there (hourly.1/f now holds what hourly.0/f held,
  // which is the same inode wherever f did not change between the two snapshots). The entries
  // come in walk order, and so do the rows of the last scan (ids follow the walk), so the two
  // are merged like sorted lists: a row with the entry's path and the same values is left
  // alone, one with other values is updated in place, a path the last scan did not see is
  // inserted with an id between its neighbours' (walk-order.ts), and a row whose path the walk
  // passed without seeing it is deleted. The by-inode index follows the changes, and only the
  // groups of the inodes touched are derived again. (A rotation of a 1M-path tree used to
  // rewrite every row from the first renamed snapshot on, and index and group them all again.)
  //
  // When the changes are many (a source that is mostly new), updating two B-trees row by row
  // costs more than building them: the scan "diverges", deleting the rows from there on with
  // the indexes and groups, inserting the rest as a fresh scan does and indexing it all at the
  // end. A new row with no id left between its neighbours moves the rows after it instead (see
  // makeRoom), and diverges only when that cannot make room.
  //
  // nlink and atime are not compared, so they keep the value the row was last written with:
  // nothing reads nlink, and the atime a mirror gets is then the one first seen (reading the
  // source to copy it moves atimes, and comparing them would have every resumed run rewrite
  // its index).

  /**
   * scanSig(e) as bytes, in a buffer that every entry reuses: a Buffer of its own per entry came
   * from Node's pool, whose slabs a million entries' rescan kept promoting to the old generation.
   */
  private sigBytes(e: Entry): Buffer {
    const n = this.sigScratch.write(scanSig(e), 0, 'latin1');
    // A longer text than fits would compare as a change: never so (10 numbers of at most 20 digits).
    return this.sigScratch.subarray(0, n);
  }

  private readonly sigScratch = Buffer.alloc(512);

  /** inodePrefix(e) as bytes, in the same reused buffer as sigBytes(). */
  private inodeBytes(e: Entry): Buffer {
    return this.sigScratch.subarray(0, this.sigScratch.write(inodePrefix(e), 0, 'latin1'));
  }

  private rescan?: {
    /** A page of the last scan's rows (none read yet: count 0), and the next one's position in it. */
    old: OldPage;
    pos: number;
    /** No old row is left past the page. */
    oldDone: boolean;
    /** The id of the row the last entry went to. */
    prev: number;
    /** Rows inserted, updated or deleted. */
    written: number;
    /** More changes than this and the scan diverges (see above). */
    limit: number;
    diverged: boolean;
    /** src, its by-inode index and groups described one whole scan when this one began. */
    wasComplete: boolean;
    /** Under a rollback journal: the transaction writeScanned began, and the entries written in it. */
    open: boolean;
    uncommitted: number;
    /** Stubs whose row names the same inode, kept as they were (see writeScanned). */
    stubsKept: number;
    /** Rows of the page read last whose scanSig text was read by id (see sameAsOld). */
    lookups: number;
    /** Past MAX_LOOKUPS of them: pages are read with whole rows from then on. */
    wholeRows: boolean;
    /** Paths dropped go to gone (see GONE): the mirror may hold them, and gone is kept. */
    listGone: boolean;
  };

  /** Rows in gone that an insert into src must take out (see GONE): only then is it looked up. */
  private goneLive = false;

  /**
   * Start a scan over the last one: entries go to writeScanned() in scan order, then endScan().
   * `changeLimit` replaces the number of changes past which the scan diverges (for tests).
   */
  beginScan(changeLimit?: number): void {
    this.foldPlaced(); // placed rows name src ids that may be about to change
    const maxId = Number(this.guard(() => this.stmt('SELECT COALESCE(MAX(id), 0) FROM src').pluck(true).get()));
    this.rescan = {
      old: new OldPage(RESCAN_PAGE), pos: 0, oldDone: false, prev: 0, written: 0, diverged: false, open: false, uncommitted: 0, stubsKept: 0, lookups: 0, wholeRows: false,
      // Rows are about ID_GAP apart: an eighth of the last scan, at least 64k rows.
      limit: changeLimit ?? Math.max(65536, Math.floor(maxId / ID_GAP / 8)),
      wasComplete: this.getMeta(SCAN_STATE) === 'complete' && this.hasIndex('src_by_inode'),
      listGone: false,
    };
    // An empty mirror (a first copy) starts the list of paths gone from src, empty: no path
    // dropped from src can be in it.
    const mirrorEmpty = this.mirrorCountUpTo(1) === 0 && !this.hasRows('mirror_dirs');
    const goneRows = this.hasRows('gone');
    if (mirrorEmpty && (goneRows || !this.goneTracked())) {
      this.transaction(() => {
        this.db.exec('DELETE FROM gone');
        this.setMeta(GONE, 'yes');
      });
    }
    this.rescan.listGone = !mirrorEmpty && this.goneTracked();
    this.goneLive = this.rescan.listGone && goneRows;
    // Nothing to merge with, or ids past half their range: a fresh scan from the first row.
    if (maxId === 0 || maxId > MAX_ID / 2) this.divergeAt(0);
  }

  private hasRows(table: 'gone' | 'mirror_dirs'): boolean {
    return this.guard(() => this.stmt(`SELECT 1 FROM ${table} LIMIT 1`).get()) !== undefined;
  }

  /** Whether gone lists the mirror's paths that src lacks (see GONE). */
  private goneTracked(): boolean {
    return this.getMeta(GONE) === 'yes';
  }

  /**
   * Whether the scan running merges with the rows of a complete scan before it, which vouch for
   * every path it has: then a path may come as a stub (see Entry.stub).
   */
  stubsWelcome(): boolean {
    const r = this.rescan;
    return r !== undefined && r.wasComplete && !r.diverged;
  }

  /** How many stubs the scan running kept rows for without a look at their paths. */
  stubsKept(): number {
    return this.rescan?.stubsKept ?? 0;
  }

  /**
   * The next entries of the scan, in walk order. Each is read once, as the loop comes to it, and
   * none is kept after the call: the walk reuses the buffers their paths are views into.
   *
   * A stub whose path has a row naming the same inode (type, dev, ino) keeps that row as it is:
   * the path still names the inode the index has for it, and the rest of the row (size, mode,
   * times: the inode's) is checked once per inode after the scan (see Index.inodeSamples). Any
   * other stub is looked at through `resolve` (an lstat) and goes on as a full entry; undefined
   * leaves it out.
   */
  writeScanned(entries: Iterable<Entry>, resolve?: (stub: Entry) => Entry | undefined): void {
    const r = this.rescan;
    if (!r) throw new Error('writeScanned() outside beginScan()/endScan()');
    // SQLite rolls a transaction back itself after some errors (a full disk): the batches in it
    // are gone, and a caller that went on after the error would lose them unawares.
    if (r.open && !this.db.inTransaction) throw new Error('writeScanned() after the scan transaction was rolled back');
    // Under a rollback journal a commit costs four fsyncs (see journalFor): there, the batches go
    // into a transaction of their own, committed every SCAN_COMMIT_ROWS entries. A run stopped in
    // between loses the entries since the last commit.
    if (this.rollback && !this.db.inTransaction) {
      this.guard(() => this.db.exec('BEGIN'));
      r.open = true;
    }
    // A batch joins that transaction without a savepoint of its own. Under a savepoint SQLite
    // copies every page that held rows before into a statement journal before changing it: nothing
    // for a first scan's appends, but each page a rescan of a changed source updates, when it
    // resumes a first copy (also under a rollback journal, see journalFor). An error ends the run
    // with the transaction uncommitted, so a savepoint kept nothing that would be committed.
    let count = 0;
    this.transaction(() => {
      for (let e of entries) {
        count++;
        // `old` is a row's position in the page r.old.
        let old = this.oldRow(r);
        let order = old === undefined ? 1 : r.old.comparePath(old, e.path);
        while (order < 0) {
          this.dropOld(r, old!); // the walk passed its path: gone from the source
          old = this.oldRow(r);
          order = old === undefined ? 1 : r.old.comparePath(old, e.path);
        }
        if (e.stub) {
          if (order === 0 && r.old.sameInode(old!, this.inodeBytes(e))) {
            r.pos++;
            r.prev = r.old.id(old!);
            r.stubsKept++;
            continue;
          }
          if (!resolve) throw new Error('writeScanned() was given a stub and no way to resolve it');
          const full = resolve(e);
          if (full === undefined) continue; // its row, if any, goes when the walk passes it
          e = full;
        }
        if (order === 0 && this.sameAsOld(r, old!, e)) {
          r.pos++;
          r.prev = r.old.id(old!);
          continue;
        }
        this.change(r);
        // A scan that diverged (now, in change(), or before) has deleted `old` with the rest.
        if (r.diverged) old = undefined;
        if (order === 0 && old !== undefined) {
          this.touch(r, old);
          this.stmt(`UPDATE src SET type = ?, dev = ?, ino = ?, nlink = ?, size = ?, mode = ?, uid = ?, gid = ?, mtime_ns = ?,
            atime_ns = ?, birth_ns = ?, target = ?, rdev = ? WHERE id = ?`)
            .run(e.type, toDb(e.dev), toDb(e.ino), e.nlink, e.size, e.mode, e.uid, e.gid, e.mtimeNs, e.atimeNs, e.birthNs, e.target, toDb(e.rdev), r.old.id(old));
          this.touchEntry(r, e);
          r.pos++;
          r.prev = r.old.id(old);
          continue;
        }
        // A new path (or one whose row the divergence deleted), before `old` in walk order.
        let id = idBetween(r.prev, old === undefined ? undefined : r.old.id(old));
        if (id === undefined && old !== undefined) id = this.makeRoom(r, old);
        if (id === undefined) {
          // Unreachable in practice: beginScan() starts over past half the range, which leaves 2^32 rows.
          throw new LinkmirrorError('INDEX_BROKEN', `index ${this.file} ran out of row ids; remove it to start over`);
        }
        this.insertRow(id, e);
        this.touchEntry(r, e);
        r.prev = id;
      }
    });
    r.uncommitted += count;
    if (r.uncommitted >= SCAN_COMMIT_ROWS) this.commitScan(r);
  }

  /**
   * No id is left between the last row written and the next old row `old`: give `old` and the
   * rows after it new ids, spread evenly between the last row written and the row after them,
   * and the new row the middle of the room made below them. The fewest rows whose new ids are
   * ROOM_STEP apart are moved; when no ROOM_ROWS rows give that, the number that spaces them
   * widest. The rows moved count as written, and their inodes' groups are derived again (a row
   * moved may be its group's first path). The scan diverges instead only when the rows leave
   * fewer than 2 ids each, or when moving them would pass the change limit.
   *
   * New rows each take 1/16384 of the space left (see idBetween): rows added one after another
   * (names that sort by date) fill 93,848 ids of a gap before they run out, but a third row
   * added before the last one added, each rescan between the same two old rows, found none. An
   * rsnapshot rotation carries each added file through the same gaps of every hourly snapshot:
   * on the 1M benchmark tree the seventh rotation of one mirror diverged, and its scan rewrote
   * 515,271 rows.
   */
  private makeRoom(r: NonNullable<Index['rescan']>, old: number): number {
    const from = r.old.id(old);
    const ids = this.guard(() => this.stmt(`SELECT id FROM src WHERE id >= ? ORDER BY id LIMIT ${ROOM_ROWS + 1}`).pluck(true).all(from)) as number[];
    let rows = 0;
    let step = 0;
    for (let w = 1; w <= Math.min(ROOM_ROWS, ids.length); w++) {
      // The row after the first w, or past the last row of all: room up to ID_GAP beyond it.
      const end = w < ids.length ? ids[w] : ids[w - 1] + ID_GAP;
      const s = Math.floor((end - r.prev) / (w + 1));
      if (s > step) [rows, step] = [w, s];
      if (step >= ROOM_STEP) break;
    }
    if (step < 2 || r.written + rows > r.limit) {
      this.divergeAt(from, r);
      return idBetween(r.prev, undefined)!;
    }
    r.written += rows;
    const moved = ids.slice(0, rows);
    const to = moved.map((_, k) => r.prev + step * (k + 1));
    // Through negative ids, so that no row is given an id another row still has.
    for (const id of moved) this.stmt('UPDATE src SET id = ? WHERE id = ?').run(-id, id);
    moved.forEach((id, k) => this.stmt('UPDATE src SET id = ? WHERE id = ?').run(to[k], -id));
    // The moved rows are the only ones between the last row written and the row after them.
    this.stmt(`INSERT OR IGNORE INTO dirty_groups (dev, ino) SELECT dev, ino FROM src WHERE id > ? AND id <= ? AND type <> ${EntryType.dir}`)
      .run(r.prev, to[rows - 1]);
    for (let k = 0; k < rows && old + k < r.old.count; k++) r.old.setId(old + k, to[k]);
    return r.prev + Math.floor(step / 2);
  }

  /** Commit the transaction writeScanned began, if any (not one a caller holds open). */
  private commitScan(r: NonNullable<Index['rescan']>): void {
    if (r.open && this.db.inTransaction) this.guard(() => this.db.exec('COMMIT'));
    r.open = false;
    r.uncommitted = 0;
  }

  /**
   * End the scan: drop what the last scan had beyond this one; index and group what changed.
   * Returns how many src rows this scan wrote: 0 when the source is as the last complete scan saw it.
   */
  endScan(): number {
    const r = this.rescan;
    if (!r) throw new Error('endScan() without beginScan()');
    this.rescan = undefined;
    this.commitScan(r);
    this.transaction(() => {
      // Rows past the last entry: gone from the source.
      for (let old = this.oldRow(r); old !== undefined; old = this.oldRow(r)) this.dropOld(r, old);
    });
    if (r.diverged || !r.wasComplete) this.finishScan();
    else if (r.written > 0) {
      this.guard(() => this.db.exec(`DELETE FROM groups WHERE (dev, ino) IN (SELECT dev, ino FROM dirty_groups);
        INSERT INTO groups (dev, ino, first_id, paths, size)
          SELECT s.dev, s.ino, MIN(s.id), COUNT(*), MAX(s.size) FROM dirty_groups t CROSS JOIN src s INDEXED BY src_by_inode
          ON s.dev = t.dev AND s.ino = t.ino WHERE s.type <> ${EntryType.dir} GROUP BY s.dev, s.ino;`));
      this.setMeta(SCAN_STATE, 'complete');
    }
    // A scan cut off after it changed rows (SCAN_STATE 'partial') committed those changes: this
    // one finds them done. The source still differs from what the runs before it saw.
    return r.wasComplete ? r.written : Math.max(r.written, 1);
  }

  /**
   * The position in r.old of the next row of the last scan not yet merged (the next page read
   * when this one is used up), or undefined past the last one.
   */
  private oldRow(r = this.rescan!): number | undefined {
    if (r.pos === r.old.count && !r.oldDone) {
      const after = r.old.count > 0 ? r.old.id(r.old.count - 1) : r.prev;
      // Stubs are compared by inode only: the rest of a row that is not a directory's is read
      // when an lstatted entry meets it, unless a page needed that for many of its rows.
      if (r.lookups > MAX_LOOKUPS) r.wholeRows = true;
      r.lookups = 0;
      const inodeOnly = r.wasComplete && !r.diverged && !r.wholeRows;
      const blob = this.guard(() => this.stmt(oldPageSql(RESCAN_PAGE, inodeOnly)).pluck(true).get(after)) as Buffer | null;
      try {
        r.old.load(blob ?? Buffer.alloc(0));
      } catch (err) {
        throw this.unreadable(err);
      }
      r.pos = 0;
      r.oldDone = r.old.count === 0;
    }
    return r.pos < r.old.count ? r.pos : undefined;
  }

  /** Whether old row `old` has what `e` has (every compared field and the symlink target). */
  private sameAsOld(r: NonNullable<Index['rescan']>, old: number, e: Entry): boolean {
    if (r.old.complete(old)) return r.old.same(old, this.sigBytes(e), e.target);
    r.lookups++;
    const row = this.stmt(`SELECT ${SIG_SQL}, target FROM src WHERE id = ?`).raw(true).get(r.old.id(old)) as [string, Buffer | null] | undefined;
    if (!row) throw this.lostSrcRow(r.old.id(old));
    const [sig, target] = row;
    return sig === scanSig(e) && sameTarget(target, e.target);
  }

  private dropOld(r: NonNullable<Index['rescan']>, old: number): void {
    this.change(r);
    if (r.diverged) return; // divergeAt() deleted it with the rest
    this.touch(r, old);
    if (r.listGone) {
      this.stmt('INSERT OR IGNORE INTO gone (path) SELECT path FROM src WHERE id = ?').run(r.old.id(old));
      this.goneLive = true;
    }
    this.stmt('DELETE FROM src WHERE id = ?').run(r.old.id(old));
    r.pos++;
  }

  /** Count a row written; past the limit, the scan diverges at the next old row. */
  private change(r: NonNullable<Index['rescan']>): void {
    if (r.written === 0) this.setMeta(SCAN_STATE, 'partial');
    r.written++;
    if (!r.diverged && r.written > r.limit) {
      const old = this.oldRow(r);
      this.divergeAt(old === undefined ? r.prev + 1 : r.old.id(old), r);
    }
  }

  /**
   * Note an old row's inode (not a directory's: they have no group) as dirty: endScan derives its
   * group again, and the next copy pass looks at it (see markTodoGroups).
   */
  private touch(r: NonNullable<Index['rescan']>, old: number): void {
    if (r.diverged) return;
    // The first three of SCAN_SIG_COLUMNS, as stored.
    const [type, dev, ino] = r.old.columns(old);
    if (type === BigInt(EntryType.dir)) return;
    this.stmt('INSERT OR IGNORE INTO dirty_groups (dev, ino) VALUES (?, ?)').run(dev, ino);
  }

  private touchEntry(r: NonNullable<Index['rescan']>, e: Entry): void {
    if (r.diverged || e.type === EntryType.dir) return;
    this.stmt('INSERT OR IGNORE INTO dirty_groups (dev, ino) VALUES (?, ?)').run(toDb(e.dev), toDb(e.ino));
  }

  /** Delete the rows from `id` on; the rest of the scan is inserted and indexed as a fresh one. */
  private divergeAt(id: number, r = this.rescan!): void {
    r.diverged = true;
    // The rows deleted go unlisted: until a --delete pass lists them again (settleGone), which
    // mirror paths src lacks is found by comparing every one.
    if (r.listGone) this.setMeta(GONE, 'no');
    r.listGone = false;
    this.goneLive = false;
    // The changes are no longer listed: the next pass compares every path with the mirror.
    this.markMirrorUnsynced();
    r.old.load(Buffer.alloc(0));
    r.pos = 0;
    r.oldDone = true;
    if (id === 0) r.prev = 0;
    this.dropScanFrom(id);
  }

  private hasIndex(name: string): boolean {
    return this.guard(() => this.stmt(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?`).get(name)) !== undefined;
  }

  private insertRow(id: number, e: Entry): void {
    if (this.goneLive) this.stmt('DELETE FROM gone WHERE path = ?').run(e.path);
    this.stmt(
      `INSERT INTO src (id, path, type, dev, ino, nlink, size, mode, uid, gid, mtime_ns, atime_ns, birth_ns, target, rdev)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(id, e.path, e.type, toDb(e.dev), toDb(e.ino), e.nlink, e.size, e.mode, e.uid, e.gid, e.mtimeNs, e.atimeNs, e.birthNs, e.target, toDb(e.rdev));
  }

  /** Append scanned entries after the last row, ID_GAP apart, in one transaction. */
  insertSrc(entries: readonly Entry[]): void {
    this.goneLive = this.hasRows('gone');
    this.transaction(() => {
      let id = Number(this.stmt('SELECT COALESCE(MAX(id), 0) FROM src').pluck(true).get());
      for (const e of entries) this.insertRow((id += ID_GAP), e);
    });
  }

  /** After a scan: index the source by inode and derive one group row per inode. */
  finishScan(): void {
    this.guard(() => {
      this.db.exec(SRC_GROUP_INDEX);
      this.db.exec('DELETE FROM groups');
      this.db.exec(`INSERT INTO groups (dev, ino, first_id, paths, size)
        SELECT dev, ino, MIN(id), COUNT(*), MAX(size) FROM src WHERE type <> ${EntryType.dir} GROUP BY dev, ino`);
    });
    this.setMeta(SCAN_STATE, 'complete');
  }

  scanTotals(): ScanTotals {
    return this.guard(() => {
      // One pass with no GROUP BY: grouping by type sorted every row through a temp file (5.6
      // MiB written at 1M paths; the pass takes as long either way, 0.3-0.5 s).
      const t = this.stmt(
        `SELECT COUNT(*) AS paths, TOTAL(type = ${EntryType.dir}) AS dirs, TOTAL(type = ${EntryType.file}) AS files,
                TOTAL(type = ${EntryType.symlink}) AS symlinks, SUM(CASE WHEN type = ${EntryType.file} THEN size ELSE 0 END) AS bytes FROM src`,
      ).safeIntegers(true).get() as Row;
      const g = this.stmt(
        `SELECT COUNT(*) AS inodes, SUM(paths > 1) AS linked, MAX(paths) AS largest,
                SUM(CASE WHEN t.type = ${EntryType.file} THEN g.size ELSE 0 END) AS physical
         FROM groups g JOIN src t ON t.id = g.first_id`,
      ).safeIntegers(true).get() as Row;
      const [paths, dirs, files, symlinks] = [num(t.paths), Number(t.dirs), Number(t.files), Number(t.symlinks)];
      return {
        paths, dirs, files, symlinks, specials: paths - dirs - files - symlinks,
        inodes: num(g.inodes ?? 0n), linkGroups: num(g.linked ?? 0n), largestGroup: num(g.largest ?? 0n),
        logicalBytes: (t.bytes as bigint | null) ?? 0n, physicalBytes: (g.physical as bigint | null) ?? 0n,
      };
    });
  }

  /** The columns of a src row, in the order entryFrom() reads them from a raw row. */
  private static readonly SRC_COLUMNS = 'id, path, type, dev, ino, nlink, size, mode, uid, gid, mtime_ns, atime_ns, birth_ns, target, rdev';

  /** Raw rows (arrays) spare better-sqlite3 an object per row: this runs once per path. */
  private static entryFrom(r: unknown[]): StoredEntry {
    return {
      id: num(r[0]),
      path: r[1] as Buffer,
      type: num(r[2]) as EntryType,
      dev: fromDb(r[3]),
      ino: fromDb(r[4]),
      nlink: num(r[5]),
      size: r[6] as bigint,
      mode: num(r[7]),
      uid: num(r[8]),
      gid: num(r[9]),
      mtimeNs: r[10] as bigint,
      atimeNs: r[11] as bigint,
      birthNs: r[12] as bigint,
      target: (r[13] as Buffer | null) ?? null,
      rdev: fromDb(r[14]),
    };
  }

  private srcQuery(where: string): Database.Statement {
    return this.stmt(`SELECT ${Index.SRC_COLUMNS} FROM src ${where}`).safeIntegers(true).raw(true);
  }

  /**
   * Directories in scan order (parents first), or in reverse (children first), a page at a time:
   * each page is read completely before it is handed out, so the caller may write to the index
   * between pages.
   */
  *srcDirs(order: 'parents-first' | 'children-first', pageSize = 4096): Generator<StoredEntry[]> {
    const asc = order === 'parents-first';
    const s = this.srcQuery(`WHERE type = ${EntryType.dir} AND id ${asc ? '>' : '<'} ? ORDER BY id ${asc ? 'ASC' : 'DESC'} LIMIT ?`);
    yield* this.srcPages(s, asc ? 0n : 2n ** 62n, pageSize);
  }

  /** Pages of src rows by id, as entries (keyset paging; column 0 is the id). */
  private *srcPages(s: Database.Statement, first: bigint, pageSize: number): Generator<StoredEntry[]> {
    const pages = keysetPages((key) => this.guard(() => s.all(key[0], pageSize)) as unknown[][], [first], (last) => [last[0]]);
    for (const rows of pages) yield rows.map(Index.entryFrom);
  }

  /** Non-directory entries grouped by inode: all paths of one inode are consecutive, first path first. */
  srcByInode(pageSize = 4096): Generator<StoredEntry[]> {
    return this.byInodePages(pageSize);
  }

  /**
   * The same order with only what a first copy needs of every path: a link needs nothing more,
   * and each full row costs a dozen BigInts. The first path of each inode, whose content is
   * copied, comes as its whole row (see inode-pages.ts); srcById() gives the rest of any other.
   */
  *srcByInodeLean(pageSize = 4096): Generator<InodeEntry[]> {
    const s = this.stmt(LEAN_PAGE_SQL).pluck(true).safeIntegers(true);
    const pages = keysetPages(
      (key) => {
        const blob = this.guard(() => s.get(...key, pageSize)) as Buffer | null;
        try {
          return blob === null ? [] : [parseLeanPage(blob)];
        } catch (err) {
          throw this.unreadable(err);
        }
      },
      [...BEFORE_ALL_INODES, -1n],
      (page) => page.next,
    );
    for (const [page] of pages) yield page.rows; // one page object per read
  }

  private *byInodePages(pageSize: number, todoOnly = false): Generator<StoredEntry[]> {
    // Columns 0, 3 and 4 of SRC_COLUMNS are id, dev and ino: the key of the next page.
    const todo = todoOnly ? 'AND EXISTS (SELECT 1 FROM todo_groups t WHERE t.dev = src.dev AND t.ino = src.ino)' : '';
    const s = this.stmt(
      `SELECT ${Index.SRC_COLUMNS} FROM src INDEXED BY src_by_inode WHERE type <> ${EntryType.dir} AND (dev, ino, id) > (?, ?, ?) ${todo} ORDER BY dev, ino, id LIMIT ?`,
    ).safeIntegers(true).raw(true);
    const pages = keysetPages(
      (key) => this.guard(() => s.all(...key, pageSize)) as unknown[][],
      [...BEFORE_ALL_INODES, -1n],
      (last) => [last[3], last[4], last[0]],
    );
    for (const rows of pages) yield rows.map(Index.entryFrom);
  }

  /**
   * An incremental run's work list: the inodes (groups) with at least one path that the mirror
   * does not hold as it is now — another source inode or content there, or another mode or
   * owner. Kept in a temp table that srcByInodeTodo() reads and todoTotals() counts. One pass
   * in SQL instead of a million lookups from JS.
   */
  markTodoGroups(owner: boolean): void {
    // With the mirror in sync but for the dirty groups, only their paths need comparing: after
    // an rsnapshot rotation of a 1M-path tree, a few thousand groups instead of a million paths.
    const dirtyOnly = this.mirrorSynced(owner);
    return this.guard(() => {
      this.db.exec(`DROP TABLE IF EXISTS temp.todo_groups;
        CREATE TEMP TABLE todo_groups (dev INTEGER NOT NULL, ino INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;`);
      this.stmt(
        `INSERT OR IGNORE INTO todo_groups (dev, ino)
         SELECT s.dev, s.ino FROM ${dirtyOnly ? 'dirty_groups d CROSS JOIN src s INDEXED BY src_by_inode ON s.dev = d.dev AND s.ino = d.ino' : 'src s'}
         WHERE s.type <> ${EntryType.dir} AND NOT EXISTS (
           SELECT 1 FROM mirror m WHERE m.path = s.path AND m.type = s.type AND m.src_dev = s.dev AND m.src_ino = s.ino
             AND m.birth_ns = s.birth_ns AND m.size = s.size AND m.mtime_ns = s.mtime_ns AND m.mode = s.mode
             AND (? = 0 OR (m.uid = s.uid AND m.gid = s.gid)))`,
      ).run(owner ? 1 : 0);
    });
  }

  /** Followed by a WHERE on mirror's path: the groups of those mirror rows become dirty. */
  private readonly dirtyFromMirror = 'INSERT OR IGNORE INTO dirty_groups (dev, ino) SELECT src_dev, src_ino FROM mirror';

  /** Whether the mirror is known to hold every src path but those of the dirty groups (see MIRROR_SYNCED). */
  mirrorSynced(owner: boolean): boolean {
    const v = this.getMeta(MIRROR_SYNCED);
    return v === 'owner' || (v === 'modes' && !owner);
  }

  /** After a pass with failures: which paths the mirror lacks is not known (nor needs listing). */
  markMirrorUnsynced(): void {
    this.transaction(() => {
      this.setMeta(MIRROR_SYNCED, 'no');
      this.db.exec('DELETE FROM dirty_groups');
    });
  }

  /** After a complete pass without failures: the mirror holds every src path, as src says. */
  markMirrorSynced(owner: boolean): void {
    this.transaction(() => {
      this.db.exec('DELETE FROM dirty_groups');
      this.setMeta(MIRROR_SYNCED, owner ? 'owner' : 'modes');
    });
  }

  /**
   * The work list's size, the paths it leaves alone (sockets apart: they are never placed), and
   * the paths of the sockets it leaves out (the pass counts those it visits as skipped itself).
   * `sockets` false (the scan found no special file) skips their count: it reads every group.
   */
  todoTotals(sockets = true): { groups: number; cleanPaths: number; socketsLeft: number } {
    const r = this.stmt(
      `SELECT (SELECT COUNT(*) FROM todo_groups) AS groups,
              (SELECT COUNT(*) FROM src WHERE type <> ${EntryType.dir}) -
              (SELECT COUNT(*) FROM todo_groups t JOIN src s INDEXED BY src_by_inode ON s.dev = t.dev AND s.ino = t.ino WHERE s.type <> ${EntryType.dir}) AS clean`,
    ).get() as Row;
    // Left out of both terms above, the sockets off the work list are in `clean`.
    const left = sockets
      ? num(
          (this.stmt(
            `SELECT TOTAL(g.paths) AS n FROM groups g JOIN src s ON s.id = g.first_id
             WHERE s.type = ${EntryType.socket} AND NOT EXISTS (SELECT 1 FROM todo_groups t WHERE t.dev = g.dev AND t.ino = g.ino)`,
          ).get() as Row).n,
        )
      : 0;
    return { groups: num(r.groups), cleanPaths: num(r.clean) - left, socketsLeft: left };
  }

  /**
   * Groups left alone by markTodoGroups, one mirror row each (its first path's): the caller
   * checks that the destination still holds that inode, and hands back those that it does not.
   */
  *cleanGroupSamples(pageSize = 4096): Generator<SampleRow[]> {
    // Only what the sample compares and what addTodoGroups() needs: a full mirror row is a dozen
    // BigInts, and 88k of them (a 1M-path rotation) were garbage at once.
    const s = this.stmt(
      `SELECT m.path, m.type, m.src_dev, m.src_ino, m.size, m.dst_ino FROM groups g JOIN src s ON s.id = g.first_id JOIN mirror m ON m.path = s.path
       WHERE (g.dev, g.ino) > (?, ?) AND NOT EXISTS (SELECT 1 FROM todo_groups t WHERE t.dev = g.dev AND t.ino = g.ino)
       ORDER BY g.dev, g.ino LIMIT ?`,
    ).safeIntegers(true).raw(true);
    const pages = keysetPages((key) => this.guard(() => s.all(...key, pageSize)) as unknown[][], BEFORE_ALL_INODES, (last) => [last[2], last[3]]);
    for (const rows of pages) {
      yield rows.map((r) => ({
        path: r[0] as Buffer, type: num(r[1]) as EntryType, srcDev: fromDb(r[2]), srcIno: fromDb(r[3]), size: r[4] as bigint, dstIno: fromDb(r[5]),
      }));
    }
  }

  /**
   * One path per source inode after a scan that kept stubs' rows (see writeScanned): its group's
   * first path with what the index says of the inode, and whether a scan changed rows of it
   * since the last complete pass (then its rows may disagree with one another: some written
   * from this scan's lstats, some kept from the last scan's).
   */
  *inodeSamples(pageSize = 4096): Generator<InodeSample[]> {
    const s = this.stmt(
      `SELECT g.dev, g.ino, s.path, s.type, s.size, s.mode, s.uid, s.gid, s.mtime_ns, s.birth_ns, s.rdev, d.ino IS NOT NULL, s.target
       FROM groups g JOIN src s ON s.id = g.first_id LEFT JOIN dirty_groups d ON d.dev = g.dev AND d.ino = g.ino
       WHERE (g.dev, g.ino) > (?, ?) ORDER BY g.dev, g.ino LIMIT ?`,
    ).safeIntegers(true).raw(true);
    const pages = keysetPages((key) => this.guard(() => s.all(...key, pageSize)) as unknown[][], BEFORE_ALL_INODES, (last) => [last[0], last[1]]);
    for (const rows of pages) {
      yield rows.map((r) => ({
        dev: fromDb(r[0]), ino: fromDb(r[1]), path: r[2] as Buffer, type: num(r[3]) as EntryType, size: r[4] as bigint, mode: num(r[5]),
        uid: num(r[6]), gid: num(r[7]), mtimeNs: r[8] as bigint, birthNs: r[9] as bigint, rdev: fromDb(r[10]), dirty: r[11] === 1n,
        target: (r[12] as Buffer | null) ?? null,
      }));
    }
  }

  /**
   * Give every row of a source inode what `now` (an lstat of one of its paths) says of it, and
   * derive its group again; the next pass looks at it. Returns the rows changed.
   */
  refreshInode(now: InodeFacts): number {
    const v = {
      size: now.size, mode: now.mode, uid: now.uid, gid: now.gid, mtime: now.mtimeNs, birth: now.birthNs, rdev: toDb(now.rdev), target: now.target,
      dev: toDb(now.dev), ino: toDb(now.ino),
    };
    const changed = this.guard(() =>
      this.transaction(() => {
        const n = this.stmt(
          `UPDATE src SET size = @size, mode = @mode, uid = @uid, gid = @gid, mtime_ns = @mtime, birth_ns = @birth, rdev = @rdev, target = @target
           WHERE dev = @dev AND ino = @ino AND type <> ${EntryType.dir}
             AND (size <> @size OR mode <> @mode OR uid <> @uid OR gid <> @gid OR mtime_ns <> @mtime OR birth_ns <> @birth OR rdev <> @rdev
               OR target IS NOT @target)`,
        ).run(v).changes;
        if (n > 0) {
          this.stmt('UPDATE groups SET size = ? WHERE dev = ? AND ino = ?').run(now.size, toDb(now.dev), toDb(now.ino));
          this.stmt('INSERT OR IGNORE INTO dirty_groups (dev, ino) VALUES (?, ?)').run(toDb(now.dev), toDb(now.ino));
        }
        return n;
      }),
    );
    return changed;
  }

  /** Put groups on the work list after all (their sample path is not what the mirror says). */
  addTodoGroups(groups: readonly { dev: bigint; ino: bigint }[]): void {
    // Dirty too: a pass stopped before it mended them all must not leave them to the samples.
    const puts = ['todo_groups', 'dirty_groups'].map((t) => this.stmt(`INSERT OR IGNORE INTO ${t} (dev, ino) VALUES (?, ?)`));
    this.transaction(() => {
      for (const g of groups) for (const put of puts) put.run(toDb(g.dev), toDb(g.ino));
    });
  }

  /** Like srcByInode(), for the groups on markTodoGroups()'s work list only. */
  srcByInodeTodo(pageSize = 4096): Generator<StoredEntry[]> {
    return this.byInodePages(pageSize, true);
  }

  /** The manifest's tables (hashes), through this connection. */
  manifestStore(): ManifestStore {
    return ManifestStore.sharing(this.file, this.db);
  }

  /** A page of src rows that does not parse (see old-rows.ts): something else wrote the index. */
  private unreadable(err: unknown): LinkmirrorError {
    return new LinkmirrorError('INDEX_BROKEN', `index ${this.file} holds source rows linkmirror cannot read (${(err as Error).message}); remove it to start over`, { cause: err });
  }

  /** A src row the running pass relies on is gone: the index changed under it. */
  private lostSrcRow(id: number): LinkmirrorError {
    return new LinkmirrorError('INDEX_BROKEN', `index ${this.file} lost source row ${id} during the run; run the same command again`);
  }

  srcById(id: number): StoredEntry {
    const r = this.guard(() => this.srcQuery('WHERE id = ?').get(id)) as unknown[] | undefined;
    if (!r) throw this.lostSrcRow(id);
    return Index.entryFrom(r);
  }

  /** All source entries in scan order (for verify and listings). */
  *srcAll(pageSize = 4096): Generator<StoredEntry[]> {
    yield* this.srcPages(this.srcQuery('WHERE id > ? ORDER BY id LIMIT ?'), 0n, pageSize);
  }

  srcByPath(p: Buffer): StoredEntry | undefined {
    const r = this.guard(() => this.srcQuery('WHERE path = ?').get(p)) as unknown[] | undefined;
    return r ? Index.entryFrom(r) : undefined;
  }

  /**
   * What a copy still has to do, from the scan and what the mirror already holds. A path is
   * done when the mirror has it with the same source inode and identity (birth time, size,
   * mtime); an inode needs its content written when no mirror path holds it yet.
   */
  planTotals(linkMax: number, blockSize: bigint, perPath = true): PlanTotals {
    const max = BigInt(Number.isFinite(linkMax) && linkMax > 0 ? Math.floor(linkMax) : 2 ** 62);
    return this.guard(() => {
      // Whether the mirror lacks a group's content, looked up once per group (MATERIALIZED: a
      // CTE that SQLite flattens into the query looks it up again in each SUM).
      const g = this.stmt(
        `WITH c AS MATERIALIZED (
           SELECT g.size, g.paths, t.type, ${this.contentMissing()} AS missing
           FROM groups g JOIN src t ON t.id = g.first_id)
         SELECT COUNT(*) AS inodes,
                SUM(CASE WHEN type = ${EntryType.file} THEN size ELSE 0 END) AS physical,
                SUM(CASE WHEN type = ${EntryType.file} THEN size * paths ELSE 0 END) AS logical,
                SUM((paths - 1) / ?) AS splits,
                SUM(CASE WHEN type = ${EntryType.file} THEN size * ((paths - 1) / ?) ELSE 0 END) AS split_bytes,
                SUM(missing) AS to_copy,
                SUM(CASE WHEN type = ${EntryType.file} AND missing THEN (size + ? - 1) / ? * ? ELSE 0 END) AS to_copy_blocks,
                SUM(CASE WHEN type = ${EntryType.file} AND missing THEN size ELSE 0 END) AS to_copy_bytes
         FROM c`,
      ).safeIntegers(true).get(max, max, blockSize, blockSize, blockSize) as Row;
      // A run that resumes a first copy does not count its paths to place (see perPath): the ones
      // the mirror has no row for yet are what its index grows by.
      const resuming = !perPath && this.getMeta(COPIED_AT) === undefined;
      const p = this.stmt(
        `SELECT COUNT(*) AS paths,
                SUM(s.type = ${EntryType.dir}) AS dirs,
                SUM(s.type = ${EntryType.dir} AND length(s.path) > 0 AND NOT EXISTS (SELECT 1 FROM mirror_dirs d WHERE d.path = s.path)) AS dirs_to_make,
                ${perPath ? `SUM(s.type NOT IN (${EntryType.dir}, ${EntryType.socket}) AND NOT EXISTS (SELECT 1 FROM mirror m WHERE m.path = s.path AND ${sameContentSql('m', 's')}))` : '0'} AS todo,
                ${perPath || resuming ? `SUM(CASE WHEN s.type <> ${EntryType.dir} THEN length(s.path) ELSE 0 END)` : '0'} AS path_bytes
         FROM src s`,
      ).safeIntegers(true).get() as Row;
      const big = (v: unknown) => (v as bigint | null) ?? 0n;
      const [paths, dirs, todo] = [num(p.paths ?? 0n), num(p.dirs ?? 0n), num(p.todo ?? 0n)];
      // The paths to place have the bytes of path of the average non-directory path: counting
      // theirs exactly would look each one up in the mirror a second time.
      const growing = resuming ? Math.max(0, paths - dirs - this.mirrorCount()) : todo;
      const growingPathBytes = paths > dirs ? (big(p.path_bytes) * BigInt(growing)) / BigInt(paths - dirs) : 0n;
      return {
        paths,
        dirs,
        pathsToPlace: todo,
        dirsToMake: num(p.dirs_to_make ?? 0n),
        inodes: num(g.inodes ?? 0n),
        inodesToCopy: num(g.to_copy ?? 0n),
        bytesToCopy: big(g.to_copy_bytes),
        blocksToCopy: big(g.to_copy_blocks),
        physicalBytes: big(g.physical),
        logicalBytes: big(g.logical),
        expectedSplits: num(g.splits ?? 0n),
        splitBytes: big(g.split_bytes),
        indexBytes: perPath || resuming ? indexGrowth(growing, growingPathBytes, num(g.to_copy ?? 0n)) : 0n,
      };
    });
  }

  /**
   * Regular files of at least `minSize` bytes whose content the copy has still to write, as
   * planTotals() counts them: their first paths and sizes, a page at a time (see copy/holes.ts).
   */
  *largeFilesToCopy(minSize: bigint, pageSize = 4096): Generator<{ path: Buffer; size: bigint }[]> {
    const s = this.stmt(
      `SELECT g.dev, g.ino, t.path, g.size FROM groups g JOIN src t ON t.id = g.first_id
       WHERE (g.dev, g.ino) > (?, ?) AND g.size >= ? AND t.type = ${EntryType.file} AND ${this.contentMissing()}
       ORDER BY g.dev, g.ino LIMIT ?`,
    ).safeIntegers(true);
    type R = { dev: bigint; ino: bigint; path: Buffer; size: bigint };
    yield* keysetPages((key) => this.guard(() => s.all(key[0], key[1], minSize, pageSize)) as R[], BEFORE_ALL_INODES, (last) => [last.dev, last.ino]);
  }

  /**
   * SQL: whether the mirror lacks the content of group `g` (first path `t`); looked up for the
   * dirty groups only when the mirror is in sync but for them (see MIRROR_SYNCED).
   */
  private contentMissing(): string {
    const dirtyOnly = this.mirrorSynced(false) ? 'EXISTS (SELECT 1 FROM dirty_groups d WHERE d.dev = g.dev AND d.ino = g.ino) AND' : '';
    return `t.type <> ${EntryType.socket} AND ${dirtyOnly} NOT EXISTS (SELECT 1 FROM mirror m WHERE ${sameContentSql('m', 't')})`;
  }

  // ---- mirror: what the destination holds ----

  putMirror(rows: readonly MirrorRow[]): void {
    if (rows.length === 0) return;
    const put = this.stmt(
      `INSERT INTO mirror (path, type, src_dev, src_ino, birth_ns, size, mtime_ns, mode, uid, gid, dst_ino, written)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET type = excluded.type, src_dev = excluded.src_dev, src_ino = excluded.src_ino,
         birth_ns = excluded.birth_ns, size = excluded.size, mtime_ns = excluded.mtime_ns, mode = excluded.mode,
         uid = excluded.uid, gid = excluded.gid, dst_ino = excluded.dst_ino, written = excluded.written`,
    );
    this.transaction(() => {
      for (const m of rows) {
        put.run(m.path, m.type, toDb(m.srcDev), toDb(m.srcIno), m.birthNs, m.size, m.mtimeNs, m.mode, m.uid, m.gid, toDb(m.dstIno), m.written ? 1 : 0);
      }
    });
  }

  /** Record paths placed by this pass: the src row's id and the destination inode now there. */
  putPlaced(rows: Iterable<PlacedRow> & { readonly length: number }): void {
    if (rows.length === 0) return;
    // PLACED_PER_INSERT rows per statement, in their order (the fold lets the last of a path win):
    // a 1M-path first copy puts 981k rows, and one call per row cost its placing thread
    // 0.68-0.70 s against 0.27-0.31 s this way (a standalone script, the same rows).
    const putMany = this.stmt(`INSERT INTO placed (src_id, dst_ino, written) VALUES ${Array(PLACED_PER_INSERT).fill('(?, ?, ?)').join(', ')}`);
    const put = this.stmt('INSERT INTO placed (src_id, dst_ino, written) VALUES (?, ?, ?)');
    const putHash = this.stmt(PUT_HASH_OF_SRC_SQL);
    const args: unknown[] = [];
    this.transaction(() => {
      for (const r of rows) {
        args.push(r.srcId, toDb(r.dstIno), r.written ? 1 : 0);
        if (args.length === 3 * PLACED_PER_INSERT) {
          putMany.run(args);
          args.length = 0;
        }
        if (r.hash) putHash.run(r.hash, r.srcId);
      }
      for (let i = 0; i < args.length; i += 3) put.run(args[i], args[i + 1], args[i + 2]);
    });
  }

  /**
   * Move placed rows into mirror, taking path, identity and metadata from their src rows, in
   * scan order (which is nearly path order, so the inserts append); see placedAsMirror().
   * When the fold brings many rows (a first copy, or a resume after an early kill) the by-source
   * index is built afterwards with one sort instead of row by row: random index inserts rewrite
   * index pages again and again, through the WAL.
   */
  foldPlaced(): number {
    return this.transaction(() => {
      const placed = Number((this.stmt('SELECT COUNT(*) AS n FROM placed').get() as Row).n);
      if (placed === 0) return 0;
      // placed >= mirror rows / 4, counting no further than that takes.
      const rebuild = this.mirrorCountUpTo(4 * placed + 1) <= 4 * placed;
      if (rebuild) this.db.exec('DROP INDEX IF EXISTS mirror_by_src');
      const n = this.stmt(
        `INSERT INTO mirror (path, type, src_dev, src_ino, birth_ns, size, mtime_ns, mode, uid, gid, dst_ino, written)
         ${placedAsMirror('main')}
         ON CONFLICT (path) DO UPDATE SET type = excluded.type, src_dev = excluded.src_dev, src_ino = excluded.src_ino,
           birth_ns = excluded.birth_ns, size = excluded.size, mtime_ns = excluded.mtime_ns, mode = excluded.mode,
           uid = excluded.uid, gid = excluded.gid, dst_ino = excluded.dst_ino, written = excluded.written`,
      ).run().changes;
      this.db.exec('DELETE FROM placed');
      if (rebuild) this.db.exec(MIRROR_SRC_INDEX);
      return n;
    });
  }

  /**
   * A path a pass failed to place (a folder in its way, say). Its row stays, as the mirror may
   * still hold something there that --delete finds through it, but it no longer matches any
   * source row (no file has size -1): the next pass, plain or not, places the path again. A
   * plain pass that followed the failed one would otherwise see a row as src says, look at one
   * other path of the group, and leave this one as it is.
   */
  mirrorPathFailed(p: Buffer): void {
    this.transaction(() => {
      this.stmt(`${this.dirtyFromMirror} WHERE path = ?`).run(p);
      this.stmt('UPDATE mirror SET size = -1 WHERE path = ?').run(p);
    });
  }

  /** Forget mirror rows: a path and, for a directory, everything below it. */
  dropMirror(paths: readonly Buffer[]): void {
    if (paths.length === 0) return;
    // The groups of the rows dropped are dirty: the next pass must see that their paths are gone.
    const statements = [this.dirtyFromMirror, 'DELETE FROM mirror', 'DELETE FROM mirror_dirs'].map((sql) => ({
      one: this.stmt(`${sql} WHERE path = ?`),
      below: this.stmt(`${sql} WHERE path >= ? AND path < ?`),
    }));
    this.transaction(() => {
      for (const p of paths) {
        for (const { one, below } of statements) {
          one.run(p);
          // Children sort between "p/" and "p0" ('0' is the byte after '/').
          below.run(Buffer.concat([p, Buffer.from('/')]), Buffer.concat([p, Buffer.from('0')]));
        }
      }
    });
  }

  // ---- pending: staged files waiting for their rename ----

  pendingCount(): number {
    const r = this.guard(() => this.stmt('SELECT COUNT(*) AS n FROM pending').get()) as Row;
    return Number(r.n);
  }

  /** The source's top folder as the last scan recorded it (its row's path is empty); undefined before any scan. */
  srcRoot(): StoredEntry | undefined {
    const r = this.guard(() => this.srcQuery('WHERE path = ?').get(Buffer.alloc(0))) as unknown[] | undefined;
    return r ? Index.entryFrom(r) : undefined;
  }

  /**
   * The source's filesystem came back under another device number: every record of its inodes
   * takes the new one (src, groups, mirror, hashes, the dirty and staged lists). Rows of other
   * filesystems (mounts inside the source) keep theirs. The number of src rows moved: 0, and
   * nothing changed, when rows of the new number are there already (a filesystem mounted inside
   * the source had it), whose keys the move would collide with.
   */
  remapSourceDevice(from: bigint, to: bigint): number {
    const [a, b] = [toDb(to), toDb(from)];
    return this.transaction(() => {
      if (this.stmt('SELECT 1 FROM src WHERE dev = ? LIMIT 1').get(a) !== undefined) return 0;
      const n = this.stmt('UPDATE src SET dev = ? WHERE dev = ?').run(a, b).changes;
      for (const sql of [
        'UPDATE groups SET dev = ? WHERE dev = ?',
        'UPDATE mirror SET src_dev = ? WHERE src_dev = ?',
        'UPDATE hashes SET dev = ? WHERE dev = ?',
        'UPDATE dirty_groups SET dev = ? WHERE dev = ?',
        'UPDATE pending SET src_dev = ? WHERE src_dev = ?',
      ]) this.stmt(sql).run(a, b);
      return n;
    });
  }

  clearPending(): void {
    this.guard(() => this.db.exec('DELETE FROM pending'));
  }

  /** Record staged files, each with the path, identity and metadata of its src row. */
  addPending(items: readonly StagedRow[]): void {
    if (items.length === 0) return;
    const ins = this.stmt(
      // OR FAIL, which for one row is what the default ABORT does: an INSERT ... SELECT that may
      // abort is given a statement journal (20 MiB of temp file writes in a 1M-path rotation).
      `INSERT OR FAIL INTO pending (tmp, path, type, src_dev, src_ino, birth_ns, size, mtime_ns, mode, uid, gid, dst_ino, written)
       SELECT ?, path, type, dev, ino, birth_ns, size, mtime_ns, mode, uid, gid, ?, ? FROM src WHERE id = ?`,
    );
    this.transaction(() => {
      for (const s of items) {
        if (ins.run(s.tmp, toDb(s.dstIno), s.written ? 1 : 0, s.srcId).changes === 0) {
          throw this.lostSrcRow(s.srcId);
        }
      }
    });
  }

  /** Staged files, a page at a time, in path order (the caller removes each page as it is done). */
  *pendingPages(pageSize = 1024): Generator<{ tmp: string; row: MirrorRow }[]> {
    const s = this.stmt('SELECT * FROM pending WHERE tmp > ? ORDER BY tmp LIMIT ?').safeIntegers(true);
    const pages = keysetPages((key) => this.guard(() => s.all(key[0], pageSize)) as Row[], [''], (last) => [last.tmp]);
    for (const rows of pages) yield rows.map((r) => ({ tmp: r.tmp as string, row: Index.mirrorFrom(r) }));
  }

  /** Move staged files that are in place to the mirror table and forget failed ones, in one transaction. */
  settlePending(done: readonly { tmp: string; row: MirrorRow }[], failed: readonly string[]): void {
    const del = this.stmt('DELETE FROM pending WHERE tmp = ?');
    this.transaction(() => {
      this.putMirror(done.map((d) => d.row));
      for (const d of done) del.run(d.tmp);
      for (const tmp of failed) del.run(tmp);
    });
  }

  /** Source lookups by path: built once (it lasts until the source changes), for --delete. */
  indexSrcPaths(): void {
    this.guard(() => this.db.exec(SRC_PATH_INDEX));
  }

  /** Record directories as made in the destination. */
  putMirrorDirs(paths: readonly Buffer[]): void {
    if (paths.length === 0) return;
    const put = this.stmt('INSERT OR IGNORE INTO mirror_dirs (path) VALUES (?)');
    this.transaction(() => {
      for (const p of paths) put.run(p);
    });
  }

  /**
   * Mirror paths (files and directories) that the current scan does not have. Counted as the
   * mirror's rows less those a source path finds through the mirror's own key (paths are unique
   * on both sides), so that a run without --delete needs no by-path index of the source: building
   * it wrote some 200 MiB at 1M paths, the whole of a rerun's writes when nothing had changed.
   */
  mirrorNotInSrcCount(): number {
    if (this.goneTracked()) {
      return num(this.guard(() => this.stmt(`SELECT COUNT(*) FROM gone g WHERE ${GONE_HELD}`).pluck(true).safeIntegers(true).get()));
    }
    const r = this.guard(() =>
      this.stmt(
        `SELECT (SELECT COUNT(*) FROM mirror) - (SELECT COUNT(*) FROM src s WHERE EXISTS (SELECT 1 FROM mirror m WHERE m.path = s.path))
              + (SELECT COUNT(*) FROM mirror_dirs) - (SELECT COUNT(*) FROM src s WHERE EXISTS (SELECT 1 FROM mirror_dirs d WHERE d.path = s.path)) AS n`,
      ).get(),
    ) as Row;
    return Number(r.n);
  }

  /**
   * Mirror paths (files and directories) that the current scan does not have, in path order, a
   * page at a time (each page read whole, so the caller may forget rows between pages).
   *
   * While gone is kept (see GONE), they are the paths it lists that the mirror holds: the scans
   * listed each path they dropped from src, and every mirror path was a src path when it was
   * placed. Otherwise every mirror path is looked up in src: 0.9 s of a 1M-path rotation, where
   * the rotation's gone lists some 1,800 paths.
   */
  *mirrorNotInSrc(pageSize = 4096): Generator<Buffer[]> {
    const s = this.stmt(
      this.goneTracked()
        // Checked against src too, though gone holds no path src has: the list is what gets deleted.
        ? `SELECT path FROM gone g WHERE g.path > @after AND ${GONE_HELD} AND NOT EXISTS (SELECT 1 FROM src s WHERE s.path = g.path)
           ORDER BY path LIMIT @limit`
        : `SELECT path FROM mirror m WHERE m.path > @after AND NOT EXISTS (SELECT 1 FROM src s WHERE s.path = m.path)
           UNION
           SELECT path FROM mirror_dirs d WHERE d.path > @after AND NOT EXISTS (SELECT 1 FROM src s WHERE s.path = d.path)
           ORDER BY path LIMIT @limit`,
    ).pluck(true);
    const read = (key: readonly unknown[]) => this.guard(() => s.all({ after: key[0], limit: pageSize })) as Buffer[];
    const pages = keysetPages(read, [Buffer.alloc(0)], (last) => [last]);
    for (const page of pages) yield page;
  }

  /** Forget these paths' mirror rows (files and directories), and nothing below them. */
  forgetMirrorPaths(paths: readonly Buffer[]): void {
    const statements = [this.dirtyFromMirror, 'DELETE FROM mirror', 'DELETE FROM mirror_dirs'].map((sql) => this.stmt(`${sql} WHERE path = ?`));
    this.transaction(() => {
      for (const p of paths) for (const del of statements) del.run(p);
    });
  }

  /** The source type at a path, or undefined when the scan has none there. */
  srcTypeAt(p: Buffer): EntryType | undefined {
    const r = this.guard(() => this.stmt('SELECT type FROM src WHERE path = ?').pluck(true).get(p)) as number | undefined;
    return r === undefined ? undefined : (r as EntryType);
  }

  /**
   * After a --delete pass: gone keeps only the paths the mirror still holds (those that could not
   * be removed). When it was not kept, it is made anew from every mirror path that src lacks
   * (src_by_path is there: --delete built it), and kept from now on.
   */
  settleGone(): void {
    this.transaction(() => {
      if (this.goneTracked()) {
        this.stmt(`DELETE FROM gone AS g WHERE NOT ${GONE_HELD}`).run();
        return;
      }
      this.db.exec(`DELETE FROM gone;
        INSERT OR IGNORE INTO gone (path)
          SELECT path FROM mirror m WHERE NOT EXISTS (SELECT 1 FROM src s WHERE s.path = m.path)
          UNION ALL
          SELECT path FROM mirror_dirs d WHERE NOT EXISTS (SELECT 1 FROM src s WHERE s.path = d.path);`);
      this.setMeta(GONE, 'yes');
    });
  }

  /** Forget mirror rows of paths the current scan does not have (after --delete removed them). */
  dropMirrorNotInSrc(): void {
    this.guard(() => {
      this.stmt(`${this.dirtyFromMirror} WHERE NOT EXISTS (SELECT 1 FROM src s WHERE s.path = mirror.path)`).run();
      this.stmt('DELETE FROM mirror WHERE NOT EXISTS (SELECT 1 FROM src s WHERE s.path = mirror.path)').run();
      this.stmt('DELETE FROM mirror_dirs WHERE NOT EXISTS (SELECT 1 FROM src s WHERE s.path = mirror_dirs.path)').run();
    });
  }

  srcHasPath(p: Buffer): boolean {
    return this.srcTypeAt(p) !== undefined;
  }

  /** Fill this index's mirror table from another index file, opened read-only (for dry runs). */
  copyMirrorFrom(file: string): void {
    this.guard(() => {
      this.db.prepare('ATTACH DATABASE ? AS other').run(file);
      try {
        this.db.exec('DELETE FROM mirror; INSERT INTO mirror SELECT * FROM other.mirror;');
        // Tables an older index may lack.
        const has = (table: string) => this.db.prepare(`SELECT 1 FROM other.sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;
        // An interrupted run's placed rows, not folded yet (that needs a write, and a dry run makes none).
        if (has('placed')) {
          this.db.exec(
            `INSERT OR REPLACE INTO mirror (path, type, src_dev, src_ino, birth_ns, size, mtime_ns, mode, uid, gid, dst_ino, written)
             ${placedAsMirror('other')}`,
          );
        }
        // The directories it made: the plan counts only the others as space needed.
        if (has('mirror_dirs')) this.db.exec('DELETE FROM mirror_dirs; INSERT INTO mirror_dirs SELECT path FROM other.mirror_dirs;');
      } finally {
        this.db.exec('DETACH DATABASE other');
      }
    });
  }

  /**
   * The manifest's hash of a source inode's content, when it was recorded for the inode as `e`
   * describes it (the same birth time, size and mtime); undefined otherwise.
   */
  hashOf(e: Pick<Entry, 'dev' | 'ino' | 'birthNs' | 'size' | 'mtimeNs'>): Buffer | undefined {
    const r = this.guard(() =>
      this.stmt('SELECT hash FROM hashes WHERE dev = ? AND ino = ? AND birth_ns = ? AND size = ? AND mtime_ns = ?').get(toDb(e.dev), toDb(e.ino), e.birthNs, e.size, e.mtimeNs),
    ) as Row | undefined;
    return r?.hash as Buffer | undefined;
  }

  /**
   * Whether the copies put what is at `p` in the destination: a folder they made, or a file,
   * link or symlink row of that destination inode (another inode there was put by someone else).
   */
  mirrorHolds(p: Buffer, dstIno: bigint, dir: boolean): boolean {
    const sql = dir ? 'SELECT 1 FROM mirror_dirs WHERE path = ?' : 'SELECT 1 FROM mirror WHERE path = ? AND dst_ino = ?';
    return this.guard(() => this.stmt(sql).get(...(dir ? [p] : [p, toDb(dstIno)]))) !== undefined;
  }

  mirrorByPath(p: Buffer): MirrorRow | undefined {
    const r = this.guard(() => this.stmt('SELECT * FROM mirror WHERE path = ?').safeIntegers(true).get(p)) as Row | undefined;
    return r ? Index.mirrorFrom(r) : undefined;
  }

  /**
   * The destination inodes that hold a source inode's content — one row each, so a group split
   * at the link limit lists every part — with a path that reaches it.
   */
  mirrorInodesOf(dev: bigint, ino: bigint): MirrorRow[] {
    const rows = this.guard(() =>
      this.stmt(
        `SELECT path, type, src_dev, src_ino, birth_ns, size, mtime_ns, mode, uid, gid, dst_ino, MAX(written) AS written
         FROM mirror WHERE src_dev = ? AND src_ino = ? GROUP BY dst_ino, birth_ns, size, mtime_ns`,
      ).safeIntegers(true).all(toDb(dev), toDb(ino)),
    ) as Row[];
    return rows.map(Index.mirrorFrom);
  }

  /** Up to `limit` paths recorded on one destination inode of a source inode. */
  mirrorPathsOn(dev: bigint, ino: bigint, dstIno: bigint, limit: number): MirrorRow[] {
    const rows = this.guard(() =>
      this.stmt('SELECT * FROM mirror WHERE src_dev = ? AND src_ino = ? AND dst_ino = ? LIMIT ?')
        .safeIntegers(true)
        .all(toDb(dev), toDb(ino), toDb(dstIno), limit),
    ) as Row[];
    return rows.map(Index.mirrorFrom);
  }

  /**
   * Up to 2 × `each` mirror rows (path and destination inode): the first and the last in path
   * order, two ends of the tree (see copy/mirror-moved.ts). Two descents of the B-tree.
   */
  mirrorEnds(each: number): { path: Buffer; dstIno: bigint }[] {
    const read = (order: string) =>
      this.guard(() => this.stmt(`SELECT path, dst_ino FROM mirror ORDER BY path ${order} LIMIT ?`).safeIntegers(true).all(each)) as Row[];
    const rows = [...read('ASC'), ...read('DESC')];
    const seen = new Set<string>();
    return rows
      .filter((r) => !seen.has((r.path as Buffer).toString('latin1')) && seen.add((r.path as Buffer).toString('latin1')))
      .map((r) => ({ path: r.path as Buffer, dstIno: fromDb(r.dst_ino) }));
  }

  mirrorCount(): number {
    const r = this.guard(() => this.stmt('SELECT COUNT(*) AS n FROM mirror').get()) as Row;
    return Number(r.n);
  }

  /**
   * min(mirrorCount(), limit), reading at most `limit` rows: COUNT(*) reads the whole table (on a
   * 1M-path mirror, 113 MB of B-tree pages, cold after a night), where the callers only ask
   * whether there is any row, or more rows than some number.
   */
  mirrorCountUpTo(limit: number): number {
    const r = this.guard(() => this.stmt('SELECT COUNT(*) AS n FROM (SELECT 1 FROM mirror LIMIT ?)').get(limit)) as Row;
    return Number(r.n);
  }

  private static mirrorFrom(r: Row): MirrorRow {
    return {
      path: r.path as Buffer,
      type: num(r.type) as EntryType,
      srcDev: fromDb(r.src_dev),
      srcIno: fromDb(r.src_ino),
      birthNs: r.birth_ns as bigint,
      size: r.size as bigint,
      mtimeNs: r.mtime_ns as bigint,
      mode: num(r.mode),
      uid: num(r.uid),
      gid: num(r.gid),
      dstIno: fromDb(r.dst_ino),
      written: num(r.written) === 1,
    };
  }
}
