// A stat thread's answer to a chunk of paths (statChunk, called here on this thread): each path
// lstat'ed under the root, symlinks with their targets; a path that is gone, or whose kind is
// not what the listing said (a directory the list thread did not go into, or a file it took
// for a directory), is left out of the batch and reported, so that no directory is recorded
// without its contents.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { ChunkBuilder, chunkArrays, unpackChunk, type ChunkArrays } from '../../src/scan/path-chunk.js';
import { StatCache } from '../../src/scan/stat-cache.js';
import { statChunk } from '../../src/scan/stat-thread.js';
import { unpackBatch } from '../../src/scan/walk-batch.js';
import { EntryType } from '../../src/store/entry.js';
import { sparesFrom } from '../helpers/spares.js';
import { tempDirs } from '../helpers/tree.js';
import type { StatMessage } from '../../src/scan/walk-threads.js';

/** The batch a chunk came back as; a whole-chunk error (the walk root gone) fails the test. */
function batchOf(message: StatMessage): Extract<StatMessage, { type: 'batch' }> {
  if (message.type !== 'batch') throw new Error(`the chunk failed as a whole: ${message.code}`);
  return message;
}

const temp = tempDirs();

describe('a stat thread', () => {
  it('answers a chunk with the entries it could stat, and reports the rest', () => {
    const root = temp();
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd', 'f'), 'x');
    fs.mkdirSync(path.join(root, 'was-a-file')); // the listing said "file"
    fs.writeFileSync(path.join(root, 'was-a-dir'), 'y'); // the listing said "directory"
    const odd = Buffer.from([0x6f, 0xff]);
    fs.symlinkSync(Buffer.from([0x2e, 0xfe]), Buffer.concat([Buffer.from(root + '/'), odd]));

    const builder = new ChunkBuilder();
    const listed: [string | Buffer, boolean][] = [
      ['', true], ['d', true], ['d/f', false], ['gone', false], ['was-a-file', false], ['was-a-dir', true], [odd, false],
    ];
    // Listed as a directory, or with no type from its entry (the stat thread's lstat tells).
    for (const [rel, dir] of listed) builder.add(Buffer.from(rel), dir ? EntryType.dir : undefined);
    const { chunk } = builder.take();
    expect([...unpackChunk(chunk)].map((p) => [p.rel.toString('latin1'), p.dir])).toEqual(listed.map(([r, d]) => [Buffer.from(r).toString('latin1'), d]));

    const message = batchOf(statChunk(Buffer.from(root), chunk).message);
    const entries = unpackBatch(message.batch);
    expect(entries.map((e) => e.path)).toEqual([Buffer.from(''), Buffer.from('d'), Buffer.from('d/f'), odd]);
    expect(entries.map((e) => e.type)).toEqual([EntryType.dir, EntryType.dir, EntryType.file, EntryType.symlink]);
    expect(entries[2].ino).toBe(fs.lstatSync(path.join(root, 'd', 'f'), { bigint: true }).ino);
    expect(entries[3].target).toEqual(Buffer.from([0x2e, 0xfe]));
    expect(message.problems.map((p) => [Buffer.from(p.rel).toString(), p.code])).toEqual([
      ['gone', 'ENOENT'], ['was-a-file', 'ECHANGED'], ['was-a-dir', 'ECHANGED'],
    ]);
  });

  it('takes a further path of an inode it lstatted from its cache; not a file with one link, nor a symlink', () => {
    const root = temp();
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'linked'), 'shared');
    fs.linkSync(path.join(root, 'linked'), path.join(root, 'd', 'linked-too'));
    fs.linkSync(path.join(root, 'linked'), path.join(root, 'd', 'linked-three'));
    fs.writeFileSync(path.join(root, 'single'), 'alone');
    fs.symlinkSync('single', path.join(root, 'sym'));
    const ino = (rel: string) => fs.lstatSync(path.join(root, rel), { bigint: true }).ino;
    // As the list thread sends them: each path with its entry's type and inode number.
    const chunkOf = (rels: string[]) => {
      const builder = new ChunkBuilder();
      for (const rel of rels) builder.add(Buffer.from(rel), rel === 'sym' ? EntryType.symlink : EntryType.file, ino(rel));
      return builder.take().chunk;
    };
    const cache = new StatCache(64);
    const first = unpackBatch(batchOf(statChunk(Buffer.from(root), chunkOf(['linked', 'single', 'sym']), undefined, false, cache).message).batch);
    expect(first.map((e) => e.cached ?? false)).toEqual([false, false, false]);
    // Every inode changes before the next chunk: what is taken from the cache still says what
    // the first lstat said; what is lstatted again says what is there now.
    for (const rel of ['linked', 'single', 'sym']) fs.lutimesSync(path.join(root, rel), 1_000_000, 1_000_000);
    const second = unpackBatch(batchOf(statChunk(Buffer.from(root), chunkOf(['d/linked-too', 'single', 'sym', 'd/linked-three']), undefined, false, cache).message).batch);
    expect(second.map((e) => [e.path.toString(), e.cached ?? false])).toEqual([['d/linked-too', true], ['single', false], ['sym', false], ['d/linked-three', true]]);
    const { path: _p, cached: _c, ...sharedFacts } = second[0];
    const { path: _q, ...firstFacts } = first[0];
    expect(sharedFacts).toEqual(firstFacts);
    expect(second[0].nlink).toBe(3);
    expect(second[1].mtimeNs).toBe(1_000_000_000_000_000n);
    expect(second[2].mtimeNs).toBe(1_000_000_000_000_000n);
    expect(second[2].target).toEqual(Buffer.from('single'));
  });

  it('gives a chunk\'s arrays back, and the list thread fills them again for a later chunk', () => {
    // As the stat thread does: transferred back over the port the chunk came by, which the
    // list thread reads at once when it starts a chunk.
    const { port1, port2 } = new MessageChannel();
    const spares = sparesFrom<ChunkArrays>(port1);
    const back = spares.taken;
    const builder = new ChunkBuilder(spares.next);
    try {
      builder.add(Buffer.from('a/long-name-first'), undefined);
      const first = builder.take().chunk;
      const given = chunkArrays(first);
      port2.postMessage(given.arrays, given.transfer);
      expect(first.bytes.buffer.byteLength).toBe(0); // transferred: nothing left here to read
      builder.add(Buffer.from('b'), EntryType.dir);
      const second = builder.take().chunk; // its successor starts on the arrays given back
      builder.add(Buffer.from('c/d'), undefined);
      const third = builder.take().chunk;
      expect(back).toHaveLength(1);
      expect(third.ends).toBe(back[0].ends);
      expect(third.bytes.buffer).toBe(back[0].bytes.buffer);
      // Only the chunk's own paths, not what the arrays held before.
      expect([...unpackChunk(second)].map((p) => [p.rel.toString(), p.dir])).toEqual([['b', true]]);
      expect([...unpackChunk(third)].map((p) => [p.rel.toString(), p.dir])).toEqual([['c/d', false]]);
    } finally {
      port1.close();
    }
  });
});
