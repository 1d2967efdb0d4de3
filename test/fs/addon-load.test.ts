// The getdents addon is loaded by the threads that read directories, and only when they first
// do: a thread terminated while the addon registers itself aborts the whole process (SIGABRT,
// "terminate called after throwing an instance of 'Napi::Error'"), and every thread that imports
// fs/ops.js (the stat threads of a walk among them) used to load it at import. The walk ends its
// stat threads as soon as a small tree is walked: a CLI copy of a seven-path tree aborted once
// in 200-600 runs. Both tests run the built module in a child node, so that what the test
// runner itself has loaded does not count.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const OPS = new URL('../../dist/src/fs/ops.js', import.meta.url).href;

function runNode(script: string): { status: number | null; signal: NodeJS.Signals | null; out: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('the getdents addon', () => {
  it('is not loaded by importing fs/ops.js, only by the first directory read through it', () => {
    const dir = temp();
    fs.writeFileSync(path.join(dir, 'f'), '');
    const r = runNode(
      `import fs from 'node:fs';
       const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes('getdents.node');
       const { realFsOps } = await import(${JSON.stringify(OPS)});
       const before = mapped();
       const names = realFsOps.readdirInodes(${JSON.stringify(dir)}).map((d) => d.name.toString());
       console.log(JSON.stringify({ before, after: mapped(), names }));`,
    );
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ before: false, after: true, names: ['f'] });
  });

  it('threads terminated while they import fs/ops.js, 150 times: the process lives on', () => {
    // Each thread imports what ops.js imports, says so, and then imports ops.js itself; it is
    // terminated 0-11 ms after it said so, a sweep across the module's evaluation (here the
    // addon registered itself 4-8 ms after). With the addon loaded at import, every try ended
    // in SIGABRT: five standalone runs of 100 threads terminated 0-7 ms after, and this test.
    const DIRENTS = OPS.replace(/ops\.js$/, 'dirents.js');
    const thread =
      `Promise.all([import('node:worker_threads'), import(${JSON.stringify(DIRENTS)})]).then(([threads]) => {` +
      ` threads.parentPort.postMessage(0); return import(${JSON.stringify(OPS)}); })`;
    const r = runNode(
      `import { Worker } from 'node:worker_threads';
       for (let i = 0; i < 150; i++) {
         const w = new Worker(${JSON.stringify(thread)}, { eval: true });
         await new Promise((resolve) => w.once('message', resolve));
         await new Promise((resolve) => setTimeout(resolve, i % 12));
         await w.terminate();
       }
       console.log('lived');`,
    );
    expect(r).toEqual({ status: 0, signal: null, out: 'lived' });
  });
});
