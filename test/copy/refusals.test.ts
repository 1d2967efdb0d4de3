// The refusals: a copy that must not start says so in one line and writes nothing — not the
// destination, not its state folder, not a byte in the source. Each case runs through the
// library (the error's code) and through the built CLI (exit 2, one line on stderr). A
// destination that cannot hold hard links is refused at the pre-flight, before any data.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, ExitCode } from '../../src/cli/exit-codes.js';
import { copy } from '../../src/copy/copy.js';
import { isLinkmirrorError, type ErrorCode } from '../../src/errors.js';
import { formatBytes } from '../../src/format.js';
import { realFsOps, type Path } from '../../src/fs/ops.js';
import { expectExit, lines, runCli } from '../helpers/cli.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { buildTree, file, link, readTree, symlink, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

/** Everything under root that could show a write: paths, types, inodes, sizes, content, mtimes. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, n] of readTree(root)) out[key] = `${n.type} ${n.ino} ${n.size} ${n.mtimeNs} ${n.sha256 ?? ''} ${n.target?.toString('hex') ?? ''}`;
  return out;
}

/** Run the library, expecting a LinkmirrorError; returns it. */
async function refused(src: string, dst: string): Promise<Error & { code: ErrorCode }> {
  const err = await copy(src, dst).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLinkmirrorError(err), `copy(${src}, ${dst}) should have been refused, got ${String(err)}`).toBe(true);
  return err as Error & { code: ErrorCode };
}

interface Case {
  name: string;
  code: ErrorCode;
  /** Build the scene under base; return the arguments. */
  make(base: string): { src: string; dst: string };
  message: RegExp;
}

const CASES: Case[] = [
  {
    name: 'SRC missing',
    code: 'SRC_MISSING',
    make: (base) => ({ src: path.join(base, 'nope'), dst: path.join(base, 'dst') }),
    message: /does not exist/,
  },
  {
    name: 'SRC not a directory',
    code: 'SRC_NOT_DIR',
    make: (base) => ({ src: path.join(base, 'src/a.txt'), dst: path.join(base, 'dst') }),
    message: /not a directory/,
  },
  {
    name: 'DST inside SRC',
    code: 'DST_INSIDE_SRC',
    make: (base) => ({ src: path.join(base, 'src'), dst: path.join(base, 'src/sub/mirror') }),
    message: /inside the source/,
  },
  {
    name: 'DST inside SRC, named through a symlink',
    code: 'DST_INSIDE_SRC',
    make: (base) => {
      fs.symlinkSync(path.join(base, 'src/sub'), path.join(base, 'sub-alias'));
      return { src: path.join(base, 'src'), dst: path.join(base, 'sub-alias/mirror') };
    },
    message: /inside the source/,
  },
  {
    name: 'SRC inside DST',
    code: 'SRC_INSIDE_DST',
    make: (base) => ({ src: path.join(base, 'src/sub'), dst: path.join(base, 'src') }),
    message: /inside the destination/,
  },
  {
    name: 'SRC equal to DST',
    code: 'DST_IS_SRC',
    make: (base) => ({ src: path.join(base, 'src'), dst: path.join(base, 'src') + '/' }),
    message: /same folder/,
  },
  {
    name: 'SRC equal to DST through a symlink alias',
    code: 'DST_IS_SRC',
    make: (base) => {
      fs.symlinkSync('src', path.join(base, 'alias'));
      return { src: path.join(base, 'src'), dst: path.join(base, 'alias') };
    },
    message: /same folder/,
  },
  {
    name: 'DST not empty and not a mirror',
    code: 'DST_NOT_EMPTY',
    make: (base) => {
      buildTree(path.join(base, 'dst'), { 'precious.doc': file('mine'), 'photos/1.jpg': file('jpg') });
      return { src: path.join(base, 'src'), dst: path.join(base, 'dst') };
    },
    message: /not empty/,
  },
  {
    name: 'DST holding only a stray file, no index',
    code: 'DST_NOT_EMPTY',
    make: (base) => {
      buildTree(path.join(base, 'dst'), { '.hidden': file('x') });
      return { src: path.join(base, 'src'), dst: path.join(base, 'dst') };
    },
    message: /not empty/,
  },
  {
    name: 'DST a file',
    code: 'DST_NOT_DIR',
    make: (base) => {
      fs.writeFileSync(path.join(base, 'dst'), 'a file');
      return { src: path.join(base, 'src'), dst: path.join(base, 'dst') };
    },
    message: /not a directory/,
  },
];

