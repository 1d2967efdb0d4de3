// The terminal side of the core's Progress interface: a cli-progress bar on a TTY (phase, items,
// bytes, rate, ETA), warnings printed above it; with --progress off a TTY, a plain line every few
// seconds (progress-lines.ts); without it off a TTY, warnings go to stderr and nothing else.
import cliProgress from 'cli-progress';
import { formatBytes, formatCount } from '../format.js';
import type { Phase, Progress } from '../progress.js';
import { PhaseTally, progressLines } from './progress-lines.js';

const LABEL: Record<Phase, string> = {
  scan: 'scanning',
  plan: 'planning',
  dirs: 'directories',
  content: 'copying',
  metadata: 'finishing',
  verify: 'verifying',
  hash: 'hashing',
  delete: 'deleting',
};

export type TerminalProgress = Progress & { close(): void };

/** Off a terminal, how often a progress line is written (cli-progress's own default is 2 s). */
const NOT_TTY_MS = Number(process.env.LINKMIRROR_PROGRESS_MS) || 5000;

export function progressBar(enabled: boolean, quiet: boolean): TerminalProgress {
  if (!enabled) {
    return {
      start() {},
      advance() {},
      warn(message) {
        if (!quiet) process.stderr.write(`warning: ${message}\n`);
      },
      end() {},
      close() {},
    };
  }
  if (!process.stderr.isTTY) return progressLines(LABEL, NOT_TTY_MS, (line) => process.stderr.write(`${line}\n`), quiet);
  const multi = new cliProgress.MultiBar(
    {
      format: ' {phase} |{bar}| {percentage}% {items} {bytes} {rate} ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 5,
      barsize: 25,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  const t = new PhaseTally();
  const payload = () => {
    const { items, total, bytes } = t;
    const secs = Math.max((Date.now() - t.startedAt) / 1000, 0.001);
    return {
      phase: LABEL[t.phase ?? 'scan'].padEnd(11),
      items: total > 0 ? `${formatCount(items)}/${formatCount(total)}` : formatCount(items),
      bytes: bytes > 0n ? formatBytes(bytes) : '',
      rate: bytes > 0n ? `${formatBytes(Number(bytes) / secs)}/s` : `${formatCount(Math.round(items / secs))}/s`,
    };
  };
  return {
    start(p, totals) {
      t.start(p, totals);
      bar = multi.create(Math.max(t.total, 1), 0, payload());
      if (t.total === 0) bar.setTotal(0);
    },
    advance(n, b = 0n) {
      t.advance(n, b);
      bar?.update(Math.min(t.items, t.total || t.items), payload());
    },
    warn(message) {
      multi.log(`warning: ${message}\n`);
    },
    end() {
      if (bar) {
        multi.remove(bar);
        bar = undefined;
      }
    },
    close() {
      multi.stop();
    },
  };
}
