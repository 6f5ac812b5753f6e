// Schedules fire once per tick across every Patchbay process on the database: the process whose
// insert of (schedule, tick) succeeds enqueues; the others find the row and do nothing.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("schedule_ticks")
    .addColumn("schedule", "text", (c) => c.notNull())
    .addColumn("tick", "text", (c) => c.notNull())
    .addColumn("claimed_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("schedule_ticks_pk", ["schedule", "tick"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("schedule_ticks").execute();
}
