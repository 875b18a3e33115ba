import { defineConfig } from "vitest/config";

// Interop files start real servers and real Celery workers; running files in
// parallel on a 2-core machine only makes them slower and flakier.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/package packs and installs the tarball: its own step (vitest.package.config.ts).
    exclude: ["test/package/**", "**/node_modules/**"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // The JSON report lets .ci/run print one plain "N passed, N failed" line for the whole run.
    reporters: ["default", "json"],
    outputFile: { json: process.env.CELERIAC_VITEST_JSON ?? ".test-run/vitest-results.json" },
  },
});
