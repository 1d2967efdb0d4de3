// realFsOps against the real filesystem, where a detail of Node's API could lose data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { realFsOps } from '../../src/fs/ops.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
/** The built module, for a child process run as another user. */
const OPS_BUILT = fileURLToPath(new URL('../../dist/src/fs/ops.js', import.meta.url));

describe('realFsOps', () => {
  // Regression: nsToSeconds handed libuv us/1e6, and libuv truncates (s - whole) * 1e9, so
  // about half of all mtimes came back one microsecond early and a mirror never matched.
  it('lutimes keeps the microsecond of every mtime (libuv truncation off by one)', () => {
    const f = path.join(temp(), 'f');
    fs.writeFileSync(f, '');
    const bases = [1_000_000_000n, 1_700_000_000n, 2_147_483_647n, 4_102_444_800n];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const wrong: string[] = [];
    for (const s of bases) {
      for (let i = 0; i < 500; i++) {
        const ns = s * 1_000_000_000n + BigInt(Math.floor(random() * 1e9));
        realFsOps.lutimes(f, ns, ns);
        const st = fs.lstatSync(f, { bigint: true });
        if (st.mtimeNs / 1000n !== ns / 1000n || st.atimeNs / 1000n !== ns / 1000n) wrong.push(`${ns} -> ${st.mtimeNs}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  // Regression: Node turns a negative time in seconds into "now" (fs.utimes' toUnixTimestamp),
  // so a file from before 1970 was mirrored with the time of the copy.
  it('lutimes keeps mtimes before 1970 to the microsecond (Node took negative seconds as now)', () => {
    const f = path.join(temp(), 'f');
    fs.writeFileSync(f, '');
    const wrong: string[] = [];
    let seed = 54321;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const times = [-1n, -1_000n, -1_500_000n, -86_400_000_000_000n, -86_399_999_999_000n, -2_000_000_000_123_456_789n];
    for (const s of [0n, -86_400n, -1_000_000_000n, -2_000_000_000n]) {
      for (let i = 0; i < 200; i++) times.push(s * 1_000_000_000n - BigInt(Math.floor(random() * 1e9)));
    }
    for (const ns of times) {
      realFsOps.lutimes(f, ns, ns);
      const st = fs.lstatSync(f, { bigint: true });
      // Truncated to the microsecond like every other time (toward zero, as ns / 1000n does).
      if (st.mtimeNs / 1000n !== ns / 1000n || st.atimeNs / 1000n !== ns / 1000n) wrong.push(`${ns} -> ${st.mtimeNs}`);
    }
    expect(wrong).toEqual([]);
  });

  it('lutimes sets a symlink’s own time, not its target’s', () => {
    const d = temp();
    fs.writeFileSync(path.join(d, 't'), '');
    fs.symlinkSync('t', path.join(d, 's'));
    const before = fs.statSync(path.join(d, 't'), { bigint: true }).mtimeNs;
    realFsOps.lutimes(path.join(d, 's'), 1_500_000_000_000_001_000n, 1_500_000_000_000_001_000n);
    expect(fs.lstatSync(path.join(d, 's'), { bigint: true }).mtimeNs).toBe(1_500_000_000_000_001_000n);
    expect(fs.statSync(path.join(d, 't'), { bigint: true }).mtimeNs).toBe(before);
  });

  it('copyFile refuses an existing destination', () => {
    const d = temp();
    fs.writeFileSync(path.join(d, 'a'), 'a');
    fs.writeFileSync(path.join(d, 'b'), 'b');
    expect(() => realFsOps.copyFile(path.join(d, 'a'), path.join(d, 'b'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(fs.readFileSync(path.join(d, 'b'), 'utf8')).toBe('b');
  });
});

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the `sync -f` child
// that stands in for syncfs(2) too. linkmirror stops cleanly on SIGINT, so the sync it was
// waiting for must not turn into "destination stopped working". A `sync` of the test's own,
// first on PATH, makes the timing certain: it sends SIGINT to its group and waits, or sleeps.
describe('mknod through coreutils', () => {
  it('fails with the system call\'s code and words, not "Command failed: mknod …"', () => {
    const p = path.join(temp(), 'taken');
    fs.writeFileSync(p, '');
    const err = (() => {
      try {
        realFsOps.mknod(p, 'fifo', 0o644, 0n);
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
    })();
    expect(err?.code).toBe('EEXIST');
    expect(err?.message).toBe('EEXIST: file exists (mknod)');
  });

  it.skipIf(process.getuid?.() !== 0)('a device node made by another user than root: said to need root', () => {
    const dir = temp();
    fs.chmodSync(dir, 0o777);
    const script = `import(${JSON.stringify(OPS_BUILT)}).then(({ realFsOps }) => { try { realFsOps.mknod(${JSON.stringify(path.join(dir, 'null'))}, 'char', 0o644, 0x103n); } catch (e) { console.log(e.code + ' ' + e.message); } })`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('EPERM EPERM: a device node can be made by root only (mknod)');
  });
});

describe('the sync before a commit, when Ctrl-C signals the whole process group', () => {
  const opsModule = new URL('../../dist/src/fs/ops.js', import.meta.url).href;

  function runInOwnGroup(script: string, fakeSync: string): { out: string; status: number | null } {
    const dir = temp();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'sync'), `#!/bin/sh\n${fakeSync}\n`, { mode: 0o755 });
    // setsid: the node process leads a group of its own, as a shell's foreground job does.
    const r = spawnSync('setsid', ['--wait', process.execPath, '--input-type=module', '-e', script], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, MARK: path.join(dir, 'mark') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { out: `${r.stdout}${r.stderr}`.trim(), status: r.status };
  }

  it('syncfsInBackground: its child is out of the group, so the signal leaves it to finish', () => {
    const r = runInOwnGroup(
      `import { syncfsInBackground } from ${JSON.stringify(opsModule)};
       process.on('SIGINT', () => {});
       const done = syncfsInBackground('/tmp');
       setTimeout(() => process.kill(-process.pid, 'SIGINT'), 200);
       console.log(String(await done));`,
      'sleep 1; exit 0',
    );
    expect(r).toEqual({ out: 'undefined', status: 0 });
  });

  it('realFsOps.syncfs: a sync killed by the signal runs again instead of failing the run', () => {
    const r = runInOwnGroup(
      `import { realFsOps } from ${JSON.stringify(opsModule)};
       process.on('SIGINT', () => {});
       realFsOps.syncfs('/tmp');
       console.log('synced');`,
      // The first run signals its group (itself included) and dies of it; the second succeeds.
      'if [ ! -e "$MARK" ]; then touch "$MARK"; kill -INT 0; sleep 5; fi; exit 0',
    );
    expect(r).toEqual({ out: 'synced', status: 0 });
  });

  it('a sync that fails is still a failure', () => {
    const r = runInOwnGroup(
      `import { syncfsInBackground } from ${JSON.stringify(opsModule)};
       console.log(String(await syncfsInBackground('/tmp')));`,
      'exit 1',
    );
    expect(r.out).toBe('Error: sync -f /tmp failed: exit code 1');
  });
});
