import { defineConfig } from "vitest/config";

// `npm run test:docs`: only the README's and docs/guides' ts blocks, run as written
// (test/interop/doc-examples.test.ts, also part of `npm test`), for a quick check after editing docs.
export default defineConfig({
  test: {
    include: ["test/interop/doc-examples.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
