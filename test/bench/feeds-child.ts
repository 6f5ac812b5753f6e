// The loading half of `--only feeds`, in a process of its own so that its peak RSS is the
// loads' alone (the parent wrote the two days' files). Loads the first day's EPSS file into a
// fresh database, then the next day's over it, through the code the daily job and the upload
// form use, and prints the times, the counts and the peak RSS.
import { readFileSync } from "node:fs";
import { loadFeed } from "../../src/exploitation/feeds.js";
import { reportTwoRuns } from "./child.js";

const [file, firstFile, secondFile] = process.argv.slice(2) as [string, string, string];
const deps = (db: Parameters<typeof loadFeed>[0]["db"]) => ({ db, now: () => new Date() });
await reportTwoRuns(
  file,
  (db) => loadFeed(deps(db), "epss", readFileSync(firstFile)),
  (db) => loadFeed(deps(db), "epss", readFileSync(secondFile)),
  (loaded, again) => ({ rows: loaded.rows, written: loaded.changed, rowsAgain: again.rows, writtenAgain: again.changed }),
);
