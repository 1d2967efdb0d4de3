// A cron job's nightly copy the night a drive is not mounted (found by a tester playing that
// operator). The destination's drive: its mount point is an empty folder on the system disk, and
// the copy made a whole new mirror there, exit 0. The source's drive: an empty source over a full
// mirror was "copied" (exit 0), its record replaced by an empty one, and verify DST then vouched
// for the mirror without reading a file. Both are refused now, dry run too, --force overriding.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { isLinkmirrorError } from '../../src/errors.js';
import { verifyMirror } from '../../src/verify/verify.js';
import { expectExit, lines, runCli } from '../helpers/cli.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, expectSameTopology, file, link, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const fails = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

function source(): string {
  const src = path.join(temp(), 'src');
  buildTree(src, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h1/b': file('beta') });
  return src;
}

/** An fstab that lists `mountPoint` (and a swap line and a comment, which are no mount points). */
function fstabListing(mountPoint: string): string {
  const p = path.join(temp(), 'fstab');
  fs.writeFileSync(p, `# /etc/fstab\nUUID=0b4e-1f2a ${mountPoint.replace(/ /g, '\\040')} ext4 defaults,noauto 0 2\n/dev/sdb2 none swap sw 0 0\n`);
  return p;
}

describe('the destination drive not mounted: its mount point listed in fstab, empty', () => {
  it('a copy into a folder on it, or into the mount point itself, is refused (exit 2), dry run too; nothing is made', async () => {
    const src = source();
    const usb = path.join(temp(), 'usb disk'); // a space, as fstab writes \040
    fs.mkdirSync(usb);
    const fstab = fstabListing(usb);
    for (const dst of [path.join(usb, 'snapshots'), usb]) {
      for (const dryRun of [false, true]) {
        const err = await fails(copy(src, dst, { fstab, dryRun }));
        expect(isLinkmirrorError(err, 'DST_NOT_MOUNTED'), String(err)).toBe(true);
        expect(exitCodeFor(err)).toBe(ExitCode.usage);
        expect((err as Error).message).toBe(
          `the destination ${dst} is on ${usb}, a mount point in ${fstab} with nothing mounted on it: is the drive mounted? Mount it and run again (a copy now would fill the disk below it; --force copies there anyway)`,
        );
      }
    }
    expect(fs.readdirSync(usb)).toEqual([]);
    // Asked for: copied there; and the mirror made so is no longer refused (it is there on purpose).
    await copy(src, path.join(usb, 'snapshots'), { fstab, force: true });
    expectSameTopology(src, path.join(usb, 'snapshots'));
    fs.writeFileSync(path.join(src, 'h1/c'), 'gamma');
    await copy(src, path.join(usb, 'snapshots'), { fstab });
    expectSameTopology(src, path.join(usb, 'snapshots'));
  });

  it('an old mirror under the mount point (made before the drive was mounted over it) is refused too', async () => {
    const src = source();
    const usb = path.join(temp(), 'usb');
    fs.mkdirSync(usb);
    const old = path.join(usb, 'snapshots');
    await copy(src, old, { fstab: path.join(temp(), 'no-fstab') }); // before the drive was in fstab
    const fstab = fstabListing(usb);
    const err = await fails(copy(src, old, { fstab }));
    expect(isLinkmirrorError(err, 'DST_NOT_MOUNTED'), String(err)).toBe(true);
  });

  it('a drive mounted below an fstab mount point with nothing mounted on it (cloud-init\'s /mnt) takes the copy', async (ctx) => {
    const src = source();
    const m = useLoopMount(ctx, 'ext4', 16);
    const fstab = fstabListing(path.dirname(m.dir)); // the folder the drive is mounted in
    await copy(src, path.join(m.dir, 'snapshots'), { fstab });
    expectSameTopology(src, path.join(m.dir, 'snapshots'));
  });

  it('with the drive mounted there, the copy goes on as ever', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    const src = source();
    const fstab = fstabListing(m.dir);
    await copy(src, path.join(m.dir, 'snapshots'), { fstab });
    expectSameTopology(src, path.join(m.dir, 'snapshots'));
  });
});

describe('the source drive not mounted: an empty source over a mirror that is not', () => {
  it('a run without --delete is refused (exit 2, one line), dry run too; the mirror and its manifest stay as they were', async () => {
    const src = source();
    const dst = path.join(temp(), 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    for (const name of fs.readdirSync(src)) fs.rmSync(path.join(src, name), { recursive: true });

    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.usage);
    const said = `the source ${src} is empty, and the mirror is not: is its drive mounted? Nothing was copied; to copy an empty source anyway, run again with --force`;
    expect(lines(r.stderr)).toEqual([`linkmirror: ${said}`]);
    const dry = runCli(['copy', '--dry-run', src, dst]);
    expectExit(dry, ExitCode.usage); // as the real run exits
    expect(dry.stdout).toContain(`the copy would stop before writing anything: ${said}`);
    // verify DST still checks the mirror against what it holds (was: "they match", 0 inodes read).
    const v = await verifyMirror(dst);
    expect(v.inodes.expected).toBe(2);
    expect(v.inodesHashed).toBe(2);

    // With --delete (the cron line the README gives) too, before the scan: the record stays.
    const deleting = runCli(['copy', '-q', '--delete', src, dst]);
    expectExit(deleting, ExitCode.usage);
    expect(lines(deleting.stderr)).toEqual([expect.stringMatching(/^linkmirror: --delete would empty the mirror \(\d+ paths\): the source .* is empty; is its drive mounted\? to remove them anyway, run again with --max-delete 100%$/)]);
    expect((await verifyMirror(dst)).inodesHashed).toBe(2);

    // Asked for: the empty source is recorded; the mirror keeps its paths (no --delete).
    const forced = runCli(['copy', '--force', src, dst]);
    expectExit(forced, ExitCode.ok);
    expect(forced.stdout).toMatch(/^kept +5 paths no longer in the source/m);
  });
});
