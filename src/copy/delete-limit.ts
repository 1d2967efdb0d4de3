// --max-delete: how much of the mirror one --delete run may remove (after rsync's --max-delete).
//
// A cron job runs `copy --delete SRC DST` every night. The night the source's drive is not
// mounted, SRC is an empty mount point, and a plain --delete would empty the mirror: the one
// copy that was meant to survive the source's loss. So by default a run that would remove more
// than half of the mirror stops before it writes anything, and says how to go on.

import { LinkmirrorError } from '../errors.js';
import { formatCountOf } from '../format.js';

/** At most `count` paths, or at most `share` (0..1] of the mirror's paths. */
export type DeleteLimit = { count: number } | { share: number };

/** The default: half of the mirror. An rsnapshot rotation removes one snapshot of twenty or so. */
export const DEFAULT_DELETE_LIMIT: DeleteLimit = { share: 0.5 };

/** "5000" → 5000 paths; "50%" → half of the mirror; undefined for anything else. */
export function parseDeleteLimit(text: string): DeleteLimit | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] === '%') return n >= 0 && n <= 100 ? { share: n / 100 } : undefined;
  return Number.isSafeInteger(n) ? { count: n } : undefined;
}

/** Whether the limit lets any removal through (--max-delete 100%). */
export function unlimited(limit: DeleteLimit): boolean {
  return 'share' in limit && limit.share >= 1;
}

export function formatDeleteLimit(limit: DeleteLimit): string {
  return 'count' in limit ? String(limit.count) : `${Math.round(limit.share * 1000) / 10}%`;
}

/**
 * Whether removing `extras` paths passes `limit`, for a mirror that holds them and about as many
 * more as the source has paths (`srcPaths`, its top folder included; counting the mirror's rows
 * would read its whole table). An empty source passes any share below 100%, however small the
 * mirror: it is what an unmounted drive looks like.
 */
export function overDeleteLimit(extras: number, srcPaths: number, limit: DeleteLimit): boolean {
  if (extras === 0) return false;
  if ('count' in limit) return extras > limit.count;
  if (srcPaths <= 1) return limit.share < 1;
  return extras > limit.share * (extras + srcPaths);
}

/**
 * The error a --delete run stops with before it changes the mirror, when removing `extras` paths
 * passes `limit`; undefined when it does not.
 */
export function deleteRefusal(extras: number, srcPaths: number, limit: DeleteLimit, src: string, dryRun = false): LinkmirrorError | undefined {
  if (!overDeleteLimit(extras, srcPaths, limit)) return undefined;
  const fix = 'to remove them anyway, run again with --max-delete 100%';
  // The scan counts the source's top folder as one path: nothing else in it.
  if (srcPaths <= 1) {
    return new LinkmirrorError('DELETE_TOO_MANY', `--delete would empty the mirror (${formatCountOf(extras, 'path')}): the source ${src} is empty; is its drive mounted? ${fix}`);
  }
  const share = Math.round((100 * extras) / (extras + srcPaths));
  return new LinkmirrorError(
    'DELETE_TOO_MANY',
    `--delete would remove ${formatCountOf(extras, 'path')}, ${share}% of the mirror, more than --max-delete ${formatDeleteLimit(limit)} allows: ` +
      `check that ${src} is the right folder and its drive is mounted${dryRun ? '' : ' (--dry-run shows the plan)'}; ${fix}`,
  );
}

/**
 * The error a run without --delete stops with when the source is empty and the mirror is not:
 * an unmounted source drive's mount point. Nothing would be removed, but the index would record
 * an empty source, and verify DST, checking the mirror against that record, would vouch for it
 * without looking at one file (a tester's weekly verify said "they match", 0 inodes read).
 */
export function emptySourceRefusal(srcPaths: number, mirrorHasPaths: boolean, src: string): LinkmirrorError | undefined {
  if (srcPaths > 1 || !mirrorHasPaths) return undefined;
  return new LinkmirrorError('SRC_EMPTY', `the source ${src} is empty, and the mirror is not: is its drive mounted? Nothing was copied; to copy an empty source anyway, run again with --force`);
}
