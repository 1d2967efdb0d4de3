// Incremental runs into an existing mirror: real rsnapshot rotations with churn between them,
// a file rewritten in place (same inode, new size or mtime), a metadata-only change, a moved
// file, a new file that reuses a deleted file's inode number (on a small ext4, where that
// happens every time), type changes (file <-> directory, file <-> symlink) and a symlink
// planted in the mirror. Each time the mirror must end identical to the source, and a source
// inode that the mirror already held must keep its destination inode: unchanged content is
// never written again, and changed content never lands in the old inode.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPrng, type Prng } from '../../fixtures/prng.js';
import { copy } from '../../src/copy/copy.js';
import { INDEX_FILE, STATE_DIR } from '../../src/state-dir.js';
import { Index } from '../../src/store/index-db.js';
import { verifyAgainstSource, verifyMirror } from '../../src/verify/verify.js';
import { realFsOps } from '../../src/fs/ops.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { expectExit, runCli } from '../helpers/cli.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { dstInodesBySrc, identityOf, tmpLeft } from '../helpers/mirror-state.js';
import {
  buildTree, dir, expectSameTopology, fifo, file, inodeKey, link, readTree, symlink, tempDirs, utimesSeconds, type TreeNode, type TreeSpec,
} from '../helpers/tree.js';
import { writeRsnapshotConfig } from '../helpers/rsnapshot.js';

const temp = tempDirs();
const RSNAPSHOT = '/usr/bin/rsnapshot';

/** A source built from spec and a finished first mirror of it. */
async function mirrored(spec: TreeSpec, dstRoot?: string) {
  const base = temp();
  const src = path.join(base, 'src');
  const dst = path.join(dstRoot ?? base, 'dst');
  buildTree(src, spec);
  const first = await copy(src, dst);
  expect(first.problemCount).toBe(0);
  expectSameTopology(src, dst);
  return { base, src, dst };
}

/** Set a path's mtime to `s` seconds (exactly, to the microsecond). */
const setMtime = (p: string, s: number) => fs.utimesSync(p, utimesSeconds(BigInt(s) * 1_000_000_000n), utimesSeconds(BigInt(s) * 1_000_000_000n));

/** Write `text` over the file at `p` from byte `at`, in place, and put its times back: size and mtime say unchanged. */
function overwriteKeepingTimes(p: string, text: string, at: number): void {
  const before = fs.lstatSync(p);
  const fd = fs.openSync(p, 'r+');
  fs.writeSync(fd, Buffer.from(text), 0, text.length, at);
  fs.closeSync(fd);
  fs.utimesSync(p, before.atime, before.mtime);
}

/** Source identities that map to a different (or no longer one) destination inode than before. */
function movedInodes(before: Map<string, Set<bigint>>, after: Map<string, Set<bigint>>): string[] {
  const out: string[] = [];
  for (const [id, inos] of after) {
    const was = before.get(id);
    if (was && [...was].sort().join() !== [...inos].sort().join()) out.push(`${id}: dst ${[...was].join()} before, ${[...inos].join()} now`);
  }
  return out;
}

// ---- rsnapshot ----------------------------------------------------------------------------


/** Every regular file under dir, relative, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The data rsnapshot backs up: a few directories of small files and symlinks. */
function makeData(data: string): void {
  const spec: Record<string, ReturnType<typeof file>> = {};
  for (let d = 0; d < 4; d++) {
    for (let f = 0; f < 12; f++) spec[`dir${d}/file${f}.txt`] = file(`dir ${d} file ${f}\n`.repeat(f + 1), { mtime: 1_700_000_000 + d * 100 + f });
    spec[`dir${d}/link-to-0`] = symlink('file0.txt');
  }
  spec['dir1/sub/deep.bin'] = file(Buffer.alloc(20_000, 7), { mtime: 1_700_000_500 });
  buildTree(data, spec);
}

/** Churn between two rsnapshot runs: rewrite, add, delete, chmod, move; step 3 drops a directory. */
function churn(data: string, prng: Prng, step: number): void {
  const files = filesUnder(data);
  const pick = () => files.splice(prng.int(0, files.length - 1), 1)[0];
  for (let i = 0; i < 3; i++) fs.appendFileSync(path.join(data, pick()), `changed at step ${step}\n`); // same inode, new size
  fs.rmSync(path.join(data, pick()));
  fs.chmodSync(path.join(data, pick()), 0o600);
  const moved = pick();
  fs.renameSync(path.join(data, moved), path.join(data, `${moved}.moved${step}`));
  fs.mkdirSync(path.join(data, `new${step}`), { recursive: true });
  fs.writeFileSync(path.join(data, `new${step}/added.txt`), `added at step ${step}\n`);
  fs.writeFileSync(path.join(data, `dir0/added${step}.txt`), `also added at step ${step}\n`);
  fs.symlinkSync(`added${step}.txt`, path.join(data, `dir0/added${step}.lnk`));
  if (step === 3) fs.rmSync(path.join(data, 'dir2'), { recursive: true });
}

/** Paths of the old mirror that the source no longer has, each one: what --delete removes (and counts). */
function expectedDeletions(mirror: Map<string, unknown>, src: Map<string, unknown>): number {
  let n = 0;
  for (const key of mirror.keys()) if (!src.has(key)) n++;
  return n;
}

