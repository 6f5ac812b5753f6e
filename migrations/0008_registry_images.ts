// Container images from registries: the registry integration that lists an image asset, and
// when it stopped listing it (its open findings are then resolved).
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("assets").addColumn("integration_id", "integer").execute();
  await db.schema.alterTable("assets").addColumn("gone_at", "text").execute();
  await db.schema.createIndex("assets_integration").on("assets").column("integration_id").execute();
}
