// --adopt: take a destination that an earlier `rsync -a` (no -H) or `cp -r` filled, and record
// the files in it that already match the source (same size and mtime to the microsecond, and
// with --checksum the same bytes; a symlink: same target and mtime) as if linkmirror had put
// them there. The content pass then keeps the first of each group and replaces the other
// copies with links; a file that does not match is replaced through a temp name and a rename,
// never edited in place.
import { lstatHere } from '../fs/lstat-threads.js';
import type { FsOps } from '../fs/ops.js';
import { joinPath } from '../fs/paths.js';
import type { Progress } from '../progress.js';
import { EntryType } from '../store/entry.js';
import { mirrorRowFor, type Index, type MirrorRow } from '../store/index-db.js';
import { FileHasher } from '../verify/hash-file.js';
import { Pacer, yieldNow } from '../yield.js';

const S_IFMT = 0o170000n;
const S_IFREG = 0o100000n;
const S_IFLNK = 0o120000n;
const S_IFDIR = 0o040000n;

export async function adoptExisting(ops: FsOps, index: Index, src: Buffer, dst: Buffer, checksum: boolean, progress: Progress): Promise<number> {
  let adopted = 0;
  const pacer = new Pacer();
  const hasher = new FileHasher(ops);
  for (const page of index.srcByInode()) {
    const rows: MirrorRow[] = [];
    for (const e of page) {
      if (pacer.due()) await yieldNow();
      progress.advance(1);
      if (e.type !== EntryType.file && e.type !== EntryType.symlink) continue;
      const to = joinPath(dst, e.path);
      let st;
      try {
        st = ops.lstat(to);
      } catch {
        continue;
      }
      const kind = st.mode & S_IFMT;
      // The mtime must agree for a symlink too: the row says it does, so no later run would fix
      // it (rsync -a may leave a symlink's own time as it made it; cp -r always does).
      if (st.mtimeNs / 1000n !== e.mtimeNs / 1000n) continue;
      if (e.type === EntryType.symlink) {
        if (kind !== S_IFLNK || !ops.readlink(to).equals(e.target ?? Buffer.alloc(0))) continue;
      } else {
        if (kind !== S_IFREG || st.size !== e.size) continue;
        if (checksum && !hasher.hash(to).hash.equals(hasher.hash(joinPath(src, e.path)).hash)) continue;
      }
      // The row records the mode and owner the file has now, so a difference gets fixed.
      rows.push({ ...mirrorRowFor(e, st.ino, true), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) });
      adopted++;
    }
    index.putMirror(rows);
  }
  // The folders already there are recorded as the directory pass would record them: the plan
  // then counts as space needed only the ones still to make (a drive that rsync -a filled is
  // often nearly full). Only a real directory counts; the directory pass still looks at each.
  for (const page of index.srcDirs('parents-first')) {
    const rels = page.map((d) => d.path).filter((p) => p.length > 0);
    const there = lstatHere(ops, dst, rels); // an error: not there, the directory pass makes it
    index.putMirrorDirs(rels.filter((_, i) => there.error(i) === undefined && (there.mode(i) & S_IFMT) === S_IFDIR));
    progress.advance(page.length);
    if (pacer.due()) await yieldNow();
  }
  return adopted;
}
