// Temporary directories for tests, under os.tmpdir(), removed after each test.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** A fresh directory under os.tmpdir(); remove it with removeTemp. */
export function makeTemp(prefix = 'linkmirror-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Remove a temp tree, even where a test left directories without write or search permission. */
export function removeTemp(dir: string): void {
  if (!fs.existsSync(dir)) return;
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    execFileSync('chmod', ['-R', 'u+rwx', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Call once at the top of a test file (or describe block): returns a maker of temp
 * directories that are all removed after each test.
 */
export function tempDirs(prefix?: string): () => string {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) removeTemp(dir);
  });
  return () => {
    const dir = makeTemp(prefix);
    made.push(dir);
    return dir;
  };
}
