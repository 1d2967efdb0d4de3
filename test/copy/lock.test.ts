// The destination's lock: an owner that is still running keeps it; one that is not — killed and
// not yet reaped (a zombie), from another boot (a power cut, the drive on another machine), or
// whose pid a later process took — leaves a stale lock that the next run takes over. Real
// processes, not mocks: a sleeping child as the owner, a zombie made by a shell that execs
// without reaping its child.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLinkmirrorError } from '../../src/errors.js';
import { bootId } from '../../src/fs/boot-id.js';
import { acquireLock, lockText, processFacts } from '../../src/copy/lock.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A process that stays up (`sleep`, or the program at `bin`): its pid and start time. */
function sleeper(bin = 'sleep'): { pid: number; start: string } {
  const child = spawn(bin, ['30'], { stdio: 'ignore' });
  children.push(child);
  const facts = processFacts(child.pid!);
  if (facts === undefined || facts === 'gone') throw new Error('no /proc entry for a process just started');
  return { pid: child.pid!, start: facts.start };
}

/** The lock file in a new state folder, holding `text`. */
function lockedWith(text: string): string {
  const dir = temp();
  fs.writeFileSync(path.join(dir, 'lock'), text);
  return dir;
}

function refused(dir: string): boolean {
  try {
    acquireLock(dir)();
    return false;
  } catch (err) {
    if (isLinkmirrorError(err, 'INDEX_LOCKED')) return true;
    throw err;
  }
}

const hasProc = fs.existsSync('/proc/self/stat') && bootId() !== undefined;

describe.skipIf(!hasProc)('the destination lock', () => {
  it('names this process, its boot and its start time, and is removed on release', () => {
    const dir = temp();
    const release = acquireLock(dir);
    const [pid, boot, start] = fs.readFileSync(path.join(dir, 'lock'), 'utf8').trim().split(' ');
    expect(Number(pid)).toBe(process.pid);
    expect(boot).toBe(bootId());
    // The start time is field 22 of /proc/PID/stat, clock ticks since boot: uptime less the
    // process's age, as ps counts it (not another field of the same line).
    const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout);
    const uptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const age = Number(spawnSync('ps', ['-o', 'etimes=', '-p', String(process.pid)], { encoding: 'utf8' }).stdout);
    expect(Math.abs(Number(start) / ticks - (uptime - age))).toBeLessThan(3);
    expect(lockText()).toBe(`${pid} ${boot} ${start}\n`);
    release();
    expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false);
  });

  it('an owner still running keeps it, whatever its name', () => {
    // A name with spaces and parentheses, as /proc/PID/stat shows it between its own parentheses.
    const odd = path.join(temp(), 'a) b (c');
    fs.symlinkSync(spawnSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).stdout.trim(), odd);
    const s = sleeper(odd);
    const facts = processFacts(s.pid);
    expect(facts !== undefined && facts !== 'gone' && facts.state).toMatch(/^[RSD]$/);
    expect(refused(lockedWith(`${s.pid} ${bootId()} ${s.start}\n`))).toBe(true);
    // A lock of an older linkmirror (the pid alone) of a running process: kept too.
    expect(refused(lockedWith(`${s.pid}\n`))).toBe(true);
  });

  it('from another boot (a power cut, another machine), a reused pid, or a process gone: taken over', () => {
    const s = sleeper();
    expect(refused(lockedWith(`${s.pid} 00000000-0000-0000-0000-000000000000 ${s.start}\n`))).toBe(false);
    expect(refused(lockedWith(`${s.pid} ${bootId()} ${Number(s.start) + 1}\n`))).toBe(false);
    const gone = spawnSync('true');
    expect(processFacts(gone.pid!)).toBe('gone');
    expect(refused(lockedWith(`${gone.pid} ${bootId()} 1\n`))).toBe(false);
  });

  it('a zombie (killed, not yet reaped by its parent): taken over', async () => {
    // The shell starts a child, prints its pid and becomes `sleep`, which never reaps it: the
    // child, exiting a moment later, stays a zombie until the sleep ends. (A child that exited
    // before the exec could be reaped by the shell.)
    const shell = spawn('bash', ['-c', 'sh -c "sleep 0.2" & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(shell);
    const zombie = await new Promise<number>((resolve) => shell.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    let facts = processFacts(zombie);
    for (let i = 0; i < 200 && facts !== 'gone' && facts?.state !== 'Z'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      facts = processFacts(zombie);
    }
    if (facts === undefined || facts === 'gone') throw new Error(`no zombie at pid ${zombie}`);
    expect(facts.state).toBe('Z');
    const text = `${zombie} ${bootId()} ${facts.start}\n`;
    expect(refused(lockedWith(text))).toBe(false);
  });
});

if (!hasProc) console.log('lock.test.ts: skipped: no /proc or boot_id here');
