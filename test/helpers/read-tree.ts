// readTree / inodeClasses: what a tree on disk holds, per path, with inode identity as bigint
// (dev, ino) from lstat(…, { bigint: true }), so two trees can be compared by topology.
// A top-level .linkmirror (a mirror's state folder) is left out.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { showPath } from '../../src/fs/paths.js';
import { bytes } from './tree-spec.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

export interface NodeInfo {
  /** Relative path as bytes; the root is the empty path. */
  path: Buffer;
  /** Printable path: as is when plain UTF-8, else with \xNN escapes (showPath); the root is '.'. */
  key: string;
  type: NodeType;
  dev: bigint;
  ino: bigint;
  nlink: number;
  size: bigint;
  /** Permission bits only (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  /** Symlink target bytes. */
  target?: Buffer;
  /** sha256 (hex) of a regular file's content. */
  sha256?: string;
  /** A regular file's content, when it is at most 64 KiB. */
  content?: Buffer;
}

const TYPES: Record<number, NodeType> = {
  0o100000: 'file',
  0o040000: 'dir',
  0o120000: 'symlink',
  0o010000: 'fifo',
  0o020000: 'char',
  0o060000: 'block',
  0o140000: 'socket',
};

const STATE_DIR = Buffer.from('.linkmirror');
const SMALL = 64 * 1024;

/** Every entry under root, the root itself as '.', keyed by printable path, in bytewise order. */
export function readTree(root: string | Buffer): Map<string, NodeInfo> {
  const rootBytes = bytes(root);
  const out = new Map<string, NodeInfo>();
  const visit = (rel: Buffer) => {
    const p = rel.length === 0 ? rootBytes : Buffer.concat([rootBytes, Buffer.from('/'), rel]);
    const st = fs.lstatSync(p, { bigint: true });
    const type = TYPES[Number(st.mode & 0o170000n)] ?? 'socket';
    const info: NodeInfo = {
      path: rel,
      key: rel.length === 0 ? '.' : showPath(rel),
      type,
      dev: st.dev,
      ino: st.ino,
      nlink: Number(st.nlink),
      size: st.size,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeNs: st.mtimeNs,
    };
    if (type === 'symlink') info.target = fs.readlinkSync(p, { encoding: 'buffer' });
    if (type === 'file') {
      const content = fs.readFileSync(p);
      info.sha256 = createHash('sha256').update(content).digest('hex');
      if (content.length <= SMALL) info.content = content;
    }
    out.set(info.key, info);
    if (type !== 'dir') return;
    for (const name of fs.readdirSync(p, { encoding: 'buffer' }).sort(Buffer.compare)) {
      if (rel.length === 0 && name.equals(STATE_DIR)) continue;
      visit(rel.length === 0 ? name : Buffer.concat([rel, Buffer.from('/'), name]));
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

/** `${dev}:${ino}` of an entry, the key of its inode. */
export const inodeKey = (n: Pick<NodeInfo, 'dev' | 'ino'>): string => `${n.dev}:${n.ino}`;

const compareKeys = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The hard-link classes of a tree: for every non-directory inode, the sorted keys of its paths;
 * the classes sorted by their first key. Two trees with equal classes have the same topology:
 * `expect(inodeClasses(dst)).toEqual(inodeClasses(src))`.
 */
export function inodeClasses(tree: string | Buffer | Map<string, NodeInfo>): string[][] {
  const entries = tree instanceof Map ? tree : readTree(tree);
  const byInode = new Map<string, string[]>();
  for (const info of entries.values()) {
    if (info.type === 'dir') continue;
    const paths = byInode.get(inodeKey(info));
    if (paths) paths.push(info.key);
    else byInode.set(inodeKey(info), [info.key]);
  }
  return [...byInode.values()].map((c) => c.sort(compareKeys)).sort((a, b) => compareKeys(a[0], b[0]));
}
