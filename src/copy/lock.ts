// One copy at a time per destination: a lock file in the state folder holding the owner's pid.
// A lock whose process is gone (kill -9, power loss) is stale and taken over, so a crash never
// blocks the next run.
import fs from 'node:fs';
import path from 'node:path';
import { LinkmirrorError } from '../errors.js';
import { isErrno } from '../fs/errno.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

export function acquireLock(stateDir: string): () => void {
  const file = path.join(stateDir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new LinkmirrorError('INDEX_LOCKED', `another linkmirror (pid ${pid}) is working on this destination; wait for it to finish`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new LinkmirrorError('INDEX_LOCKED', `cannot take the lock ${file}; remove it if no linkmirror is running`);
}
