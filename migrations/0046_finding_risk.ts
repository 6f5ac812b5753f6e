// Each finding's risk score (0–100; -1 until first scored), stored so the Vulnerabilities table
// sorts by it from an index: computed by the rescore job (src/exploitation/risk.ts) from the
// same function the finding's page explains it with.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("findings")
    .addColumn("risk", "integer", (col) => col.notNull().defaultTo(-1))
    .execute();
  await db.schema.createIndex("findings_risk").on("findings").columns(["risk", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("findings_risk").execute();
  await db.schema.alterTable("findings").dropColumn("risk").execute();
}
