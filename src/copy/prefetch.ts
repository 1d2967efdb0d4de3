// Content copies started ahead of the cursor. A first copy reads every source file once, and on
// a cold cache each read waits for the disk; copy_file_range calls issued from libuv's thread
// pool, several at a time, keep the disk busy while the main thread makes links and writes the
// index. Here only the copy into a temp file runs ahead: metadata, the rename and the index row
// stay in order on the main thread, so the result and its crash safety are as without
// prefetching. (copy-thread.ts runs the same copies, and the metadata and rename of each, from a
// thread of its own.)
import fs from 'node:fs';
import type { StoredEntry } from '../store/entry.js';

/**
 * A copy made ahead. `ino` is set when its metadata was applied too (the copy thread), and
 * `renamed` when it was also renamed to its final path; `renameErr` is why that rename failed.
 */
export type Prefetched =
  | { tmp: string; err?: undefined; ino?: bigint; renamed?: boolean; renameErr?: Error }
  | { tmp: string; err: unknown; ino?: undefined; renamed?: undefined; renameErr?: undefined };

/** One copy to make ahead: entry `e`'s content from `src` into the new temp file `tmp`, for path `to`. */
export interface AheadJob {
  e: StoredEntry;
  src: Buffer;
  tmp: string;
  to: Buffer;
}

/** What the content pass asks of its copies ahead (Prefetcher, or CopyThread). */
export interface CopiesAhead {
  hasRoom(): boolean;
  start(job: AheadJob): void;
  /** The copy started for entry `id`, if any; the caller now owns its temp file. */
  take(id: number): Promise<Prefetched> | undefined;
  /** Wait for copies nobody took (a stop, a fatal error); their temp files are left to the caller's cleanup. */
  drain(): Promise<void>;
}

const FLAGS = fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE;

export class Prefetcher implements CopiesAhead {
  private readonly started = new Map<number, Promise<Prefetched>>();
  private running = 0;

  constructor(private readonly depth: number) {}

  hasRoom(): boolean {
    return this.running < this.depth;
  }

  start({ e, src, tmp }: AheadJob): void {
    this.running++;
    const done = fs.promises.copyFile(src, tmp, FLAGS).then(
      () => ({ tmp }),
      (err: unknown) => ({ tmp, err }),
    );
    this.started.set(e.id, done.finally(() => this.running--));
  }

  take(id: number): Promise<Prefetched> | undefined {
    const p = this.started.get(id);
    this.started.delete(id);
    return p;
  }

  async drain(): Promise<void> {
    await Promise.all(this.started.values());
    this.started.clear();
  }
}
