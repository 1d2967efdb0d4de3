// Ordinary mistakes get one plain line and the usage exit code, not "unexpected error": a
// destination on a read-only filesystem or in a folder the user may not write, a mirror's state
// folder another user cannot read, a --temp-dir that is no folder, a scan aimed at a mirror's own
// index. And output that a reader stopped reading (`| head`) is no failure of the command.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { BIN, expectExit, lines, runCli } from '../helpers/cli.js';
import { useLoopMount } from '../helpers/loop-mount.js';
import { buildTree, file, link, readTree, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const isRoot = process.getuid?.() === 0;

function source(): string {
  const src = path.join(temp(), 'src');
  buildTree(src, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h0/b': file('beta') });
  return src;
}

/** `linkmirror ARGS` as the nobody user (uid 65534), through setpriv. */
function asNobody(args: string[]) {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

const sha = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');

describe('one line and exit 2 for a destination that cannot be written', () => {
  it('on a read-only filesystem: says so, for a new mirror and for an existing one; nothing written', async (ctx) => {
    const m = useLoopMount(ctx, 'ext4', 16);
    const src = source();
    expectExit(runCli(['copy', '-q', src, path.join(m.dir, 'old')]), ExitCode.ok);
    const before = readTree(path.join(m.dir, 'old'));
    execFileSync('mount', ['-o', 'remount,ro', m.dir]);
    try {
      for (const dst of [path.join(m.dir, 'new'), path.join(m.dir, 'old')]) {
        const r = runCli(['copy', src, dst]);
        expectExit(r, ExitCode.usage);
        expect(lines(r.stderr)).toEqual([`linkmirror: destination ${dst} is on a read-only filesystem: remount it read-write, or choose another destination`]);
      }
      expect(fs.existsSync(path.join(m.dir, 'new'))).toBe(false);
      expect(readTree(path.join(m.dir, 'old'))).toEqual(before);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', m.dir]);
    }
  });

  it.skipIf(!isRoot)('in a folder the user may not write: names the folder; the mirror made by root cannot be read by another user either', () => {
    const src = source();
    fs.chmodSync(path.dirname(src), 0o755);
    const closed = temp();
    fs.chmodSync(closed, 0o755);
    const r = asNobody(['copy', src, path.join(closed, 'mirror')]);
    expect(r.status, r.stderr).toBe(ExitCode.usage);
    expect(lines(r.stderr)).toEqual([`linkmirror: cannot write to ${closed}: permission denied; run as a user who may write there, or choose another destination`]);
    expect(fs.readdirSync(closed)).toEqual([]);

    // The copy made by root keeps its state folder 0700: verify says whose it is.
    const dst = path.join(closed, 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    for (const args of [['verify', src, dst], ['verify', dst]]) {
      const v = asNobody(args);
      expect(v.status, v.stderr).toBe(ExitCode.usage);
      expect(lines(v.stderr)).toEqual([`linkmirror: cannot read ${path.join(dst, '.linkmirror')}: permission denied; run verify as the user who made the copy`]);
    }
  });

  it.skipIf(!isRoot)('a destination folder the user may write but not list: names it, nothing written', () => {
    const src = source();
    fs.chmodSync(path.dirname(src), 0o755);
    const dst = temp();
    fs.chmodSync(dst, 0o333);
    const r = asNobody(['copy', src, dst]);
    expect(r.status, r.stderr).toBe(ExitCode.usage);
    expect(lines(r.stderr)).toEqual([`linkmirror: cannot read the destination ${dst}: permission denied; run as a user who may read and write it, or choose another destination`]);
    expect(fs.readdirSync(dst)).toEqual([]);
  });
});

describe('options that name no usable place', () => {
  it('verify --temp-dir that does not exist: exit 2, one line', () => {
    const src = source();
    const dst = path.join(temp(), 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    const missing = path.join(temp(), 'no-such-folder');
    const r = runCli(['verify', '--temp-dir', missing, src, dst]);
    expectExit(r, ExitCode.usage);
    expect(lines(r.stderr)).toEqual([`linkmirror: --temp-dir ${missing}: no such folder; give a folder verify may write its work files in`]);
  });

  it("scan --index into a mirror's state folder is refused, and the mirror's index is left as it was", () => {
    const src = source();
    const dst = path.join(temp(), 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    const index = path.join(dst, '.linkmirror', 'index.db');
    const before = sha(index);
    const r = runCli(['scan', '--index', index, src]);
    expectExit(r, ExitCode.usage);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^linkmirror: --index .* is inside a mirror's state folder \(\.linkmirror\); a scan there would replace its record of the copy: give another file$/)]);
    expect(sha(index)).toBe(before);
    expectExit(runCli(['verify', dst]), ExitCode.ok);
  });
});

describe('what is said rather than done silently', () => {
  it('a .linkmirror at the top of the source is left out with a warning, by copy, scan and verify', () => {
    const src = source();
    fs.writeFileSync(path.join(src, '.linkmirror'), 'a user file of that name');
    const dst = path.join(temp(), 'mirror');
    const warning = `warning: left out ${path.join(src, '.linkmirror')}: linkmirror keeps a mirror's state under that name, at the top of a tree`;
    const c = runCli(['copy', src, dst]);
    expectExit(c, ExitCode.ok);
    expect(lines(c.stderr)).toContain(warning);
    expect(fs.statSync(path.join(dst, '.linkmirror')).isDirectory()).toBe(true); // the mirror's own state
    const s = runCli(['scan', src]);
    expectExit(s, ExitCode.ok);
    expect(lines(s.stderr)).toContain(warning);
    // verify's "they match" said nothing of it.
    const v = runCli(['verify', src, dst]);
    expectExit(v, ExitCode.ok);
    expect(lines(v.stderr)).toContain(warning);
    // A mirror copied on to a second drive: its own state folder is left out without a word.
    const second = runCli(['copy', dst, path.join(temp(), 'second')]);
    expectExit(second, ExitCode.ok);
    expect(second.stderr).toBe('');
  });

  it('verify --json piped into head: no EPIPE stack, and the exit code is still verify’s own', () => {
    const src = source();
    for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(src, 'h0', `f${i}`), `file ${i}`);
    const dst = path.join(temp(), 'mirror');
    expectExit(runCli(['copy', '-q', src, dst]), ExitCode.ok);
    for (let i = 0; i < 400; i++) fs.appendFileSync(path.join(dst, 'h0', `f${i}`), ' changed');
    const script = `"${process.execPath}" "${BIN}" verify --json "${src}" "${dst}" 2>"$1" | head -c 64 >/dev/null; echo "\${PIPESTATUS[0]}"`;
    const errFile = path.join(temp(), 'stderr');
    const status = execFileSync('bash', ['-c', script, 'bash', errFile], { encoding: 'utf8' }).trim();
    expect(fs.readFileSync(errFile, 'utf8')).toBe('');
    expect(status).toBe(String(ExitCode.problems));
  });

  it('output that cannot be written (a log on a full disk): one line, the fatal code, the copy done', () => {
    const src = source();
    const dst = path.join(temp(), 'mirror');
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, 'copy', src, dst], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(r.status).toBe(ExitCode.fatal);
      expect(lines(r.stderr)).toEqual(['linkmirror: cannot write the output: ENOSPC; the run went on, but what it printed is lost']);
    } finally {
      fs.closeSync(full);
    }
    expectExit(runCli(['verify', src, dst]), ExitCode.ok);
  });
});

describe('one line and exit 2 for a destination that is not where it seems', () => {
  it('a destination whose parent folder does not exist (a drive not mounted): nothing is made', () => {
    const src = source();
    const base = temp();
    const dst = path.join(base, 'media/usb-disk/snapshots');
    const r = runCli(['copy', src, dst]);
    expectExit(r, ExitCode.usage);
    expect(lines(r.stderr)).toEqual([
      `linkmirror: ${path.join(base, 'media/usb-disk')}, the folder the destination is to be made in, does not exist: is the drive mounted? Make the folder first if it should be there`,
    ]);
    expect(fs.readdirSync(base)).toEqual([]);
  });

  it('a destination that is a symlink to a folder that is not there (a drive not mounted): one line, from the dry run too', () => {
    const src = source();
    const base = temp();
    const dst = path.join(base, 'usb');
    fs.symlinkSync('/media/not-mounted/snapshots', dst);
    for (const args of [['copy', src, dst], ['copy', '--dry-run', src, dst]]) {
      const r = runCli(args);
      expectExit(r, ExitCode.usage); // was "unexpected error: ENOENT … mkdir" and exit 3
      expect(lines(r.stderr)).toEqual([
        `linkmirror: destination ${dst} is a symlink to /media/not-mounted/snapshots, which does not exist: is the drive mounted? Make the folder it points to first if it should be there`,
      ]);
    }
    expect(fs.readdirSync(base)).toEqual(['usb']);
  });

  it.skipIf(!isRoot)('a destination inside the source through a bind mount', () => {
    const src = source();
    const view = path.join(temp(), 'view');
    fs.mkdirSync(view);
    execFileSync('mount', ['--bind', src, view]);
    try {
      const r = runCli(['copy', src, path.join(view, 'mirror')]);
      expectExit(r, ExitCode.usage);
      expect(r.stderr).toMatch(/^linkmirror: destination .*\/view\/mirror is inside the source .* \(the same folder mounted twice\); choose a destination outside it\n$/);
      expect(fs.existsSync(path.join(src, 'mirror'))).toBe(false);
    } finally {
      execFileSync('umount', [view]); // before the temp folders go
    }
  });

  it('a path argument with bytes that are not UTF-8: refused, not taken for another folder', () => {
    const base = temp();
    const src = source();
    // Node's own spawn passes only UTF-8 strings: bash gives the raw bytes.
    const r = spawnSync('bash', ['-c', `cd "$1" && "$2" "$3" copy "$4" $'mirror\\xff'`, 'bash', base, process.execPath, BIN, src], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(ExitCode.usage);
    expect(r.stderr).toMatch(/^linkmirror: destination mirror\uFFFD has bytes that are not UTF-8, which cannot reach linkmirror intact; give it through a symlink with a UTF-8 name/);
    expect(fs.readdirSync(base)).toEqual([]);
    // The character U+FFFD itself, typed as UTF-8, is a name like any other.
    expectExit(runCli(['copy', '-q', src, path.join(base, 'mirror\uFFFD')]), ExitCode.ok);
    expect(fs.readdirSync(base)).toEqual(['mirror\uFFFD']);
  });
});

describe('a coreutils command linkmirror runs, missing from PATH', () => {
  it('is named as such, not blamed on the drive', () => {
    const base = temp();
    const src = path.join(base, 'src');
    buildTree(src, { 'a/f': file('f') });
    execFileSync('mkfifo', [path.join(src, 'a/pipe')]);
    const r = runCli(['copy', src, path.join(base, 'mirror')], { env: { PATH: path.join(base, 'no-such-bin') } });
    expectExit(r, ExitCode.fatal);
    expect(lines(r.stderr)).toEqual([
      'warning: cannot copy a/pipe: the mknod command (coreutils) is not on PATH; run linkmirror with a PATH that has it',
      "linkmirror: cannot write back the destination's data: the sync command (coreutils) is not on PATH; run linkmirror with a PATH that has it",
    ]);
  });
});
