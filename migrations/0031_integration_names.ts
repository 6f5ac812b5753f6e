// A connection's name tells it apart everywhere (cards, dialogs, prompts, notifications,
// configuration as code): names become unique, ignoring case, and a renamed connection keeps
// its former names so configuration documents written before the rename still find it.
// Existing duplicates (two "Wiz us1") keep the first; the others get their id appended.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("integrations")
    .addColumn("former_names", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
  const rows = await db.selectFrom("integrations").select(["id", "name"]).orderBy("id").execute();
  const seen = new Set<string>();
  for (const row of rows as { id: number; name: string }[]) {
    const key = row.name.toLowerCase();
    if (seen.has(key)) {
      const name = `${row.name} (${row.id})`;
      await db.updateTable("integrations").set({ name }).where("id", "=", row.id).execute();
      seen.add(name.toLowerCase());
    } else seen.add(key);
  }
  await sql`CREATE UNIQUE INDEX integrations_name_unique ON integrations (lower(name))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX integrations_name_unique`.execute(db);
  await db.schema.alterTable("integrations").dropColumn("former_names").execute();
}