/** A small source with a link group, under base/src. */
function scene(c: Case): { base: string; src: string; dst: string } {
  const base = fs.realpathSync(temp());
  buildTree(path.join(base, 'src'), { 'a.txt': file('a'), 'sub/b.txt': link('a.txt'), 'sub/s': symlink('../a.txt') });
  return { base, ...c.make(base) };
}

describe('refusals', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.code}, exit 2 with one line, nothing written`, async () => {
      const { base, src, dst } = scene(c);
      const before = snapshot(base);

      const err = await refused(src, dst);
      expect(err.code).toBe(c.code);
      expect(err.message).toMatch(c.message);
      expect(exitCodeFor(err)).toBe(ExitCode.usage);
      expect(snapshot(base)).toEqual(before);

      const r = runCli(['copy', src, dst]);
      expectExit(r, ExitCode.usage);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([`linkmirror: ${err.message}`]);
      expect(snapshot(base)).toEqual(before);
    });
  }

  it('an unknown option or a missing argument is a usage error too (exit 2), nothing written', () => {
    const base = temp();
    buildTree(path.join(base, 'src'), { a: file('a') });
    const dst = path.join(base, 'dst');
    for (const args of [['copy', '--no-such-flag', path.join(base, 'src'), dst], ['copy', path.join(base, 'src')], ['frobnicate']]) {
      const r = runCli(args);
      expect(r.status, args.join(' ')).toBe(ExitCode.usage);
      expect(r.stderr).toMatch(/error/i);
    }
    expect(fs.existsSync(dst)).toBe(false);
  });
});

describe('a destination that cannot hold hard links', () => {
  for (const code of ['EPERM', 'EOPNOTSUPP'] as const) {
    it(`link() failing with ${code}: DST_NO_HARDLINKS before any data, saying what a link-less copy needs`, async () => {
      const base = temp();
      const src = path.join(base, 'src');
      const dst = path.join(base, 'dst');
      buildTree(src, {
        'a.bin': file(Buffer.alloc(10_000, 1)),
        'b/a.bin': link('a.bin'),
        'c/a.bin': link('a.bin'),
        'd/a.bin': link('a.bin'),
        'e.bin': file(Buffer.alloc(5_000, 2)),
      });
      const copied: string[] = [];
      const ops = faultyOps(realFsOps, [
        { op: 'link', code },
        { op: 'copyFile', code: 'EIO', when: (from: Path) => (copied.push(from.toString()), false) },
      ]);
      const err = await copy(src, dst, { ops }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLinkmirrorError(err, 'DST_NO_HARDLINKS'), String(err)).toBe(true);
      const e = err as Error;
      expect(exitCodeFor(e)).toBe(ExitCode.fatal);
      // 4 × 10,000 + 5,000 bytes without links; 15,000 with them.
      expect(e.message).toContain(formatBytes(45_000));
      expect(e.message).toContain(formatBytes(15_000));
      expect(e.message).toMatch(/cannot hold hard links/);
      expect(e.message).not.toMatch(/\n/);
      // No data was written, no content copied from SRC, and the destination this run made
      // (its probe link included) is gone with the refusal.
      expect(copied.filter((p) => p.startsWith(fs.realpathSync(src)))).toEqual([]);
      expect(fs.existsSync(dst)).toBe(false);
      // Into a folder that was there already: it stays, as it was (no state folder, no probe).
      fs.mkdirSync(dst);
      await expect(copy(src, dst, { ops })).rejects.toMatchObject({ code: 'DST_NO_HARDLINKS' });
      expect(fs.readdirSync(dst)).toEqual([]);
      // A .linkmirror folder that was there (no index in it: not a mirror's) is not this run's to remove.
      fs.mkdirSync(path.join(dst, '.linkmirror'));
      fs.writeFileSync(path.join(dst, '.linkmirror', 'notes.txt'), 'mine');
      await expect(copy(src, dst, { ops })).rejects.toMatchObject({ code: 'DST_NO_HARDLINKS' });
      expect(fs.readFileSync(path.join(dst, '.linkmirror', 'notes.txt'), 'utf8')).toBe('mine');
    });
  }
});
