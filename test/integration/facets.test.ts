// The findings' facets on SQLite (test/postgres/facets.test.ts runs the same on PostgreSQL): kept
// by triggers through every kind of write, equal at each step to a count over the findings.
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { EPSS_BANDS } from "../../src/db/facets.js";
import { EPSS_THRESHOLDS } from "../../src/findings/query.js";
import { countedFacets, facetScenario, keptFacets, overviewMatchesFindings } from "../facets-scenario.js";
import { tempDir } from "../helpers.js";

let close: (() => Promise<void>) | undefined;
afterAll(async () => close?.());

it("counts findings per CVE, package, scanner and deadline day through imports, triage, SLA changes, merges and deletions as the findings themselves do", async () => {
  const opened = await openDatabase(path.join(tempDir(), "patchbay.db"));
  close = opened.close;
  const steps: string[] = [];
  await facetScenario(opened.db, async (step) => {
    expect(await keptFacets(opened.db), step).toEqual(await countedFacets(opened.db));
    steps.push(step);
  });
  expect(steps).toHaveLength(13);
  await overviewMatchesFindings(opened.db);
});

it("keys EPSS bands at the thresholds the Vulnerabilities page offers", () => {
  expect(EPSS_THRESHOLDS.map(Number)).toEqual(EPSS_BANDS);
});
