import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// npm run test:postgres: the suites that run against a real PostgreSQL server
// (PATCHBAY_TEST_POSTGRES_URL, by default postgres://postgres@127.0.0.1:5432/postgres; each test
// file makes and drops its own database).
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/postgres/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
