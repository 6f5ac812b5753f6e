// The scoring half of `--only rescore`, in a process of its own so that its peak RSS is the
// scoring's alone (the parent seeded the million findings and loaded the EPSS file). Scores
// every finding, scores again (nothing changed), and prints the times and the peak RSS.
import { rescoreFindings } from "../../src/exploitation/risk.js";
import { reportTwoRuns } from "./child.js";

await reportTwoRuns(
  process.argv[2]!,
  (db) => rescoreFindings(db, { all: true }, new Date()),
  (db) => rescoreFindings(db, { all: true }, new Date()),
  (all, again) => ({ scored: all.scored, changed: all.changed, deadlines: all.deadlines, changedAgain: again.changed }),
);
