// The same findings in SQLite and in PostgreSQL give the same answers: pages in every sort order
// walked with cursors (byte-order text on both), prefix and substring search in any case, counts
// by severity, the export, trends with their mean time to resolve, due dates moved by an SLA
// change; and on PostgreSQL a cached count is never stale after another process writes.
import path from "node:path";
import type { Insertable } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { openPostgres, type OpenPostgres } from "../../src/db/postgres.js";
import type { Db, FindingTable } from "../../src/db/schema.js";
import { exportBatches } from "../../src/findings/export.js";
import { SORTS, type SortKey, findingsOverview, listFindings, parseFilter } from "../../src/findings/query.js";
import { rescoreFindings } from "../../src/exploitation/risk.js";
import { DEFAULT_SLA, saveSla } from "../../src/findings/sla.js";
import { SEVERITY_RANK } from "../../src/findings/normalize.js";
import { loadTrend, writeSnapshots } from "../../src/findings/trends.js";
import { tempDir } from "../helpers.js";
import { freshDatabase } from "./database.js";

const NOW = new Date("2026-12-05T12:00:00.000Z");
let database: { url: string; drop(): Promise<void> };
let postgres: OpenPostgres;
let replica: OpenPostgres;
let sqlite: { db: Db; close(): Promise<void> };

const SEVERITY = ["critical", "high", "medium", "low"] as const;
/** Names that order differently by bytes and by a locale's rules: upper and lower case, punctuation, accents. */
const PACKAGES = ["lodash", "Lodash-es", "_internal", "zope.interface", "Zlib", "élan", "axios", "@scope/pkg", "AXIOS-retry", "qs"];

async function seed(db: Db): Promise<void> {
  const stamp = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();
  const assets = await db
    .insertInto("assets")
    .values(
      ["acme/api", "acme/web"].map((name) => ({
        kind: "repository",
        asset_key: `repository:${name}`,
        name,
        repository_id: null,
        details: "{}",
        created_at: stamp(90),
        updated_at: stamp(90),
      })),
    )
    .returning("id")
    .execute();
  const rows: Insertable<FindingTable>[] = [];
  for (let i = 0; i < 240; i++) {
    const pkg = PACKAGES[i % PACKAGES.length]!;
    const resolved = i % 5 === 0;
    rows.push({
      fingerprint: `fp-${i}`,
      cve: `CVE-2024-${String(1000 + (i % 37)).padStart(4, "0")}`,
      title: `Issue ${i} in ${pkg}`,
      severity: SEVERITY[i % 4]!,
      severity_rank: SEVERITY_RANK[SEVERITY[i % 4]!],
      cvss: i % 3 === 0 ? null : (i % 10) + 0.5,
      ecosystem: "npm",
      package: pkg,
      package_lc: pkg.toLowerCase(),
      installed_version: `1.${i % 7}.0`,
      fixed_version: i % 2 ? `1.${i % 7}.1` : null,
      asset_id: assets[i % 2]!.id,
      status: resolved ? "resolved" : "open",
      first_detected_at: stamp(40 - (i % 30)),
      last_seen_at: stamp(i % 3),
      resolved_at: resolved ? stamp(2 + (i % 4)) : null,
      due_at: i % 4 === 0 ? stamp(-3) : null,
      created_at: stamp(40),
      updated_at: stamp(1),
    });
  }
  await db.insertInto("findings").values(rows).execute();
}

beforeAll(async () => {
  database = await freshDatabase();
  postgres = await openPostgres(database.url);
  replica = await openPostgres(database.url);
  sqlite = await openDatabase(path.join(tempDir(), "patchbay.db"));
  await seed(postgres.db);
  await seed(sqlite.db);
});
afterAll(async () => {
  await replica?.close();
  await postgres?.close();
  await sqlite?.close();
  await database?.drop();
});

