// An import into empty tables on PostgreSQL: autovacuum analyzes a table at most once a minute,
// and until it does the planner takes the tables for empty. Each page's lookup of its records
// then scanned every record imported so far (the page cost grew with the import). The import
// keeps the statistics current as the tables grow, so the lookup probes the records' own index.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { maintenanceWarnings } from "../../src/db/postgres.js";
import { type TestApp, seedRepositories, setUpAdmin, testApp } from "../helpers.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let app: TestApp;
beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 12_000, repositories: DEFAULT_REPOSITORIES.slice(0, 3), images: 20 }));
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
});
afterAll(async () => {
  await app.close();
  await wiz.close();
});

describe("an import into empty tables", () => {
  it("keeps the planner's statistics current, so looking up a page's records probes their index", async () => {
    const db = app.runtime.database.db;
    await seedRepositories(app, DEFAULT_REPOSITORIES.slice(0, 3));
    const admin = await setUpAdmin(app);
    // The service fails after 21 pages: the sync stops with 10,000 records committed, before the
    // statistics a finished sync refreshes (what is measured is what the import did as it went).
    wiz.sim.faults.add({ path: /graphql/, skip: 21, status: 500 });
    expect((await admin.post("/integrations/wiz", WIZ_FORM)).status).toBe(303);
    app.clock.advance(5_000);
    while (await app.runtime.worker.runOnce());
    const n = await db
      .selectFrom("finding_sources")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(10_000);
    const run = await db.selectFrom("sync_runs").select(["status"]).executeTakeFirstOrThrow();
    expect(run.status).not.toBe("succeeded");
    const analyzed = await sql<{ name: string; last: string | null }>`
      select relname as name, last_analyze as last from pg_stat_user_tables where relname in ('findings', 'finding_sources')`.execute(db);
    expect(analyzed.rows.map((r) => [r.name, r.last !== null]).sort()).toEqual([
      ["finding_sources", true],
      ["findings", true],
    ]);
    // The lookup importPage makes for a page of new records (none of these exist yet).
    const ids = Array.from({ length: 250 }, (_, i) => `not-yet-${i}`);
    const plan = await sql<{ "QUERY PLAN": string }>`
      explain select id, external_id, finding_id, content_hash, status from finding_sources where integration_id = ${1} and external_id = any(${ids})`.execute(
      db,
    );
    expect(plan.rows.map((r) => r["QUERY PLAN"]).join("\n")).toContain("finding_sources_integration_external");
  });
});

describe("a server that leaves maintenance undone", () => {
  it("names each setting Patchbay relies on and what to do", () => {
    expect(maintenanceWarnings({ autovacuum: "on", track_counts: "on" })).toEqual([]);
    const [vacuum] = maintenanceWarnings({ autovacuum: "off", track_counts: "on" });
    expect(vacuum).toContain("autovacuum is off");
    expect(vacuum).toContain("VACUUM ANALYZE");
    const both = maintenanceWarnings({ autovacuum: "off", track_counts: "off" });
    expect(both).toHaveLength(2);
    expect(both[1]).toContain("track_counts = on");
  });

  it("says so in the log when Patchbay starts, as this server is set", async () => {
    const lines: string[] = [];
    const started = await testApp({ logger: createLogger("info", (line) => lines.push(line)) });
    try {
      const setting = (await sql<{ autovacuum: string }>`show autovacuum`.execute(started.runtime.database.db)).rows[0]!.autovacuum;
      const warned = lines.some((l) => l.includes("autovacuum is off"));
      expect(warned).toBe(setting === "off");
    } finally {
      await started.close();
    }
  });
});
