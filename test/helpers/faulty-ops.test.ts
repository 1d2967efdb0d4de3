// faultyOps must fail exactly the calls a test names, with errors shaped like Node's, and
// pass every other call through to the real filesystem.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realFsOps } from '../../src/fs/ops.js';
import { errnoError, faultyOps, linkLimit } from './faulty-ops.js';
import { buildTree, file, tempDirs } from './tree.js';

const temp = tempDirs();

function attempt(fn: () => void): NodeJS.ErrnoException | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

describe('faultyOps', () => {
  it('fails the n-th link with EMLINK, shaped like a Node error, and counts calls', () => {
    const d = temp();
    buildTree(d, { a: file('x') });
    const ops = faultyOps(realFsOps, { op: 'link', nth: 2, code: 'EMLINK' });
    ops.link(path.join(d, 'a'), path.join(d, 'b'));
    const err = attempt(() => ops.link(path.join(d, 'a'), path.join(d, 'c')));
    ops.link(path.join(d, 'a'), path.join(d, 'e'));
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'EMLINK', errno: -31, syscall: 'link', path: path.join(d, 'a'), dest: path.join(d, 'c') });
    expect(err!.message).toBe(`EMLINK: too many links, link '${path.join(d, 'a')}' -> '${path.join(d, 'c')}'`);
    expect(fs.existsSync(path.join(d, 'c'))).toBe(false);
    expect(fs.lstatSync(path.join(d, 'a')).nlink).toBe(3);
    expect(ops.calls.link).toBe(3);
    expect(ops.failures.link).toBe(1);
    expect(ops.calls.copyFile).toBe(0);
  });

  it('fails every call past the first n, only for a matching path', () => {
    const d = temp();
    buildTree(d, { a: file('x'), b: file('y') });
    const ops = faultyOps(realFsOps, { op: 'link', after: 1, path: path.join(d, 'a'), code: 'EMLINK' });
    ops.link(path.join(d, 'a'), path.join(d, 'a1'));
    expect(attempt(() => ops.link(path.join(d, 'a'), path.join(d, 'a2')))?.code).toBe('EMLINK');
    expect(attempt(() => ops.link(path.join(d, 'a'), path.join(d, 'a3')))?.code).toBe('EMLINK');
    ops.link(path.join(d, 'b'), path.join(d, 'b1'));
    ops.link(Buffer.from(path.join(d, 'b')), Buffer.from(path.join(d, 'b2')));
    expect(ops.failures.link).toBe(2);
  });

  it('fails every link with EPERM when no count is given', () => {
    const d = temp();
    buildTree(d, { a: file('x') });
    const ops = faultyOps(realFsOps, { op: 'link', code: 'EPERM' });
    for (const n of ['b', 'c']) expect(attempt(() => ops.link(path.join(d, 'a'), path.join(d, n)))?.code).toBe('EPERM');
  });

  it('fails the n-th copyFile with ENOSPC, leaving half a file when asked', () => {
    const d = temp();
    buildTree(d, { a: file('0123456789') });
    const ops = faultyOps(realFsOps, [{ op: 'copyFile', nth: 2, code: 'ENOSPC', partial: true }]);
    ops.copyFile(path.join(d, 'a'), path.join(d, 'b'));
    const err = attempt(() => ops.copyFile(path.join(d, 'a'), path.join(d, 'c')));
    expect(err).toMatchObject({ code: 'ENOSPC', errno: -28, syscall: 'copyfile' });
    expect(fs.readFileSync(path.join(d, 'c'), 'utf8')).toBe('01234');
    expect(fs.readFileSync(path.join(d, 'b'), 'utf8')).toBe('0123456789');
  });

  it('fails readdir of one directory, matched by bytes, RegExp or predicate', () => {
    const d = temp();
    buildTree(d, { 'x/1': file(), 'y/2': file() });
    for (const match of [path.join(d, 'x'), Buffer.from(path.join(d, 'x')), /\/x$/, (p: Buffer) => p.toString().endsWith('/x')]) {
      const ops = faultyOps(realFsOps, { op: 'readdir', path: match, code: 'EACCES' });
      expect(attempt(() => ops.readdir(Buffer.from(path.join(d, 'x'))))).toMatchObject({ code: 'EACCES', syscall: 'scandir' });
      expect(ops.readdir(path.join(d, 'y')).map(String)).toEqual(['2']);
    }
  });

  it('emulates a link limit by the target’s nlink', () => {
    const d = temp();
    buildTree(d, { a: file('x'), b: file('y') });
    const ops = faultyOps(realFsOps, linkLimit(3));
    ops.link(path.join(d, 'a'), path.join(d, 'a1'));
    ops.link(path.join(d, 'a'), path.join(d, 'a2'));
    expect(attempt(() => ops.link(path.join(d, 'a1'), path.join(d, 'a3')))?.code).toBe('EMLINK');
    ops.link(path.join(d, 'b'), path.join(d, 'b1'));
    expect(fs.lstatSync(path.join(d, 'a')).nlink).toBe(3);
  });

  it('builds errors for any errno name', () => {
    expect(errnoError('ENOENT', 'lstat', '/x')).toMatchObject({ message: "ENOENT: no such file or directory, lstat '/x'", errno: -2 });
    expect(() => errnoError('ENOTHING', 'x')).toThrow(/unknown errno/);
  });
});
