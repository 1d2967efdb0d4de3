// A real rsnapshot tree, made by Debian's rsnapshot from a small source changed between runs:
// the snapshots share unchanged files through hard links (cp -al or rsync --link-dest), and the
// mirror must share them the same way. Then one more rotation, and the same mirror brought up
// to date (with delete: the oldest snapshot rotated out).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { buildTree, expectSameTopology, file, inodeKey, link, readTree, symlink, tempDirs } from '../helpers/tree.js';
import { writeRsnapshotConfig } from '../helpers/rsnapshot.js';

const temp = tempDirs();
const RSNAPSHOT = '/usr/bin/rsnapshot';
const missing = !fs.existsSync(RSNAPSHOT) || !fs.existsSync('/usr/bin/rsync') ? 'rsnapshot or rsync not installed' : undefined;


function rsnapshot(conf: string): void {
  execFileSync(RSNAPSHOT, ['-c', conf, 'hourly'], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A snapshot run after each change, oldest first; returns the snapshot root. */
function snapshots(linkDest: boolean): { base: string; root: string; data: string; conf: string } {
  const base = temp();
  const data = path.join(base, 'data');
  const root = path.join(base, 'snapshots');
  buildTree(data, {
    'home/ann/notes.txt': file('notes, first version\n', { mtime: 1_600_000_000 }),
    'home/ann/photo.jpg': file(Buffer.alloc(20_000, 0xab), { mtime: 1_600_000_001 }),
    'home/ann/photo-also.jpg': link('home/ann/photo.jpg'), // linked inside the source
    'home/bob/.profile': file('export PATH\n', { mode: 0o600, mtime: 1_600_000_002 }),
    'home/bob/latest': symlink('.profile'),
    'etc/hosts': file('127.0.0.1 localhost\n', { mtime: 1_600_000_003 }),
    'etc/empty': file(''),
  });
  const conf = writeRsnapshotConfig({ dir: base, data, root, linkDest, retain: 4 });
  const change: (() => void)[] = [
    () => {},
    () => {
      fs.writeFileSync(path.join(data, 'home/bob/new.txt'), 'new file\n');
      fs.rmSync(path.join(data, 'etc/empty'));
    },
    () => fs.writeFileSync(path.join(data, 'home/ann/notes.txt'), 'notes, second version\n'),
    () => fs.linkSync(path.join(data, 'etc/hosts'), path.join(data, 'home/bob/hosts-link')),
    () => fs.appendFileSync(path.join(data, 'home/bob/new.txt'), 'more\n'),
  ];
  for (const c of change) {
    c();
    rsnapshot(conf);
  }
  return { base, root, data, conf };
}

describe.skipIf(missing)('a real rsnapshot tree', () => {
  for (const linkDest of [true, false]) {
    const how = linkDest ? 'rsync --link-dest' : 'cp -al';
    it(`made with ${how}: the mirror has the same topology, by inode and nlink`, async () => {
      const { base, root, data } = snapshots(linkDest);
      // rsync --relative keeps the source's full path under the backup point.
      const at = (n: number, rel: string) => `hourly.${n}/localhost${data}/${rel}`;
      expect(fs.readdirSync(root).sort()).toEqual(['hourly.0', 'hourly.1', 'hourly.2', 'hourly.3']);
      const dst = path.join(base, 'mirror');
      const summary = await copy(root, dst);
      expect(summary.problemCount).toBe(0);

      const topo = expectSameTopology(root, dst);
      expect(topo.srcLinkGroups).toBeGreaterThan(0);
      expect(topo.dstInodes).toBe(topo.srcInodes);
      expect(summary.placed.inodesCopied).toBe(topo.srcInodes);
      // The photo never changed: one inode for 2 names × 4 snapshots.
      const d = readTree(dst);
      const photo = d.get(at(0, 'home/ann/photo.jpg'))!;
      expect(photo.nlink).toBe(8);
      expect(inodeKey(d.get(at(3, 'home/ann/photo-also.jpg'))!)).toBe(inodeKey(photo));
      // Changed files have an inode per version.
      expect(inodeKey(d.get(at(0, 'home/ann/notes.txt'))!)).not.toBe(inodeKey(d.get(at(3, 'home/ann/notes.txt'))!));
      expect(d.get(at(0, 'home/ann/notes.txt'))!.content!.toString()).toBe('notes, second version\n');
      expect(d.get(at(3, 'home/ann/notes.txt'))!.content!.toString()).toBe('notes, first version\n');
      expect(summary.placed.bytesCopied).toBe(summary.scan.physicalBytes);
    });
  }

  it('one more rotation, then the same mirror brought up to date (delete): it matches again', async () => {
    const { base, root, data, conf } = snapshots(true);
    const dst = path.join(base, 'mirror');
    await copy(root, dst);
    expectSameTopology(root, dst);

    fs.writeFileSync(path.join(data, 'home/ann/notes.txt'), 'notes, third version\n');
    fs.rmSync(path.join(data, 'home/bob/latest'));
    rsnapshot(conf);
    const again = await copy(root, dst, { delete: true });
    expect(again.problemCount).toBe(0);
    expect(again.resumed).toBe(true);
    const topo = expectSameTopology(root, dst);
    expect(topo.splitGroups).toBe(0);
    // Only the changed file's new content had to be written.
    expect(again.placed.bytesCopied).toBe(BigInt('notes, third version\n'.length));
  });
});
