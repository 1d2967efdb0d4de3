// --progress when stderr is not a terminal (a cron job's log, a pipe): one plain line every few
// seconds, timestamped, without the bar's glyphs. cli-progress's own fallback for this redraws
// its bar as text, with a blank line after each one and more for a phase without a bar, and
// repeats a finished phase's line until the next phase starts; a log of a night's copy is read
// line by line, so each line here says what is being done, how far, how fast and until when.
import { formatBytes, formatCount, formatDuration } from '../format.js';
import type { Phase } from '../progress.js';
import type { TerminalProgress } from './progress-bar.js';

/** What the running phase has done so far: the bar and the lines both draw from it. */
export class PhaseTally {
  phase: Phase | undefined;
  items = 0;
  total = 0;
  bytes = 0n;
  startedAt = Date.now();

  start(p: Phase, totals: { items?: number }): void {
    this.phase = p;
    this.items = 0;
    this.bytes = 0n;
    this.total = totals.items ?? 0;
    this.startedAt = Date.now();
  }

  advance(n: number, b = 0n): void {
    this.items += n;
    this.bytes += b;
  }
}

export function progressLines(labels: Record<Phase, string>, everyMs: number, write: (line: string) => void, quiet: boolean): TerminalProgress {
  const t = new PhaseTally();
  const line = (): string => {
    const { items, total, bytes } = t;
    const ms = Math.max(Date.now() - t.startedAt, 1);
    const parts = [total > 0 ? `${formatCount(items)}/${formatCount(total)} (${Math.floor((100 * items) / total)}%)` : formatCount(items)];
    if (bytes > 0n) parts.push(`${formatBytes(bytes)}, ${formatBytes((Number(bytes) * 1000) / ms)}/s`);
    else if (items > 0) parts.push(`${formatCount(Math.round((items * 1000) / ms))}/s`);
    // The ETA from this phase's rate so far: a phase's items differ too much for another.
    if (total > 0 && items > 0 && items < total) parts.push(`ETA ${formatDuration(((total - items) * ms) / items)}`);
    // Local time, as the log's other lines (cron's, syslog's) have it.
    return `${new Date().toTimeString().slice(0, 8)} ${labels[t.phase!]} ${parts.join(', ')}`;
  };
  // unref(): the timer never keeps a finished run's process alive.
  const timer = setInterval(() => {
    if (t.phase !== undefined) write(line());
  }, everyMs);
  timer.unref();
  return {
    start: (p, totals) => t.start(p, totals),
    advance: (n, b) => t.advance(n, b),
    warn(message) {
      if (!quiet) write(`warning: ${message}`);
    },
    end() {
      t.phase = undefined;
    },
    close() {
      clearInterval(timer);
    },
  };
}
