// Pacing by sliding windows: the writes a credential made in the last hour, one row each, in
// place of the token buckets. A bucket held a tenth of a window's limit, so GitHub's 500 an hour
// became a burst of 50 and then one write every 8 s; a log of the writes lets through exactly
// what the service's own sliding window does. One row per credential (pace_credentials) is the
// lock that lines up processes writing with it.
import { type Kysely, PostgresAdapter, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const text = postgres ? sql`text collate "C"` : sql`text`;
  await db.schema.dropTable("pace_buckets").execute();
  await db.schema
    .createTable("pace_credentials")
    .addColumn("key", text, (col) => col.primaryKey())
    .addColumn("updated_ms", "double precision", (col) => col.notNull())
    .execute();
  await db.schema
    .createTable("pace_writes")
    .addColumn("id", postgres ? "bigint" : "integer", (col) => (postgres ? col.primaryKey().generatedByDefaultAsIdentity() : col.primaryKey().autoIncrement()))
    .addColumn("key", text, (col) => col.notNull())
    .addColumn("at_ms", "double precision", (col) => col.notNull())
    .execute();
  await db.schema.createIndex("pace_writes_key_at").on("pace_writes").columns(["key", "at_ms"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  await db.schema.dropTable("pace_writes").execute();
  await db.schema.dropTable("pace_credentials").execute();
  await db.schema
    .createTable("pace_buckets")
    .addColumn("key", text, (col) => col.primaryKey())
    .addColumn("tokens", "double precision", (col) => col.notNull())
    .addColumn("updated_ms", "double precision", (col) => col.notNull())
    .addColumn("granted", "integer", (col) => col.notNull())
    .execute();
}
