// PostgreSQL's schema is SQLite's: the baseline plus the shared migrations give every table,
// column (its kind of value, whether it may be empty, whether it has a default) and index that
// SQLite's migrations give; text compares in byte order; numbers come back as numbers; the
// finding_counts triggers keep the same totals; a database a newer Patchbay wrote is refused.
import path from "node:path";
import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { type OpenPostgres, openPostgres } from "../../src/db/postgres.js";
import { postgresMigrations } from "../../migrations/index.js";
import { tempDir } from "../helpers.js";
import { freshDatabase } from "./database.js";

let database: { url: string; drop(): Promise<void> };
let postgres: OpenPostgres;

beforeAll(async () => {
  database = await freshDatabase();
  postgres = await openPostgres(database.url);
});
afterAll(async () => {
  await postgres?.close();
  await database?.drop();
});

type Column = { table: string; column: string; kind: string; nullable: boolean; hasDefault: boolean };

const SQLITE_KIND: Record<string, string> = { integer: "number", real: "number", "double precision": "number", text: "text", "varchar(255)": "text" };
const POSTGRES_KIND: Record<string, string> = { bigint: "number", integer: "number", "double precision": "number", text: "text", "character varying": "text" };

async function sqliteSchema(): Promise<{ columns: Column[]; indexes: string[] }> {
  const file = path.join(tempDir(), "patchbay.db");
  await (await openDatabase(file)).close();
  const raw = new SQLite(file, { readonly: true });
  try {
    const tables = (
      raw.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'").all() as { name: string }[]
    ).map((t) => t.name);
    const columns: Column[] = [];
    const indexes: string[] = [];
    for (const table of tables) {
      for (const c of raw.prepare(`pragma table_info("${table}")`).all() as {
        name: string;
        type: string;
        notnull: number;
        dflt_value: unknown;
        pk: number;
      }[]) {
        columns.push({
          table,
          column: c.name,
          kind: SQLITE_KIND[c.type.toLowerCase()] ?? c.type,
          nullable: !c.notnull && !c.pk,
          hasDefault: c.dflt_value !== null,
        });
      }
      for (const i of raw.prepare(`pragma index_list("${table}")`).all() as { name: string; origin: string }[]) if (i.origin === "c") indexes.push(i.name);
    }
    return { columns, indexes };
  } finally {
    raw.close();
  }
}

async function postgresSchema(): Promise<{ columns: Column[]; indexes: string[] }> {
  const rows = await sql<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
    is_identity: string;
  }>`
    select table_name, column_name, data_type, is_nullable, column_default, is_identity from information_schema.columns
    where table_schema = 'public' and table_name not like 'kysely_%'`.execute(postgres.db);
  const columns = rows.rows.map((c) => ({
    table: c.table_name,
    column: c.column_name,
    kind: POSTGRES_KIND[c.data_type] ?? c.data_type,
    nullable: c.is_nullable === "YES",
    // An identity key is SQLite's autoincrement: no default there.
    hasDefault: c.column_default !== null && c.is_identity !== "YES",
  }));
  const indexes = await sql<{ indexname: string }>`
    select i.indexname from pg_indexes i
    where i.schemaname = 'public' and i.tablename not like 'kysely_%'
      and not exists (select 1 from pg_constraint k where k.conname = i.indexname)`.execute(postgres.db);
  return { columns, indexes: indexes.rows.map((r) => r.indexname) };
}

const byName = (a: Column, b: Column) => `${a.table}.${a.column}`.localeCompare(`${b.table}.${b.column}`);

describe("the PostgreSQL schema", () => {
  it("has every table, column and index SQLite's migrations make, alike", async () => {
    const [lite, pgs] = await Promise.all([sqliteSchema(), postgresSchema()]);
    expect(lite.columns.length).toBeGreaterThan(300);
    expect(pgs.columns.sort(byName)).toEqual(lite.columns.sort(byName));
    expect(pgs.indexes.sort()).toEqual(lite.indexes.sort());
  });

  it("orders text by bytes, as SQLite does, and answers counts as numbers", async () => {
    const stamp = new Date().toISOString();
    await postgres.db
      .insertInto("meta")
      .values(["b", "B", "a", "_", "é", "Z"].map((key) => ({ key, value: stamp })))
      .execute();
    const keys = (await postgres.db.selectFrom("meta").select("key").orderBy("key").execute()).map((r) => r.key);
    expect(keys).toEqual(["B", "Z", "_", "a", "b", "é"]);
    const count = await postgres.db
      .selectFrom("meta")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    expect(count.n).toBe(6);
  });

  it("keeps finding_counts with its triggers", async () => {
    const stamp = new Date().toISOString();
    const asset = await postgres.db
      .insertInto("assets")
      .values({
        kind: "repository",
        asset_key: "repository:acme/api",
        name: "acme/api",
        repository_id: null,
        details: "{}",
        created_at: stamp,
        updated_at: stamp,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const finding = (fingerprint: string, severity_rank: number) => ({
      fingerprint,
      cve: "CVE-2024-0001",
      title: "t",
      severity: "high" as const,
      severity_rank,
      package: "lodash",
      package_lc: "lodash",
      installed_version: "1.0.0",
      asset_id: asset.id,
      status: "open" as const,
      first_detected_at: stamp,
      last_seen_at: stamp,
      created_at: stamp,
      updated_at: stamp,
    });
    const rows = await postgres.db
      .insertInto("findings")
      .values([finding("a", 4), finding("b", 4), finding("c", 3)])
      .returning("id")
      .execute();
    expect(typeof rows[0]!.id).toBe("number");
    await postgres.db.updateTable("findings").set({ status: "resolved" }).where("fingerprint", "=", "a").execute();
    await postgres.db.deleteFrom("findings").where("fingerprint", "=", "c").execute();
    const counts = await postgres.db.selectFrom("finding_counts").selectAll().where("n", ">", 0).orderBy("status").orderBy("severity_rank").execute();
    expect(counts).toEqual([
      { status: "open", severity_rank: 4, n: 1 },
      { status: "resolved", severity_rank: 4, n: 1 },
    ]);
  });

  it("refuses a database a newer Patchbay migrated, saying what to do", async () => {
    await sql`insert into kysely_migration (name, timestamp) values ('9999_from_the_future', now()::text)`.execute(postgres.db);
    await expect(openPostgres(database.url, postgresMigrations)).rejects.toThrow(
      /upgraded by a newer Patchbay \(its migration 9999_from_the_future is unknown/,
    );
    await sql`delete from kysely_migration where name = '9999_from_the_future'`.execute(postgres.db);
  });
});
