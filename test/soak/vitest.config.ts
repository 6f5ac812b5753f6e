import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The long suites (npm run test:soak): crash soak with many SIGKILLs, load under concurrent users.
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/soak/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
