// --sample N%: which inodes a quick look reads. The choice is a hash of the inode number and a
// seed, so it is spread evenly over the tree, the same for the same seed (tests, a re-run to
// look again), and a new seed looks at another share.

/** True for about `fraction` of all inode numbers. */
export function sampled(ino: bigint, seed: number, fraction: number): boolean {
  if (fraction >= 1) return true;
  if (fraction <= 0) return false;
  // murmur3's 32-bit finaliser over the inode's two halves and the seed.
  let h = (Number(BigInt.asUintN(32, ino)) ^ Math.imul(Number(BigInt.asUintN(32, ino >> 32n)), 0x9e3779b1) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32 < fraction;
}

/** "10%", "10", "0.5%" → 0.1, 0.1, 0.005; undefined for anything else. */
export function parseSample(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  if (!m) return undefined;
  const pct = Number(m[1]);
  if (!(pct > 0 && pct <= 100)) return undefined;
  return pct / 100;
}
