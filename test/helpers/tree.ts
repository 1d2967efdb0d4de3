// Test trees in one import: describe a tree as data, build it for real, read it back by inode,
// and compare a mirror with its source. See the files re-exported here for each part.
export { file, dir, link, symlink, fifo, mtimeNs, specEntries } from './tree-spec.js';
export type { MTime, NodeOptions, TreeNode, TreeSpec } from './tree-spec.js';
export { buildLongNameLinks, buildTree, utimesSeconds } from './build-tree.js';
export { readTree, inodeClasses, inodeKey } from './read-tree.js';
export type { NodeInfo, NodeType } from './read-tree.js';
export { expectSameTopology } from './same-topology.js';
export type { TopologyOptions, TopologySummary } from './same-topology.js';
export { makeTemp, removeTemp, tempDirs } from './temp-dirs.js';