interface RunCounts {
  inodesCopied: number;
  alreadyPresent: number;
  metadataFixed: number;
  deleted: number;
  problemCount: number;
}

describe('incremental runs after real rsnapshot rotations', () => {
  const via = {
    cli: (src: string, dst: string): RunCounts => {
      const r = runCli(['copy', '--delete', '--json', src, dst]);
      expectExit(r, ExitCode.ok);
      const s = JSON.parse(r.stdout);
      return { ...s.placed, deleted: s.deleted, problemCount: s.problemCount };
    },
    library: async (src: string, dst: string): Promise<RunCounts> => {
      const s = await copy(src, dst, { delete: true });
      return { ...s.placed, deleted: s.deleted, problemCount: s.problemCount } as unknown as RunCounts;
    },
  };

  for (const [linkDest, how] of [[false, 'cli'], [true, 'library']] as const) {
    it(`link_dest ${linkDest ? 1 : 0} (${how}): five rotations with churn; each re-copy matches, keeps every known inode, copies only the new ones`, async (ctx) => {
      if (!fs.existsSync(RSNAPSHOT)) return ctx.skip(`${RSNAPSHOT} not installed (apt-get install rsnapshot)`);
      const base = temp();
      const data = path.join(base, 'data');
      const root = path.join(base, 'snapshots');
      const dst = path.join(base, 'mirror');
      makeData(data);
      const conf = writeRsnapshotConfig({ dir: base, data, root, linkDest, retain: 3 });
      const prng = createPrng(linkDest ? 31 : 30);

      let known = new Map<string, Set<bigint>>(); // source identity -> dst inodes, after the last run
      let mirror = new Map<string, unknown>();
      for (let step = 0; step < 5; step++) {
        if (step > 0) churn(data, prng, step);
        execFileSync(RSNAPSHOT, ['-c', conf, 'hourly'], { stdio: 'pipe' });
        const srcTree = readTree(root);
        const ids = new Set<string>();
        for (const [key, n] of srcTree) if (n.type !== 'dir') ids.add(identityOf(path.join(root, key)));
        const fresh = [...ids].filter((id) => !known.has(id)).length;

        const counts = await via[how](root, dst);
        expect(counts.problemCount, `step ${step}`).toBe(0);
        expectSameTopology(root, dst);
        const now = dstInodesBySrc(root, dst);
        // Unchanged inodes (rsnapshot keeps their identity) stay on their destination inode.
        expect(movedInodes(known, now), `step ${step}`).toEqual([]);
        expect(Number(counts.inodesCopied), `step ${step}: inodes new since the last run`).toBe(fresh);
        expect(counts.deleted, `step ${step}`).toBe(expectedDeletions(mirror, srcTree));
        if (step > 0) expect(counts.alreadyPresent, `step ${step}`).toBeGreaterThan(0);
        if (step === 4) expect(fresh).toBeGreaterThan(0);
        expect(tmpLeft(dst)).toEqual([]);
        known = now;
        mirror = readTree(dst);
      }
      // The oldest snapshot rotated out twice, and a deleted directory aged out: --delete removed them.
      expect(fs.readdirSync(root).sort()).toEqual(['hourly.0', 'hourly.1', 'hourly.2']);
    });
  }
});

// ---- changes of one file ------------------------------------------------------------------

