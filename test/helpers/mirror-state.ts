// What a (possibly half-done) mirror holds, for the resume and incremental tests: the index's
// mirror rows read straight from DST/.linkmirror/index.db, the source's inode identities
// ((dev, ino) plus birth time, as the copy knows them), and the checks a stopped run must pass —
// no file under a final name that is not complete, no destination inode that joins two source
// inodes, nothing left in the temp area.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { showPath } from '../../src/fs/paths.js';
import { INDEX_FILE, INDEX_FILES, STATE_DIR } from '../../src/state-dir.js';
import { inodeKey, readTree, type NodeInfo } from './read-tree.js';

export interface IndexRow {
  /** Printable path, as readTree keys it. */
  key: string;
  srcIno: bigint;
  dstIno: bigint;
  written: boolean;
}

/**
 * The journal a database file was left in, from its header (the file format's write and read
 * versions: 1 for a rollback journal, 2 for the WAL).
 */
export function journalOf(file: string): 'rollback' | 'wal' {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    fs.readSync(fd, b, 0, 2, 18);
    expect(b[0]).toBe(b[1]);
    expect([1, 2]).toContain(b[0]);
    return b[0] === 1 ? 'rollback' : 'wal';
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The mirror table of DST's index, keyed by printable path; empty when there is no index yet.
 * Read from a copy of the index and its journal or WAL, so that what a kill left there (a hot
 * journal to roll back, which a read-only open refuses; a WAL to fold in) is met by the next
 * run, not by this look.
 */
export function indexRows(dst: string): Map<string, IndexRow> {
  const state = path.join(dst, STATE_DIR);
  const out = new Map<string, IndexRow>();
  if (!fs.existsSync(path.join(state, INDEX_FILE))) return out;
  const look = fs.mkdtempSync(path.join(os.tmpdir(), 'lm-index-look-'));
  for (const name of INDEX_FILES) {
    if (fs.existsSync(path.join(state, name))) fs.copyFileSync(path.join(state, name), path.join(look, name));
  }
  const db = new Database(path.join(look, INDEX_FILE), { fileMustExist: true });
  try {
    const hasMirror = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mirror'").get();
    if (!hasMirror) return out;
    const rows = db.prepare('SELECT path, src_ino, dst_ino, written FROM mirror').safeIntegers(true).all() as {
      path: Buffer; src_ino: bigint; dst_ino: bigint; written: bigint;
    }[];
    for (const r of rows) {
      const key = showPath(r.path);
      out.set(key, { key, srcIno: BigInt.asUintN(64, r.src_ino), dstIno: BigInt.asUintN(64, r.dst_ino), written: r.written === 1n });
    }
  } finally {
    db.close();
    fs.rmSync(look, { recursive: true, force: true });
  }
  return out;
}

/**
 * A source inode's content as the copy identifies it: dev, ino and birth time (0 where not
 * reported), and size and mtime — a file rewritten in place is new content on the same inode.
 */
export function identityOf(abs: string): string {
  const st = fs.lstatSync(abs, { bigint: true });
  return `${st.dev}:${st.ino}:${st.birthtimeNs}:${st.size}:${st.mtimeNs}`;
}

/** For every non-directory path of src: its identity; keyed by printable path. */
export function srcIdentities(src: string, tree: Map<string, NodeInfo> = readTree(src)): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, n] of tree) {
    if (n.type === 'dir') continue;
    out.set(key, identityOf(path.join(src, key)));
  }
  return out;
}

/**
 * Source identity → the destination inode numbers that hold it (one, without splits), through
 * the paths both trees have.
 */
export function dstInodesBySrc(src: string, dst: string): Map<string, Set<bigint>> {
  const s = readTree(src);
  const ids = srcIdentities(src, s);
  const d = readTree(dst);
  const out = new Map<string, Set<bigint>>();
  for (const [key, id] of ids) {
    const n = d.get(key);
    if (!n || n.type === 'dir') continue;
    if (!out.has(id)) out.set(id, new Set());
    out.get(id)!.add(n.ino);
  }
  return out;
}

/** Names left in DST/.linkmirror/tmp (none, or no folder, after any run that ended). */
export function tmpLeft(dst: string): string[] {
  const t = path.join(dst, '.linkmirror', 'tmp');
  return fs.existsSync(t) ? fs.readdirSync(t) : [];
}

interface Light {
  type: NodeInfo['type'];
  dev: bigint;
  ino: bigint;
  size: bigint;
  sha256?: string;
  target?: Buffer;
}

const TYPE_BITS: Record<number, NodeInfo['type']> = {
  0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o010000: 'fifo', 0o020000: 'char', 0o060000: 'block', 0o140000: 'socket',
};

