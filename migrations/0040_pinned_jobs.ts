// Work that needs one process's disk: an upload's spool lives in the spool folder of the Patchbay
// process (replica) that received it. A job can be pinned to that process (only its worker claims
// it), and an upload records who receives it and when that process last showed it was alive, so
// that another replica starting up leaves it alone, and marks it interrupted only once its
// receiver has been gone for a while.
import { type Kysely, PostgresAdapter, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Text compares in byte order on PostgreSQL, as on SQLite (the baseline's columns are all so).
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  await db.schema.alterTable("jobs").addColumn("pinned_to", text).execute();
  await db.schema.alterTable("uploads").addColumn("receiver", text).execute();
  await db.schema.alterTable("uploads").addColumn("seen_at", text).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("uploads").dropColumn("seen_at").execute();
  await db.schema.alterTable("uploads").dropColumn("receiver").execute();
  await db.schema.alterTable("jobs").dropColumn("pinned_to").execute();
}
