// One path per distinct regular-file inode of a tree, written NUL-separated to a file: the input
// of the raw-hashing reference runs (`xargs -0 sha256sum < list`), so they read exactly the bytes
// a content verify reads, each inode once. Inodes are told apart by (dev, ino) from a bigint
// lstat (64-bit inode numbers do not fit a JS number); the first path met in the walk is kept.
// Names are walked as bytes, so a name that is not UTF-8 reaches the list as it is. The walk holds
// every inode key in a Set: fine for a benchmark, not for linkmirror itself.
import fs from 'node:fs';

export interface DistinctInodes {
  /** The NUL-separated list. */
  file: string;
  inodes: number;
  /** Sum of the listed files' sizes. */
  bytes: number;
}

/** Walk `root` (leaving out the folders named in `skip`, e.g. the mirror's state folder) into `file`. */
export function distinctInodes(root: string, file: string, skip: string[] = []): DistinctInodes {
  const seen = new Set<string>();
  const out = fs.openSync(file, 'w');
  const slash = Buffer.from('/');
  const nul = Buffer.from([0]);
  let bytes = 0;
  try {
    const top = Buffer.from(root);
    const pending: Buffer[] = [top];
    while (pending.length > 0) {
      const dir = pending.pop()!;
      for (const entry of fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
        const p = Buffer.concat([dir, slash, entry.name]);
        if (entry.isDirectory()) {
          if (!(dir === top && skip.includes(entry.name.toString()))) pending.push(p);
          continue;
        }
        if (!entry.isFile()) continue;
        const st = fs.lstatSync(p, { bigint: true });
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        bytes += Number(st.size);
        fs.writeSync(out, Buffer.concat([p, nul]));
      }
    }
  } finally {
    fs.closeSync(out);
  }
  return { file, inodes: seen.size, bytes };
}
