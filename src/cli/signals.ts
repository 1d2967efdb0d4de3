// Ctrl-C and SIGTERM ask the running command to stop at the next file boundary; a second
// Ctrl-C exits at once (the index is transactional, so even that loses nothing committed).
// At once means the signal raised again with no listener left, so that it ends the process
// (a shell's $? is 128 + its number, as before): process.exit() first waits for worker threads
// to stop, and a thread inside a system call that does not return (a read from a hung NFS
// server, say) never does.
export function stopOnSignals(onFirst: () => void, onSecond: () => void = () => {}): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
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
