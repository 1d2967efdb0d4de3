// Copying a file with holes (a VM disk image, a database preallocated with truncate) so that its
// copy has them too. The kernel's copy (copy_file_range, or the splice fallback that libuv uses
// between two filesystems) reads a hole as zeros and writes them: a 100 GiB image holding 2 GiB
// of data took 100 GiB on the mirror, and a drive that held the source could not hold its copy.
//
// Which files: those with fewer 512-byte blocks allocated than their size needs (GNU cp's
// --sparse=auto test). Others go through the kernel's copy as before: reading every file in JS to
// look for zeros would cost every copy, where files with holes are rare in backup trees. (ZFS and
// NTFS count compressed blocks: a file there that compresses takes this way too, which only
// costs time: no block of it is all zeros.)
//
// How, for those: a reflink first (the clone shares the source's extents, holes included), and
// where the two files are not on one filesystem that clones, the file is read in 1 MiB chunks
// and only the 4 KiB blocks that are not all zeros are written, each at its offset; the size is
// set at the end, so a hole at the end stays one. Node has no lseek(SEEK_DATA), so holes are read
// too, as zeros the kernel makes without touching the disk. A block of zeros that the source had
// written becomes a hole as well, as with cp: the content reads the same.
//
// Twins, as in open-source.ts: copySparse() here for this thread, COPY_SPARSE_JS for the copy
// thread, which runs code given as text. dataRuns(), the part that decides what to write, and
// bufferBytes() are the same functions in both: their compiled text is put in COPY_SPARSE_JS.
import fs from 'node:fs';
import { isErrno } from './errno.js';

/** Whether an lstat or fstat (bigint or not) says the file has holes: cp --sparse=auto's test. */
export function hasHoles(st: { size: bigint | number; blocks: bigint | number }): boolean {
  return BigInt(st.blocks) * 512n < BigInt(st.size);
}

/**
 * The runs of `buf[0, n)` to write, as [start, end) pairs flattened: every 4 KiB piece (a block on
 * every Linux filesystem we copy to: the unit of a hole) that is not all zeros, neighbours joined.
 * Self-contained (no imports, no outer names): its text runs in the copy thread too.
 */
export function dataRuns(buf: Buffer, n: number): number[] {
  const block = 4096;
  const zeros = Buffer.alloc(block);
  const runs: number[] = [];
  for (let at = 0; at < n; at += block) {
    const end = Math.min(at + block, n);
    if (buf.compare(zeros, 0, end - at, at, end) === 0) continue;
    if (runs.length > 0 && runs[runs.length - 1] === at) runs[runs.length - 1] = end;
    else runs.push(at, end);
  }
  return runs;
}

/** Errors of a reflink that only mean "not here": the copy goes on without one. */
const NO_CLONE = ['EXDEV', 'EOPNOTSUPP', 'ENOTSUP', 'EINVAL', 'ENOSYS', 'ENOTTY'];

/**
 * The buffer for a file of `size` bytes: a chunk, or less for a smaller file (the copy thread has
 * many copies in flight: 3,000 small sparse files took 292 MB where dense ones took 100), in
 * whole 4 KiB pieces so that every read starts on one.
 */
export function bufferBytes(size: number): number {
  const chunk = 1 << 20; // here, not outside: this text runs in the copy thread too
  return Math.max(4096, Math.min(chunk, Math.ceil(size / 4096) * 4096));
}

/**
 * Copy the regular file open as `fd` (its path `from`, /proc/self/fd/N where there is one; its
 * size `size` when opened) to the new file `dst` keeping its holes. `clone`: try a reflink first.
 */
export function copySparse(fd: number, from: string | Buffer, dst: string | Buffer, size: number, clone: boolean): void {
  if (clone) {
    try {
      fs.copyFileSync(from, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE_FORCE);
      return;
    } catch (err) {
      if (!isErrno(err, ...NO_CLONE)) throw err;
    }
  }
  const out = fs.openSync(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    const buf = Buffer.allocUnsafe(bufferBytes(size));
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      const runs = dataRuns(buf, n);
      for (let r = 0; r < runs.length; r += 2) writeAll(out, buf, runs[r]!, runs[r + 1]!, pos);
      pos += n;
    }
    fs.ftruncateSync(out, pos);
  } finally {
    fs.closeSync(out);
  }
}

function writeAll(out: number, buf: Buffer, start: number, end: number, pos: number): void {
  while (start < end) start += fs.writeSync(out, buf, start, end - start, pos + start);
}

/**
 * Source text of `async copySparse(fd, from, dst, size, clone)` and `hasHoles(st)` for the copy thread
 * (see above); needs `fs` in scope.
 */
export const COPY_SPARSE_JS = `
const SPARSE_NO_CLONE = ${JSON.stringify(NO_CLONE)};
function hasHoles(st) { return BigInt(st.blocks) * 512n < BigInt(st.size); }
${dataRuns.toString()}
${bufferBytes.toString()}
function readAt(fd, buf, pos) {
  return new Promise((ok, fail) => fs.read(fd, buf, 0, buf.length, pos, (err, n) => (err ? fail(err) : ok(n))));
}
async function copySparse(fd, from, dst, size, clone) {
  if (clone) {
    try {
      await fs.promises.copyFile(from, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE_FORCE);
      return;
    } catch (err) {
      if (!SPARSE_NO_CLONE.includes(err && err.code)) throw err;
    }
  }
  const out = await fs.promises.open(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    const buf = Buffer.allocUnsafe(bufferBytes(size));
    let pos = 0;
    for (;;) {
      const n = await readAt(fd, buf, pos);
      if (n === 0) break;
      const runs = dataRuns(buf, n);
      for (let r = 0; r < runs.length; r += 2) {
        for (let start = runs[r]; start < runs[r + 1]; ) start += (await out.write(buf, start, runs[r + 1] - start, pos + start)).bytesWritten;
      }
      pos += n;
    }
    await out.truncate(pos);
  } finally {
    await out.close();
  }
}
`;
