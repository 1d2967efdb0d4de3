// The plan of a copy: what a dry run prints and what the pre-flight checks against free space.
import type { FsFacts } from '../fs/link-limit.js';
import type { Index, PlanTotals } from '../store/index-db.js';

export interface Plan extends PlanTotals {
  /** Hard links to make: placed paths beyond the first of each inode copied. */
  linksToMake: number;
  /**
   * Space the copy needs on the destination: content, splits, one block per directory to make and the
   * index's growth (on a first copy; a dry run adds the part the scan writes).
   */
  bytesNeeded: bigint;
  /** Left out of bytesNeeded: the holes of sparse files, which their copies keep (see holes.ts). */
  holeBytes: bigint;
  inodesNeeded: number;
  fsType: string;
  linkMax: number;
}

/**
 * `perPath` false: pathsToPlace is left for the pass to tell (see PlanTotals and pathsVisited).
 * `scanBytes`: index bytes not on the destination yet beyond its growth (a dry run's scan).
 */
export function makePlan(index: Index, facts: FsFacts, perPath = true, scanBytes = 0n): Plan {
  const t = index.planTotals(facts.linkMax, facts.blockSize, perPath);
  const indexBytes = t.indexBytes + scanBytes;
  return {
    ...t,
    indexBytes,
    linksToMake: Math.max(0, t.pathsToPlace - t.inodesToCopy),
    bytesNeeded: t.blocksToCopy + t.splitBytes + BigInt(t.dirsToMake) * facts.blockSize + indexBytes,
    holeBytes: 0n,
    inodesNeeded: t.inodesToCopy + t.expectedSplits + t.dirsToMake,
    fsType: facts.type,
    linkMax: facts.linkMax,
  };
}

/** The plan of an incremental run, completed when its pass is over: the paths it visited. */
export function pathsVisited(plan: Plan, visited: number): Plan {
  return { ...plan, pathsToPlace: visited, linksToMake: Math.max(0, visited - plan.inodesToCopy) };
}
