// Trends: open findings by severity at the end of each day, written by a daily job (and
// reconstructed once for the days before it existed), so the trend chart reads a few hundred
// rows instead of the history of every finding.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("finding_snapshots")
    .addColumn("day", "text", (c) => c.notNull())
    .addColumn("severity", "text", (c) => c.notNull())
    .addColumn("open", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("finding_snapshots_pk", ["day", "severity"])
    .execute();
}
