// Bulk pushes under a hanging tracker: a job may belong to a group (one person's bulk pushes)
// that has at most a few jobs running, and a bulk push runs as one part per tracker
// integration, in that integration's lane, each keeping its own progress.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("jobs").addColumn("group_key", "text").execute();
  await db.schema
    .createTable("push_batch_parts")
    .addColumn("batch_id", "integer", (col) => col.notNull().references("push_batches.id").onDelete("cascade"))
    .addColumn("integration_id", "integer", (col) => col.notNull())
    .addColumn("total", "integer")
    .addColumn("done", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("failed", "integer", (col) => col.notNull().defaultTo(0))
    .addColumn("finished_at", "text")
    .addPrimaryKeyConstraint("push_batch_parts_pk", ["batch_id", "integration_id"])
    .execute();
}
