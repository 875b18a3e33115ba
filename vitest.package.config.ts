import { defineConfig } from "vitest/config";

// The installed-package check (`npm run test:package`, a step of its own in .ci/run): it packs and
// installs the tarball, so it runs once per CI run, not inside `vitest run`'s default tiers.
export default defineConfig({
  test: {
    include: ["test/package/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ["default", "json"],
    outputFile: { json: process.env.CELERIAC_VITEST_JSON ?? ".test-run/vitest-package.json" },
  },
});
