// The rows of the paths the content pass placed since its last flush (see place-files.ts), in
// typed arrays rather than an object each. Up to FLUSH_ROWS of them wait at once, some 10 s of
// a first copy: long enough that each object would be promoted to V8's old generation and
// collected there, a million of them in a 1M-path copy. A row whose content the copy thread
// hashed carries the digest (see copy-thread.ts), for the manifest: one row in a dozen or so
// on a snapshot tree, so the digests are kept apart, in the order of their rows.
import type { PlacedRow } from '../store/index-db.js';

/** Bytes of a SHA-256 digest, the manifest's (verify/hash-file.ts); another length is not kept. */
const DIGEST = 32;

export class PlacedRows implements Iterable<PlacedRow> {
  length = 0;
  private srcIds = new Float64Array(1024); // src ids stay below 2^53 (walk-order.ts's MAX_ID): exact
  private dstInos = new BigUint64Array(1024);
  private written = new Uint8Array(1024);
  /** Per row: 1 when the next digest in `digests` is its. */
  private hashed = new Uint8Array(1024);
  private digests = new Uint8Array(64 * DIGEST);
  private digestCount = 0;

  push(srcId: number, dstIno: bigint, written: boolean, hash?: Buffer): void {
    if (this.length === this.srcIds.length) this.grow();
    this.srcIds[this.length] = srcId;
    this.dstInos[this.length] = dstIno;
    this.written[this.length] = written ? 1 : 0;
    const withHash = hash !== undefined && hash.length === DIGEST;
    this.hashed[this.length] = withHash ? 1 : 0;
    if (withHash) {
      if ((this.digestCount + 1) * DIGEST > this.digests.length) {
        const bigger = new Uint8Array(this.digests.length * 2);
        bigger.set(this.digests);
        this.digests = bigger;
      }
      this.digests.set(hash, this.digestCount++ * DIGEST);
    }
    this.length++;
  }

  *[Symbol.iterator](): Iterator<PlacedRow> {
    let d = 0;
    for (let i = 0; i < this.length; i++) {
      const hash = this.hashed[i] === 1 ? Buffer.from(this.digests.buffer, d++ * DIGEST, DIGEST) : undefined;
      yield { srcId: this.srcIds[i], dstIno: this.dstInos[i], written: this.written[i] === 1, hash };
    }
  }

  private grow(): void {
    const n = this.srcIds.length * 2;
    const srcIds = new Float64Array(n);
    const dstInos = new BigUint64Array(n);
    const written = new Uint8Array(n);
    const hashed = new Uint8Array(n);
    srcIds.set(this.srcIds);
    dstInos.set(this.dstInos);
    written.set(this.written);
    hashed.set(this.hashed);
    [this.srcIds, this.dstInos, this.written, this.hashed] = [srcIds, dstInos, written, hashed];
  }
}
