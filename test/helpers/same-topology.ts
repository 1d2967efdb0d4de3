// expectSameTopology: assert that dst mirrors src — the same paths, types, content, symlink
// targets, modes, mtimes (to the microsecond: all that Node's utimes sets) and owners, and
// the same hard-link topology by bigint inode numbers: two paths share an inode in dst exactly
// when they share one in src. With allowSplits, a source group may be spread over several dst
// inodes (a split at the link limit), but no dst inode may join paths of two source inodes.
// Every difference is listed in one failure.
import { expect } from 'vitest';
import { showPath } from '../../src/fs/paths.js';
import { inodeKey, readTree, type NodeInfo } from './read-tree.js';
import { bytes } from './tree-spec.js';

export interface TopologyOptions {
  /** Allow a source group to be spread over several destination inodes. Default false. */
  allowSplits?: boolean;
  /** When given, no destination inode may have more links than this. */
  linkMax?: number;
  /** Compare uid and gid too (default true). */
  owner?: boolean;
  /** Compare the roots' own mode, mtime and owner (default true). */
  root?: boolean;
  /** Require each dst inode's nlink to equal its number of paths in the tree: no stray links (default true). */
  nlinkExact?: boolean;
}

export interface TopologySummary {
  /** Entries compared, the root included. */
  paths: number;
  /** Non-directory inodes in src, and how many of them have more than one path. */
  srcInodes: number;
  srcLinkGroups: number;
  /** Non-directory inodes in dst. */
  dstInodes: number;
  /** Source inodes whose paths are spread over more than one dst inode. */
  splitGroups: number;
}

const MAX_REPORTED = 40;

function groupByInode(tree: Map<string, NodeInfo>): Map<string, NodeInfo[]> {
  const groups = new Map<string, NodeInfo[]>();
  for (const n of tree.values()) {
    if (n.type === 'dir') continue;
    const list = groups.get(inodeKey(n));
    if (list) list.push(n);
    else groups.set(inodeKey(n), [n]);
  }
  return groups;
}

const some = (list: NodeInfo[]) => list.slice(0, 5).map((n) => n.key).join(', ') + (list.length > 5 ? ', …' : '');

export function expectSameTopology(src: string | Buffer, dst: string | Buffer, options: TopologyOptions = {}): TopologySummary {
  const { allowSplits = false, linkMax, owner = true, root = true, nlinkExact = true } = options;
  const a = readTree(src);
  const b = readTree(dst);
  const problems: string[] = [];
  const problem = (msg: string) => {
    if (problems.length < MAX_REPORTED) problems.push(msg);
    else if (problems.length === MAX_REPORTED) problems.push('… (more differences left out)');
  };

  for (const key of a.keys()) if (!b.has(key)) problem(`${key}: missing in dst`);
  for (const key of b.keys()) if (!a.has(key)) problem(`${key}: extra in dst`);

  const us = (ns: bigint) => ns / 1000n;
  for (const [key, s] of a) {
    const d = b.get(key);
    if (!d) continue;
    if (s.type !== d.type) {
      problem(`${key}: ${s.type} in src, ${d.type} in dst`);
      continue;
    }
    if (s.type === 'file' && s.sha256 !== d.sha256) problem(`${key}: content differs (${s.size} bytes in src, ${d.size} in dst)`);
    if (s.type === 'symlink' && !s.target!.equals(d.target!)) {
      problem(`${key}: symlink to ${showPath(s.target!)} in src, to ${showPath(d.target!)} in dst`);
    }
    if (key === '.' && !root) continue;
    // Linux ignores a symlink's own mode (always 0777).
    if (s.type !== 'symlink' && s.mode !== d.mode) problem(`${key}: mode ${s.mode.toString(8)} in src, ${d.mode.toString(8)} in dst`);
    if (us(s.mtimeNs) !== us(d.mtimeNs)) problem(`${key}: mtime ${s.mtimeNs} ns in src, ${d.mtimeNs} ns in dst (compared in µs)`);
    if (owner && (s.uid !== d.uid || s.gid !== d.gid)) problem(`${key}: owner ${s.uid}:${s.gid} in src, ${d.uid}:${d.gid} in dst`);
  }

  // Topology, through the paths both trees hold.
  const srcGroups = groupByInode(a);
  const dstGroups = groupByInode(b);
  const dstOfSrc = new Map<string, Set<string>>();
  for (const [di, list] of dstGroups) {
    const srcInodes = new Set<string>();
    for (const d of list) {
      const s = a.get(d.key);
      if (!s || s.type === 'dir') continue;
      srcInodes.add(inodeKey(s));
      if (!dstOfSrc.has(inodeKey(s))) dstOfSrc.set(inodeKey(s), new Set());
      dstOfSrc.get(inodeKey(s))!.add(di);
    }
    if (srcInodes.size > 1) problem(`dst inode ${di} joins paths of ${srcInodes.size} src inodes: ${some(list)}`);
    const nlink = list[0].nlink;
    if (nlinkExact && nlink !== list.length) problem(`dst inode ${di} (${some(list)}) has nlink ${nlink} but ${list.length} paths in the tree`);
    if (linkMax !== undefined && nlink > linkMax) problem(`dst inode ${di} (${some(list)}) has nlink ${nlink}, more than linkMax ${linkMax}`);
  }
  let splitGroups = 0;
  for (const [si, dis] of dstOfSrc) {
    if (dis.size <= 1) continue;
    splitGroups++;
    if (!allowSplits) problem(`src inode ${si} (${some(srcGroups.get(si)!)}) is split over ${dis.size} dst inodes`);
  }

  if (problems.length > 0) {
    expect.fail(`${showPath(bytes(dst))} does not mirror ${showPath(bytes(src))}:\n  ${problems.join('\n  ')}`);
  }
  return {
    paths: a.size,
    srcInodes: srcGroups.size,
    srcLinkGroups: [...srcGroups.values()].filter((l) => l.length > 1).length,
    dstInodes: dstGroups.size,
    splitGroups,
  };
}
