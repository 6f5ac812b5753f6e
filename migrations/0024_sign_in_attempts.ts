// Sign-in throttling kept in the database: attempts per client address and per account are
// reserved atomically before a password is checked, so parallel guesses cannot all be
// verified, and several replicas share the count (it was kept in each process's memory).
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("auth_attempts")
    .addColumn("key", "text", (col) => col.primaryKey())
    .addColumn("count", "integer", (col) => col.notNull())
    .addColumn("window_start", "text", (col) => col.notNull())
    .execute();
}
