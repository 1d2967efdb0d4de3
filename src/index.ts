// The public API: scan a tree into an index, copy it keeping its hard links, verify a mirror.
export { scan, type ScanOptions, type ScanResult } from './scan/scan.js';
export { copy, type CopyOptions, type CopySummary } from './copy/copy.js';
export { Index, type ScanTotals, type MirrorRow } from './store/index-db.js';
export { LinkmirrorError, isLinkmirrorError, type ErrorCode } from './errors.js';
export { realFsOps, type FsOps } from './fs/ops.js';
export { noProgress, type Progress, type Phase } from './progress.js';
export {
  verifyAgainstSource, verifyMirror, CATEGORIES, type Category, type Difference, type VerifyOptions, type VerifyReport,
} from './verify/verify.js';
export { recordManifest, type RecordManifestOptions, type ManifestCounts } from './verify/record-manifest.js';
