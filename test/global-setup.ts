// Before any test: the CLI tests run the built bin (bin/linkmirror.js imports dist/), so build
// when dist/ is missing or older than a source file. `npm install` builds too (prepare), so on
// a fresh clone this costs nothing; after an edit it is one tsc run (a few seconds).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILT = path.join(root, 'dist/src/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const built = fs.existsSync(BUILT) ? fs.statSync(BUILT).mtimeMs : 0;
  if (built >= newestSource(path.join(root, 'src'))) return;
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
  // Type errors still emit JavaScript; the CLI tests then show what they break.
  if (r.status !== 0) console.warn(`global setup: tsc reported errors (dist/ was still written):\n${r.stdout}${r.stderr}`);
  if (!fs.existsSync(BUILT)) throw new Error(`global setup: tsc did not produce ${BUILT}`);
}
