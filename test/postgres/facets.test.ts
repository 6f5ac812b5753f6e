// The findings' facets on PostgreSQL: kept by statement triggers (a finding's deletion row by row)
// through every kind of write, equal at each step to a count over the findings.
import { afterAll, expect, it } from "vitest";
import { openPostgres, type OpenPostgres } from "../../src/db/postgres.js";
import { countedFacets, facetScenario, keptFacets, overviewMatchesFindings } from "../facets-scenario.js";
import { freshDatabase } from "./database.js";

let database: { url: string; drop(): Promise<void> } | undefined;
let postgres: OpenPostgres | undefined;
afterAll(async () => {
  await postgres?.close();
  await database?.drop();
});

it("counts findings per CVE, package, scanner and deadline day through imports, triage, SLA changes, merges and deletions as the findings themselves do", async () => {
  database = await freshDatabase();
  postgres = await openPostgres(database.url);
  const db = postgres.db;
  const steps: string[] = [];
  await facetScenario(db, async (step) => {
    expect(await keptFacets(db), step).toEqual(await countedFacets(db));
    steps.push(step);
  });
  expect(steps).toHaveLength(13);
  await overviewMatchesFindings(db);
});
