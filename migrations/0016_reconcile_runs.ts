// Reconciliation runs: each compares a mapping's linked tickets with their live state in the
// tracker, repairs the differences in the mapping's direction (or only reports them), and
// keeps what it found and did for the mapping page.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("reconcile_runs")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("mapping_id", "integer", (c) => c.notNull().references("tracker_mappings.id").onDelete("cascade"))
    .addColumn("direction", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("checked", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("total", "integer")
    .addColumn("differences", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("repaired", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("after_ticket", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("report", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("error", "text")
    .addColumn("started_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text")
    .execute();
  await db.schema.createIndex("reconcile_runs_mapping").on("reconcile_runs").columns(["mapping_id", "id"]).execute();
}
