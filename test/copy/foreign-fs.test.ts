// USB drives often come formatted for Windows. On FAT and exFAT no hard link can be made: the
// copy is refused before any index is written there, with what a link-less copy would need.
// On NTFS through ntfs-3g links work, but mounted without `-o permissions` every file reads
// 0777 root:root whatever is set: the copy says so once, verify leaves modes and owners out,
// and once the drive is mounted with permissions the next copy sets them on every path. A name
// that is not UTF-8 cannot be stored there (EILSEQ) and is reported for its path.
// These filesystems are served through FUSE where the kernel lacks them (test/helpers/loop-mount.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { noProgress, type Progress } from '../../src/progress.js';
import { DST_MODES, Index } from '../../src/store/index-db.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { expectExit, lines, runCli } from '../helpers/cli.js';
import { remount, useLoopMount, type LoopFsType } from '../helpers/loop-mount.js';
import { buildTree, file, inodeClasses, link, readTree, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const isRoot = process.getuid?.() === 0;

function source(): string {
  const src = path.join(temp(), 'src');
  buildTree(src, {
    'h0/a': file('alpha', { mode: 0o640 }),
    'h1/a': link('h0/a'),
    'h2/a': link('h0/a'),
    'h0/b': file('beta', { mode: 0o600 }),
  });
  return src;
}

describe('a destination that cannot hold hard links', () => {
  for (const [fsType, shown] of [['vfat', /\((vfat|msdos)\)/], ['exfat', /\((exfat|fuseblk: a FUSE filesystem such as exFAT)\)/]] as [LoopFsType, RegExp][]) {
    it(`${fsType}: refused before an index is made there, with what a copy without links would need; the folder made is removed`, (ctx) => {
      const m = useLoopMount(ctx, fsType, 32);
      const src = source();
      const dst = path.join(m.dir, 'mirror');
      const r = runCli(['copy', src, dst]);
      expectExit(r, ExitCode.fatal);
      const said = lines(r.stderr);
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/^linkmirror: destination filesystem \(.+\) cannot hold hard links; a copy without links would need 19 B \(the source holds 9 B with its links\)\. Use a filesystem with hard links/);
      expect(said[0]).toMatch(shown);
      expect(fs.readdirSync(m.dir).filter((n) => n !== 'System Volume Information')).toEqual([]);

      // The drive's own root, which exists: left as it was found, without a state folder.
      expectExit(runCli(['copy', '-q', src, m.dir]), ExitCode.fatal);
      expect(fs.readdirSync(m.dir).filter((n) => n !== 'System Volume Information')).toEqual([]);
    });
  }

  it('vfat: a dry run says the copy would stop', (ctx) => {
    const m = useLoopMount(ctx, 'vfat', 32);
    const r = runCli(['copy', '-n', source(), path.join(m.dir, 'mirror')]);
    expect(r.stdout).toMatch(/^the copy would stop before writing anything: destination filesystem \(vfat\) cannot hold hard links/m);
    expect(r.status).toBe(ExitCode.fatal); // as the real run exits
  });
});

