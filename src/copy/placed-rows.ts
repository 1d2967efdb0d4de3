// The rows of the paths the content pass placed since its last flush (see place-files.ts), in
// typed arrays rather than an object each. Up to FLUSH_ROWS of them wait at once, some 10 s of
// a first copy: long enough that each object would be promoted to V8's old generation and
// collected there, a million of them in a 1M-path copy.
import type { PlacedRow } from '../store/index-db.js';

export class PlacedRows implements Iterable<PlacedRow> {
  length = 0;
  private srcIds = new Float64Array(1024); // src ids stay below 2^53 (walk-order.ts's MAX_ID): exact
  private dstInos = new BigUint64Array(1024);
  private written = new Uint8Array(1024);

  push(srcId: number, dstIno: bigint, written: boolean): void {
    if (this.length === this.srcIds.length) this.grow();
    this.srcIds[this.length] = srcId;
    this.dstInos[this.length] = dstIno;
    this.written[this.length] = written ? 1 : 0;
    this.length++;
  }

  *[Symbol.iterator](): Iterator<PlacedRow> {
    for (let i = 0; i < this.length; i++) yield { srcId: this.srcIds[i], dstIno: this.dstInos[i], written: this.written[i] === 1 };
  }

  private grow(): void {
    const n = this.srcIds.length * 2;
    const srcIds = new Float64Array(n);
    const dstInos = new BigUint64Array(n);
    const written = new Uint8Array(n);
    srcIds.set(this.srcIds);
    dstInos.set(this.dstInos);
    written.set(this.written);
    [this.srcIds, this.dstInos, this.written] = [srcIds, dstInos, written];
  }
}
