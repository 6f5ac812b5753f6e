// Ticket push: tracker mappings (a target inside a tracker integration) with their
// assignments (which findings, how they are pushed), the tickets Patchbay created with the
// findings each covers and a changelog, push errors, and bulk push batches.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("tracker_mappings")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("integration_id", "integer", (c) => c.notNull().references("integrations.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("fields", "text", (c) => c.notNull())
    .addColumn("status_map", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("tracker_assignments")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("mapping_id", "integer", (c) => c.notNull().references("tracker_mappings.id").onDelete("cascade"))
    .addColumn("repository_ids", "text")
    .addColumn("min_severity", "text", (c) => c.notNull())
    .addColumn("group_by", "text", (c) => c.notNull())
    .addColumn("push_mode", "text", (c) => c.notNull())
    .addColumn("linked_through", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("tracker_assignments_mapping").on("tracker_assignments").column("mapping_id").execute();

  await db.schema
    .createTable("tickets")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("mapping_id", "integer", (c) => c.notNull().references("tracker_mappings.id").onDelete("cascade"))
    .addColumn("subject_key", "text", (c) => c.notNull())
    .addColumn("marker", "text", (c) => c.notNull())
    .addColumn("external_id", "text")
    .addColumn("external_key", "text")
    .addColumn("url", "text")
    .addColumn("state", "text")
    .addColumn("content_hash", "text")
    .addColumn("content", "text")
    .addColumn("lock_until", "text")
    .addColumn("lock_by", "text")
    .addColumn("notes", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("linked_at", "text")
    .addColumn("synced_at", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("tickets_subject", ["mapping_id", "subject_key"])
    .execute();
  await db.schema.createIndex("tickets_external_key").on("tickets").column("external_key").execute();

  await db.schema
    .createTable("ticket_findings")
    .addColumn("ticket_id", "integer", (c) => c.notNull().references("tickets.id").onDelete("cascade"))
    .addColumn("finding_id", "integer", (c) => c.notNull().references("findings.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("ticket_findings_pk", ["ticket_id", "finding_id"])
    .execute();
  await db.schema.createIndex("ticket_findings_finding").on("ticket_findings").column("finding_id").execute();

  await db.schema
    .createTable("ticket_changes")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("ticket_id", "integer", (c) => c.notNull().references("tickets.id").onDelete("cascade"))
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("ticket_changes_ticket").on("ticket_changes").column("ticket_id").execute();

  await db.schema
    .createTable("push_errors")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("mapping_id", "integer", (c) => c.notNull().references("tracker_mappings.id").onDelete("cascade"))
    .addColumn("subject_key", "text", (c) => c.notNull())
    .addColumn("subject_label", "text", (c) => c.notNull())
    .addColumn("finding_id", "integer")
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("http_status", "integer")
    .addColumn("tracker_message", "text")
    .addColumn("resolved_at", "text")
    .execute();
  await db.schema.createIndex("push_errors_mapping").on("push_errors").columns(["mapping_id", "resolved_at"]).execute();

  await db.schema
    .createTable("push_batches")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("filter", "text", (c) => c.notNull())
    .addColumn("total", "integer")
    .addColumn("done", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("failed", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text")
    .execute();
}
