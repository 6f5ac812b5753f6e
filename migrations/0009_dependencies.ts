// Dependencies: what each repository's manifests and lockfiles resolve (the dependency
// monitor rewrites a repository's rows on each scan), the packages the organisation publishes
// (package-registry integrations), and a cache of parsed manifests and advisory records.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("repository_dependencies")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("repository_id", "integer", (c) => c.notNull().references("repositories.id").onDelete("cascade"))
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("ecosystem", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("repository_dependencies_repository").on("repository_dependencies").columns(["repository_id", "path"]).execute();
  await db.schema.createIndex("repository_dependencies_package").on("repository_dependencies").columns(["ecosystem", "name"]).execute();

  await db.schema
    .createTable("packages")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("integration_id", "integer", (c) => c.notNull().references("integrations.id").onDelete("cascade"))
    .addColumn("ecosystem", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("latest", "text")
    .addColumn("versions", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("packages_integration_name", ["integration_id", "ecosystem", "name"])
    .execute();
  await db.schema.createIndex("packages_name").on("packages").columns(["ecosystem", "name"]).execute();

  await db.schema
    .createTable("dependency_cache")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP`))
    .execute();
}
