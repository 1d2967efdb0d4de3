// FileHasher: the digest sha256sum prints, for files that end in the first read chunk (the
// one-shot path), exactly at its end, and across several chunks (the streaming path); through
// the injected FsOps, so a read error reaches the caller and the descriptor is still closed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realFsOps } from '../../src/fs/ops.js';
import { FileHasher, HASH_ALGORITHM } from '../../src/verify/hash-file.js';
import { parseSample, sampled } from '../../src/verify/sample.js';
import { faultyOps } from '../helpers/faulty-ops.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const MiB = 1 << 20;

describe('FileHasher', () => {
  it.each([0, 1, 4096, MiB - 1, MiB, MiB + 1, 3 * MiB + 17])('hashes %i bytes as sha256sum does', (size) => {
    const p = path.join(temp(), 'f');
    const content = Buffer.alloc(size);
    for (let i = 0; i < size; i++) content[i] = (i * 7919) >>> 5;
    fs.writeFileSync(p, content);
    const { hash, bytes } = new FileHasher(realFsOps).hash(p);
    expect(HASH_ALGORITHM).toBe('sha256');
    expect(hash.toString('hex')).toBe(execFileSync('sha256sum', [p], { encoding: 'utf8' }).split(' ')[0]);
    expect(bytes).toBe(BigInt(size));
  });

  it('one hasher, many files: the shared buffer leaks nothing from one file into the next', () => {
    const dir = temp();
    fs.writeFileSync(path.join(dir, 'long'), Buffer.alloc(5000, 1));
    fs.writeFileSync(path.join(dir, 'short'), 'ab');
    const h = new FileHasher(realFsOps);
    h.hash(path.join(dir, 'long'));
    expect(h.hash(path.join(dir, 'short')).hash.toString('hex')).toBe(execFileSync('sha256sum', [path.join(dir, 'short')], { encoding: 'utf8' }).split(' ')[0]);
  });

  it('passes a read error on and closes the file', () => {
    const p = path.join(temp(), 'f');
    fs.writeFileSync(p, Buffer.alloc(3 * MiB, 2));
    const ops = faultyOps(realFsOps, { op: 'read', code: 'EIO', nth: 2 });
    expect(() => new FileHasher(ops).hash(p)).toThrow(/EIO/);
    expect(ops.calls.close).toBe(1);
  });

  it('does not follow a symlink', () => {
    const dir = temp();
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    fs.symlinkSync('f', path.join(dir, 'l'));
    expect(() => new FileHasher(realFsOps).hash(path.join(dir, 'l'))).toThrow(/ELOOP/);
  });
});

describe('--sample', () => {
  it('parses shares in percent', () => {
    expect(parseSample('5%')).toBe(0.05);
    expect(parseSample('100')).toBe(1);
    expect(parseSample('0.5%')).toBe(0.005);
    for (const bad of ['0%', '101%', '-3%', 'half', '']) expect(parseSample(bad)).toBeUndefined();
  });

  it('picks about that share of inode numbers, spread over them, another share for another seed', () => {
    const pick = (seed: number) => Array.from({ length: 100_000 }, (_, i) => sampled(BigInt(1000 + i), seed, 0.1));
    const a = pick(1);
    const share = a.filter(Boolean).length / a.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
    // Consecutive inode numbers (files written together) are not picked together.
    expect(a.slice(0, 50_000).filter(Boolean).length).toBeGreaterThan(4500);
    const b = pick(2);
    const both = a.filter((x, i) => x && b[i]).length;
    expect(both).toBeLessThan(0.02 * a.length);
    expect(sampled(2n ** 64n - 1n, 1, 0.5)).toBe(sampled(2n ** 64n - 1n, 1, 0.5));
  });
});

describe('the worker pool hashes as FileHasher does', () => {
  it('digests, sizes and error codes, over many batches at once', async () => {
    const { workerEngine, inThreadEngine } = await import('../../src/verify/hash-engine.js');
    const dir = temp();
    const paths: Buffer[] = [];
    for (const size of [0, 5, MiB, 2 * MiB + 3]) {
      const p = path.join(dir, `f${size}`);
      fs.writeFileSync(p, Buffer.alloc(size, size & 0xff));
      paths.push(Buffer.from(p));
    }
    fs.symlinkSync('f5', path.join(dir, 'link'));
    paths.push(Buffer.from(path.join(dir, 'link')), Buffer.from(path.join(dir, 'gone')));
    const pool = workerEngine(2, HASH_ALGORITHM);
    const local = inThreadEngine(realFsOps, HASH_ALGORITHM);
    try {
      const [a, b, c] = await Promise.all([pool.hash(paths), pool.hash(paths.slice(0, 2)), local.hash(paths)]);
      const show = (o: Awaited<ReturnType<typeof pool.hash>>[number]) =>
        'hash' in o ? `${o.hash.toString('hex')} ${o.bytes}` : (o.error as NodeJS.ErrnoException).code;
      expect(a.map(show)).toEqual(c.map(show));
      expect(b.map(show)).toEqual(c.slice(0, 2).map(show));
      expect(a.slice(4).map(show)).toEqual(['ELOOP', 'ENOENT']);
      expect(show(a[1])).toBe(`${execFileSync('sha256sum', [paths[1].toString()], { encoding: 'utf8' }).split(' ')[0]} 5`);
    } finally {
      await pool.close();
    }
  });
});
