// The loading half of `--only feeds`, in a process of its own so that its peak RSS is the
// loads' alone (the parent wrote the two days' files). Loads the first day's EPSS file into a
// fresh database, then the next day's over it, through the code the daily job and the upload
// form use, and prints the times, the counts and the peak RSS.
import { readFileSync } from "node:fs";
import { openDatabase } from "../../src/db/database.js";
import { loadFeed } from "../../src/exploitation/feeds.js";

const [file, firstFile, secondFile] = process.argv.slice(2) as [string, string, string];
const database = await openDatabase(file);
const openedRss = process.memoryUsage().rss;
const deps = { db: database.db, now: () => new Date() };
const t0 = performance.now();
const loaded = await loadFeed(deps, "epss", readFileSync(firstFile));
const t1 = performance.now();
const again = await loadFeed(deps, "epss", readFileSync(secondFile));
const t2 = performance.now();
await database.close();
process.stdout.write(
  JSON.stringify({
    first: (t1 - t0) / 1000,
    again: (t2 - t1) / 1000,
    rows: loaded.rows,
    written: loaded.changed,
    rowsAgain: again.rows,
    writtenAgain: again.changed,
    // resourceUsage's maxRSS is the peak in kilobytes, sampled by the kernel (no polling to miss it).
    peakMb: process.resourceUsage().maxRSS / 1024,
    openedMb: openedRss / 1024 / 1024,
  }),
);
