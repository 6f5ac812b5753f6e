// Where a ticket came from: created by Patchbay, or an existing one linked to findings (by
// hand, or by a CVE in its title). A linked ticket is never rewritten. Links made before
// this migration are found by the change they recorded when they were made.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("tickets")
    .addColumn("origin", "text", (col) => col.notNull().defaultTo("created"))
    .execute();
  await db
    .updateTable("tickets")
    .set({ origin: "linked" })
    .where(
      "id",
      "in",
      db
        .selectFrom("ticket_changes")
        .select("ticket_id")
        .where("action", "=", "linked")
        .where((eb) => eb.or([eb("detail", "like", "Linked by %"), eb("detail", "like", sql<string>`${"%, an existing ticket naming %"}`)])),
    )
    .execute();
}
