import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// npm run test:postgres: the PostgreSQL suites (test/postgres: the schema against SQLite's, the
// same answers on both, the queue and writers across processes), then the integration suite with
// every test app on a fresh PostgreSQL database (PATCHBAY_TEST_DATABASE=postgres). The server is
// PATCHBAY_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres; .ci/run makes
// sure one answers). Left out, because they test SQLite itself: its backups and upgrades
// (upgrade, backup), files read behind the process's back (crash, process), and the image
// layout's start (image: the database does not matter there).
const SQLITE_ONLY = ["upgrade", "backup", "crash", "process", "image"].map((name) => `test/integration/${name}.test.ts`);

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/postgres/**/*.test.ts", "test/integration/**/*.test.ts"],
    exclude: [...SQLITE_ONLY, "**/node_modules/**"],
    env: { PATCHBAY_TEST_DATABASE: "postgres" },
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
