// Cached counts (the severity totals, trends, per-asset counts) are reused only while the data
// behind them is unchanged. SQLite tells by its change counters; on PostgreSQL, where several
// Patchbay processes write, every statement that changes findings, their sources or assets bumps
// one sequence, which every process reads before it trusts a cached count. Nothing on SQLite.
import { type Kysely, PostgresAdapter, sql } from "kysely";

const TABLES = ["findings", "finding_sources", "assets"];

export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`CREATE SEQUENCE data_generation`.execute(db);
  await sql`CREATE FUNCTION data_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('data_generation'); RETURN NULL; END $$`.execute(
    db,
  );
  for (const table of TABLES)
    await sql
      .raw(`CREATE TRIGGER ${table}_generation AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION data_generation_bump()`)
      .execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const table of TABLES) await sql.raw(`DROP TRIGGER ${table}_generation ON ${table}`).execute(db);
  await sql`DROP FUNCTION data_generation_bump()`.execute(db);
  await sql`DROP SEQUENCE data_generation`.execute(db);
}
