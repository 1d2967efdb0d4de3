// --progress when stderr is not a terminal (a cron job's log, a pipe): one plain line every few
// seconds, timestamped, without the bar's glyphs. cli-progress's own fallback for this redraws
// its bar as text, with a blank line after each one and more for a phase without a bar, and
// repeats a finished phase's line until the next phase starts; a log of a night's copy is read
// line by line, so each line here says what is being done, how far, how fast and until when.
import { formatBytes, formatCount, formatDuration } from '../format.js';
import type { Phase } from '../progress.js';
import type { TerminalProgress } from './progress-bar.js';

export function progressLines(labels: Record<Phase, string>, everyMs: number, write: (line: string) => void, quiet: boolean): TerminalProgress {
  let phase: Phase | undefined;
  let items = 0;
  let total = 0;
  let bytes = 0n;
  let startedAt = 0;
  const line = (): string => {
    const ms = Math.max(Date.now() - startedAt, 1);
    const parts = [total > 0 ? `${formatCount(items)}/${formatCount(total)} (${Math.floor((100 * items) / total)}%)` : formatCount(items)];
    if (bytes > 0n) parts.push(`${formatBytes(bytes)}, ${formatBytes((Number(bytes) * 1000) / ms)}/s`);
    else if (items > 0) parts.push(`${formatCount(Math.round((items * 1000) / ms))}/s`);
    // The ETA from this phase's rate so far: a phase's items differ too much for another.
    if (total > 0 && items > 0 && items < total) parts.push(`ETA ${formatDuration(((total - items) * ms) / items)}`);
    // Local time, as the log's other lines (cron's, syslog's) have it.
    return `${new Date().toTimeString().slice(0, 8)} ${labels[phase!]} ${parts.join(', ')}`;
  };
  // unref(): the timer never keeps a finished run's process alive.
  const timer = setInterval(() => {
    if (phase !== undefined) write(line());
  }, everyMs);
  timer.unref();
  return {
    start(p, totals) {
      phase = p;
      items = 0;
      bytes = 0n;
      total = totals.items ?? 0;
      startedAt = Date.now();
    },
    advance(n, b = 0n) {
      items += n;
      bytes += b;
    },
    warn(message) {
      if (!quiet) write(`warning: ${message}`);
    },
    end() {
      phase = undefined;
    },
    close() {
      clearInterval(timer);
    },
  };
}
