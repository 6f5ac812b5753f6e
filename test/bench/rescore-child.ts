// The scoring half of `--only rescore`, in a process of its own so that its peak RSS is the
// scoring's alone (the parent seeded the million findings and loaded the EPSS file). Scores
// every finding, scores again (nothing changed), and prints the times and the peak RSS.
import { openDatabase } from "../../src/db/database.js";
import { rescoreFindings } from "../../src/exploitation/risk.js";

const file = process.argv[2]!;
const database = await openDatabase(file);
const openedRss = process.memoryUsage().rss;
const t0 = performance.now();
const all = await rescoreFindings(database.db, { all: true }, new Date());
const t1 = performance.now();
const again = await rescoreFindings(database.db, { all: true }, new Date());
const t2 = performance.now();
await database.close();
process.stdout.write(
  JSON.stringify({
    first: (t1 - t0) / 1000,
    again: (t2 - t1) / 1000,
    scored: all.scored,
    changed: all.changed,
    deadlines: all.deadlines,
    changedAgain: again.changed,
    // resourceUsage's maxRSS is the peak in kilobytes, sampled by the kernel (no polling to miss it).
    peakMb: process.resourceUsage().maxRSS / 1024,
    openedMb: openedRss / 1024 / 1024,
  }),
);
