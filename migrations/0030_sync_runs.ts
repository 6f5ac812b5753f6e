// One word per idea: every periodic pull from a service is a "sync" (a scanner's scan, a
// repository listing, an image inventory, a package listing), so the tables that record them
// are sync_runs and sync_pages. Renaming keeps every row, and foreign keys follow the table
// on SQLite (3.26+) and PostgreSQL alike. Index names keep their first names.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("scan_runs").renameTo("sync_runs").execute();
  await db.schema.alterTable("scan_pages").renameTo("sync_pages").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("sync_pages").renameTo("scan_pages").execute();
  await db.schema.alterTable("sync_runs").renameTo("scan_runs").execute();
}
