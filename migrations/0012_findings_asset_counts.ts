// Open findings by severity per asset (the Images and Repositories pages) read from an index
// alone: asset, status and severity rank together.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("findings_asset_status_rank").on("findings").columns(["asset_id", "status", "severity_rank"]).execute();
}
