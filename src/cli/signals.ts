// Ctrl-C and SIGTERM ask the running command to stop at the next file boundary; a second
// Ctrl-C exits at once (the index is transactional, so even that loses nothing committed).
// At once means the signal's own default action: process.exit() waits for worker threads to
// stop, and a thread inside a system call that does not return (a read from a hung NFS server,
// say) never does; killed by the signal, the process ends with 128 + its number as before.
export function stopOnSignals(onFirst: () => void): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      onFirst();
      return;
    }
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
