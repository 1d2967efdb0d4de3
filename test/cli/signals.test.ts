// A second Ctrl-C quits at once, even while a thread is stuck in a system call (an open(2) of a
// FIFO that no one writes, as a hung NFS read would be): process.exit() waited for such a thread
// for ever; the signal raised again with no listener does not.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();
const SIGNALS = fileURLToPath(new URL('../../dist/src/cli/signals.js', import.meta.url));

describe('stopOnSignals', () => {
  it('a second SIGINT ends the process while a worker thread is blocked in open()', async () => {
    const dir = temp();
    const fifo = path.join(dir, 'nobody-writes');
    execFileSync('mkfifo', [fifo]);
    const script = `
      import { Worker } from 'node:worker_threads';
      import { stopOnSignals } from ${JSON.stringify(SIGNALS)};
      stopOnSignals(() => process.stderr.write('first\\n'));
      const code = "require('node:worker_threads').parentPort.postMessage('ready'); require('node:fs').openSync(" + JSON.stringify(process.argv[2]) + ", 'r');";
      new Worker(code, { eval: true }).on('message', () => process.stdout.write('ready\\n'));
      setInterval(() => {}, 1000);`;
    // A file of its own: with --input-type=module the worker's eval would be a module too.
    const file = path.join(dir, 'stuck.mjs');
    fs.writeFileSync(file, script);
    const child = spawn(process.execPath, [file, fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    await new Promise((r) => setTimeout(r, 200)); // the worker is inside open() by now
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGINT');
    const outcome = await Promise.race([ended, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
    if (outcome === 'hung') child.kill('SIGKILL');
    expect(outcome).toEqual({ code: null, signal: 'SIGINT' });
  }, 20_000);
});
