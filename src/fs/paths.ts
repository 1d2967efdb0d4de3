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

/**
 * Characters that would act on a terminal or a log rather than show: C0 and C1 controls (ESC
 * starts a terminal's escape sequences, a newline makes one problem two log lines) and the
 * marks that reorder text (U+202E shows "txt.exe" as "exe.txt").
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

/**
 * Printable form of a byte path: valid UTF-8 without controls as is, else every byte outside
 * printable ASCII (and the backslash) as \xNN, so that a user can find it and nothing in it
 * acts on the terminal.
 */
export function showPath(p: Buffer | string): string {
  if (typeof p === 'string') return printable(p);
  const text = p.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(p) && !/[\\]/.test(text) && !CONTROL.test(text)) return text;
  let out = '';
  for (const byte of p) {
    if (byte >= 0x20 && byte < 0x7f && byte !== 0x5c) out += String.fromCharCode(byte);
    else out += '\\x' + byte.toString(16).padStart(2, '0');
  }
  return out;
}

/** `text` (a message that may hold a raw path, as Node's errors do) with its controls as \xNN or \u{NNNN}. */
export function printable(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const n = c.codePointAt(0)!;
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}