describe('a file changed in place (same inode)', () => {
  const spec: TreeSpec = {
    'snap.0/doc': file('version one', { mtime: 1_600_000_000 }),
    'snap.1/doc': link('snap.0/doc'),
    'snap.2/renamed-doc': link('snap.0/doc'),
    'snap.2/other': file('other', { mtime: 1_600_000_001 }),
  };

  for (const change of ['new size', 'same size, new mtime'] as const) {
    it(`${change}: copied again, every path of the group follows it on one new inode; the old one is not rewritten`, async () => {
      const { base, src, dst } = await mirrored(spec);
      const oldDst = fs.statSync(path.join(dst, 'snap.0/doc'), { bigint: true }).ino;
      const otherIno = fs.statSync(path.join(dst, 'snap.2/other'), { bigint: true }).ino;
      // A name for the old destination inode outside DST: any write into it would show there.
      const keep = path.join(base, 'old-dst-inode');
      fs.linkSync(path.join(dst, 'snap.1/doc'), keep);
      const srcIno = fs.statSync(path.join(src, 'snap.0/doc')).ino;
      if (change === 'new size') {
        fs.writeFileSync(path.join(src, 'snap.1/doc'), 'version two, longer');
      } else {
        fs.writeFileSync(path.join(src, 'snap.1/doc'), 'version 2!!');
        setMtime(path.join(src, 'snap.1/doc'), 1_600_000_100);
      }
      expect(fs.statSync(path.join(src, 'snap.0/doc')).ino).toBe(srcIno); // in place, not replaced

      const summary = await copy(src, dst);
      expect(summary.problemCount).toBe(0);
      expect(summary.placed.inodesCopied).toBe(1);
      expectSameTopology(src, dst);
      const d = readTree(dst);
      const want = fs.readFileSync(path.join(src, 'snap.0/doc'));
      for (const p of ['snap.0/doc', 'snap.1/doc', 'snap.2/renamed-doc']) {
        expect(d.get(p)!.content, p).toEqual(want);
        expect(inodeKey(d.get(p)!), p).toBe(inodeKey(d.get('snap.0/doc')!));
      }
      expect(d.get('snap.0/doc')!.ino).not.toBe(oldDst);
      expect(d.get('snap.0/doc')!.nlink).toBe(3);
      // The old destination inode still holds the old content, now under the outside name only.
      expect(fs.readFileSync(keep, 'utf8')).toBe('version one');
      expect(fs.statSync(keep).nlink).toBe(1);
      expect(d.get('snap.2/other')!.ino).toBe(otherIno);
    });
  }

  it('a metadata-only change (chmod, chown, a directory’s mode) is applied to the same destination inode', async () => {
    const { src, dst } = await mirrored({ ...spec, 'snap.2/d': dir({ mode: 0o755 }) });
    const before = readTree(dst);
    fs.chmodSync(path.join(src, 'snap.0/doc'), 0o600);
    fs.chmodSync(path.join(src, 'snap.2/d'), 0o700);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) fs.lchownSync(path.join(src, 'snap.2/other'), 1234, 5678);
    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expect(summary.placed.inodesCopied).toBe(0);
    expect(summary.placed.metadataFixed).toBeGreaterThanOrEqual(asRoot ? 2 : 1);
    expectSameTopology(src, dst);
    const after = readTree(dst);
    for (const [key, n] of before) expect(after.get(key)!.ino, key).toBe(n.ino);
    expect(after.get('snap.1/doc')!.mode).toBe(0o600);
    expect(after.get('snap.2/d')!.mode).toBe(0o700);
    if (asRoot) expect(after.get('snap.2/other')).toMatchObject({ uid: 1234, gid: 5678 });
  });

  it('a folder renamed, then made read-only (Back In Time\'s new snapshot): every path new to the mirror, the inodes get the mode', async () => {
    // Found by a tester: only links to the mirror's inodes were made, keeping their old mode,
    // on every later run too (a mode is set where the mirror holds the path already).
    const { src, dst } = await mirrored(spec);
    const ino = fs.statSync(path.join(dst, 'snap.2/other')).ino;
    fs.renameSync(path.join(src, 'snap.2'), path.join(src, 'snap.3'));
    execFileSync('chmod', ['-R', 'a-w', path.join(src, 'snap.3')]);
    try {
      const summary = await copy(src, dst, { delete: true });
      expect(summary.placed.inodesCopied).toBe(0);
      expect(summary.placed.metadataFixed).toBeGreaterThanOrEqual(1);
      expectSameTopology(src, dst);
      expect(fs.statSync(path.join(dst, 'snap.3/other')).ino).toBe(ino);
      expect(fs.statSync(path.join(dst, 'snap.3/other')).mode & 0o777).toBe(0o444);
      const v = await verifyAgainstSource(src, dst);
      expect(v.categories.mode).toBe(0);
      // And against its manifest, after a --delete that removed paths (whose groups it lists for
      // the next pass: not a record that runs ahead of the mirror).
      expect(summary.deleted).toBeGreaterThan(0);
      expect((await verifyMirror(dst)).match).toBe(true);
    } finally {
      execFileSync('chmod', ['-R', 'u+w', path.join(src, 'snap.3')]);
    }
  });

  it('the same when the mode cannot be set there (EPERM): reported, and the inode linked all the same, not copied again', async () => {
    const { src, dst } = await mirrored(spec);
    const ino = fs.statSync(path.join(dst, 'snap.2/other')).ino;
    fs.renameSync(path.join(src, 'snap.2'), path.join(src, 'snap.3'));
    fs.chmodSync(path.join(src, 'snap.3/other'), 0o444);
    const refused = Object.assign(new Error('EPERM: operation not permitted, chmod'), { code: 'EPERM', syscall: 'chmod' });
    // Refused for the file only (a file of another user's where the run is not root's, say).
    const ops = { ...realFsOps, chmod: (p: Buffer | string, mode: number) => {
      if (String(p).endsWith('/other')) throw refused;
      realFsOps.chmod(p, mode);
    } };
    const summary = await copy(src, dst, { ops, delete: true });
    expect(summary.placed.inodesCopied).toBe(0); // was: the inode taken as gone, its content copied again
    expect(summary.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^cannot set the mode, owner or times of snap\.3\/other: EPERM/)]);
    expect(fs.statSync(path.join(dst, 'snap.3/other')).ino).toBe(ino);
  });

  it('a file moved in the source (same inode, new path) is linked from the content the mirror has, not copied', async () => {
    const { src, dst } = await mirrored(spec);
    const ino = fs.statSync(path.join(dst, 'snap.2/other')).ino;
    fs.renameSync(path.join(src, 'snap.2/other'), path.join(src, 'snap.2/other-moved'));
    const summary = await copy(src, dst, { delete: true });
    expect(summary.placed).toMatchObject({ inodesCopied: 0, bytesCopied: 0n, linksMade: 1 });
    expect(summary.deleted).toBe(1);
    expectSameTopology(src, dst);
    expect(fs.statSync(path.join(dst, 'snap.2/other-moved')).ino).toBe(ino);
  });
});

// ---- source identity ----------------------------------------------------------------------

