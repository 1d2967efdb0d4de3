// One benchmark at a time per work dir: two runs would copy into the same copy-<tool> folders,
// remove each other's copies, and share the CPU, making both sets of figures wrong. The lock is
// a file holding the owner's pid, created exclusively; one left by a process that is gone is
// taken over.
import fs from 'node:fs';
import path from 'node:path';

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the work dir's lock or throw naming its holder; returns the function that releases it. */
export function lockWorkDir(workDir: string): () => void {
  const file = path.join(workDir, 'bench.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      const release = (): void => fs.rmSync(file, { force: true });
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new Error(`another benchmark (pid ${holder}) is using ${workDir}; wait for it or give another --dir`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${file}`);
}
