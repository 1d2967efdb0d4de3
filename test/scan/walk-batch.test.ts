// A stat thread's wire format: what the thread packs, the main thread unpacks into exactly the
// entries a walk on the main thread makes — 64-bit numbers, byte names, symlink targets — also
// when the names outgrow the batch's first buffer.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { BatchBuilder, BatchEntries, entryOf, unpackBatch, type BatchArrays } from '../../src/scan/walk-batch.js';
import type { StatFields } from '../../src/scan/walk.js';
import { sparesFrom } from '../helpers/spares.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

function stat(over: Partial<StatFields>): StatFields {
  return {
    dev: 2n ** 64n - 1n, ino: 2n ** 63n + 5n, mode: 0o100644n, nlink: 3n, uid: 2n ** 32n - 2n, gid: 7n, rdev: 2n ** 64n - 7n,
    size: 2n ** 40n + 3n, atimeNs: -1_000_000_001n, mtimeNs: 1_700_000_000_123_456_789n, birthtimeNs: 0n, ...over,
  };
}

describe('walk batches', () => {
  it('unpack to the entries entryOf() makes, field for field', () => {
    const builder = new BatchBuilder();
    const inputs: [Buffer, StatFields, Buffer | null][] = [
      [Buffer.alloc(0), stat({ mode: 0o40755n, size: 4096n }), null], // a directory: size 0 in the index
      [Buffer.from([0x61, 0x2f, 0xff, 0xfe]), stat({}), null], // not UTF-8
      [Buffer.from('a/link'), stat({ mode: 0o120777n, size: 4n }), Buffer.from([0x2e, 0x2e, 0x2f, 0xfe])],
      [Buffer.from('a/fifo'), stat({ mode: 0o10600n, size: 0n, ino: 1n }), null],
    ];
    // Long names: the byte buffer has to grow past its first 256 KiB.
    for (let i = 0; i < 300; i++) inputs.push([Buffer.from(`${'d'.repeat(1000)}/${i}`), stat({ ino: BigInt(i) }), null]);
    for (const [rel, s, target] of inputs) builder.add(rel, s, target);
    const { batch, transfer } = builder.take();
    expect(transfer.length).toBe(4);
    expect(unpackBatch(batch)).toEqual(inputs.map(([rel, s, target]) => entryOf(rel, s, target)));
    expect(builder.empty).toBe(true);
  });

  it('carry a real lstat unchanged', () => {
    const dir = temp();
    const p = path.join(dir, 'f');
    fs.writeFileSync(p, 'abc');
    const s = fs.lstatSync(p, { bigint: true });
    const builder = new BatchBuilder();
    builder.add(Buffer.from('f'), s, null);
    const [e] = unpackBatch(builder.take().batch);
    expect(e).toEqual(entryOf(Buffer.from('f'), s, null));
    expect(e.ino).toBe(s.ino);
    expect(e.size).toBe(3n);
  });

  it('go back to the builder once released, and are filled again instead of new arrays', () => {
    // As between the main thread and a stat thread: released arrays travel through a port,
    // transferred, and the builder takes them off it when it starts its next batch.
    const { port1, port2 } = new MessageChannel();
    const spares = sparesFrom<BatchArrays>(port2);
    const taken = spares.taken;
    const builder = new BatchBuilder(spares.next);
    try {
      builder.add(Buffer.from('first'), stat({ ino: 1n }), null);
      const first = builder.take().batch; // no array back yet: new ones
      expect(taken).toHaveLength(0);
      const run = new BatchEntries(first, (arrays, transfer) => port1.postMessage(arrays, transfer));
      expect([...run].map((e) => e.path.toString())).toEqual(['first']);
      run.release();
      expect(first.u64.buffer.byteLength).toBe(0); // transferred: nothing is left here to read
      expect(() => [...run]).toThrow(/after its release/);
      run.release(); // a second release gives nothing back again

      builder.add(Buffer.from('second'), stat({ ino: 2n }), null);
      const second = builder.take().batch; // its successor starts on the arrays given back
      expect(taken).toHaveLength(1);
      builder.add(Buffer.from('third'), stat({ ino: 3n }), Buffer.from('t'));
      const third = builder.take().batch;
      expect(third.u64).toBe(taken[0].u64);
      expect(third.bytes.buffer).toBe(taken[0].bytes.buffer);
      expect(unpackBatch(second).map((e) => e.ino)).toEqual([2n]);
      // What the arrays held before is not read: only this batch's one entry.
      expect(unpackBatch(third)).toEqual([entryOf(Buffer.from('third'), stat({ ino: 3n }), Buffer.from('t'))]);
    } finally {
      port1.close();
    }
  });

  it('are read from the batch as the loop reaches them: a release in the middle stops the loop', () => {
    const builder = new BatchBuilder();
    for (let i = 0; i < 3; i++) builder.add(Buffer.from(`f${i}`), stat({ ino: BigInt(i) }), null);
    const run = new BatchEntries(builder.take().batch);
    const it = run[Symbol.iterator]();
    expect(it.next().value?.ino).toBe(0n);
    run.release();
    expect(() => it.next()).toThrow(/released while it was read/);
  });
});
