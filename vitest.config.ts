import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The long suites run with npm run test:soak, the PostgreSQL ones with npm run test:postgres.
    exclude: ["test/soak/**", "test/postgres/**", "**/node_modules/**"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Both cores: vitest's default leaves one idle on a two-core machine.
    maxWorkers: 2,
  },
});
