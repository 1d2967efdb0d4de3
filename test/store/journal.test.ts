// Which journal the index uses (see journalFor in src/store/index-db.ts): a rollback journal
// until a first copy has completed (its rows go into new pages, which such a journal does not
// copy), the WAL after that. Checked on the file itself — its header says which mode
// it was left in — and on the bytes the kernel counted as written; and a kill in the middle of
// a first scan's transaction leaves a hot journal that the next open rolls back.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EntryType, type Entry } from '../../src/store/entry.js';
import { COPIED_AT, Index } from '../../src/store/index-db.js';
import { journalOf } from '../helpers/mirror-state.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const DIST_INDEX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/store/index-db.js');

/** n file entries under one folder, in walk order, each its own inode. */
function entries(n: number, from = 0): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i < from + n; i++) {
    out.push({
      path: Buffer.from(`snap/f${String(i).padStart(8, '0')}`), type: EntryType.file, dev: 7n, ino: BigInt(1000 + i), nlink: 1,
      size: 10n, mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, atimeNs: 1n, birthNs: 0n, target: null, rdev: 0n,
    });
  }
  return out;
}

/** A scan of `rows` entries into the index at `file`; `copied` then marks a copy completed. */
function scanInto(file: string, rows: number, copied = false): void {
  const index = Index.open(file);
  try {
    index.beginScan();
    for (let i = 0; i < rows; i += 8192) index.writeScanned(entries(Math.min(8192, rows - i), i));
    index.endScan();
    if (copied) index.setMeta(COPIED_AT, new Date().toISOString());
  } finally {
    index.close();
  }
}

const writeBytes = (): number => Number(/write_bytes: (\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'))![1]);

describe('the index journal', () => {
  it('an index takes a rollback journal and writes its new pages once until a copy completed; then the WAL', (ctx) => {
    const file = path.join(temp(), 'index.db');
    const before = writeBytes();
    scanInto(file, 60_000);
    const written = writeBytes() - before;
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(4 * 1024 * 1024);
    expect(journalOf(file)).toBe('rollback');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['index.db']); // no WAL, no journal left

    scanInto(file, 61_000, true); // rows there, no copy completed yet: still a rollback journal
    expect(journalOf(file)).toBe('rollback');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['index.db']);
    scanInto(file, 62_000); // a copy completed: a rescan, in the WAL
    expect(journalOf(file)).toBe('wal');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['index.db']); // the WAL folded in at close

    if (written === 0) {
      // tmpfs (and some others) count no write_bytes: nothing to compare
      console.warn(`bytes not compared: the kernel counted none written under ${path.dirname(file)}`);
      ctx.skip();
    }
    // Through the WAL the first scan wrote each page twice (the WAL, then the checkpoint): 2.07×.
    expect(written).toBeGreaterThan(0.8 * size);
    expect(written).toBeLessThan(1.5 * size);
  });

  it('a first scan killed between its commits leaves a hot journal; the next open rolls it back', () => {
    const file = path.join(temp(), 'index.db');
    // Batches of 8,192 entries, committed 131,072 at a time (SCAN_COMMIT_ROWS): of 31 batches,
    // 16 are committed, and the 15 after them (long paths: some 25 MB of rows) spill pages into
    // the file, past the page cache's 8 MiB, before the process is killed.
    const child = `
      const { Index } = await import(${JSON.stringify(DIST_INDEX)});
      const e = (i) => ({ path: Buffer.from('snap/' + 'd'.repeat(150) + '/f' + String(i).padStart(8, '0')), type: 1, dev: 7n, ino: BigInt(1000 + i), nlink: 1,
        size: 10n, mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, atimeNs: 1n, birthNs: 0n, target: null, rdev: 0n });
      const index = Index.open(${JSON.stringify(file)});
      index.beginScan();
      for (let b = 0; b < 31; b++) index.writeScanned(Array.from({ length: 8192 }, (_, i) => e(b * 8192 + i)));
      process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    // Hot: SQLite zeroes the header of a journal whose transaction committed.
    const journal = `${file}-journal`;
    expect(fs.readFileSync(journal).subarray(0, 8).toString('hex')).toBe('d9d505f920a163d7');
    expect(journalOf(file)).toBe('rollback');
    const killedSize = fs.statSync(file).size;

    Index.open(file).close();
    expect(fs.statSync(file).size).toBeLessThan(killedSize); // the spilled pages, cut off
    expect(fs.existsSync(journal)).toBe(false);
    expect(journalOf(file)).toBe('rollback'); // no copy completed: it goes on in a rollback journal
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) FROM src').pluck().get()).toBe(16 * 8192);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });
});
