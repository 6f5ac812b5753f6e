// The progress a job had when it was last claimed: a job whose process stopped after it made
// progress (a scan that committed pages) is picked up again without using up an attempt.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("jobs").addColumn("claimed_progress", "text").execute();
}
