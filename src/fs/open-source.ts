// Opening a file to read its content, when the scan saw it as a regular file. By the time it is
// read the path may hold a FIFO (a program made one where the file was): open(2) of a FIFO for
// reading waits for a writer, for ever for a cron job, in a thread no signal gets out of. So the
// file is opened with O_NONBLOCK, which a regular file ignores and which makes a FIFO's open
// return at once, and refused when fstat does not say regular. copyFile takes a path, not an
// fd: it is given /proc/self/fd/N, which opens the very inode just checked.
//
// The twins here (TS for this thread, JS text for the threads that run code given as text: see
// copy/copy-thread.ts, verify/hash-engine.ts) do the same.
import fs from 'node:fs';
import type { Path } from './ops.js';

/** Stable: the code of the per-path problem, as a file that changed while it was copied. */
const CODE = 'ECHANGED';
const MESSAGE = 'it is no longer a regular file (it was replaced since the scan); run the same command again';

const O_NONBLOCK = fs.constants.O_NONBLOCK;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const FD_DIR = '/proc/self/fd';
const viaProc = fs.existsSync(FD_DIR);

/**
 * open(p, flags | O_NONBLOCK), closed and refused (ECHANGED) unless it is a regular file, or with
 * `devices` a device node too (/dev/null as an empty source). Never waits on a FIFO.
 */
export function openRegular(p: Path, flags: number, devices = false): number {
  const fd = fs.openSync(p, flags | O_NONBLOCK);
  const type = fs.fstatSync(fd).mode & S_IFMT;
  if (type === S_IFREG || (devices && type !== S_IFIFO && type !== S_IFSOCK)) return fd;
  fs.closeSync(fd);
  throw Object.assign(new Error(MESSAGE), { code: CODE });
}

/** copyFileSync from `src`, opened as openRegular() opens it (device nodes allowed: /dev/null). */
export function copyRegular(src: Path, dst: Path, mode: number): void {
  if (!viaProc) return fs.copyFileSync(src, dst, mode);
  const fd = openRegular(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW, true);
  try {
    fs.copyFileSync(`${FD_DIR}/${fd}`, dst, mode);
  } finally {
    fs.closeSync(fd);
  }
}

/** Source text of openRegular() and copyRegular() as `async copyRegular(src, dst, mode)` for the threads; needs `fs` in scope. */
export const OPEN_REGULAR_JS = `
const OPEN_CHANGED = Object.freeze({ code: ${JSON.stringify(CODE)}, message: ${JSON.stringify(MESSAGE)} });
const viaProc = fs.existsSync(${JSON.stringify(FD_DIR)});
function openRegular(p, flags) {
  const fd = fs.openSync(p, flags | fs.constants.O_NONBLOCK);
  if ((fs.fstatSync(fd).mode & ${S_IFMT}) === ${S_IFREG}) return fd;
  fs.closeSync(fd);
  throw Object.assign(new Error(OPEN_CHANGED.message), { code: OPEN_CHANGED.code });
}
async function copyRegular(src, dst, mode) {
  if (!viaProc) return fs.promises.copyFile(src, dst, mode);
  const fd = openRegular(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    await fs.promises.copyFile(${JSON.stringify(FD_DIR)} + '/' + fd, dst, mode);
  } finally {
    fs.closeSync(fd);
  }
}
`;
