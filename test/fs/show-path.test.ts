// What reaches a terminal or a log of a path or a message: nothing in it may act on the terminal
// (ESC), split a line (newline) or reorder the text (U+202E); every byte can still be told.
import { describe, expect, it } from 'vitest';
import { printable, showPath } from '../../src/fs/paths.js';
import { Problems } from '../../src/problems.js';

describe('showPath', () => {
  it('leaves UTF-8 names as they are', () => {
    expect(showPath(Buffer.from('hourly.0/café/notes.txt'))).toBe('hourly.0/café/notes.txt');
  });

  it('escapes bytes that are not UTF-8, the backslash and every control, as \\xNN', () => {
    expect(showPath(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\\xffb');
    expect(showPath(Buffer.from('a\\b'))).toBe('a\\x5cb');
    expect(showPath(Buffer.from('\x1b[31mred'))).toBe('\\x1b[31mred');
    expect(showPath(Buffer.from('bell\x07'))).toBe('bell\\x07');
    expect(showPath(Buffer.from('two\nlines'))).toBe('two\\x0alines');
    expect(showPath(Buffer.from('c1\u009bx'))).toBe('c1\\xc2\\x9bx');
    // U+202E (right-to-left override) shows "gpj.exe" as "exe.jpg".
    expect(showPath(Buffer.from('photo\u202egpj.exe'))).toBe('photo\\xe2\\x80\\xaegpj.exe');
  });
});

describe('printable', () => {
  it('escapes the controls of a message and leaves the rest', () => {
    expect(printable("ENAMETOOLONG: name too long, scandir '/t/bad\nname\x1b[7m\uFFFD'")).toBe("ENAMETOOLONG: name too long, scandir '/t/bad\\x0aname\\x1b[7m\uFFFD'");
    expect(printable('rtl \u202e and ok é')).toBe('rtl \\u{202e} and ok é');
  });

  it('is what a per-path problem says of the error, on one line', () => {
    const warned: string[] = [];
    const problems = new Problems({ start() {}, advance() {}, end() {}, warn: (m) => void warned.push(m) });
    problems.add(Buffer.from('snap/bad\nname'), 'cannot read', new Error("ENOENT: no such file, open '/src/snap/bad\nname'"));
    expect(warned).toEqual(["cannot read snap/bad\\x0aname: ENOENT: no such file, open '/src/snap/bad\\x0aname'"]);
    expect(problems.kept[0].message).not.toMatch(/\n/);
  });
});
