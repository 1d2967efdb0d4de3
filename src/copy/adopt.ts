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

/**
 * The candidates of one source group, kept until the group ends. A destination inode with more
 * links than this group's paths on it is shared with something else — another group (a drive
 * deduplicated by `hardlink` or `rdfind`, files with the same bytes but other modes) or a path
 * outside the mirror: taking it would merge two inodes of the source into one, and the mode and
 * owner set for this group would change the other's. Its paths are not adopted; the content
 * pass puts new files there through a temp name and a rename, which leaves that inode alone.
 */
class GroupCandidates {
  private dev = -1n;
  private ino = -1n;
  private rows: MirrorRow[] = [];
  /** Destination inode -> its link count and how many of this group's paths are on it. */
  private links = new Map<bigint, { nlink: bigint; paths: bigint }>();

  /** Rows of the group that ended before `e`'s (none when `e` continues it). */
  next(e: { dev: bigint; ino: bigint }): MirrorRow[] {
    if (e.dev === this.dev && e.ino === this.ino) return [];
    const done = this.end();
    this.dev = e.dev;
    this.ino = e.ino;
    return done;
  }

  add(row: MirrorRow, nlink: bigint): void {
    this.rows.push(row);
    const l = this.links.get(row.dstIno) ?? { nlink, paths: 0n };
    l.paths++;
    this.links.set(row.dstIno, l);
  }

  /** The rows of the group so far whose destination inode holds no other links. */
  end(): MirrorRow[] {
    const kept = this.rows.filter((r) => {
      const l = this.links.get(r.dstIno)!;
      return l.nlink <= l.paths;
    });
    this.rows = [];
    this.links.clear();
    return kept;
  }
}

/** `shouldStop`: asked before each path; what was taken by then is recorded, and the run stops. */
export async function adoptExisting(
  ops: FsOps, index: Index, src: Buffer, dst: Buffer, checksum: boolean, progress: Progress, shouldStop: () => boolean = () => false,
): Promise<number> {
  let adopted = 0;
  const pacer = new Pacer();
  const hasher = new FileHasher(ops);
  const group = new GroupCandidates();
  for (const page of index.srcByInode()) {
    const rows: MirrorRow[] = [];
    for (const e of page) {
      rows.push(...group.next(e));
      if (pacer.due()) await yieldNow();
      if (shouldStop()) {
        // The group in hand is left out: its paths not looked at yet could hold its inode too.
        index.putMirror(rows);
        return adopted + rows.length;
      }
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
      group.add({ ...mirrorRowFor(e, st.ino, true), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) }, st.nlink);
    }
    index.putMirror(rows);
    adopted += rows.length;
  }
  const last = group.end();
  index.putMirror(last);
  adopted += last.length;
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
