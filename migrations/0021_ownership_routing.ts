// Ownership routing: each repository's topics (from the repository listing), its CODEOWNERS
// rules (read through source control after each repository sync), and the team's per-
// repository override of the routed assignee, component, labels and channel.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("repositories").addColumn("topics", "text").execute();
  await db.schema.alterTable("repositories").addColumn("codeowners", "text").execute();
  await db.schema.alterTable("repositories").addColumn("routing", "text").execute();
}
