// Credential and permission health: the last daily check of each integration (token expiry,
// scopes, what its tracker mappings rely on), shown on its card.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("integrations").addColumn("health", "text").execute();
}
