// One place that matches system errors by their code (never by message text, which varies by
// platform and locale).

export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoCode(err);
  return code !== undefined && codes.includes(code);
}

/** link() failing with one of these means the filesystem cannot hold hard links at all. */
export const NO_LINK_CODES = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'] as const;

/**
 * link() failing with one of these means this inode holds all the links it can: the group goes
 * on on a new inode (a split). ntfs-3g answers ERANGE, not EMLINK, past 8,188 links to one file
 * (seen on a loop-mounted image), which would otherwise fail every path past it.
 */
export const LINK_FULL_CODES = ['EMLINK', 'ERANGE'] as const;

/** Errors that mean the destination itself is full: the run cannot go on. */
export const NO_SPACE_CODES = ['ENOSPC', 'EDQUOT'] as const;
