// The manifest's content hashes, in a mirror's own index (DST/.linkmirror/index.db): one row
// per source inode in the `hashes` table, valid while the source inode keeps the identity it
// was hashed with (birth time, size, mtime). With the index's `src` table (every path's type,
// mode, owner, mtime, size, symlink target and inode) and `mirror` table (which destination
// inode holds each path, splits included) it is what `verify DST` checks a mirror against.
//
// Its queries live here, apart from index-db.ts, and run on the copy's own connection (see
// Index.manifestStore), between the copy's passes: never inside one of its transactions.
import Database from 'better-sqlite3';
import { BEFORE_ALL_INODES, keysetPages } from './keyset.js';
import { indexError } from './sqlite-error.js';
import { EntryType } from './entry.js';

type Row = Record<string, unknown>;

/** A source inode whose content the manifest lacks, and a destination path that holds it. */
export interface ManifestTodo {
  /** As stored: signed 64-bit. */
  dev: bigint;
  ino: bigint;
  birthNs: bigint;
  size: bigint;
  mtimeNs: bigint;
  path: Buffer;
  /** The destination inode the copy recorded at that path (signed 64-bit, as stored). */
  dstIno: bigint;
  /** The group's first path in the source. */
  srcPath: Buffer;
}

export interface ManifestHash {
  dev: bigint;
  ino: bigint;
  birthNs: bigint;
  size: bigint;
  mtimeNs: bigint;
  hash: Buffer;
}

// The mirror path to hash for a group: its first path when the mirror holds it with this content
// (nearly always: one lookup by primary key), else any path of the group, one written anew first.
// COALESCE stops at its first non-null argument, so the search by source inode, which visits
// every path of the group, runs only for the rest.
const SAME = (m: string) => `${m}.src_dev = g.dev AND ${m}.src_ino = g.ino AND ${m}.birth_ns = s.birth_ns AND ${m}.size = s.size AND ${m}.mtime_ns = s.mtime_ns`;
const TODO_FROM = `
  FROM groups g JOIN src s ON s.id = g.first_id
  JOIN mirror m ON m.path = COALESCE(
    (SELECT m1.path FROM mirror m1 WHERE m1.path = s.path AND ${SAME('m1')}),
    (SELECT m2.path FROM mirror m2 WHERE ${SAME('m2')} ORDER BY m2.written DESC LIMIT 1))
  WHERE s.type = ${EntryType.file} AND NOT EXISTS (SELECT 1 FROM hashes h WHERE h.dev = g.dev AND h.ino = g.ino)`;

/**
 * The hash of a copy's content (?1), under the source identity its src row (id ?2) gives it: for
 * the digests the copy thread makes as it writes (see Index.putPlaced, copy/copy-thread.ts).
 */
export const PUT_HASH_OF_SRC_SQL = `INSERT OR REPLACE INTO hashes (dev, ino, birth_ns, size, mtime_ns, hash)
  SELECT dev, ino, birth_ns, size, mtime_ns, ? FROM src WHERE id = ? AND type = ${EntryType.file}`;

export class ManifestStore {
  private constructor(
    readonly file: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * The manifest tables of an open index, through that index's connection: it holds the file
   * exclusively (see Index.open), so a second connection could not read it.
   */
  static sharing(file: string, db: Database.Database): ManifestStore {
    return new ManifestStore(file, db);
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw indexError(err, this.file) ?? err;
    }
  }

  /** Forget hashes of source inodes that are gone or changed since they were hashed. */
  prune(): number {
    return this.guard(
      () =>
        this.db.prepare(
          `DELETE FROM hashes WHERE NOT EXISTS (
             SELECT 1 FROM groups g JOIN src s ON s.id = g.first_id
             WHERE g.dev = hashes.dev AND g.ino = hashes.ino
               AND s.birth_ns = hashes.birth_ns AND s.size = hashes.size AND s.mtime_ns = hashes.mtime_ns)`,
        ).run().changes,
    );
  }

  /** Source inodes (regular files) placed in the mirror whose content has no hash yet. */
  todoTotals(): { inodes: number; bytes: bigint } {
    const r = this.guard(() => this.db.prepare(`SELECT COUNT(*) AS n, SUM(s.size) AS bytes ${TODO_FROM}`).safeIntegers(true).get()) as Row;
    return { inodes: Number(r.n as bigint), bytes: (r.bytes as bigint | null) ?? 0n };
  }

  /** The same, in (dev, ino) order, a page at a time (read completely before it is handed out). */
  *todoPages(pageSize = 1024): Generator<ManifestTodo[]> {
    const s = this.db.prepare(
      `SELECT g.dev, g.ino, s.birth_ns, s.size, s.mtime_ns, m.path, m.dst_ino, s.path AS src_path ${TODO_FROM} AND (g.dev, g.ino) > (?, ?)
       ORDER BY g.dev, g.ino LIMIT ?`,
    ).safeIntegers(true);
    const pages = keysetPages((key) => this.guard(() => s.all(...key, pageSize)) as Row[], BEFORE_ALL_INODES, (last) => [last.dev, last.ino]);
    for (const rows of pages) {
      yield rows.map((r) => ({
        dev: r.dev as bigint, ino: r.ino as bigint, birthNs: r.birth_ns as bigint, size: r.size as bigint,
        mtimeNs: r.mtime_ns as bigint, path: r.path as Buffer, dstIno: r.dst_ino as bigint, srcPath: r.src_path as Buffer,
      }));
    }
  }

  putHashes(rows: readonly ManifestHash[]): void {
    if (rows.length === 0) return;
    const put = this.db.prepare(
      `INSERT INTO hashes (dev, ino, birth_ns, size, mtime_ns, hash) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (dev, ino) DO UPDATE SET birth_ns = excluded.birth_ns, size = excluded.size, mtime_ns = excluded.mtime_ns, hash = excluded.hash`,
    );
    this.guard(() =>
      this.db.transaction(() => {
        for (const h of rows) put.run(h.dev, h.ino, h.birthNs, h.size, h.mtimeNs, h.hash);
      })(),
    );
  }

  hashCount(): number {
    return Number((this.guard(() => this.db.prepare('SELECT COUNT(*) AS n FROM hashes').safeIntegers(true).get()) as Row).n as bigint);
  }

  getMeta(key: string): string | undefined {
    const r = this.guard(() => this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key)) as Row | undefined;
    return r?.value as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.guard(() => this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value));
  }
}
