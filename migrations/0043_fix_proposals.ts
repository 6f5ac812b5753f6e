// Remediation modes: each repository may override the default (off, hybrid, automated; how many
// fix pull requests may be open at once, draft or ready, major upgrades allowed), and the fix
// sweep records what it found for each (repository, package): a proposal waiting for an admin,
// one queued or opened, one an admin dismissed, or why none can be made.
import { type Kysely, PostgresAdapter, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.alterTable("repositories").addColumn("remediation", text).execute();
  await db.schema
    .createTable("fix_proposals")
    .addColumn("id", postgres ? "bigint" : "integer", (col) => (postgres ? col.primaryKey().generatedByDefaultAsIdentity() : col.primaryKey().autoIncrement()))
    .addColumn("repository_id", postgres ? "bigint" : "integer", (col) => col.notNull().references("repositories.id").onDelete("cascade"))
    .addColumn("package_lc", text, (col) => col.notNull())
    .addColumn("path", text, (col) => col.notNull())
    .addColumn("finding_id", postgres ? "bigint" : "integer", (col) => col.notNull())
    .addColumn("signature", text, (col) => col.notNull())
    .addColumn("state", text, (col) => col.notNull())
    .addColumn("branch", text)
    .addColumn("title", text)
    .addColumn("to_version", text)
    .addColumn("findings", "integer", (col) => col.notNull())
    .addColumn("reason", text)
    .addColumn("by", text)
    .addColumn("created_at", text, (col) => col.notNull())
    .addColumn("updated_at", text, (col) => col.notNull())
    .execute();
  await db.schema.createIndex("fix_proposals_key").unique().on("fix_proposals").columns(["repository_id", "package_lc", "path"]).execute();
  await db.schema.createIndex("fix_proposals_state").on("fix_proposals").columns(["state", "updated_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("fix_proposals").execute();
  await db.schema.alterTable("repositories").dropColumn("remediation").execute();
}
