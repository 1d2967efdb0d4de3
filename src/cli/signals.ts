// Ctrl-C and SIGTERM ask the running command to stop at the next file boundary; a second
// Ctrl-C exits at once (the index is transactional, so even that loses nothing committed).
// At once means the signal raised again with no listener left, so that it ends the process
// (a shell's $? is 128 + its number, as before): process.exit() first waits for worker threads
// to stop, and a thread inside a system call that does not return (a read from a hung NFS
// server, say) never does.
//
// A SIGTERM within a second of the first is the same request, not a second one: timeout(1) sends
// its SIGTERM to the command and then to the command's process group, which holds the command
// too (a tester's cron job under timeout quit at once in 7 of 12 runs, exit 143 with no summary
// and an empty --json); so do supervisors that signal a whole group or cgroup. A person's
// second Ctrl-C is SIGINT, and is always taken.
const SAME_REQUEST_MS = 1000;

export function stopOnSignals(onFirst: () => void, onSecond: () => void = () => {}): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (first && signal === 'SIGTERM' && first.signal === 'SIGTERM' && Date.now() - first.at < SAME_REQUEST_MS) return;
    count++;
    if (count === 1) {
      first = { signal, at: Date.now() };
      onFirst();
      return;
    }
    onSecond();
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested: () => count > 0,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
