#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=50
// Flat memory: a small young generation (linkmirror allocates many short-lived objects, one lstat
// per path, and V8 would otherwise grow its nursery to tens of megabytes), a slower growth of the
// old generation (by half between collections; V8 may otherwise let it grow up to four-fold: peak
// RSS of a 1M-path copy 169-183 MB without either flag, 146-150 MB with the small nursery alone),
// and two malloc arenas (libuv's and the hashing threads would otherwise each keep one of their
// own).
//
// --optimize-for-size, used before 2026-12-07, also slows the heap's growth, but it costs CPU
// elsewhere (it favours size in the compiler too): cold 1M-path first copies, three alternating
// rounds, took 28.4-28.9 s and 119-120 MB with it, 26.1-27.4 s and 127-132 MB with this flag;
// 100k, 1M and 3M peaked at 126, 127-132 and 135 MB, a run resumed after a kill at 137-139 MB
// (131 MB before), a rotation's re-copy at 141 (133).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
