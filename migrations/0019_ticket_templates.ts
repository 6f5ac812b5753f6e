// Ticket templates: a mapping's own title and description templates (JSON {title, description};
// empty strings keep Patchbay's own).
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("tracker_mappings")
    .addColumn("templates", "text", (c) => c.notNull().defaultTo("{}"))
    .execute();
}
