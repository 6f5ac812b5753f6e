// What the risk score knows beyond the feeds: a repository's or an image's criticality as the
// team set it, and what a scanner says of a finding's exposure and exploitation (Wiz's internet
// exposure, its KEV flag and EPSS percentile — used when the feeds have nothing loaded).
import { type Kysely, PostgresAdapter, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  await db.schema.alterTable("repositories").addColumn("criticality", text).execute();
  await db.schema.alterTable("assets").addColumn("criticality", text).execute();
  await db.schema.alterTable("findings").addColumn("exposure", text).execute();
  await db.schema.alterTable("findings").addColumn("scanner_kev", "integer").execute();
  await db.schema.alterTable("findings").addColumn("scanner_epss", "double precision").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ["scanner_epss", "scanner_kev", "exposure"]) await db.schema.alterTable("findings").dropColumn(column).execute();
  await db.schema.alterTable("assets").dropColumn("criticality").execute();
  await db.schema.alterTable("repositories").dropColumn("criticality").execute();
}
