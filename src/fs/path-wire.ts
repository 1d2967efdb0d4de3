// Paths on their way to a worker thread: one buffer of (u32 length, bytes) records, its own
// ArrayBuffer, so that it is transferred, not copied. Names are bytes: no path passes through
// a string. The threads that read them (link-thread.ts, lstat-threads.ts) run code given as
// source text, which is how they run from the TypeScript sources under the tests too; they
// take READ_PATH_JS into it.

/** `paths` as one buffer to transfer, in order. */
export function packPaths(paths: readonly Buffer[]): ArrayBuffer {
  let bytes = 0;
  for (const p of paths) bytes += 4 + p.length;
  const buf = Buffer.allocUnsafeSlow(bytes); // its own ArrayBuffer: transferable
  let at = 0;
  for (const p of paths) {
    at = buf.writeUInt32LE(p.length, at);
    at += p.copy(buf, at);
  }
  return buf.buffer;
}

/**
 * Source text of `readPath(b, pos)`: the path at `pos.at` in the buffer `b` (a view, not a
 * copy), moving `pos.at` past it.
 */
export const READ_PATH_JS = `
function readPath(b, pos) {
  const len = b.readUInt32LE(pos.at);
  const p = b.subarray(pos.at + 4, pos.at + 4 + len);
  pos.at += 4 + len;
  return p;
}
`;
