import { defineConfig } from "vitest/config";

// Interop files start real servers and real Celery workers; running files in
// parallel on a 2-core machine only makes them slower and flakier.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
