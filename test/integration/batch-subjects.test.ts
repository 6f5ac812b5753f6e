// Push to Integrators walks its selection a page at a time (memory holds a page, whatever the
// selection's size): every covered finding's subject once per mapping — once though two of the
// mapping's assignments cover it — and each finding group once though its findings span pages.
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { parseFilter } from "../../src/findings/query.js";
import { batchSubjectPages } from "../../src/tickets/batch.js";
import { findingRow, insertIntegration, insertRepositoryAsset } from "../finding-row.js";
import { tempDir } from "../helpers.js";

let close: (() => Promise<void>) | undefined;
afterAll(async () => close?.());

it("pages a selection of 5,000 findings: each finding once per mapping, each package group once", async () => {
  const opened = await openDatabase(path.join(tempDir(), "patchbay.db"));
  close = opened.close;
  const db = opened.db;
  const stamp = "2026-12-01T00:00:00.000Z";
  const integration = await insertIntegration(db, "jira", "Jira");
  const mapping = async (name: string) =>
    (
      await db
        .insertInto("tracker_mappings")
        .values({ integration_id: integration, name, target: "{}", fields: "[]", status_map: "{}", created_at: stamp, updated_at: stamp })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
  const [perFinding, perPackage] = [await mapping("Per finding"), await mapping("Per package")];
  const assign = (mappingId: number, minSeverity: "critical" | "high" | "low", groupBy: "finding" | "package") =>
    db
      .insertInto("tracker_assignments")
      .values({
        mapping_id: mappingId,
        repository_ids: null,
        min_severity: minSeverity,
        group_by: groupBy,
        push_mode: "explicit",
        linked_through: 0,
        created_at: stamp,
        updated_at: stamp,
      })
      .execute();
  // Two overlapping assignments on one mapping (critical ⊂ high and up), one grouping by package on the other.
  await assign(perFinding, "critical", "finding");
  await assign(perFinding, "high", "finding");
  await assign(perPackage, "low", "package");
  const asset = await insertRepositoryAsset(db, "acme/api");
  const severities = ["critical", "high", "medium", "low"] as const;
  for (let start = 0; start < 5000; start += 500)
    await db
      .insertInto("findings")
      .values(
        Array.from({ length: 500 }, (_, j) =>
          findingRow(start + j, { asset_id: asset, severity: severities[(start + j) % 4]!, package: `pkg-${(start + j) % 30}` }),
        ),
      )
      .execute();

  const pages: { mappingId: number; subjectKey: string }[][] = [];
  for await (const page of batchSubjectPages(db, parseFilter(new URLSearchParams("")))) pages.push(page);
  expect(Math.max(...pages.map((p) => p.length))).toBeLessThanOrEqual(2000);
  const all = pages.flat();
  const findingSubjects = all.filter((s) => s.mappingId === perFinding).map((s) => s.subjectKey);
  // Critical and high: half of the 5,000, each once though critical ones are covered twice.
  expect(findingSubjects).toHaveLength(2500);
  expect(new Set(findingSubjects).size).toBe(2500);
  const packageSubjects = all.filter((s) => s.mappingId === perPackage).map((s) => s.subjectKey);
  expect(packageSubjects.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `package:npm:pkg-${i}`).sort());
});
