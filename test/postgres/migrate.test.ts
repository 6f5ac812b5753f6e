// Moving an installation from SQLite to PostgreSQL with `node dist/server.js migrate-to-postgres`:
// a database with rows in every table arrives whole (credentials still sealed under the same key,
// ids continuing where SQLite's left off, the findings' totals recounted), the user learns what
// changed in SQLite since the copy, the final copy waits until Patchbay is stopped, and a target
// that is not empty, a wrong key or a value PostgreSQL refuses changes nothing.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupDatabase } from "../../src/db/backups.js";
import { changesSince } from "../../src/db/migrate-to-postgres.js";
import { type OpenPostgres, openPostgres } from "../../src/db/postgres.js";
import { ADMIN, TEST_KEY, type TestApp, signIn, tempDir, testApp, text } from "../helpers.js";
import { startServer } from "../process.js";
import { emptyTables, seedEveryTable } from "../seed.js";
import { freshDatabase } from "./database.js";

async function migrate(dataDir: string, databaseUrl: string, args: string[] = [], key = TEST_KEY): Promise<{ code: number | string; output: string }> {
  const proc = await startServer(
    { PATCHBAY_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, PATCHBAY_SECRET_KEY: key },
    { args: ["migrate-to-postgres", ...args] },
  );
  const code = await proc.exited;
  return { code, output: proc.output() };
}

/** A table's rows as the user's data: ordered by key, a NUL read as PostgreSQL keeps it. */
function rowsOf(rows: Record<string, unknown>[]): string[] {
  return rows.map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).sort(([a], [b]) => a.localeCompare(b)))).replace(/\\u0000/g, "\ufffd"));
}

async function tableRowCounts(db: Kysely<any>): Promise<Record<string, number>> {
  const tables = (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(db)).rows.map(
    (r) => r.name,
  );
  const counts: Record<string, number> = {};
  for (const t of tables.filter((t) => !t.startsWith("kysely_")).sort())
    counts[t] = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(db)).rows[0]!.n);
  return counts;
}

