// Opening a file to read its content, when the scan saw it as a regular file. By the time it is
// read the path may hold a FIFO (a program made one where the file was): open(2) of a FIFO for
// reading waits for a writer, for ever for a cron job, in a thread no signal gets out of. So the
// file is opened with O_NONBLOCK, which a regular file ignores and which makes a FIFO's open
// return at once, and refused when fstat does not say regular. copyFile takes a path, not an
// fd: it is given /proc/self/fd/N, which opens the very inode just checked. Without /proc the
// path is checked so and then copied by name: a FIFO made in between (a window of one open) is
// still waited on.
//
// The twins here (TS for this thread, JS text embedded in verify/hash-file.ts's HASH_FILE_JS for
// the copy and hashing threads, which run code given as text) do the same, except that only this
// thread's copyRegular() takes /dev/null (the pre-flight's empty file) for a source.
import fs from 'node:fs';
import type { Path } from './ops.js';
import { COPY_SPARSE_JS, copySparse, hasHoles } from './sparse-copy.js';

/** Stable: the code of the per-path problem, as a file that changed while it was copied. */
const CODE = 'ECHANGED';
const MESSAGE = 'it is no longer a regular file (it was replaced since the scan); run the same command again';

const O_NONBLOCK = fs.constants.O_NONBLOCK;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const FD_DIR = '/proc/self/fd';
const viaProc = fs.existsSync(FD_DIR);

/** open(p, flags | O_NONBLOCK), closed and refused (ECHANGED) unless it is a regular file. Never waits on a FIFO. */
export function openRegular(p: Path, flags: number): number {
  return openWithStat(p, flags).fd;
}

function openWithStat(p: Path, flags: number): { fd: number; st: fs.Stats } {
  const fd = fs.openSync(p, flags | O_NONBLOCK);
  const st = fs.fstatSync(fd);
  if ((st.mode & S_IFMT) === S_IFREG) return { fd, st };
  fs.closeSync(fd);
  throw Object.assign(new Error(MESSAGE), { code: CODE });
}

/** The empty source the pre-flight copies to make its probe file (see copy/preflight.ts). */
const DEV_NULL = '/dev/null';

/**
 * copyFileSync from `src`, opened as openRegular() opens it (or /dev/null itself); a file with
 * holes through copySparse() (see sparse-copy.ts), which tries a reflink where `mode` asks for one.
 */
export function copyRegular(src: Path, dst: Path, mode: number): void {
  if (src === DEV_NULL) return fs.copyFileSync(src, dst, mode);
  const { fd, st } = openWithStat(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const from = viaProc ? `${FD_DIR}/${fd}` : src;
    if (hasHoles(st)) copySparse(fd, from, dst, st.size, (mode & fs.constants.COPYFILE_FICLONE) !== 0);
    else fs.copyFileSync(from, dst, mode);
  } finally {
    fs.closeSync(fd);
  }
}

/** Source text of openRegular() and copyRegular() as `async copyRegular(src, dst, mode)` for the threads; needs `fs` in scope. */
export const OPEN_REGULAR_JS = `
const OPEN_CHANGED = Object.freeze({ code: ${JSON.stringify(CODE)}, message: ${JSON.stringify(MESSAGE)} });
const viaProc = fs.existsSync(${JSON.stringify(FD_DIR)});
${COPY_SPARSE_JS}
function openRegular(p, flags) {
  return openWithStat(p, flags).fd;
}
function openWithStat(p, flags) {
  const fd = fs.openSync(p, flags | fs.constants.O_NONBLOCK);
  const st = fs.fstatSync(fd);
  if ((st.mode & ${S_IFMT}) === ${S_IFREG}) return { fd, st };
  fs.closeSync(fd);
  throw Object.assign(new Error(OPEN_CHANGED.message), { code: OPEN_CHANGED.code });
}
async function copyRegular(src, dst, mode) {
  const { fd, st } = openWithStat(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const from = viaProc ? ${JSON.stringify(FD_DIR)} + '/' + fd : src;
    if (hasHoles(st)) await copySparse(fd, from, dst, st.size, (mode & fs.constants.COPYFILE_FICLONE) !== 0);
    else await fs.promises.copyFile(from, dst, mode);
  } finally {
    fs.closeSync(fd);
  }
}
`;
