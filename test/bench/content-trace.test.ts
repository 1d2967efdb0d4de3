// The benchmark's count of content bytes (bench/content-trace.ts): it must see exactly the bytes
// a copy writes into files, for linkmirror and for a run that is killed part way, or the resume
// and rotation figures built on it mean nothing.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contentBytesIn, openContentTrace } from '../../bench/content-trace.js';
import { runCounted } from '../../bench/kernel-io.js';
import { GNU_TIME } from '../../bench/timed-run.js';
import { buildTree } from '../helpers/build-tree.js';
import { BIN } from '../helpers/cli.js';
import { tempDirs } from '../helpers/temp-dirs.js';
import { dir, file, link, symlink } from '../helpers/tree-spec.js';

const temp = tempDirs();

describe('contentBytesIn', () => {
  it('sums what completed copy_file_range and sendfile calls returned, and nothing else', () => {
    const trace = [
      '# tracer: nop',
      '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION',
      '            node-10792   [001] ..... 12970.220719: sys_copy_file_range -> 0xffffffffffffffee',
      '            node-10792   [001] ..... 12970.220763: sys_sendfile64 -> 0x186a0',
      '              cp-10799   [001] ..... 12970.226871: sys_copy_file_range -> 0x7',
      '              cp-10799   [001] ..... 12970.226873: sys_copy_file_range -> 0x0',
      ' libuv-worker-10801   [000] ..... 12970.284608: sys_copy_file_range -> 0x100000000',
      '',
    ].join('\n');
    // -EXDEV (two's complement) is no byte; 2^32 is, and must not wrap.
    expect(contentBytesIn(trace)).toBe(100_000 + 7 + 2 ** 32);
  });
});

const opened = fs.existsSync(GNU_TIME) ? openContentTrace() : `${GNU_TIME} not found (Debian package "time")`;
const trace = typeof opened === 'string' ? undefined : opened;
if (typeof opened === 'string') console.log(`content-trace: skipped, ${opened}`);
afterAll(() => trace?.close());

describe.skipIf(trace === undefined)('the content a real run writes, by the kernel\'s tracepoints', () => {
  it('counts each inode of a linkmirror copy once: links and symlinks write no content', (ctx) => {
    const root = temp();
    fs.writeFileSync(path.join(root, 'probe'), 'x');
    let reflinks = true;
    try {
      fs.copyFileSync(path.join(root, 'probe'), path.join(root, 'clone'), fs.constants.COPYFILE_FICLONE_FORCE);
    } catch {
      reflinks = false; // content is copied
    }
    if (reflinks) {
      // A reflink writes no content, and linkmirror asks for one: nothing to count there.
      console.log(`content-trace: skipped, ${root} makes reflinks`);
      ctx.skip();
    }
    const src = path.join(root, 'src');
    const big = Buffer.alloc(300_000, 7);
    buildTree(src, {
      'a/big': file(big),
      'a/big-link': link('a/big'),
      'b/big': link('a/big'),
      'b/small': file('hello'),
      'b/empty': file(''),
      'b/sym': symlink('../a/big'),
      c: dir(),
    });
    const dst = path.join(temp(), 'dst');
    const run = runCounted([process.execPath, BIN, 'copy', src, dst, '--quiet'], { contentTrace: trace });
    expect(run.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(dst, 'b/big')).equals(big)).toBe(true);
    expect(run.contentBytes).toBe(big.length + 'hello'.length);
  });

  it('counts the content of a run killed part way: the files it finished, and no more than the one in flight', () => {
    const root = temp();
    const src = path.join(root, 'src');
    fs.mkdirSync(src);
    const size = 40_000;
    for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(src, `f${i}`), Buffer.alloc(size, i % 251));
    const dst = path.join(root, 'dst');
    fs.mkdirSync(dst);
    // One file every few milliseconds, so that the kill lands in the middle of the list.
    const script = `const fs = require('fs');
      let i = 0;
      const step = () => {
        if (i === 400) return;
        fs.copyFileSync(${JSON.stringify(src)} + '/f' + i, ${JSON.stringify(dst)} + '/f' + i, fs.constants.COPYFILE_EXCL);
        i++;
        setTimeout(step, 5);
      };
      step();`;
    const run = runCounted([process.execPath, '-e', script], { contentTrace: trace, killAfterS: 1 });
    expect(run.exitCode).toBe(137);
    const made = fs.readdirSync(dst).map((name) => fs.statSync(path.join(dst, name)).size);
    const bytes = made.reduce((a, b) => a + b, 0);
    expect(made.length).toBeGreaterThan(0);
    expect(made.length).toBeLessThan(400);
    // The file in flight at the kill may have bytes whose call never returned.
    expect(run.contentBytes).toBeLessThanOrEqual(bytes);
    expect(run.contentBytes).toBeGreaterThanOrEqual(bytes - size);
  });
});
