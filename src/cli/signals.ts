// Ctrl-C and SIGTERM ask the running command to stop at the next file boundary; a second
// Ctrl-C exits at once (the index is transactional, so even that loses nothing committed).
export function stopOnSignals(onFirst: () => void): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      onFirst();
      return;
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
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
