// buildTree: make a real tree on disk from a spec (see tree-spec.ts).
//
// In passes, like a restore: directories and file content; symlinks and fifos; hard links;
// then modes and times of non-directories; directories last and deepest first, because
// creating an entry or setting a child's time changes its parent's mtime.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { showPath } from '../../src/fs/paths.js';
import { bytes, mtimeNs, specEntries, type MTime, type NodeOptions, type TreeSpec } from './tree-spec.js';

const abs = (root: Buffer, rel: Buffer) => Buffer.concat([root, Buffer.from('/'), rel]);
const depth = (rel: Buffer) => rel.reduce((n, b) => n + (b === 0x2f ? 1 : 0), 0);

/**
 * Seconds as a double that libuv turns back into exactly this microsecond: it truncates
 * (seconds - whole) * 1e9, so the plain quotient lands one microsecond low about half the time.
 * Before 1970 a numeric string: Node takes a negative number of seconds for "now".
 */
export function utimesSeconds(ns: bigint): number | string {
  const us = ns / 1000n;
  return us >= 0n ? (Number(us) + 0.5) / 1e6 : String((Number(us) - 0.5) / 1e6);
}

function setMtime(p: Buffer, t: MTime): void {
  const s = utimesSeconds(mtimeNs(t));
  fs.lutimesSync(p, s, s);
}

/** Build the tree under root (created if missing; it may already hold other entries). */
export function buildTree(root: string | Buffer, spec: TreeSpec): void {
  const rootBytes = bytes(root);
  fs.mkdirSync(rootBytes, { recursive: true });
  const list = specEntries(spec);
  const byPath = new Map(list.map(([p, n]) => [p.toString('hex'), n] as const));
  const madeDirs: Buffer[] = [];

  const ensureParent = (rel: Buffer) => {
    const i = rel.lastIndexOf(0x2f);
    if (i < 0) return;
    const parent = rel.subarray(0, i);
    if (fs.existsSync(abs(rootBytes, parent))) return;
    ensureParent(parent);
    fs.mkdirSync(abs(rootBytes, parent));
    madeDirs.push(parent);
  };

  // Pass 1: directories and file content.
  for (const [rel, node] of list) {
    if (node.kind !== 'dir' && node.kind !== 'file') continue;
    ensureParent(rel);
    const p = abs(rootBytes, rel);
    if (node.kind === 'dir') fs.mkdirSync(p, { recursive: true });
    else fs.writeFileSync(p, node.content, { flag: 'wx' });
  }

  // Pass 2: symlinks and fifos.
  for (const [rel, node] of list) {
    if (node.kind === 'symlink') {
      ensureParent(rel);
      fs.symlinkSync(node.target, abs(rootBytes, rel));
    } else if (node.kind === 'fifo') {
      ensureParent(rel);
      const p = abs(rootBytes, rel);
      if (!Buffer.from(p.toString('utf8')).equals(p)) throw new Error(`buildTree: fifo ${showPath(rel)} needs a UTF-8 path`);
      execFileSync('mkfifo', [p.toString('utf8')]);
    }
  }

  // Pass 3: hard links, following a link to a link to its end.
  for (const [rel, node] of list) {
    if (node.kind !== 'link') continue;
    let target = node.target;
    for (let hops = 0; ; hops++) {
      const t = byPath.get(target.toString('hex'));
      if (!t) throw new Error(`buildTree: link ${showPath(rel)} -> ${showPath(target)}: no such path in the spec`);
      if (t.kind === 'dir') throw new Error(`buildTree: link ${showPath(rel)} -> ${showPath(target)}: cannot hard-link a directory`);
      if (t.kind !== 'link') break;
      if (hops > list.length) throw new Error(`buildTree: link ${showPath(rel)}: links form a cycle`);
      target = t.target;
    }
    ensureParent(rel);
    fs.linkSync(abs(rootBytes, target), abs(rootBytes, rel));
  }

  // Pass 4: modes and times of everything but directories.
  for (const [rel, node] of list) {
    const p = abs(rootBytes, rel);
    if (node.kind === 'file' || node.kind === 'fifo') {
      fs.chmodSync(p, node.mode ?? 0o644);
      if (node.mtime !== undefined) setMtime(p, node.mtime);
    } else if (node.kind === 'symlink' && node.mtime !== undefined) {
      setMtime(p, node.mtime);
    }
  }

  // Pass 5: directories, deepest first (a directory the spec names comes after an implied one).
  const dirs: [Buffer, NodeOptions][] = [
    ...madeDirs.map((d): [Buffer, NodeOptions] => [d, {}]),
    ...list.flatMap(([p, n]): [Buffer, NodeOptions][] => (n.kind === 'dir' ? [[p, n]] : [])),
  ];
  dirs.sort((a, b) => depth(b[0]) - depth(a[0]));
  for (const [rel, options] of dirs) {
    const p = abs(rootBytes, rel);
    fs.chmodSync(p, options.mode ?? 0o755);
    if (options.mtime !== undefined) setMtime(p, options.mtime);
  }
}

/**
 * 40 folders of 1,000 links each with 206-byte names: 40 small inodes but 40,080 index rows with
 * long paths, enough that the copy's sorts pass SQLite's 8 MiB page cache (20,000 shorter paths
 * do not). The index ends at some 33 MB (12 MB of it written by the scan), the content at 160 KiB.
 */
export function buildLongNameLinks(root: string): void {
  for (let d = 0; d < 40; d++) {
    const dir = path.join(root, `d${d}`);
    fs.mkdirSync(dir, { recursive: true });
    const first = path.join(dir, 'origin');
    fs.writeFileSync(first, `content ${d}`);
    for (let i = 0; i < 1000; i++) fs.linkSync(first, path.join(dir, `${'x'.repeat(200)}${String(i).padStart(6, '0')}`));
  }
}
