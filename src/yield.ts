// The pipeline's loops are synchronous syscalls, which would starve the event loop: no signal
// handler (Ctrl-C) and no progress redraw could run. Pacer lets a loop yield every few
// milliseconds, which costs nothing measurable and keeps the process responsive.

export class Pacer {
  private last = Date.now();
  private n = 0;
  constructor(private readonly everyMs = 50) {}

  /** True about every `everyMs`: the caller should `await yieldNow()`. */
  due(): boolean {
    if (++this.n < 64) return false;
    this.n = 0;
    const now = Date.now();
    if (now - this.last < this.everyMs) return false;
    this.last = now;
    return true;
  }
}

export const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
