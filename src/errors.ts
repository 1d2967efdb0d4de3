// Domain errors with stable codes. The core throws these; only cli/ turns them into words on the
// terminal and exit codes (cli/exit-codes.ts), so a code never changes meaning between releases.

/** What kind of failure it is decides the exit code; the code names the exact failure. */
export type ErrorKind = 'usage' | 'fatal';

export type ErrorCode =
  | 'SRC_MISSING'
  | 'SRC_NOT_DIR'
  | 'DST_NOT_DIR'
  | 'DST_MISSING'
  | 'DST_PARENT_MISSING'
  | 'DST_NOT_MOUNTED'
  | 'SRC_EMPTY'
  | 'PATH_NOT_UTF8'
  | 'DST_IS_SRC'
  | 'DST_INSIDE_SRC'
  | 'SRC_INSIDE_DST'
  | 'DST_NOT_EMPTY'
  | 'DST_NOT_A_MIRROR'
  | 'DST_PATH_TOO_LONG'
  | 'DST_NO_HARDLINKS'
  | 'DST_READ_ONLY'
  | 'DST_NO_ACCESS'
  | 'DST_TOO_SMALL'
  | 'DST_UNUSABLE'
  | 'NO_SPACE'
  | 'INDEX_BROKEN'
  | 'INDEX_LOCKED'
  | 'MANIFEST_MISSING'
  | 'BAD_OPTION'
  | 'DELETE_TOO_MANY'
  | 'INTERRUPTED';

const kinds: Record<ErrorCode, ErrorKind> = {
  SRC_MISSING: 'usage',
  SRC_NOT_DIR: 'usage',
  DST_NOT_DIR: 'usage',
  DST_MISSING: 'usage',
  DST_PARENT_MISSING: 'usage',
  DST_NOT_MOUNTED: 'usage',
  SRC_EMPTY: 'usage',
  PATH_NOT_UTF8: 'usage',
  DST_IS_SRC: 'usage',
  DST_INSIDE_SRC: 'usage',
  SRC_INSIDE_DST: 'usage',
  DST_NOT_EMPTY: 'usage',
  DST_NOT_A_MIRROR: 'usage',
  DST_PATH_TOO_LONG: 'usage',
  DST_READ_ONLY: 'usage',
  DST_NO_ACCESS: 'usage',
  MANIFEST_MISSING: 'usage',
  BAD_OPTION: 'usage',
  DELETE_TOO_MANY: 'usage',
  DST_NO_HARDLINKS: 'fatal',
  DST_TOO_SMALL: 'fatal',
  DST_UNUSABLE: 'fatal',
  NO_SPACE: 'fatal',
  INDEX_BROKEN: 'fatal',
  INDEX_LOCKED: 'fatal',
  INTERRUPTED: 'fatal',
};

export class LinkmirrorError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LinkmirrorError';
    this.code = code;
    this.kind = kinds[code];
  }
}

export function isLinkmirrorError(err: unknown, code?: ErrorCode): err is LinkmirrorError {
  return err instanceof LinkmirrorError && (code === undefined || err.code === code);
}
