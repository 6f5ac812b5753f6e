// A rescore "since a moment" (after an import, after a feed's load) scores the findings not scored
// yet and those whose CVE's EPSS or KEV row changed since then — with a few CVEs changed (found
// through the CVE index) and with many (one walk over every finding) — and nothing else.
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
import { rescoreFindings } from "../../src/exploitation/risk.js";
import { findingRow, insertRepositoryAsset } from "../finding-row.js";
import { tempDir } from "../helpers.js";

let database: OpenDatabase;
beforeEach(async () => {
  database = await openDatabase(path.join(tempDir(), "patchbay.db"));
});
afterEach(() => database.close());

const LOADED = "2026-12-01T00:00:00.000Z";
const SINCE = "2026-12-05T00:00:00.000Z";

it.each([
  ["a few CVEs", 20],
  ["many CVEs", 1500],
])("scores the unscored findings and those of CVEs changed since, %s changed, and nothing else", async (_, changedCves) => {
  const db = database.db;
  const asset = await insertRepositoryAsset(db, "acme/api");
  // 3,000 findings over 3,000 CVEs, scored long ago (a stale 1 each), but the last 300 not scored yet.
  const rows = Array.from({ length: 3000 }, (_, i) =>
    findingRow(i, { asset_id: asset, severity: "high", package: `pkg-${i}`, cve: `CVE-2024-${10_000 + i}`, risk: i >= 2700 ? -1 : 1 }),
  );
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto("findings")
      .values(rows.slice(i, i + 500))
      .execute();
  // Every CVE has an EPSS score loaded before; the first `changedCves` of them changed since.
  const scores = rows.map((r, i) => ({ cve: r.cve!, score: 0.9, percentile: 0.99, changed_at: i < changedCves ? SINCE : LOADED }));
  for (let i = 0; i < scores.length; i += 500)
    await db
      .insertInto("epss_scores")
      .values(scores.slice(i, i + 500))
      .execute();

  const result = await rescoreFindings(db, { since: SINCE }, new Date("2026-12-06T00:00:00.000Z"));
  const risks = (await db.selectFrom("findings").select(["id", "risk"]).orderBy("id").execute()).map((r) => Number(r.risk));
  expect(result.scored).toBe(changedCves + 300);
  // The changed CVEs' findings and the unscored ones have their scores; the rest keep their stale 1.
  risks.forEach((risk, i) => expect(risk, `finding ${i}`).toSatisfy((r: number) => (i < changedCves || i >= 2700 ? r > 1 : r === 1)));
});