/**
 * Like readTree, but cheap enough to run after every kill of a large copy: a file's content is
 * hashed once per inode, not once per path, and only when `hash` is set.
 */
export function lightTree(root: string, hash = true): Map<string, Light> {
  const out = new Map<string, Light>();
  const sums = new Map<string, string>();
  const rootBytes = Buffer.from(root);
  const visit = (rel: Buffer) => {
    const p = rel.length === 0 ? rootBytes : Buffer.concat([rootBytes, Buffer.from('/'), rel]);
    const st = fs.lstatSync(p, { bigint: true });
    const n: Light = { type: TYPE_BITS[Number(st.mode & 0o170000n)] ?? 'socket', dev: st.dev, ino: st.ino, size: st.size };
    if (n.type === 'symlink') n.target = fs.readlinkSync(p, { encoding: 'buffer' });
    if (n.type === 'file' && hash) {
      const k = `${st.dev}:${st.ino}`;
      let sum = sums.get(k);
      if (sum === undefined) {
        sum = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        sums.set(k, sum);
      }
      n.sha256 = sum;
    }
    out.set(rel.length === 0 ? '.' : showPath(rel), n);
    if (n.type !== 'dir') return;
    for (const name of fs.readdirSync(p, { encoding: 'buffer' })) {
      if (rel.length === 0 && name.toString() === '.linkmirror') continue;
      visit(rel.length === 0 ? name : Buffer.concat([rel, Buffer.from('/'), name]));
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

/**
 * What a stopped or killed copy may leave: every non-directory under a final name is one the
 * source has, of the same type, with its full content (or symlink target); and paths that share
 * a destination inode share a source inode. Returns the number of such paths.
 */
export function expectNoHalfFiles(src: string, dst: string): number {
  const s = lightTree(src);
  const d = lightTree(dst);
  let placed = 0;
  const srcOfDst = new Map<string, string>();
  const bad: string[] = [];
  for (const [key, n] of d) {
    if (n.type === 'dir') continue;
    const orig = s.get(key);
    if (!orig) {
      bad.push(`${key}: in dst, not in src`);
      continue;
    }
    if (orig.type !== n.type) bad.push(`${key}: ${n.type} in dst, ${orig.type} in src`);
    else if (n.type === 'file' && (n.size !== orig.size || n.sha256 !== orig.sha256)) bad.push(`${key}: ${n.size} bytes in dst, ${orig.size} in src, or other content`);
    else if (n.type === 'symlink' && !n.target!.equals(orig.target!)) bad.push(`${key}: other symlink target`);
    const si = inodeKey(orig);
    const seen = srcOfDst.get(inodeKey(n));
    if (seen !== undefined && seen !== si) bad.push(`${key}: its dst inode joins two source inodes`);
    srcOfDst.set(inodeKey(n), si);
    placed++;
  }
  expect(bad.slice(0, 20), 'files under their final names').toEqual([]);
  return placed;
}

/** Every index row describes what is on disk: the path holds the recorded destination inode. */
export function expectRowsOnDisk(dst: string, rows: Map<string, IndexRow>): void {
  const d = lightTree(dst, false);
  const bad: string[] = [];
  for (const r of rows.values()) {
    const n = d.get(r.key);
    if (!n) bad.push(`${r.key}: in the index, not on disk`);
    else if (n.ino !== r.dstIno) bad.push(`${r.key}: index says dst inode ${r.dstIno}, disk has ${n.ino}`);
  }
  expect(bad.slice(0, 20), 'index rows against the disk').toEqual([]);
}

/**
 * The paths the index held before a run still hold the same destination inode after it: that
 * content was not written again (nor the path touched).
 */
export function expectRowsKept(dst: string, before: Map<string, IndexRow>): void {
  const d = lightTree(dst, false);
  const moved: string[] = [];
  for (const r of before.values()) {
    const n = d.get(r.key);
    if (!n || n.ino !== r.dstIno) moved.push(`${r.key}: dst inode ${r.dstIno} before, ${n?.ino ?? 'nothing'} now`);
  }
  expect(moved.slice(0, 20), 'paths the index held before the run').toEqual([]);
}

/** Distinct source inodes among the index rows: what a resume must not copy again. */
export const srcInodesIn = (rows: Map<string, IndexRow>): number => new Set([...rows.values()].map((r) => r.srcIno)).size;

/** Non-directory entries of a tree, counted from readdir alone (cheap enough to poll). */
export function countFiles(root: string): number {
  let n = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // not made yet, or replaced while we looked
    }
    for (const e of entries) {
      if (dir === root && e.name === '.linkmirror') continue;
      if (e.isDirectory()) stack.push(path.join(dir, e.name));
      else n++;
    }
  }
  return n;
}
