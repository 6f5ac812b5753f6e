// Webhook replays: a delivery's signed body is remembered by its SHA-256, per integration, so
// that the same signed body sent again under a new delivery id is recognised as a duplicate
// (the delivery id is an unsigned header anyone can change). Unique, so that two replicas
// receiving the same delivery at once insert it once.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("webhook_deliveries").addColumn("body_hash", "text").execute();
  await db.schema.createIndex("webhook_deliveries_body_hash").unique().on("webhook_deliveries").columns(["integration_id", "body_hash"]).execute();
}
