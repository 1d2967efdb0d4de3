#!/usr/bin/env -S node --max-semi-space-size=2
// A small young generation keeps the process's memory flat: linkmirror allocates many short-lived
// objects (one lstat per path) and V8 would otherwise grow its nursery to tens of megabytes.
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