describe('a new file that reuses a deleted file’s inode number is a new inode to the mirror', () => {
  /**
   * Delete `from` and create `to` until the filesystem hands `to` the same inode number (on a
   * fresh small ext4 the first try does it: the lowest free inode is the one just freed).
   */
  function reuseInode(from: string, to: string, content: string, mtime: number): bigint {
    const old = fs.statSync(from, { bigint: true }).ino;
    fs.rmSync(from);
    for (let attempt = 0; attempt < 20; attempt++) {
      fs.writeFileSync(to, content);
      setMtime(to, mtime);
      const ino = fs.statSync(to, { bigint: true }).ino;
      if (ino === old) return ino;
      // Not reused: take the inode we got out of the way (keep it allocated) and try again.
      fs.renameSync(to, `${to}.spare${attempt}`);
    }
    throw new Error(`the filesystem never reused inode ${old}`);
  }

  const cases = [
    // ext4 with 256-byte inodes reports a birth time: even the same size and mtime differ.
    { name: 'ext4 with birth times: same size, same mtime', mkfs: [] as string[], sameMtime: true },
    // 128-byte inodes have no birth time (and whole-second mtimes): size + mtime must do.
    { name: 'ext4 without birth times: same size, another mtime', mkfs: ['-I', '128'], sameMtime: false },
  ];
  for (const c of cases) {
    for (const where of ['at another path', 'at the same path'] as const) {
      it(`${c.name}, ${where}: the new file gets its own content, never a link to the old one`, async (ctx) => {
        const m = useLoopMount(ctx, 'ext4', 16, c.mkfs);
        const src = path.join(m.dir, 'src');
        const dst = path.join(temp(), 'dst');
        buildTree(src, {
          'snap.0/x': file('old content!', { mtime: 1_600_000_000 }),
          'snap.0/keep': file('kept', { mtime: 1_600_000_000 }),
          'snap.1/y-dir': dir(),
        });
        await copy(src, dst);
        const x = path.join(src, 'snap.0/x');
        const birthBefore = fs.statSync(x, { bigint: true }).birthtimeNs;
        expect(birthBefore !== 0n).toBe(c.mkfs.length === 0);
        const y = where === 'at the same path' ? x : path.join(src, 'snap.1/y-dir/y');
        const ino = reuseInode(x, y, 'new content!', c.sameMtime ? 1_600_000_000 : 1_600_000_007);
        expect(fs.statSync(y, { bigint: true }).size).toBe(12n); // as long as the old one

        const summary = await copy(src, dst, { delete: true });
        expect(summary.problemCount).toBe(0);
        expect(summary.placed.inodesCopied).toBe(1);
        expectSameTopology(src, dst);
        const d = readTree(dst);
        const rel = path.relative(src, y);
        expect(d.get(rel)!.content!.toString()).toBe('new content!');
        expect(d.get(rel)!.nlink).toBe(1);
        expect(ino).toBe(fs.statSync(y, { bigint: true }).ino);
      });
    }
  }

  it('without --delete the old file stays in the mirror with its old content, on an inode of its own', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    const src = path.join(m.dir, 'src');
    const dst = path.join(temp(), 'dst');
    buildTree(src, { 'a/x': file('old content!', { mtime: 1_600_000_000 }), 'b/keep': file('k') });
    await copy(src, dst);
    reuseInode(path.join(src, 'a/x'), path.join(src, 'b/y'), 'new content!', 1_600_000_000);
    const summary = await copy(src, dst);
    expect(summary.extrasKept).toBeGreaterThanOrEqual(1);
    const d = readTree(dst);
    expect(d.get('a/x')!.content!.toString()).toBe('old content!');
    expect(d.get('b/y')!.content!.toString()).toBe('new content!');
    expect(d.get('b/y')!.ino).not.toBe(d.get('a/x')!.ino);
    expect(d.get('a/x')!.nlink).toBe(1);
  });
});

describe('two filesystems in the source that hand out the same inode numbers', () => {
  it('(dev, ino) keeps their files apart, in the first copy and in an incremental run', async (ctx) => {
    const a = useLoopMount(ctx, 'ext4', 16);
    const b = useLoopMount(ctx, 'ext4', 16);
    // Both fresh: their first files get the same inode numbers. b is bound inside a's tree.
    const spec: TreeSpec = {
      'one': file('first file', { mtime: 1_600_000_000 }),
      'two': file('second file', { mtime: 1_600_000_000 }),
      'two-again': link('two'),
    };
    buildTree(a.dir, { ...spec, 'mnt': dir() });
    buildTree(b.dir, { one: file('FIRST FILE', { mtime: 1_600_000_000 }), two: file('SECOND FILE', { mtime: 1_600_000_000 }), 'two-again': link('two') });
    const inside = path.join(a.dir, 'mnt');
    execFileSync('mount', ['--bind', b.dir, inside]);
    try {
      const ino = (p: string) => fs.statSync(p, { bigint: true }).ino;
      expect(ino(path.join(inside, 'one'))).toBe(ino(path.join(a.dir, 'one')));
      expect(ino(path.join(inside, 'two'))).toBe(ino(path.join(a.dir, 'two')));
      const dst = path.join(temp(), 'dst');
      const first = await copy(a.dir, dst);
      expect(first.problemCount).toBe(0);
      expect(first.scan.inodes).toBe(4);
      expectSameTopology(a.dir, dst);
      const before = dstInodesBySrc(a.dir, dst);

      fs.writeFileSync(path.join(inside, 'one'), 'FIRST FILE, CHANGED'); // in place, on b only
      const second = await copy(a.dir, dst);
      expect(second.problemCount).toBe(0);
      expect(second.placed.inodesCopied).toBe(1);
      expectSameTopology(a.dir, dst);
      expect(fs.readFileSync(path.join(dst, 'one'), 'utf8')).toBe('first file');
      const after = dstInodesBySrc(a.dir, dst);
      expect([...before.keys()].filter((id) => after.has(id))).toHaveLength(3); // b's 'one' is new content
      expect(movedInodes(before, after)).toEqual([]);
    } finally {
      execFileSync('umount', [inside]);
    }
  });
});

