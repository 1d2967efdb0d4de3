// One copy at a time per destination: a lock file in the state folder naming its owner. A lock
// whose owner is gone (kill -9, power loss, the drive moved to another machine) is stale and
// taken over, so a crash never blocks the next run.
//
// A pid alone does not say that: after a power cut the machine boots again and hands the old
// pid to some other process (a cron job's next run then waited, "another linkmirror is
// working", for a daemon), a drive carried to another machine brings a pid of that machine, and
// a process killed but not yet reaped (a zombie) still answers kill(pid, 0). So the lock names
// the boot (Linux's boot_id) and the owner's start time since boot (from /proc/PID/stat) beside
// the pid, and an owner counts only in the same boot, with the same start time, not a zombie.
// Where /proc is not there, or for a lock that names only a pid (an older linkmirror), kill(pid,
// 0) decides, as before.
import fs from 'node:fs';
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { bootId } from '../fs/boot-id.js';
import { isErrno, NO_SPACE_CODES } from '../fs/errno.js';

/**
 * State and start time (clock ticks since boot) of process `pid` from /proc; 'gone' when /proc
 * has no such process, undefined when there is no /proc to ask.
 */
export function processFacts(pid: number): { state: string; start: string } | 'gone' | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH') && fs.existsSync('/proc/self/stat')) return 'gone';
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. The state is field 3, the start time field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], start: fields[19] };
}

function signalsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/** What a lock file says of its owner: "pid boot start", or a pid alone (an older linkmirror). */
export function lockText(): string {
  const me = processFacts(process.pid);
  const boot = bootId();
  return me && me !== 'gone' && boot ? `${process.pid} ${boot} ${me.start}\n` : `${process.pid}\n`;
}

/** Whether the owner a lock file names is still running (see above). */
export function ownerAlive(text: string): { pid: number; alive: boolean } {
  const [pidText, boot, start] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return { pid, alive: false };
  if (boot === undefined || start === undefined) return { pid, alive: signalsAlive(pid) };
  const thisBoot = bootId();
  if (thisBoot !== undefined && boot !== thisBoot) return { pid, alive: false };
  const facts = processFacts(pid);
  // Not in /proc may also mean hidden there (hidepid): kill() tells a process gone from one not shown.
  if (facts === undefined || facts === 'gone') return { pid, alive: signalsAlive(pid) };
  if (facts.state === 'Z' || facts.state === 'X') return { pid, alive: false };
  return { pid, alive: facts.start === start };
}

export function acquireLock(stateDir: string): () => void {
  try {
    return takeLock(path.join(stateDir, 'lock'));
  } catch (err) {
    // A drive the kernel made read-only after an error (ext4's errors=remount-ro), which
    // access(W_OK) in the checks before does not tell: found here, writing or removing the lock.
    if (!isErrno(err, 'EROFS')) throw err;
    throw new LinkmirrorError(
      'DST_READ_ONLY',
      `destination ${path.dirname(stateDir)} is on a filesystem that is read-only now (after an error, the kernel may have made it so: see dmesg); check it (fsck), mount it read-write, and run the same command again`,
      { cause: err },
    );
  }
}

function takeLock(file: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, lockText(), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if (isErrno(err, ...NO_SPACE_CODES)) {
        // Made, but empty: it would read as no one's lock; better none.
        fs.rmSync(file, { force: true });
        throw new LinkmirrorError('NO_SPACE', `destination is full: not even the lock file ${file} could be written; free space and run the same command again`, { cause: err });
      }
      if (!isErrno(err, 'EEXIST')) throw err;
      const { pid, alive } = ownerAlive(fs.readFileSync(file, 'utf8'));
      if (alive) {
        throw new LinkmirrorError('INDEX_LOCKED', `another linkmirror (pid ${pid}) is working on this destination; wait for it to finish`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new LinkmirrorError('INDEX_LOCKED', `cannot take the lock ${file}; remove it if no linkmirror is running`);
}
