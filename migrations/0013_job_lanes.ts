// Jobs that talk to one integration share a lane; a worker runs only a few jobs of a lane at
// once, so an integration that hangs or rate-limits cannot take every slot from the others.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("jobs").addColumn("lane", "text").execute();
  // Backfill the jobs waiting now, from the payloads that name their integration.
  await sql`UPDATE jobs SET lane = 'integration:' || json_extract(payload, '$.integrationId') WHERE status IN ('queued', 'running') AND json_valid(payload) AND json_type(payload, '$.integrationId') = 'integer'`.execute(
    db,
  );
  await sql`UPDATE jobs SET lane = 'integration:' || (SELECT integration_id FROM tracker_mappings WHERE tracker_mappings.id = json_extract(jobs.payload, '$.mappingId')) WHERE status IN ('queued', 'running') AND type = 'ticket.push' AND json_valid(payload)`.execute(
    db,
  );
  await db.schema.createIndex("jobs_running_lane").on("jobs").columns(["status", "lane"]).execute();
}
