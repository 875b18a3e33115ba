import { defineConfig } from "vitest/config";

// `npm run test:docs`: every ts block of the README's examples and docs/guides, run as written
// (test/interop/doc-examples.test.ts), outside the gating `npm test` run (see vitest.config.ts).
export default defineConfig({
  test: {
    include: ["test/interop/doc-examples.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
