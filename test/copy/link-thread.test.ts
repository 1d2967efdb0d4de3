// The link thread on its own: every queued link is made (by inode, on a real filesystem), each
// failure comes back with its errno code and the caller's tag, answers come in the order the
// batches were sent, and a name that is not UTF-8 survives the trip through the batch buffer.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkThread, type LinkAnswer } from '../../src/copy/link-thread.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('LinkThread', () => {
  it('makes every link in batches, reports failures by job with their code, and keeps the order', async () => {
    const dir = temp();
    const anchor = Buffer.from(path.join(dir, 'anchor'));
    fs.writeFileSync(anchor, 'x');
    fs.writeFileSync(path.join(dir, 'taken'), 'y');
    const names: Buffer[] = [];
    for (let i = 0; i < 10; i++) names.push(Buffer.from(path.join(dir, `l${i}`)));
    names.push(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x6e, 0xff, 0xfe])])); // not UTF-8
    names.splice(4, 0, Buffer.from(path.join(dir, 'taken'))); // EEXIST
    names.splice(8, 0, Buffer.from(path.join(dir, 'no-such-dir', 'x'))); // ENOENT

    // Batches of 3 with one in flight: the queue blocks and has to wait for answers.
    const links = new LinkThread<number>(3, 1);
    const answers: LinkAnswer<number>[] = [];
    let waited = 0;
    try {
      names.forEach((to, i) => {
        links.add(anchor, to, i);
      });
      while (links.blocked) {
        waited++;
        await links.room();
        answers.push(...links.answers());
      }
      await links.drain();
      answers.push(...links.answers());
    } finally {
      await links.close();
    }
    expect(links.idle).toBe(true);
    expect(waited).toBeGreaterThan(0);

    const tags = answers.flatMap((a) => a.jobs.map((j) => j.tag));
    expect(tags).toEqual(names.map((_, i) => i)); // every job once, in order
    const failures = answers.flatMap((a) => [...a.failed].map(([i, err]) => [a.jobs[i].tag, (err as NodeJS.ErrnoException).code]));
    expect(failures).toEqual([[4, 'EEXIST'], [8, 'ENOENT']]);

    const ino = fs.statSync(anchor).ino;
    for (const [i, to] of names.entries()) {
      if (i === 4 || i === 8) continue;
      expect(fs.lstatSync(to).ino).toBe(ino);
    }
    expect(fs.statSync(anchor).nlink).toBe(1 + names.length - 2);
    expect(fs.readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('y'); // never replaced
  });
});
