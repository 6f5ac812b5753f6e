// When a scanner or an upload last reported on a container image (with findings or without):
// the evidence a base image fix rests on — a newer tag's digest reported without the CVE.
import { type Kysely, PostgresAdapter, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  await db.schema.alterTable("assets").addColumn("scanned_at", text).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("assets").dropColumn("scanned_at").execute();
}
