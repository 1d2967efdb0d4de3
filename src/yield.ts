// The pipeline's loops are synchronous syscalls, which would starve the event loop: no signal
// handler (Ctrl-C) and no progress redraw could run. Pacer lets a loop yield every few
// milliseconds, which costs nothing measurable and keeps the process responsive.

export class Pacer {
  private last = Date.now();
  constructor(private readonly everyMs = 50) {}

  /**
   * True about every `everyMs`: the caller should `await yieldNow()`. The clock is read on every
   * call (tens of nanoseconds): skipping it for a count of items meant that a run of large
   * files — one item taking seconds — never yielded, and Ctrl-C went unheard until the pass ended.
   */
  due(): boolean {
    const now = Date.now();
    if (now - this.last < this.everyMs) return false;
    this.last = now;
    return true;
  }
}

export const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
