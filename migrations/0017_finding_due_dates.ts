// SLAs: each finding's remediation deadline, from the severity policy of when it was created
// (existing findings get the default policy: 3 / 14 / 30 / 90 days, none for info).
import { type Kysely, sql } from "kysely";

const DEFAULT_DAYS: Record<string, number> = { critical: 3, high: 14, medium: 30, low: 90 };

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("findings").addColumn("due_at", "text").execute();
  for (const [severity, days] of Object.entries(DEFAULT_DAYS)) {
    await sql`UPDATE findings SET due_at = strftime('%Y-%m-%dT%H:%M:%fZ', first_detected_at, ${`+${days} days`}) WHERE severity = ${severity}`.execute(db);
  }
  // The overdue filter: open findings by deadline.
  await db.schema.createIndex("findings_status_due").on("findings").columns(["status", "due_at"]).execute();
}
