// The data description of a test tree: what buildTree makes and what tests read as the intent.
// A spec maps relative paths to nodes; hard links are `link('a/b')`, naming another path of the
// same spec. Paths may be Buffers, for names that are not UTF-8: give the spec as a list of
// [path, node] pairs then, since an object key is always a string.

/** An mtime: a Date (ms), seconds since the epoch as a number, or nanoseconds as a bigint. */
export type MTime = Date | number | bigint;

export interface NodeOptions {
  /** Permission bits (0o7777); default 0o644 for files and fifos, 0o755 for directories. */
  mode?: number;
  /** Kept to the microsecond (Node cannot set finer). */
  mtime?: MTime;
}

export type TreeNode =
  | { kind: 'file'; content: Buffer; mode?: number; mtime?: MTime }
  | { kind: 'dir'; mode?: number; mtime?: MTime }
  | { kind: 'link'; target: Buffer }
  | { kind: 'symlink'; target: Buffer; mtime?: MTime }
  | { kind: 'fifo'; mode?: number; mtime?: MTime };

export type TreeSpec = Readonly<Record<string, TreeNode>> | ReadonlyArray<readonly [string | Buffer, TreeNode]>;

export const bytes = (p: string | Buffer): Buffer => (typeof p === 'string' ? Buffer.from(p) : p);

export function file(content: string | Buffer = '', options: NodeOptions = {}): TreeNode {
  return { kind: 'file', content: bytes(content), ...options };
}

export function dir(options: NodeOptions = {}): TreeNode {
  return { kind: 'dir', ...options };
}

/** A hard link to another path of the same spec: a file, a symlink, a fifo, or a link to one. */
export function link(target: string | Buffer): TreeNode {
  return { kind: 'link', target: bytes(target) };
}

export function symlink(target: string | Buffer, options: Pick<NodeOptions, 'mtime'> = {}): TreeNode {
  return { kind: 'symlink', target: bytes(target), ...options };
}

/** A named pipe (made with mkfifo(1), so its path must be UTF-8). */
export function fifo(options: NodeOptions = {}): TreeNode {
  return { kind: 'fifo', ...options };
}

/** Nanoseconds since the epoch of an MTime. */
export function mtimeNs(t: MTime): bigint {
  if (typeof t === 'bigint') return t;
  if (t instanceof Date) return BigInt(t.getTime()) * 1_000_000n;
  return BigInt(Math.round(t * 1e6)) * 1000n;
}

/** The spec as [path bytes, node] pairs, in the order given. */
export function specEntries(spec: TreeSpec): [Buffer, TreeNode][] {
  const list = Array.isArray(spec)
    ? (spec as ReadonlyArray<readonly [string | Buffer, TreeNode]>).map(([p, n]) => [bytes(p), n] as [Buffer, TreeNode])
    : Object.entries(spec as Record<string, TreeNode>).map(([p, n]) => [Buffer.from(p), n] as [Buffer, TreeNode]);
  for (const [p] of list) {
    if (p.length === 0 || p[0] === 0x2f || p.includes(0)) throw new Error(`tree spec: bad relative path ${JSON.stringify(p.toString())}`);
  }
  return list;
}