describe("migrate-to-postgres", () => {
  let source: TestApp;
  let dataDir: string;
  let target: { url: string; drop(): Promise<void> };
  let pg: OpenPostgres;

  beforeAll(async () => {
    source = await testApp({ sqlite: true });
    dataDir = source.config.dataDir;
    await seedEveryTable(source);
    target = await freshDatabase();
  });
  afterAll(async () => {
    await pg?.close();
    await source.close();
    await target.drop();
  });

  it("copies every table of a database in use, and Patchbay on PostgreSQL has all of it", async () => {
    // The seeding reaches every table the schema has: a table added later without seeding fails here.
    expect(await emptyTables(source)).toEqual([]);

    const { code, output } = await migrate(dataDir, target.url);
    expect(output).toMatch(/Copied [\d,]+ rows in \d+ tables/);
    expect(code).toBe(0);
    expect(output).toContain("Nothing changed in SQLite since the copy began.");
    expect(output).toContain("run migrate-to-postgres --final");
    expect(output).toContain("1 text values held a NUL character");
    expect(output).not.toContain(TEST_KEY);

    pg = await openPostgres(target.url);
    const live = new SQLite(path.join(dataDir, "patchbay.db"), { readonly: true });
    try {
      const tables = live
        .prepare(
          "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' and name not in ('finding_counts', 'finding_facets', 'asset_counts')",
        )
        .pluck()
        .all() as string[];
      expect(tables.length).toBeGreaterThan(30);
      for (const table of tables) {
        const key = (live.prepare(`pragma table_info("${table}")`).all() as { name: string; pk: number }[])
          .filter((c) => c.pk)
          .sort((a, b) => a.pk - b.pk)
          .map((c) => c.name);
        const mine = live.prepare(`select * from "${table}" order by ${key.map((k) => `"${k}"`).join(", ")}`).all() as Record<string, unknown>[];
        // Besides SQLite's rows, PostgreSQL's meta says it holds a copy, not the final one.
        const theirs = (await sql<Record<string, unknown>>`select * from ${sql.table(table)} order by ${sql.join(key.map((k) => sql.ref(k)))}`.execute(pg.db))
          .rows;
        if (table === "meta") {
          const marker = theirs.findIndex((row) => row.key === "postgres.copied_from_sqlite");
          expect(JSON.parse(String(theirs.splice(marker, 1)[0]!.value))).toMatchObject({ final: false });
        }
        expect(mine.length, table).toBeGreaterThan(0);
        expect(rowsOf(theirs), table).toEqual(rowsOf(mine));
      }
      // The totals PostgreSQL's triggers kept while the findings arrived are SQLite's.
      const totals = (live.prepare("select status, severity_rank, n from finding_counts where n > 0 order by 1, 2").all() as object[]).map((r) => ({ ...r }));
      expect((await sql`select status, severity_rank, n from finding_counts where n > 0 order by 1, 2`.execute(pg.db)).rows).toEqual(totals);
      // So are the facets counted after the copy (a count that went to zero in SQLite keeps its row there).
      const facets = (live.prepare("select facet, key, status, severity_rank, n from finding_facets where n > 0 order by 1, 2, 3, 4").all() as object[]).map(
        (r) => ({ ...r }),
      );
      expect(facets.length).toBeGreaterThan(0);
      // And the resolutions by day (days to resolve to the microsecond: the two databases compute them differently).
      const resolved = (rows: Record<string, unknown>[]) =>
        rows.map((r) => `${r.day}|${r.severity}=${Number(r.n)}/${Number(r.days).toFixed(6)}/${Number(r.with_sla)}/${Number(r.within_sla)}`);
      const mineResolved = resolved(live.prepare("select * from resolution_days where n > 0 order by day, severity").all() as Record<string, unknown>[]);
      expect(mineResolved.length).toBeGreaterThan(0);
      expect(resolved((await sql<Record<string, unknown>>`select * from resolution_days where n > 0 order by day, severity`.execute(pg.db)).rows)).toEqual(
        mineResolved,
      );
      expect(
        (
          await sql<Record<string, unknown>>`select facet, key, status, severity_rank, n from finding_facets where n > 0 order by 1, 2, 3, 4`.execute(pg.db)
        ).rows.map((r) => ({ ...r, n: Number(r.n) })),
      ).toEqual(facets);
      // And the counts per asset.
      const assets = (live.prepare("select asset_id, status, severity_rank, n from asset_counts where n > 0 order by 1, 2, 3").all() as object[]).map((r) => ({
        ...r,
      }));
      expect(assets.length).toBeGreaterThan(0);
      expect(
        (await sql<Record<string, unknown>>`select asset_id, status, severity_rank, n from asset_counts where n > 0 order by 1, 2, 3`.execute(pg.db)).rows.map(
          (r) => ({ ...r, asset_id: Number(r.asset_id), n: Number(r.n) }),
        ),
      ).toEqual(assets);
    } finally {
      live.close();
    }

    // Patchbay on the copy: the admin signs in with their password, sees the findings and triage,
    // the Jira credentials open under the same key, and new rows take ids SQLite never gave.
    const onPostgres = await testApp({ env: { DATABASE_URL: target.url } });
    try {
      const admin = await signIn(onPostgres, ADMIN.username, ADMIN.password);
      const page = text(await (await admin.get("/vulnerabilities?status=all")).text());
      expect(page).toContain("10 critical 10 high 10 medium 10 low");
      expect(page).toMatch(/CVE-2026-10002 ↗ pkg-2 \(npm\) .* Risk accepted/);
      const jira = await onPostgres.runtime.database.db.selectFrom("integrations").selectAll().where("kind", "=", "jira").executeTakeFirstOrThrow();
      expect(onPostgres.runtime.vault.openSecrets(jira.secrets).apiToken).toBe("jira-token-never-shown");
      const highest = Number(
        new SQLite(path.join(dataDir, "patchbay.db"), { readonly: true }).prepare("select seq from sqlite_sequence where name = 'integrations'").pluck().get(),
      );
      const next = await onPostgres.runtime.database.db
        .insertInto("integrations")
        .values({ kind: "ci-upload", name: "after the move", settings: "{}", secrets: null, status: "connected", created_at: "x", updated_at: "x" })
        .returning("id")
        .executeTakeFirstOrThrow();
      expect(next.id).toBe(highest + 1);
      await onPostgres.runtime.database.db.deleteFrom("integrations").where("id", "=", next.id).execute();
    } finally {
      await onPostgres.close();
    }
  });

  it("says what changed in SQLite since its snapshot: rows added, changed and deleted, by table", async () => {
    const live = path.join(dataDir, "patchbay.db");
    const snapshot = path.join(tempDir(), "snapshot.db");
    await backupDatabase(live, snapshot);
    const db = source.runtime.database.db;
    await db.insertInto("audit_log").values({ at: "2026-12-05T10:00:00Z", actor: "admin", via: "web", action: "integration.update", target: "Jira" }).execute();
    await db.updateTable("findings").set({ status: "false_positive" }).where("cve", "=", "CVE-2026-10005").execute();
    await db.deleteFrom("sessions").execute();
    const changes = changesSince(live, snapshot);
    expect(changes).toMatchObject({ added: 1, changed: 1 });
    expect(changes.deleted).toBeGreaterThanOrEqual(1);
    expect(changes.tables.map((t) => t.name)).toEqual(["audit_log", "findings", "sessions"]);
  });

  it("copies once more with --final only once Patchbay is stopped, then refuses a third copy; SQLite started again warns it was moved", async () => {
    const server = await startServer({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: TEST_KEY });
    await server.ready();
    const refused = await migrate(dataDir, target.url, ["--final"]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`Patchbay is running on ${dataDir}`);
    expect(refused.output).toContain("Stop it first");
    expect(await server.kill()).toBe(0);

    const { code, output } = await migrate(dataDir, target.url, ["--final"]);
    expect(output).toContain("This is the copy to switch to.");
    expect(code).toBe(0);
    // The changes made after the first copy are there now.
    expect((await pg.db.selectFrom("audit_log").select("action").where("action", "=", "integration.update").execute()).length).toBe(1);
    expect((await pg.db.selectFrom("sessions").select("id").execute()).length).toBe(0);
    expect((await pg.db.selectFrom("findings").select("status").where("cve", "=", "CVE-2026-10005").executeTakeFirstOrThrow()).status).toBe("false_positive");

    const again = await migrate(dataDir, target.url, ["--final"]);
    expect(again.code).toBe(1);
    expect(again.output).toContain("already holds the final copy");

    const restarted = await startServer({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: TEST_KEY });
    await restarted.ready();
    await restarted.kill();
    expect(restarted.output()).toContain("This SQLite database was copied to PostgreSQL");
  });

  it("refuses a PostgreSQL database that is not empty, the wrong key, or a value PostgreSQL cannot take, and changes nothing", async () => {
    const other = await freshDatabase();
    const used = await openPostgres(other.url);
    try {
      await used.db.insertInto("users").values({ username: "someone", password_hash: "x", role: "admin", created_at: "x", password_changed_at: "x" }).execute();
      const before = await tableRowCounts(used.db);
      const notEmpty = await migrate(dataDir, other.url);
      expect(notEmpty.code).toBe(1);
      expect(notEmpty.output).toContain("This PostgreSQL database is not empty (it has rows in users)");
      expect(notEmpty.output).toContain("create one");
      expect(await tableRowCounts(used.db)).toEqual(before);
      await used.db.deleteFrom("users").execute();

      const wrongKey = await migrate(dataDir, other.url, [], "b".repeat(64));
      expect(wrongKey.code).toBe(1);
      expect(wrongKey.output).toContain("PATCHBAY_SECRET_KEY is not the key the SQLite database's credentials were encrypted with");
      // An installation that kept its key in the data directory is told how to pass it on.
      fs.writeFileSync(path.join(dataDir, "secret.key"), TEST_KEY + "\n", { mode: 0o600 });
      const fromFile = await migrate(dataDir, other.url, [], "b".repeat(64));
      fs.rmSync(path.join(dataDir, "secret.key"));
      expect(fromFile.output).toContain(`encrypted with the key in ${path.join(dataDir, "secret.key")}`);

      // A value SQLite's loose typing let in, that PostgreSQL's column refuses: the copy fails whole.
      const broken = tempDir();
      await backupDatabase(path.join(dataDir, "patchbay.db"), path.join(broken, "patchbay.db"));
      const file = new SQLite(path.join(broken, "patchbay.db"));
      file.prepare("update jobs set attempts = 'several'").run();
      file.close();
      const refused = await migrate(broken, other.url);
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(/Copying jobs into PostgreSQL failed: .*bigint.*Nothing was copied/);
      const after = await tableRowCounts(used.db);
      expect(Object.entries(after).filter(([, n]) => n > 0)).toEqual([]);
      expect(fs.readdirSync(broken).filter((f) => f.startsWith("migrate-"))).toEqual([]);
    } finally {
      await used.close();
      await other.drop();
    }
  });
});
