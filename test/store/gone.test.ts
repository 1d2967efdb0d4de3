// The mirror's paths that the source no longer has (what --delete removes, what a run without it
// counts as kept) come from the gone table, which the scans fill as they drop src rows, instead
// of looking every mirror path up in src. The list is checked here against that lookup, which
// the index still makes when gone is not kept (meta 'gone' other than 'yes'), over seeded
// random histories: paths and folders removed, added back, copies between scans, scans that
// diverge, --delete passes that leave some paths behind, and an index from before gone.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPrng, type Prng } from '../../fixtures/prng.js';
import { EntryType, type Entry } from '../../src/store/entry.js';
import { Index, mirrorRowFor } from '../../src/store/index-db.js';
import { compareWalkOrder } from '../../src/store/walk-order.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** Every path the histories draw from: two levels of folders, files in each. */
const DIRS = ['s0', 's1', 's2', 's0/d0', 's0/d1', 's1/d0', 's2/d0', 's2/d1'];
const FILES = DIRS.flatMap((d) => ['a', 'b', 'c', 'd'].map((f) => `${d}/${f}`));

function entryOf(p: string, type: EntryType, ino: bigint): Entry {
  return {
    path: Buffer.from(p), type, dev: 1n, ino, nlink: 1, size: type === EntryType.dir ? 0n : 1n, mode: 0o644, uid: 0, gid: 0,
    mtimeNs: 1_700_000_000_000_000_000n, atimeNs: 0n, birthNs: 0n, target: null, rdev: 0n,
  };
}

/** The source as a set of paths: a folder is there when it is chosen or holds a chosen file. */
function tree(prng: Prng, keep: number): Entry[] {
  const files = FILES.filter(() => prng.chance(keep));
  const dirs = new Set(DIRS.filter(() => prng.chance(keep)));
  for (const f of files) for (let d = path.dirname(f); d !== '.'; d = path.dirname(d)) dirs.add(d);
  for (const d of [...dirs]) for (let u = path.dirname(d); u !== '.'; u = path.dirname(u)) dirs.add(u);
  const entries = [entryOf('', EntryType.dir, 1n), ...[...dirs].map((d) => entryOf(d, EntryType.dir, 2n + BigInt(DIRS.indexOf(d))))];
  // A file's inode is picked from a few, so that paths also change inode between scans.
  entries.push(...files.map((f) => entryOf(f, EntryType.file, 100n + BigInt(prng.int(0, 3)))));
  return entries.sort((x, y) => compareWalkOrder(x.path, y.path));
}

function scan(index: Index, entries: Entry[], changeLimit?: number): void {
  index.beginScan(changeLimit);
  for (let i = 0; i < entries.length; i += 3) index.writeScanned(entries.slice(i, i + 3));
  index.endScan();
}

/** A pass that placed every path of `entries`: mirror rows for files, mirror_dirs for folders. */
function placeAll(index: Index, entries: Entry[]): void {
  index.putMirror(entries.filter((e) => e.type !== EntryType.dir).map((e) => mirrorRowFor(e, 1000n + e.ino, true)));
  index.putMirrorDirs(entries.filter((e) => e.type === EntryType.dir && e.path.length > 0).map((e) => e.path));
}

const listed = (index: Index): string[] => [...index.mirrorNotInSrc()].flat().map((p) => p.toString());

/** The list and count as gone gives them, and as comparing every mirror path with src does. */
function bothWays(index: Index): { gone: string[]; lookup: string[]; goneCount: number; lookupCount: number } {
  const tracked = index.getMeta('gone');
  const gone = listed(index);
  const goneCount = index.mirrorNotInSrcCount();
  index.setMeta('gone', 'no');
  const lookup = listed(index);
  const lookupCount = index.mirrorNotInSrcCount();
  if (tracked !== undefined) index.setMeta('gone', tracked);
  return { gone, lookup, goneCount, lookupCount };
}

describe('gone: the mirror paths the source lost', () => {
  it('a first copy keeps the list; rows dropped are listed, paths added back are not', () => {
    const index = Index.open(path.join(temp(), 'index.db'));
    try {
      const first = tree(createPrng(1), 1);
      scan(index, first);
      placeAll(index, first);
      expect(index.getMeta('gone')).toBe('yes');
      expect(listed(index)).toEqual([]);
      // s2 and everything below it, and one file elsewhere, leave the source.
      const lost = (e: Entry) => e.path.toString().startsWith('s2') || e.path.toString() === 's0/d0/a';
      scan(index, first.filter((e) => !lost(e)));
      const lostPaths = first.filter(lost).map((e) => e.path.toString());
      expect(bothWays(index)).toEqual({ gone: [...lostPaths].sort(), lookup: [...lostPaths].sort(), goneCount: lostPaths.length, lookupCount: lostPaths.length });
      // Back in the source before any --delete: no longer an extra.
      scan(index, first.filter((e) => e.path.toString().startsWith('s2') === false));
      expect(listed(index)).toEqual(lostPaths.filter((p) => p.startsWith('s2')).sort());
      expect(index.getMeta('gone')).toBe('yes');
    } finally {
      index.close();
    }
  });

  it('agrees with a lookup of every mirror path over random histories, divergences and --delete passes included', () => {
    let untrackedScans = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const prng = createPrng(seed);
      const index = Index.open(path.join(temp(), 'index.db'));
      let sawTrackedExtras = false;
      try {
        let entries = tree(prng, 0.8);
        scan(index, entries);
        placeAll(index, entries);
        // An index written before gone existed has no 'gone' key: the lookup serves until --delete.
        if (prng.chance(0.2)) index.setMeta('gone', 'no');
        for (let step = 0; step < 12; step++) {
          entries = tree(prng, prng.pick([0.3, 0.6, 0.9]));
          // A change limit of 0: the scan diverges at its first change and deletes the rows after it.
          scan(index, entries, prng.chance(0.15) ? 0 : undefined);
          const both = bothWays(index);
          const where = `seed ${seed} step ${step}`;
          expect(both.gone, where).toEqual(both.lookup);
          expect(both.goneCount, where).toBe(both.lookupCount);
          if (index.getMeta('gone') !== 'yes') untrackedScans++;
          else if (both.gone.length > 0) sawTrackedExtras = true;
          const action = prng.int(0, 2);
          if (action === 1) {
            // A copy pass: every path in place as src says.
            placeAll(index, entries);
          } else if (action === 2) {
            // A --delete pass: what the list gives is removed and forgotten, but for a few that
            // could not be; gone is then settled (and kept again if it was not).
            const extras = listed(index).filter(() => !prng.chance(0.2));
            index.forgetMirrorPaths(extras.map((p) => Buffer.from(p)));
            index.settleGone();
            expect(index.getMeta('gone'), where).toBe('yes');
            const after = bothWays(index);
            expect(after.gone, where).toEqual(after.lookup);
          }
        }
      } finally {
        index.close();
      }
      expect(sawTrackedExtras, `seed ${seed}`).toBe(true);
    }
    // The histories also went through scans that diverged and indexes without gone (where the
    // comparison above is of the lookup with itself): the --delete passes after them made the
    // list anew, and the comparisons after those are of the list made anew.
    expect(untrackedScans).toBeGreaterThan(10);
  });
});
