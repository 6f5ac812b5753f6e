// insertMany on SQLite: the statement written once per shape gives what the query builder gave —
// the rows inserted (those a conflict skipped left out), each value where its column is, text of
// any kind kept as it was, and rows naming different columns still inserted with their defaults.
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { insertMany } from "../../src/db/dialect.js";
import type { Db, Finding } from "../../src/db/schema.js";
import { findingRow, insertRepositoryAsset } from "../finding-row.js";
import { tempDir } from "../helpers.js";

let db: Db;
let close: () => Promise<void>;
let asset: number;
beforeAll(async () => {
  ({ db, close } = await openDatabase(path.join(tempDir(), "patchbay.db")));
  asset = await insertRepositoryAsset(db, "acme/api");
});
afterAll(async () => close());

it("returns the rows it inserted, leaving out those a conflict skipped, with every value in its column", async () => {
  const odd = `quote ' and "double", NUL-free unicode ✓ 😀, percent %s, question ? mark`;
  const first = await insertMany<"findings", Finding>(
    db,
    "findings",
    [1, 2, 3].map((i) => findingRow(i, { asset_id: asset, severity: i === 1 ? "critical" : "low", package: `pkg-${i}`, title: i === 2 ? odd : `t${i}` })),
    { conflict: ["fingerprint"], returning: true },
  );
  expect(first.map((f) => [f.fingerprint, f.package_lc, f.severity, f.title])).toEqual([
    ["fp-1", "pkg-1", "critical", "t1"],
    ["fp-2", "pkg-2", "low", odd],
    ["fp-3", "pkg-3", "low", "t3"],
  ]);
  // The same shape again (the statement's text reused): fp-2 exists, so only fp-4 comes back.
  const again = await insertMany<"findings", Finding>(
    db,
    "findings",
    [2, 4, 5].map((i) => findingRow(i, { asset_id: asset, severity: "high", package: `pkg-${i}` })),
    { conflict: ["fingerprint"], returning: true },
  );
  expect(again.map((f) => f.fingerprint)).toEqual(["fp-4", "fp-5"]);
  expect((await db.selectFrom("findings").select("severity").where("fingerprint", "=", "fp-2").executeTakeFirstOrThrow()).severity).toBe("low");
});

it("inserts rows that name different columns, each left-out column taking its default", async () => {
  const at = "2026-12-06T00:00:00.000Z";
  await insertMany(db, "audit_log", [
    { at, action: "test.one", target: "a" },
    { at, action: "test.two", target: "b", detail: "with detail" },
  ]);
  const rows = await db.selectFrom("audit_log").select(["action", "detail"]).where("action", "like", "test.%").orderBy("id").execute();
  expect(rows).toEqual([
    { action: "test.one", detail: null },
    { action: "test.two", detail: "with detail" },
  ]);
});

it("refuses a duplicate where no conflict clause was asked for, inserting none of the rows", async () => {
  const rows = [6, 6].map((i) => findingRow(i, { asset_id: asset, severity: "low", package: "dup" }));
  await expect(insertMany(db, "findings", rows)).rejects.toThrow(/UNIQUE/);
  expect(await db.selectFrom("findings").select("id").where("fingerprint", "=", "fp-6").execute()).toEqual([]);
});
