// Words for the summaries: the human form printed at the end of a command, and the --json form
// (bigints as numbers: byte counts stay exact below 2^53, 8 PiB).
import type { CopySummary } from '../copy/copy.js';
import { formatBytes, formatCount, formatCountOf, formatDuration } from '../format.js';
import type { ScanTotals } from '../store/index-db.js';

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2);
}

export function scanLines(t: ScanTotals): string[] {
  return [
    `paths          ${formatCount(t.paths)} (${formatCountOf(t.dirs, 'directory', 'directories')}, ${formatCountOf(t.files, 'file')}, ${formatCountOf(t.symlinks, 'symlink')}${t.specials ? `, ${formatCount(t.specials)} special` : ''})`,
    `inodes         ${formatCount(t.inodes)} distinct (${formatCount(t.linkGroups)} with more than one path; largest group ${formatCountOf(t.largestGroup, 'path')})`,
    `bytes          ${formatBytes(t.logicalBytes)} logical (every path), ${formatBytes(t.physicalBytes)} physical (every inode once)`,
  ];
}

export function planLines(s: CopySummary): string[] {
  const p = s.plan;
  const lines = [
    `plan for ${s.dst} (${p.fsType}, link limit ${Number.isFinite(p.linkMax) ? formatCount(p.linkMax) : 'none known'})${s.resumed ? ', continuing an existing mirror' : ''}:`,
    `  paths to place   ${formatCount(p.pathsToPlace)} of ${formatCount(p.paths - p.dirs)} (plus ${formatCount(p.dirsToMake)} of ${formatCountOf(p.dirs, 'directory', 'directories')} to make)`,
    `  inodes to copy   ${formatCount(p.inodesToCopy)} of ${formatCount(p.inodes)}, ${formatBytes(p.bytesToCopy)}`,
    `  links to make    ${formatCount(p.linksToMake)}`,
    `  expected splits  ${formatCount(p.expectedSplits)}${p.expectedSplits ? ` (${formatBytes(p.splitBytes)} more)` : ''}`,
    `  space needed     ${formatBytes(p.bytesNeeded)}, ${formatCountOf(p.inodesNeeded, 'inode')}${p.indexBytes > 0n ? ` (${formatBytes(p.indexBytes)} of it for the index)` : ''}${p.holeBytes > 0n ? `; holes of sparse files not counted: ${formatBytes(p.holeBytes)}` : ''}`,
  ];
  if (s.delete) lines.push(`  to delete        ${formatCountOf(s.extras, 'path')} no longer in the source`);
  else if (s.extras) lines.push(`  to keep          ${formatCountOf(s.extras, 'path')} no longer in the source (--delete would remove them)`);
  if (s.deleteRefusal) lines.push(`the copy would stop before writing anything: ${s.deleteRefusal}`);
  if (s.capacityRefusal) lines.push(`the copy would stop before writing anything: ${s.capacityRefusal}`);
  for (const note of s.notes ?? []) lines.push(`note: ${note}`);
  return lines;
}

export function copyLines(s: CopySummary): string[] {
  const c = s.placed;
  const lines = [
    s.interrupted
      ? `interrupted after ${formatDuration(s.elapsedMs)} (${formatCountOf(c.inodesCopied, 'inode')} and ${formatCountOf(c.linksMade, 'link')} done): run the same command again to continue`
      : `copied ${s.src} -> ${s.dst} in ${formatDuration(s.elapsedMs)}${s.resumed ? ' (continued an existing mirror)' : ''}`,
    ...scanLines(s.scan),
    `written        ${formatCountOf(c.inodesCopied, 'inode')}, ${formatBytes(c.bytesCopied)}; ${formatCountOf(c.linksMade, 'hard link')}; ${formatCountOf(s.dirsMade, 'directory', 'directories')}`,
    `splits         ${formatCount(c.splits)} (link limit ${Number.isFinite(s.plan.linkMax) ? formatCount(s.plan.linkMax) : 'none known'} on ${s.plan.fsType})`,
  ];
  if (c.alreadyPresent) lines.push(`already there  ${formatCountOf(c.alreadyPresent, 'path')}${c.metadataFixed ? ` (mode, owner or mtime set again on ${formatCountOf(c.metadataFixed, 'inode')})` : ''}`);
  else if (c.metadataFixed) lines.push(`set again      mode, owner or mtime of ${formatCountOf(c.metadataFixed, 'inode')}`);
  if (c.foundComplete) lines.push(`found complete ${formatCountOf(c.foundComplete, 'inode')}, ${formatBytes(c.bytesFound)}, that the interrupted run had written (not copied again)`);
  if (c.replaced) lines.push(`replaced       ${formatCountOf(c.replaced, 'path')} that held other content`);
  if (s.adopted) lines.push(`adopted        ${formatCountOf(s.adopted, 'existing file')}; ${formatCountOf(c.deduplicated, 'duplicate')} linked, ${formatBytes(c.bytesReclaimed)} reclaimed`);
  if (s.deleted) lines.push(`deleted        ${formatCountOf(s.deleted, 'path')} no longer in the source`);
  if (s.deleteSkipped) {
    lines.push(`deleted        nothing: --delete skipped, the scan could not read every path (see the problems)${s.extrasKept ? `; ${formatCountOf(s.extrasKept, 'path')} kept` : ''}`);
  } else if (s.extrasKept) {
    lines.push(`kept           ${formatCountOf(s.extrasKept, 'path')} no longer in the source (use --delete to remove them)`);
  }
  if (c.skippedSockets) lines.push(`skipped        ${formatCountOf(c.skippedSockets, 'socket')}`);
  if (s.notKept?.length) {
    const what = s.notKept.map((k) => (k === 'modes' ? 'permission bits' : 'owners')).join(' and ');
    lines.push(`not kept       ${what}: the destination (${s.plan.fsType}) does not hold them (see the warning)`);
  }
  lines.push(`problems       ${formatCount(s.problemCount)}`);
  for (const p of s.problems.slice(0, 10)) lines.push(`  ${p.message}`);
  if (s.problemCount > 10) lines.push(`  … and ${formatCount(s.problemCount - 10)} more (use --json for the first ${s.problems.length})`);
  return lines;
}
