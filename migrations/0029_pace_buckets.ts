// Pacing ahead of the services' limits: one token bucket per credential and window (a minute,
// an hour), in the database so every process writing with that credential draws on the same
// tokens. Times are milliseconds since the epoch, kept as doubles (exact, and a number on
// every dialect).
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("pace_buckets")
    .addColumn("key", "text", (col) => col.primaryKey())
    .addColumn("tokens", "double precision", (col) => col.notNull())
    .addColumn("updated_ms", "double precision", (col) => col.notNull())
    .addColumn("granted", "integer", (col) => col.notNull())
    .execute();
}
