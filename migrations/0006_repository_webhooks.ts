// When Patchbay added its pull request webhook to a repository itself.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("repositories").addColumn("webhook_registered_at", "text").execute();
}