// ---- type changes ------------------------------------------------------------------------

describe('type changes between runs', () => {
  const spec: TreeSpec = {
    's.0/was-file': file('a file first', { mtime: 1_600_000_000 }),
    's.1/was-file': link('s.0/was-file'),
    's.0/was-dir/inner': file('inner', { mtime: 1_600_000_001 }),
    's.0/was-dir/deeper/leaf': file('leaf', { mtime: 1_600_000_002 }),
    's.1/inner-again': link('s.0/was-dir/inner'),
    's.0/was-symlink': symlink('was-file'),
    's.0/becomes-symlink': file('soon a symlink', { mtime: 1_600_000_003 }),
  };

  function changeTypes(src: string): void {
    const at = (p: string) => path.join(src, p);
    fs.rmSync(at('s.0/was-file'));
    fs.mkdirSync(at('s.0/was-file'));
    fs.writeFileSync(at('s.0/was-file/now-inside'), 'inside the new directory');
    fs.rmSync(at('s.0/was-dir'), { recursive: true });
    fs.writeFileSync(at('s.0/was-dir'), 'a file now');
    fs.rmSync(at('s.0/was-symlink'));
    fs.writeFileSync(at('s.0/was-symlink'), 'a file where a symlink was');
    fs.rmSync(at('s.0/becomes-symlink'));
    fs.symlinkSync('was-dir', at('s.0/becomes-symlink'));
  }

  it('file -> directory, directory -> file, symlink -> file, file -> symlink: the re-copy matches', async () => {
    const { src, dst } = await mirrored(spec);
    changeTypes(src);
    const summary = await copy(src, dst, { delete: true });
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
    // The groups that kept other paths still hold their old destination inodes' content.
    expect(fs.readFileSync(path.join(dst, 's.1/was-file'), 'utf8')).toBe('a file first');
    expect(fs.readFileSync(path.join(dst, 's.1/inner-again'), 'utf8')).toBe('inner');
    expect(tmpLeft(dst)).toEqual([]);
  });

  it('the same, into a small ext4 where a freed inode number is handed out again at once', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    const { src, dst } = await mirrored(spec, m.dir);
    changeTypes(src);
    const summary = await copy(src, dst, { delete: true });
    expect(summary.problemCount).toBe(0);
    expectSameTopology(src, dst);
  });

  // The file's only destination inode is freed when its path becomes a directory, and ext4
  // gives the new directory that inode number; the file itself lives on at another source path
  // (it was moved there). The index row of the old path still names (source inode, that number).
  it('a file moved away and a directory made in its place, on a small ext4: the moved file is not "linked" to the directory', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    const { src, dst } = await mirrored({
      'a/notes': file('my notes', { mtime: 1_600_000_000 }),
      'b/other': file('other', { mtime: 1_600_000_000 }),
    }, m.dir);
    const dstIno = fs.statSync(path.join(dst, 'a/notes')).ino;
    fs.renameSync(path.join(src, 'a/notes'), path.join(src, 'b/notes.txt'));
    fs.mkdirSync(path.join(src, 'a/notes'));
    fs.writeFileSync(path.join(src, 'a/notes/todo'), 'todo');
    const summary = await copy(src, dst, { delete: true });
    // Whatever inode numbers it got, the mirror matches, and the directory reuses the number.
    expect(summary.problems).toEqual([]);
    expectSameTopology(src, dst);
    expect(fs.statSync(path.join(dst, 'a/notes')).ino).toBe(dstIno);
  });
});

// ---- a symlink planted in the mirror, with changes in the source ----------------------------

