// Repositories as source control lists them: default branch, visibility, archived, whether
// the integration can still reach them, when they were last seen, and a normalised URL key
// for matching scanner assets by any form of the repository URL.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("repositories").addColumn("url_key", "text").execute();
  await db.schema.alterTable("repositories").addColumn("default_branch", "text").execute();
  await db.schema.alterTable("repositories").addColumn("visibility", "text").execute();
  await db.schema
    .alterTable("repositories")
    .addColumn("archived", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable("repositories")
    .addColumn("accessible", "integer", (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.alterTable("repositories").addColumn("last_seen_at", "text").execute();
  await db.schema
    .createIndex("repositories_integration_external")
    .on("repositories")
    .columns(["integration_id", "external_id"])
    .unique()
    .where(sql<boolean>`external_id is not null`)
    .execute();
  await db.schema.createIndex("repositories_url_key").on("repositories").column("url_key").execute();
}
