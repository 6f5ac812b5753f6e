// Findings: repositories known through source control, assets, normalised findings with
// every scanner record kept as a source, each finding's status history, and scan runs with
// their page checkpoints (so an interrupted scan resumes and still resolves correctly).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("repositories")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("integration_id", "integer", (c) => c.references("integrations.id").onDelete("cascade"))
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("full_name", "text", (c) => c.notNull())
    .addColumn("url", "text")
    .addColumn("external_id", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("repositories_full_name").on("repositories").column("full_name").execute();

  await db.schema
    .createTable("assets")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("asset_key", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("repository_id", "integer", (c) => c.references("repositories.id").onDelete("set null"))
    .addColumn("details", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("assets_kind_key", ["kind", "asset_key"])
    .execute();

  await db.schema
    .createTable("findings")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("fingerprint", "text", (c) => c.notNull().unique())
    .addColumn("cve", "text", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("severity", "text", (c) => c.notNull())
    .addColumn("severity_rank", "integer", (c) => c.notNull())
    .addColumn("cvss", "real")
    .addColumn("ecosystem", "text")
    .addColumn("package", "text", (c) => c.notNull())
    .addColumn("package_lc", "text", (c) => c.notNull())
    .addColumn("installed_version", "text", (c) => c.notNull())
    .addColumn("fixed_version", "text")
    .addColumn("asset_id", "integer", (c) => c.notNull().references("assets.id"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("status_reason", "text")
    .addColumn("status_expires_at", "text")
    .addColumn("first_detected_at", "text", (c) => c.notNull())
    .addColumn("last_seen_at", "text", (c) => c.notNull())
    .addColumn("resolved_at", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  // Keyset pagination: each sort order has an index ending in id; filters lead where common.
  await db.schema.createIndex("findings_status_severity").on("findings").columns(["status", "severity_rank", "id"]).execute();
  await db.schema.createIndex("findings_severity").on("findings").columns(["severity_rank", "id"]).execute();
  await db.schema.createIndex("findings_first_detected").on("findings").columns(["first_detected_at", "id"]).execute();
  await db.schema.createIndex("findings_last_seen").on("findings").columns(["last_seen_at", "id"]).execute();
  await db.schema.createIndex("findings_cve").on("findings").columns(["cve", "id"]).execute();
  await db.schema.createIndex("findings_package").on("findings").columns(["package_lc", "id"]).execute();
  await db.schema.createIndex("findings_asset").on("findings").columns(["asset_id", "id"]).execute();
  await db.schema
    .createIndex("findings_expiring")
    .on("findings")
    .column("status_expires_at")
    .where(sql<boolean>`status_expires_at is not null`)
    .execute();

  await db.schema
    .createTable("finding_sources")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("finding_id", "integer", (c) => c.notNull().references("findings.id").onDelete("cascade"))
    .addColumn("integration_id", "integer", (c) => c.notNull().references("integrations.id").onDelete("cascade"))
    .addColumn("external_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("raw", "text", (c) => c.notNull())
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("url", "text")
    .addColumn("first_seen_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("finding_sources_integration_external", ["integration_id", "external_id"])
    .execute();
  await db.schema.createIndex("finding_sources_finding").on("finding_sources").column("finding_id").execute();
  await db.schema.createIndex("finding_sources_integration_finding").on("finding_sources").columns(["integration_id", "finding_id"]).execute();

  await db.schema
    .createTable("finding_events")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("finding_id", "integer", (c) => c.notNull().references("findings.id").onDelete("cascade"))
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("from_status", "text")
    .addColumn("to_status", "text", (c) => c.notNull())
    .addColumn("note", "text")
    .execute();
  await db.schema.createIndex("finding_events_finding").on("finding_events").columns(["finding_id", "id"]).execute();

  await db.schema
    .createTable("scan_runs")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("integration_id", "integer", (c) => c.notNull().references("integrations.id").onDelete("cascade"))
    .addColumn("job_id", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("cursor", "text")
    .addColumn("pages", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("total", "integer")
    .addColumn("counts", "text", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("started_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text")
    .execute();
  await db.schema.createIndex("scan_runs_integration").on("scan_runs").columns(["integration_id", "id"]).execute();
  await db.schema.createIndex("scan_runs_job").on("scan_runs").column("job_id").execute();

  await db.schema
    .createTable("scan_pages")
    .addColumn("run_id", "integer", (c) => c.notNull().references("scan_runs.id").onDelete("cascade"))
    .addColumn("page", "integer", (c) => c.notNull())
    .addColumn("external_ids", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("scan_pages_pk", ["run_id", "page"])
    .execute();
}
