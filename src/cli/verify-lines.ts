// Words for verify's summary: counts per category with the first differences of each, then
// what was read. Kept apart from report.ts (copy's words) so each command's wording is in one place.
import { formatBytes, formatCount, formatDuration } from '../format.js';
import { aheadOfMirror, CATEGORIES, type Difference, type VerifyReport } from '../verify/verify.js';

/** How many differences of each category the summary names. */
export const SHOWN_PER_CATEGORY = 5;

const side = (r: VerifyReport) => (r.mode === 'source' ? ['in src', 'in dst'] : ['in the manifest', 'now']);

function describe(d: Difference, r: VerifyReport): string {
  const [was, is] = side(r);
  const many = d.paths > 1 ? ` (${formatCount(d.paths)} paths)` : '';
  switch (d.category) {
    case 'missing':
      return `${d.path}${d.expected ? ` (${d.expected})` : ''}`;
    case 'extra':
    case 'kept':
      return `${d.path}${d.actual ? ` (${d.actual})` : ''}`;
    case 'link-split':
    case 'recorded-split':
      return `${d.path}${many}: one inode ${was}, ${d.actual} ${is}${d.other ? ` (${d.other} is on another)` : ''}`;
    case 'link-merged':
      return `${d.path}${many}: ${d.expected} ${was}, one inode ${is}${d.other ? ` (with ${d.other})` : ''}`;
    case 'source-inode':
      return `${d.path}${many}: the source's own file (the same inode), not a copy of it`;
    case 'linked-outside':
      return `${d.path}: ${d.actual} links, ${d.expected} of them in the mirror`;
    default:
      return `${d.path}${many}: ${d.expected ?? '?'} ${was}, ${d.actual ?? '?'} ${is}`;
  }
}

export function verifyLines(r: VerifyReport): string[] {
  const what = r.mode === 'source' ? `${r.dst} against ${r.src}` : `${r.dst} against its manifest${r.src ? ` (a copy of ${r.src})` : ''}`;
  // A manifest that is a newer record of the source than the mirror was copied from (see
  // verify.ts aheadOfMirror): what differs from it, and what it lacks, say nothing of the mirror.
  const ahead = aheadOfMirror(r.manifest?.state);
  const counted = `${formatCount(r.differenceCount)} difference${r.differenceCount === 1 ? '' : 's'}${r.problemCount ? `, ${formatCount(r.problemCount)} problem${r.problemCount === 1 ? '' : 's'}` : ''}`;
  const lines = [
    r.match
      ? `verified ${what} in ${formatDuration(r.elapsedMs)}: they match`
      : ahead || (r.differenceCount === 0 && r.problemCount === 0)
        ? `verified ${what} in ${formatDuration(r.elapsedMs)}: not vouched for (see the note)${r.differenceCount || r.problemCount ? `; ${counted} against that record` : ''}`
        : `verified ${what} in ${formatDuration(r.elapsedMs)}: ${counted}`,
  ];
  if (r.manifest?.state === 'scanned') {
    lines.push('note           the last copy into this mirror scanned a changed source and stopped before copying (refused, or killed): the manifest describes that source, not the mirror; run the copy again, then verify');
  } else if (r.manifest?.state === 'complete-with-errors') {
    lines.push('note           the last copy into this mirror finished, but some paths could not be copied: see its summary, run it again, then verify');
  } else if (r.manifest && r.manifest.state !== 'complete') {
    lines.push(`note           the last copy into this mirror did not finish${r.manifest.state ? ` (state: ${r.manifest.state})` : ''}: run it again, then verify`);
  }
  lines.push(`paths          ${formatCount(r.paths.expected)} expected, ${formatCount(r.paths.actual)} found; ${formatCount(r.inodes.expected)} inodes expected, ${formatCount(r.inodes.actual)} found`);
  if (r.fast) {
    lines.push('content        not read (--fast: sizes and mtimes only)');
  } else {
    const rate = r.hashMs > 0 ? `, ${formatBytes(Number(r.bytesHashed) / (r.hashMs / 1000))}/s` : '';
    lines.push(`content        ${formatCount(r.inodesHashed)} inodes read${r.mode === 'source' ? ' (both trees)' : ''}, ${formatBytes(r.bytesHashed)} (${r.algorithm}${rate})${r.sample < 1 ? `; sample ${+(r.sample * 100).toFixed(3)}% (seed ${r.sampleSeed})` : ''}`);
    if (r.contentUnchecked) {
      const why = r.sample < 1 ? 'outside the sample' : r.mode === 'manifest' ? 'no hash in the manifest' : 'unreadable source';
      lines.push(`               ${formatCount(r.contentUnchecked)} files not compared (${why})`);
    }
  }
  const notHeld = ' (the destination does not keep them)';
  if (!r.modesCompared) lines.push(`modes          not compared${notHeld}`);
  if (!r.ownerCompared) lines.push(`owners         not compared${r.notKept.owners ? notHeld : ''}`);
  for (const c of CATEGORIES) {
    const n = r.categories[c];
    if (n === 0) continue;
    lines.push(`${c.padEnd(14)} ${formatCount(n)}`);
    const shown = r.differences.filter((d) => d.category === c).slice(0, SHOWN_PER_CATEGORY);
    for (const d of shown) lines.push(`  ${describe(d, r)}`);
    if (n > shown.length) lines.push(`  … and ${formatCount(n - shown.length)} more (--json lists every one)`);
  }
  if (r.recordedSplits) {
    // Counted by source inode: the copy's summary counts the inodes each split added.
    lines.push(`splits         ${formatCount(r.recordedSplits)} inode group${r.recordedSplits === 1 ? '' : 's'} split by the copy at the link limit (allowed)`);
    for (const d of r.recordedSplitExamples.slice(0, SHOWN_PER_CATEGORY)) lines.push(`  ${describe(d, r)}`);
  }
  if (r.kept && !ahead) {
    const whose = r.mode === 'source' ? 'the source' : 'the manifest';
    lines.push(`kept           ${formatCount(r.kept)} paths ${whose} no longer has, kept by copies without --delete (allowed; not compared)`);
    for (const d of r.keptExamples.slice(0, SHOWN_PER_CATEGORY)) lines.push(`  ${describe(d, r)}`);
  }
  if (r.linkedOutside) {
    lines.push(`linked outside ${formatCount(r.linkedOutside)} inode${r.linkedOutside === 1 ? '' : 's'} of the mirror also linked from outside it (a cp -al of the mirror?): what is done to them there is done to the mirror (allowed)`);
    for (const d of r.linkedOutsideExamples.slice(0, SHOWN_PER_CATEGORY)) lines.push(`  ${describe(d, r)}`);
  }
  if (r.problemCount) {
    lines.push(`problems       ${formatCount(r.problemCount)}`);
    for (const p of r.problems.slice(0, 10)) lines.push(`  ${p.message}`);
    if (r.problemCount > 10) lines.push(`  … and ${formatCount(r.problemCount - 10)} more`);
  }
  return lines;
}
