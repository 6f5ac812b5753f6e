// Outsiders' pull requests: a remediation records why its pull request came from outside the
// repository (a fork by someone without write access), so that Patchbay never writes into it
// even where an integration is set to link such pull requests.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("remediations").addColumn("outside", "text").execute();
}
