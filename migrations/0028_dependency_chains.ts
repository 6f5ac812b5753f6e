// What the dependency monitor knows of each dependency beyond its version: declared by the
// project or pulled in (direct), what it is used for (scope: production, development, test,
// optional) and, for a transitive one, the direct dependencies that pull it in (via, JSON).
// Null where the lockfile does not say; filled at each repository's next scan.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("repository_dependencies").addColumn("direct", "integer").execute();
  await db.schema.alterTable("repository_dependencies").addColumn("scope", "text").execute();
  await db.schema.alterTable("repository_dependencies").addColumn("via", "text").execute();
}
