// The plan of a copy: what a dry run prints and what the pre-flight checks against free space.
import type { FsFacts } from '../fs/link-limit.js';
import type { Index, PlanTotals } from '../store/index-db.js';

export interface Plan extends PlanTotals {
  /** Hard links to make: placed paths beyond the first of each inode copied. */
  linksToMake: number;
  /** Space the copy needs on the destination: content, splits and one block per directory. */
  bytesNeeded: bigint;
  inodesNeeded: number;
  fsType: string;
  linkMax: number;
}

/** `perPath` false: pathsToPlace is left for the pass to tell (see PlanTotals and pathsVisited). */
export function makePlan(index: Index, facts: FsFacts, perPath = true): Plan {
  const t = index.planTotals(facts.linkMax, facts.blockSize, perPath);
  return {
    ...t,
    linksToMake: Math.max(0, t.pathsToPlace - t.inodesToCopy),
    bytesNeeded: t.blocksToCopy + t.splitBytes + BigInt(t.dirs) * facts.blockSize,
    inodesNeeded: t.inodesToCopy + t.expectedSplits + t.dirs,
    fsType: facts.type,
    linkMax: facts.linkMax,
  };
}

/** The plan of an incremental run, completed when its pass is over: the paths it visited. */
export function pathsVisited(plan: Plan, visited: number): Plan {
  return { ...plan, pathsToPlace: visited, linksToMake: Math.max(0, visited - plan.inodesToCopy) };
}
