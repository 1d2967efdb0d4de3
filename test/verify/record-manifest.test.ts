// recordManifest, the copy's last content step: it hashes only what has no hash yet (so a run
// over a finished mirror reads nothing, and an incremental one only what it wrote), a file it
// cannot read is one problem and the run goes on, and EIO from a destination that no longer
// takes writes (a pulled drive) stops the copy with one fatal error instead of a line per file.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { isLinkmirrorError } from '../../src/errors.js';
import { realFsOps } from '../../src/fs/ops.js';
import { Index } from '../../src/store/index-db.js';
import { recordManifest } from '../../src/verify/record-manifest.js';
import { verifyMirror } from '../../src/verify/verify.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { buildTree, file, link, tempDirs } from '../helpers/tree.js';
import { T } from './mirrors.js';

const temp = tempDirs();

function tree(): { src: string; dst: string } {
  const base = temp();
  const src = path.join(base, 'src');
  const spec: Record<string, ReturnType<typeof file>> = {};
  for (let i = 0; i < 30; i++) spec[`s/${i}`] = file(`content ${i}`, { mtime: T(i) });
  for (let i = 0; i < 30; i++) spec[`t/${i}`] = link(`s/${i}`);
  buildTree(src, spec);
  return { src, dst: path.join(base, 'dst') };
}

describe('recordManifest', () => {
  it('hashes each source inode once, and nothing again on a mirror that has them all', async () => {
    const { src, dst } = tree();
    await copy(src, dst);
    const index = Index.open(path.join(dst, '.linkmirror/index.db'));
    try {
      const again = await recordManifest(index, Buffer.from(fs.realpathSync(dst)), { ops: realFsOps, owner: true });
      expect(again).toMatchObject({ inodesHashed: 0, bytesHashed: 0n, skipped: 0, stopped: false });
    } finally {
      index.close();
    }
    // A new file in the source: the next copy hashes that one only.
    buildTree(src, { 'u/new': file('new content', { mtime: T(100) }) });
    const reads: string[] = [];
    const ops = faultyOps(realFsOps, { op: 'openRead', code: 'EIO', when: (p: Buffer | string) => (reads.push(p.toString()), false) });
    await copy(src, dst, { ops });
    expect(reads.map((p) => path.relative(fs.realpathSync(dst), p))).toEqual(['u/new']);
    expect((await verifyMirror(dst)).match).toBe(true);
  });

  it('a first copy hashes each file as its copy thread writes it: stopped in its content pass, it has the hash of each file it placed', async () => {
    const { src, dst } = tree();
    let phase: string | undefined;
    let placed = 0;
    const progress = {
      start: (p: string) => void (phase = p),
      advance: (n: number) => void (phase === 'content' && (placed += n)),
      warn: () => {},
      end: () => {},
    };
    const first = await copy(src, dst, { progress, shouldStop: () => phase === 'content' && placed >= 10 });
    expect(first.interrupted).toBe(true);
    const db = new Database(path.join(dst, '.linkmirror/index.db'), { readonly: true });
    let rows: { path: Buffer; hash: Buffer; size: bigint; mtime_ns: bigint; h_size: bigint; h_mtime: bigint }[];
    try {
      // The manifest step never ran: every hash is the copy thread's.
      expect(db.prepare(`SELECT value FROM meta WHERE key = 'manifest_at'`).get()).toBeUndefined();
      rows = db.prepare(
        `SELECT s.path, h.hash, s.size, s.mtime_ns, h.size AS h_size, h.mtime_ns AS h_mtime
         FROM mirror m JOIN src s ON s.path = m.path JOIN hashes h ON h.dev = m.src_dev AND h.ino = m.src_ino AND h.birth_ns = s.birth_ns
         WHERE m.written = 1`,
      ).safeIntegers(true).all() as typeof rows;
      const written = (db.prepare('SELECT COUNT(*) FROM mirror WHERE written = 1').pluck(true).safeIntegers(true).get() as bigint);
      expect(written).toBeGreaterThan(0n);
      expect(BigInt(rows.length)).toBe(written);
    } finally {
      db.close();
    }
    for (const r of rows) {
      expect([r.h_size, r.h_mtime]).toEqual([r.size, r.mtime_ns]);
      expect(r.hash.toString('hex')).toBe(createHash('sha256').update(fs.readFileSync(path.join(dst, r.path.toString()))).digest('hex'));
    }
    // The run that finishes the copy hashes only the rest, and the manifest holds.
    await copy(src, dst);
    expect((await verifyMirror(dst)).match).toBe(true);
  });

  it('a mirror file it cannot read is one problem; the copy finishes and verify DST leaves that file unchecked', async () => {
    const { src, dst } = tree();
    const ops = faultyOps(realFsOps, { op: 'openRead', code: 'EIO', path: (p) => p.toString().endsWith('dst/s/3') });
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(1);
    expect(summary.problems[0].message).toMatch(/cannot hash for the manifest s\/3/);
    const r = await verifyMirror(dst);
    expect(r).toMatchObject({ match: true, contentUnchecked: 1, inodesHashed: 29 });
  });

  it('EIO on every read while the state folder takes no writes either: the destination is gone, one fatal error', async () => {
    const { src, dst } = tree();
    const warnings: string[] = [];
    const progress = { start() {}, advance() {}, end() {}, warn: (m: string) => warnings.push(m) };
    const ops = faultyOps(realFsOps, [
      { op: 'openRead', code: 'EIO', path: (p) => p.toString().includes('/dst/') },
      { op: 'mkdir', code: 'EIO', path: /\/\.linkmirror\/alive-/ },
    ]);
    const err = await copy(src, dst, { ops, progress }).catch((e: unknown) => e);
    expect(isLinkmirrorError(err, 'DST_UNUSABLE')).toBe(true);
    expect((err as Error).message).toMatch(/destination stopped working/);
    expect(warnings).toEqual([]);
  });
});
