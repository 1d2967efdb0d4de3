// Human forms of numbers, shared by the core's messages and the CLI's summaries.

export function formatBytes(n: bigint | number): string {
  const v = typeof n === 'bigint' ? Number(n) : n;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  // Whole bytes: a rate (bytes over seconds) is no integer.
  return i === 0 ? `${Math.round(v)} B` : `${x.toFixed(x < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatCount(n: number | bigint): string {
  return n.toLocaleString('en-US');
}

/** `n` and the noun for it: "1 inode", "2 inodes", "1 directory", "3 directories". */
export function formatCountOf(n: number | bigint, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 || n === 1n ? one : many}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s - m * 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}
