// Paths are bytes. Linux file names need not be UTF-8, so every path the tool handles is a
// Buffer from readdir(…, { encoding: 'buffer' }) and is joined as bytes, never through a string.

const SLASH = Buffer.from('/');

/** Join a root and a relative path (both bytes); an empty relative path is the root itself. */
export function joinPath(root: Buffer, rel: Buffer): Buffer {
  if (rel.length === 0) return root;
  return Buffer.concat([root, SLASH, rel], root.length + 1 + rel.length);
}

/** The relative path of a child `name` inside the directory at relative path `dir`. */
export function childPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 0) return name;
  return Buffer.concat([dir, SLASH, name], dir.length + 1 + name.length);
}

/** Printable form of a byte path: valid UTF-8 as is, other bytes as \xNN so a user can find it. */
export function showPath(p: Buffer | string): string {
  if (typeof p === 'string') return p;
  const text = p.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(p) && !/[\n\r\t\\]/.test(text)) return text;
  let out = '';
  for (const byte of p) {
    if (byte >= 0x20 && byte < 0x7f && byte !== 0x5c) out += String.fromCharCode(byte);
    else out += '\\x' + byte.toString(16).padStart(2, '0');
  }
  return out;
}
