// Test runner settings. Besides the console report, every run writes a JSON report that
// .ci/run turns into its final "N passed, N failed" line (path overridable by env).
// Loop-mount tests format and mount real filesystems, hence the long timeouts; each mount has
// its own temp directory, so test files may run in parallel.
import { defineConfig } from 'vitest/config';

const JSON_REPORT = process.env.LINKMIRROR_TEST_REPORT ?? 'node_modules/.cache/linkmirror/vitest-report.json';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when stale: the CLI tests run the built bin.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: JSON_REPORT },
  },
});