describe('a symlink planted in the mirror where the source also changed', () => {
  it('a directory replaced by a symlink to an outside folder, while the source added and changed files in it: nothing written outside', async () => {
    const { base, src, dst } = await mirrored({
      'snap.0/etc/conf': file('conf v1', { mtime: 1_600_000_000 }),
      'snap.0/etc/same': file('same', { mtime: 1_600_000_000 }),
      'snap.1/etc/conf': link('snap.0/etc/conf'),
      'snap.1/etc/same': link('snap.0/etc/same'),
    });
    const outside = path.join(base, 'outside');
    buildTree(outside, { conf: file('decoy conf'), same: file('decoy same'), keep: file('not ours') });
    const outsideBefore = [...readTree(outside)].map(([k, n]) => `${k} ${n.ino} ${n.nlink} ${n.mtimeNs} ${n.sha256 ?? ''}`);
    fs.rmSync(path.join(dst, 'snap.1/etc'), { recursive: true });
    fs.symlinkSync(outside, path.join(dst, 'snap.1/etc'));
    // The source moves on too: a new file in that folder, and new content for one that is there.
    fs.writeFileSync(path.join(src, 'snap.1/etc/added'), 'added');
    fs.rmSync(path.join(src, 'snap.1/etc/conf'));
    fs.writeFileSync(path.join(src, 'snap.1/etc/conf'), 'conf v2');

    const summary = await copy(src, dst);
    expect(summary.problemCount).toBe(0);
    expect([...readTree(outside)].map(([k, n]) => `${k} ${n.ino} ${n.nlink} ${n.mtimeNs} ${n.sha256 ?? ''}`)).toEqual(outsideBefore);
    expect(fs.lstatSync(path.join(dst, 'snap.1/etc')).isDirectory()).toBe(true);
    expectSameTopology(src, dst);
    expect(fs.statSync(path.join(dst, 'snap.1/etc/same')).ino).toBe(fs.statSync(path.join(dst, 'snap.0/etc/same')).ino);
  });
});

// ---- what an incremental run looks at --------------------------------------------------------

describe('an incremental run visits only what changed', () => {
  it('of the inodes whose paths all stand as the index says, one path each is looked at; --recheck looks at every path', async () => {
    const spec: Record<string, TreeNode> = { 'snap.0/big': file('one inode, many paths'), 'snap.0/solo': file('solo') };
    for (let i = 1; i <= 40; i++) spec[`snap.${i}/big`] = link('snap.0/big');
    const { src, dst } = await mirrored(spec);
    fs.writeFileSync(path.join(src, 'snap.40/new'), 'a new file');

    const dstLstats = (ops: ReturnType<typeof faultyOps>) => ops.calls.lstat;
    const plain = faultyOps(realFsOps, []);
    const summary = await copy(src, dst, { ops: plain });
    expect(summary.placed.alreadyPresent).toBe(42);
    expect(summary.placed.leftAlone).toBe(42);
    expect(summary.placed.inodesCopied).toBe(1);
    // The plan of a real incremental run counts the paths its pass visited: the new file only.
    expect(summary.plan).toMatchObject({ pathsToPlace: 1, linksToMake: 0, inodesToCopy: 1 });
    expectSameTopology(src, dst);

    const rechecked = faultyOps(realFsOps, []);
    const again = await copy(src, dst, { ops: rechecked, recheck: true });
    expect(again.placed).toMatchObject({ alreadyPresent: 43, leftAlone: 0 });
    expect(again.plan.pathsToPlace).toBe(43);
    // The scans lstat every source path in both runs; the destination's 41 paths of `big` only with --recheck.
    // The plain run also lstats the source of `new` once more after copying it (copy/check-unchanged.ts).
    expect(dstLstats(rechecked) - (dstLstats(plain) - 1)).toBeGreaterThanOrEqual(40);
  });

  it('a sample path replaced, emptied or removed in the mirror (looked at on the lstat threads) puts its inode back on the work list', async () => {
    const spec: Record<string, TreeNode> = { 'snap.0/big': file('one inode, many paths'), 'snap.0/solo': file('solo content'), 'snap.0/gone': file('gone') };
    for (let i = 1; i <= 5; i++) spec[`snap.${i}/big`] = link('snap.0/big');
    const { src, dst } = await mirrored(spec);
    const bigIno = fs.lstatSync(path.join(dst, 'snap.3/big')).ino;
    // Another inode of the same size at the group's first path; a file emptied in place (a
    // drive pulled before its data was written); a file removed.
    fs.rmSync(path.join(dst, 'snap.0/big'));
    fs.writeFileSync(path.join(dst, 'snap.0/big'), 'ONE INODE, MANY PATHS');
    fs.truncateSync(path.join(dst, 'snap.0/solo'), 0);
    fs.rmSync(path.join(dst, 'snap.0/gone'));

    // No injected ops: the samples go through LstatThreads, as in a real run.
    const again = await copy(src, dst);
    expect(again.problemCount).toBe(0);
    expect(again.placed.leftAlone).toBe(0);
    // solo and gone copied again; big linked again from a path that still held it.
    expect(again.placed.inodesCopied).toBe(2);
    expectSameTopology(src, dst);
    expect(fs.readFileSync(path.join(dst, 'snap.0/big'), 'utf8')).toBe('one inode, many paths');
    expect(fs.lstatSync(path.join(dst, 'snap.0/big')).ino).toBe(bigIno);
    expect(fs.readFileSync(path.join(dst, 'snap.0/solo'), 'utf8')).toBe('solo content');
    expect(fs.readFileSync(path.join(dst, 'snap.0/gone'), 'utf8')).toBe('gone');
  });

  it('after a clean pass the next one compares only what its scan changed; after a failure, every path again', async () => {
    const { src, dst } = await mirrored({ 'a/f': file('f'), 'a/g': file('g'), 'b/f': link('a/f') });
    const synced = () => {
      const index = Index.open(path.join(dst, STATE_DIR, INDEX_FILE));
      try {
        return index.mirrorSynced(false);
      } finally {
        index.close();
      }
    };
    expect(synced()).toBe(true);
    fs.rmSync(path.join(src, 'a/g'));
    fs.writeFileSync(path.join(src, 'a/g'), 'g, new content');
    // The new content cannot be read: the pass fails on it, and says so.
    const failing = await copy(src, dst, { ops: faultyOps(realFsOps, [{ op: 'copyFile', code: 'EACCES', path: /a\/g$/ }]) });
    expect(failing.problemCount).toBe(1);
    expect(synced()).toBe(false);
    const again = await copy(src, dst);
    expect(again.problemCount).toBe(0);
    expect(again.placed.inodesCopied).toBe(1);
    expect(synced()).toBe(true);
    expectSameTopology(src, dst);
  });

  it('a source chmod reaches every path of the inode (its mode is part of what the index vouches for)', async () => {
    const { src, dst } = await mirrored({ 'a/f': file('f', { mode: 0o644 }), 'b/f': link('a/f'), 'c/f': link('a/f') });
    fs.chmodSync(path.join(src, 'a/f'), 0o600);
    // Set once on the inode, not once per path (each call on ntfs-3g costs some 120 ms on an
    // inode of 8,000 links): the later paths find it set.
    const chmods: string[] = [];
    const ops = faultyOps(realFsOps, { op: 'chmod', code: 'EIO', when: (p: Buffer | string) => (chmods.push(p.toString()), false) });
    const summary = await copy(src, dst, { ops });
    expect(summary.placed.metadataFixed).toBe(1);
    expect(chmods.filter((p) => p.endsWith('/f'))).toHaveLength(1);
    expect(fs.statSync(path.join(dst, 'c/f')).mode & 0o777).toBe(0o600);
    expectSameTopology(src, dst);
  });
});