/** Every page of a filter, walked with cursors: the ids in order. */
async function walk(db: Db, query: string): Promise<number[]> {
  const ids: number[] = [];
  let after: string | undefined;
  for (let page = 0; page < 50; page++) {
    const params = new URLSearchParams(query);
    if (after) params.set("after", after);
    const result = await listFindings(db, parseFilter(params, NOW), 25);
    ids.push(...result.rows.map((r) => r.id));
    if (!result.nextCursor) break;
    after = result.nextCursor;
  }
  return ids;
}

describe("the same answers on SQLite and PostgreSQL", () => {
  it("walks every sort order, both ways, to the same pages", async () => {
    for (const sort of Object.keys(SORTS) as SortKey[]) {
      for (const dir of ["asc", "desc"]) {
        const query = `status=all&sort=${sort}&dir=${dir}`;
        const [lite, pg] = await Promise.all([walk(sqlite.db, query), walk(postgres.db, query)]);
        expect(pg, query).toEqual(lite);
        expect(new Set(pg).size, query).toBe(240);
      }
    }
  });

  it("searches by package prefix and CVE in any case, and counts by severity", async () => {
    for (const query of ["q=LODASH", "q=zope", "q=cve-2024-101", "q=axios&severity=high", "due=soon", "status=resolved&severity=critical"]) {
      expect(await walk(postgres.db, query), query).toEqual(await walk(sqlite.db, query));
      const filter = parseFilter(new URLSearchParams(query), NOW);
      expect(await findingsOverview(postgres.db, filter), query).toEqual(await findingsOverview(sqlite.db, filter));
    }
  });

  it("exports the same rows", async () => {
    const all = async (db: Db) => {
      const rows = [];
      for await (const batch of exportBatches(db, parseFilter(new URLSearchParams("status=all"), NOW), "http://x")) rows.push(...batch);
      return rows;
    };
    expect(await all(postgres.db)).toEqual(await all(sqlite.db));
  });

  it("computes trends and the mean time to resolve alike", async () => {
    await writeSnapshots(postgres.db, NOW);
    await writeSnapshots(sqlite.db, NOW);
    const [pg, lite] = [await loadTrend(postgres.db, NOW), await loadTrend(sqlite.db, NOW)];
    expect(pg).toEqual(lite);
    expect(JSON.stringify(pg)).toContain("mean");
  });

  it("moves due dates for an SLA change to the same instants", async () => {
    for (const db of [postgres.db, sqlite.db]) await saveSla(db, { ...DEFAULT_SLA, high: 11, kevDays: 5 });
    const [pg1, lite] = [await rescoreFindings(postgres.db, { all: true }, NOW), await rescoreFindings(sqlite.db, { all: true }, NOW)];
    expect(pg1).toEqual(lite);
    expect(pg1.deadlines).toBeGreaterThan(0);
    const due = async (db: Db) =>
      await db.selectFrom("findings").select(["fingerprint", "due_at"]).where("severity", "=", "high").orderBy("fingerprint").execute();
    const pg = await due(postgres.db);
    expect(pg).toEqual(await due(sqlite.db));
    expect(pg[0]!.due_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});

describe("cached counts across processes on PostgreSQL", () => {
  it("sees another process's write at once", async () => {
    const critical = await replica.db
      .selectFrom("findings")
      .select(["id", "package_lc"])
      .where("severity", "=", "critical")
      .where("status", "=", "open")
      .executeTakeFirstOrThrow();
    // Filtered by package: counted from the findings and cached until the database changes.
    const filter = parseFilter(new URLSearchParams({ q: critical.package_lc }), NOW);
    const before = (await findingsOverview(postgres.db, filter)).counts;
    expect((await findingsOverview(postgres.db, filter)).counts).toEqual(before);
    // Another Patchbay process (its own pool) closes the critical finding.
    await replica.db.updateTable("findings").set({ status: "resolved" }).where("id", "=", critical.id).execute();
    expect((await findingsOverview(postgres.db, filter)).counts.critical).toBe(before.critical - 1);
  });
});
