#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --optimize-for-size
// Flat memory: a small young generation (linkmirror allocates many short-lived objects, one lstat
// per path, and V8 would otherwise grow its nursery to tens of megabytes), V8's smaller heap
// growth (--optimize-for-size: peak RSS of a 1M-path copy 147-155 -> 116-117 MB, of a run
// resumed after a kill 158-162 -> 121 MB, for 2-3 s more CPU), and two malloc arenas
// (libuv's and the hashing threads would otherwise each keep one of their own).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
