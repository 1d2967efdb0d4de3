// Content copies started ahead of the cursor. A first copy reads every source file once, and on
// a cold cache each read waits for the disk; copy_file_range calls issued from libuv's thread
// pool, several at a time, keep the disk busy while the main thread makes links and writes the
// index. Only the copy into a temp file runs ahead: metadata, the rename and the index row stay
// in order on the main thread, so the result and its crash safety are as without prefetching.
import fs from 'node:fs';

export type Prefetched = { tmp: string; err?: undefined } | { tmp: string; err: unknown };

const FLAGS = fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE;

export class Prefetcher {
  private readonly started = new Map<number, Promise<Prefetched>>();
  private running = 0;

  constructor(private readonly depth: number) {}

  hasRoom(): boolean {
    return this.running < this.depth;
  }

  /** Start copying entry `id`'s content from `src` into the new temp file `tmp`. */
  start(id: number, src: Buffer, tmp: string): void {
    this.running++;
    const done = fs.promises.copyFile(src, tmp, FLAGS).then(
      () => ({ tmp }),
      (err: unknown) => ({ tmp, err }),
    );
    this.started.set(id, done.finally(() => this.running--));
  }

  /** The copy started for entry `id`, if any; the caller now owns its temp file. */
  take(id: number): Promise<Prefetched> | undefined {
    const p = this.started.get(id);
    this.started.delete(id);
    return p;
  }

  /** Wait for copies nobody took (a stop, a fatal error); their temp files are left to the caller's cleanup. */
  async drain(): Promise<void> {
    await Promise.all(this.started.values());
    this.started.clear();
  }
}