describe('NTFS through ntfs-3g', () => {
  it.skipIf(!isRoot)('without -o permissions: links kept, modes and owners said to be lost and not verified; with it, the next copy sets them', async (ctx) => {
    const m = useLoopMount(ctx, 'ntfs', 32);
    const src = source();
    fs.chownSync(path.join(src, 'h0/b'), 1234, 5678);
    const dst = path.join(m.dir, 'mirror');
    const warnings: string[] = [];
    const progress = { warn: (w: string) => warnings.push(w) };

    const first = await copy(src, dst, { owner: true, progress: noProgressWith(progress) });
    expect(first.problemCount).toBe(0);
    expect(first.notKept).toEqual(['modes', 'owners']);
    expect(warnings.filter((w) => w.includes('does not keep permission bits or owners'))).toHaveLength(1);
    // The topology is there: one inode for the three paths of a.
    expect(inodeClasses(dst).map((c) => c.length).sort()).toEqual([1, 3]);
    expect(fs.statSync(path.join(dst, 'h0/b')).mode & 0o777).toBe(0o777);
    for (const v of [await verifyAgainstSource(src, dst), await verifyMirror(dst)]) {
      expect(v).toMatchObject({ match: true, modesCompared: false, ownerCompared: false, notKept: { modes: true, owners: true } });
    }
    const shown = runCli(['verify', src, dst]);
    expectExit(shown, ExitCode.ok);
    expect(lines(shown.stdout)).toContain('modes          not compared (the destination does not keep them)');

    remount(m, { ntfsPermissions: true });
    warnings.length = 0;
    const again = await copy(src, dst, { owner: true, progress: noProgressWith(progress) });
    expect(again.problemCount).toBe(0);
    expect(again.notKept).toEqual([]);
    expect(warnings).toContain('the destination keeps permission bits and owners now: every path of the mirror is looked at to set them');
    expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0 });
    expect(fs.statSync(path.join(dst, 'h1/a')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(dst, 'h0/b'))).toMatchObject({ uid: 1234, gid: 5678 });
    for (const v of [await verifyAgainstSource(src, dst), await verifyMirror(dst)]) {
      expect(v).toMatchObject({ match: true, modesCompared: true, ownerCompared: true });
    }

    // Mounted again without permissions (as a desktop may): verify asks the drive as it is now.
    remount(m, {});
    for (const v of [await verifyAgainstSource(src, dst), await verifyMirror(dst)]) {
      expect(v).toMatchObject({ match: true, modesCompared: false, ownerCompared: false });
    }
  });

  it('with windows_names: a name Windows forbids is reported for its path as one the filesystem cannot hold', (ctx) => {
    const m = useLoopMount(ctx, 'ntfs', 32, [], { ntfsPermissions: true, mountOptions: 'windows_names' });
    const src = source();
    fs.writeFileSync(path.join(src, 'h0/what?'), 'asked');
    const r = runCli(['copy', src, path.join(m.dir, 'mirror')]);
    expectExit(r, ExitCode.problems);
    expect(r.stdout).toMatch(/^ {2}cannot copy h0\/what\?: the filesystem cannot hold this name \(EINVAL: FAT, exFAT and NTFS mounted with windows_names refuse .*\); rename it in the source/m);
    expect(readTree(path.join(m.dir, 'mirror')).get('h2/a')?.content?.toString()).toBe('alpha');
  });

  it('a name that is not UTF-8 is reported for its path as one NTFS cannot hold; the rest is copied', (ctx) => {
    const m = useLoopMount(ctx, 'ntfs', 32, [], { ntfsPermissions: true });
    const src = source();
    fs.writeFileSync(Buffer.from(`${src}/h0/caf\xe9`, 'latin1'), 'latin-1 name');
    const dst = path.join(m.dir, 'mirror');
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.problems);
    expect(r.stdout).toMatch(/^ {2}cannot copy h0\/caf\\xe9: the filesystem cannot hold this name \(EILSEQ: it takes only valid UTF-8 names\); rename it in the source, or copy to a Linux filesystem \(ext4, xfs, btrfs\)$/m);
    const d = readTree(dst);
    expect(d.get('h2/a')?.content?.toString()).toBe('alpha');
    expect(d.get('h0/b')?.content?.toString()).toBe('beta');
  });
});

describe('a drive that keeps modes again', () => {
  it('has them set on every path even when the run that found it stops before it is through', async () => {
    const src = source();
    const dst = path.join(temp(), 'mirror');
    await copy(src, dst);
    // As a drive that kept no modes left the mirror: every file 0777, the index saying so.
    for (const p of ['h0/a', 'h0/b']) fs.chmodSync(path.join(dst, p), 0o777);
    const index = Index.open(path.join(dst, '.linkmirror', 'index.db'));
    index.setMeta(DST_MODES, 'lost');
    index.close();

    let content = false;
    const stopped = await copy(src, dst, {
      progress: { ...noProgress, start: (p) => void (content = p === 'content') },
      shouldStop: () => content,
    });
    expect(stopped.interrupted).toBe(true);
    const again = await copy(src, dst);
    expect(again.interrupted).toBe(false);
    expect(fs.statSync(path.join(dst, 'h2/a')).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.join(dst, 'h0/b')).mode & 0o777).toBe(0o600);
    expect((await verifyMirror(dst)).match).toBe(true);
  });
});

/** A progress sink that only collects warnings. */
function noProgressWith(sink: { warn: (w: string) => void }): Progress {
  return { ...noProgress, warn: sink.warn };
}
