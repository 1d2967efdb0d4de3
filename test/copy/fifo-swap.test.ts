// A file the scan saw, replaced by a FIFO before its content is read. open(2) of a FIFO waits
// for a writer, for ever, in a thread no signal gets out of: the copy and verify must refuse it
// as a changed file instead, at once.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copy } from '../../src/copy/copy.js';
import { realFsOps } from '../../src/fs/ops.js';
import type { Phase, Progress } from '../../src/progress.js';
import { FileHasher } from '../../src/verify/hash-file.js';
import { workerEngine } from '../../src/verify/hash-engine.js';
import { buildTree, file, link, tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

function swapToFifo(p: string): void {
  fs.unlinkSync(p);
  execFileSync('mkfifo', [p]);
}

describe('a source file that became a FIFO after the scan', () => {
  it('is reported as changed by the copy, which goes on and ends', async () => {
    const src = path.join(temp(), 'src');
    buildTree(src, { 'h0/a': file('alpha'), 'h1/a': link('h0/a'), 'h0/b': file('beta'), 'h0/z': file('last') });
    const dst = path.join(temp(), 'dst');
    const progress: Progress = {
      start: (p: Phase) => {
        if (p === 'content') swapToFifo(path.join(src, 'h0/b'));
      },
      advance() {},
      warn() {},
      end() {},
    };
    const s = await copy(src, dst, { progress });
    expect(s.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^cannot copy h0\/b: it is no longer a regular file/)]);
    expect(fs.readFileSync(path.join(dst, 'h0/z'), 'utf8')).toBe('last');
    expect(fs.existsSync(path.join(dst, 'h0/b'))).toBe(false);
  });

  it('is refused when hashed, on this thread and on the hashing threads', async () => {
    const dir = temp();
    const p = path.join(dir, 'was-a-file');
    execFileSync('mkfifo', [p]);
    expect(() => new FileHasher(realFsOps).hash(p)).toThrow(/no longer a regular file/);
    const engine = workerEngine(2, 'sha256');
    try {
      const [outcome] = await engine.hash([Buffer.from(p)]);
      expect(outcome).toMatchObject({ error: { code: 'ECHANGED' } });
    } finally {
      await engine.close();
    }
  });
});
