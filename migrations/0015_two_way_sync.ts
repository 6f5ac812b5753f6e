// Two-way sync: what the tracker does to a ticket comes back. Each mapping says what a tracker
// status means for the findings (and what to do when the scanner still detects a finding
// closed in the tracker); each ticket remembers the last state seen in the tracker; a finding
// remembers that it was closed in the tracker, to flag it when a scan still reports it.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("tracker_mappings")
    .addColumn("inbound", "text", (c) => c.notNull().defaultTo("{}"))
    .execute();
  await db.schema.alterTable("tickets").addColumn("remote_status", "text").execute();
  await db.schema.alterTable("tickets").addColumn("remote_seen_at", "text").execute();
  await db.schema.alterTable("tickets").addColumn("remote_comment", "text").execute();
  await db.schema.alterTable("findings").addColumn("tracker_closed_at", "text").execute();
  await db.schema.createIndex("tickets_external_id").on("tickets").columns(["external_id"]).execute();
}
