import { defineConfig } from "vitest/config";

// The browser suite (e2e/run.sh): one code-server for the run, one scenario file at a time.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    exclude: ["e2e/tools/**", "e2e/out/**"],
    globalSetup: ["e2e/codeServer.ts"],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
  },
});
