// How the core reports progress: a small interface with a no-op default, so the pipeline never
// prints; cli/progress-bar.ts draws it on a terminal.

export type Phase = 'scan' | 'plan' | 'dirs' | 'content' | 'metadata' | 'verify' | 'hash' | 'delete';

export interface Progress {
  /** A phase begins; totals are known for every phase but scan. */
  start(phase: Phase, totals: { items?: number; bytes?: bigint }): void;
  /** Work done since the last call. */
  advance(items: number, bytes?: bigint): void;
  /** A per-path problem that was counted and skipped. */
  warn(message: string): void;
  end(): void;
}

export const noProgress: Progress = {
  start() {},
  advance() {},
  warn() {},
  end() {},
};