// ---- repairs of the mirror itself -----------------------------------------------------------

describe('--recheck repairs what was done to the mirror by hand', () => {
  const SHARED = 1_500_000_000;
  const spec = (): TreeSpec => ({
    'snap.0/shared': file('shared content', { mtime: SHARED }),
    'snap.1/shared': link('snap.0/shared'),
    'snap.2/shared': link('snap.0/shared'),
    'snap.0/solo': file('solo content', { mtime: SHARED + 1 }),
  });

  it.skipIf(process.getuid?.() !== 0)('a same-size edit in the mirror (new mtime): the group is copied again onto one new inode; a chmod and a chown are undone', async () => {
    const { src, dst } = await mirrored(spec());
    const before = readTree(dst);
    // An edit of the same size through one path of the shared inode, and a chmod and chown of the other file.
    fs.writeFileSync(path.join(dst, 'snap.1/shared'), 'SHARED CONTENT');
    fs.chmodSync(path.join(dst, 'snap.0/solo'), 0o600);
    fs.chownSync(path.join(dst, 'snap.0/solo'), 65534, 65534);

    const summary = await copy(src, dst, { recheck: true, owner: true });
    expect(summary.problemCount).toBe(0);
    expect(summary.placed).toMatchObject({ inodesCopied: 1, metadataFixed: 1 });
    expectSameTopology(src, dst);
    const after = readTree(dst);
    const shared = ['snap.0/shared', 'snap.1/shared', 'snap.2/shared'].map((p) => after.get(p)!);
    expect(new Set(shared.map((n) => n.ino)).size).toBe(1);
    expect(shared[0].ino).not.toBe(before.get('snap.0/shared')!.ino);
    expect(shared[0].nlink).toBe(3);
    expect(fs.readFileSync(path.join(dst, 'snap.2/shared'), 'utf8')).toBe('shared content');
    // The chmod'ed file keeps its inode: only its mode and owner were put back.
    expect(after.get('snap.0/solo')!.ino).toBe(before.get('snap.0/solo')!.ino);
    expect(fs.statSync(path.join(dst, 'snap.0/solo'))).toMatchObject({ mode: 0o100644, uid: 0, gid: 0 });

    const again = await copy(src, dst, { recheck: true, owner: true });
    expect(again.placed).toMatchObject({ inodesCopied: 0, linksMade: 0, metadataFixed: 0, replaced: 0 });
  });

  it('bit rot (same size and mtime): --recheck --checksum copies the group again; plain --recheck cannot see it', async () => {
    const { src, dst } = await mirrored(spec());
    const rotten = path.join(dst, 'snap.2/shared');
    const before = fs.lstatSync(rotten);
    overwriteKeepingTimes(rotten, 'X', 3);
    const { verifyMirror } = await import('../../src/verify/verify.js');
    expect((await verifyMirror(dst)).categories.content).toBe(1);

    expect((await copy(src, dst, { recheck: true })).placed).toMatchObject({ inodesCopied: 0, replaced: 0 });
    const repaired = await copy(src, dst, { recheck: true, checksum: true });
    expect(repaired.problemCount).toBe(0);
    expect(repaired.placed).toMatchObject({ inodesCopied: 1, replaced: 3 });
    expectSameTopology(src, dst);
    const shared = ['snap.0/shared', 'snap.1/shared', 'snap.2/shared'].map((p) => fs.lstatSync(path.join(dst, p)));
    expect(new Set(shared.map((st) => st.ino)).size).toBe(1);
    expect(shared[0].ino).not.toBe(before.ino);
    expect((await verifyMirror(dst)).match).toBe(true);
    expect((await copy(src, dst, { recheck: true, checksum: true })).placed).toMatchObject({ inodesCopied: 0, replaced: 0 });
  });

  it('a path a folder made by hand blocks: reported and not counted as linked; once the folder is gone, a plain run puts it back', async () => {
    const { src, dst } = await mirrored({ 'a/f': file('one'), 'b/f': link('a/f') });
    fs.rmSync(path.join(dst, 'b/f'));
    fs.mkdirSync(path.join(dst, 'b/f'));
    fs.writeFileSync(path.join(dst, 'b/f/x'), 'put here by hand');
    const blocked = await copy(src, dst, { recheck: true });
    expect(blocked.problems.map((p) => [p.path, p.code])).toEqual([['b/f', 'EINTHEWAY']]);
    expect(blocked.placed).toMatchObject({ linksMade: 0, inodesCopied: 0, replaced: 0 });

    fs.rmSync(path.join(dst, 'b/f'), { recursive: true });
    const again = await copy(src, dst);
    expect(again.problemCount).toBe(0);
    expect(again.placed.linksMade).toBe(1);
    expectSameTopology(src, dst);
  });

  it('a source file rewritten in place keeping size and mtime: verify SRC DST sees it, --recheck --checksum copies it again', async () => {
    const { src, dst } = await mirrored(spec());
    overwriteKeepingTimes(path.join(src, 'snap.1/shared'), 'S', 0);
    const { verifyAgainstSource } = await import('../../src/verify/verify.js');
    expect((await verifyAgainstSource(src, dst)).categories.content).toBe(1);

    expect((await copy(src, dst)).placed.inodesCopied).toBe(0); // size, mtime and birth time say unchanged
    const repaired = await copy(src, dst, { recheck: true, checksum: true });
    expect(repaired.problemCount).toBe(0);
    expect(repaired.placed).toMatchObject({ inodesCopied: 1, replaced: 3 });
    expect(fs.readFileSync(path.join(dst, 'snap.0/shared'), 'utf8')).toBe('Shared content');
    expectSameTopology(src, dst);
    expect((await verifyAgainstSource(src, dst)).match).toBe(true);
  });

  it('a replacement that cannot be put in place (EPERM: an immutable file) is reported, and not counted as replaced', async () => {
    const { src, dst } = await mirrored(spec());
    fs.writeFileSync(path.join(src, 'snap.0/solo'), 'new solo content');
    const ops = faultyOps(realFsOps, { op: 'rename', dest: /snap\.0\/solo$/, code: 'EPERM' });
    const summary = await copy(src, dst, { ops });
    expect(summary.problemCount).toBe(1);
    expect(summary.problems[0].message).toMatch(/^cannot put in place snap\.0\/solo: /);
    expect(summary.placed.replaced).toBe(0);
    expect(fs.readFileSync(path.join(dst, 'snap.0/solo'), 'utf8')).toBe('solo content');
    const again = await copy(src, dst);
    expect(again).toMatchObject({ problemCount: 0 });
    expect(again.placed.replaced).toBe(1);
    expectSameTopology(src, dst);
  });

  it('an mtime the destination rounded (under two seconds off) is not taken for an edit', async () => {
    const { src, dst } = await mirrored(spec());
    const before = readTree(dst);
    setMtime(path.join(dst, 'snap.0/shared'), SHARED + 1);
    const summary = await copy(src, dst, { recheck: true });
    expect(summary.placed).toMatchObject({ inodesCopied: 0, replaced: 0 });
    expect(readTree(dst).get('snap.0/shared')!.ino).toBe(before.get('snap.0/shared')!.ino);
    // Only the time is set back, as verify would have it.
    expect(summary.placed.metadataFixed).toBe(1);
    expect(fs.lstatSync(path.join(dst, 'snap.2/shared')).mtimeMs).toBe(SHARED * 1000);
  });

  it('an mtime touched on a symlink, a FIFO in a group and a file (under two seconds) is set back; verify then passes', async () => {
    const { src, dst } = await mirrored({
      ...spec(),
      'snap.0/l': symlink('shared', { mtime: SHARED }),
      'snap.0/p': fifo({ mtime: SHARED }),
      'snap.1/p': link('snap.0/p'),
    });
    const touch = (p: string, s: number) => execFileSync('touch', ['-h', '-d', `@${s}`, path.join(dst, p)]);
    touch('snap.0/l', 978307200);
    touch('snap.1/p', 978307200);
    execFileSync('touch', ['-d', `@${SHARED + 1}.5`, path.join(dst, 'snap.0/solo')]);
    const { verifyMirror } = await import('../../src/verify/verify.js');
    expect((await verifyMirror(dst)).categories.mtime).toBe(3);

    const summary = await copy(src, dst, { recheck: true });
    expect(summary.problemCount).toBe(0);
    expect(summary.placed).toMatchObject({ inodesCopied: 0, replaced: 0, metadataFixed: 3 });
    expect((await verifyMirror(dst)).match).toBe(true);
    expectSameTopology(src, dst);
    expect((await copy(src, dst, { recheck: true })).placed.metadataFixed).toBe(0);
  });
});
