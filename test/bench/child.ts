// What the bench's child processes (feeds-child.ts, rescore-child.ts) share: open the database,
// run one piece of work and then a second, and print both times, what the caller reads from their
// results and the process's peak RSS as JSON for the parent — in a process of its own, so the
// peak is that work's alone.
import { openDatabase } from "../../src/db/database.js";
import type { Db } from "../../src/db/schema.js";

export async function reportTwoRuns<A, B>(
  file: string,
  first: (db: Db) => Promise<A>,
  again: (db: Db) => Promise<B>,
  describe: (a: A, b: B) => object,
): Promise<void> {
  const database = await openDatabase(file);
  const openedRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const a = await first(database.db);
  const t1 = performance.now();
  const b = await again(database.db);
  const t2 = performance.now();
  await database.close();
  process.stdout.write(
    JSON.stringify({
      first: (t1 - t0) / 1000,
      again: (t2 - t1) / 1000,
      ...describe(a, b),
      // resourceUsage's maxRSS is the peak in kilobytes, sampled by the kernel (no polling to miss it).
      peakMb: process.resourceUsage().maxRSS / 1024,
      openedMb: openedRss / 1024 / 1024,
    }),
  );
}
