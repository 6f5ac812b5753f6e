// Remediation: webhook deliveries (recorded, idempotent by delivery id), pull/merge
// requests linked to the findings they fix, and an outbox of domain events that ticket
// integrations consume (remediation opened, merged, closed).
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("integration_id", "integer", (c) => c.notNull().references("integrations.id").onDelete("cascade"))
    .addColumn("delivery_id", "text", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("received_at", "text", (c) => c.notNull())
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("detail", "text")
    .addColumn("payload", "text")
    .addUniqueConstraint("webhook_deliveries_unique", ["integration_id", "delivery_id"])
    .execute();

  await db.schema
    .createTable("remediations")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("integration_id", "integer", (c) => c.notNull().references("integrations.id").onDelete("cascade"))
    .addColumn("repository_id", "integer", (c) => c.notNull().references("repositories.id").onDelete("cascade"))
    .addColumn("number", "integer", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("source_branch", "text")
    .addColumn("author", "text")
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addColumn("merged_at", "text")
    .addColumn("closed_at", "text")
    .addUniqueConstraint("remediations_unique", ["repository_id", "number"])
    .execute();

  await db.schema
    .createTable("remediation_findings")
    .addColumn("remediation_id", "integer", (c) => c.notNull().references("remediations.id").onDelete("cascade"))
    .addColumn("finding_id", "integer", (c) => c.notNull().references("findings.id").onDelete("cascade"))
    .addColumn("reason", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("remediation_findings_pk", ["remediation_id", "finding_id"])
    .execute();
  await db.schema.createIndex("remediation_findings_finding").on("remediation_findings").column("finding_id").execute();

  await db.schema
    .createTable("domain_events")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
}
