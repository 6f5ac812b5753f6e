// Ticket grouping by owner: each repository's owning team (the first owner of its root files in
// CODEOWNERS), stored beside the parsed file so a group's findings are one indexed query away.
import { type Kysely, PostgresAdapter, sql } from "kysely";
import { type Codeowners, ownersOf } from "../src/routing/codeowners.js";

export async function up(db: Kysely<any>): Promise<void> {
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  await db.schema.alterTable("repositories").addColumn("owner", text).execute();
  const rows = (await db.selectFrom("repositories").select(["id", "codeowners"]).where("codeowners", "is not", null).execute()) as {
    id: number;
    codeowners: string;
  }[];
  for (const row of rows) {
    const owner = ownersOf(JSON.parse(row.codeowners) as Codeowners, null)[0] ?? null;
    if (owner) await db.updateTable("repositories").set({ owner }).where("id", "=", row.id).execute();
  }
  await db.schema.createIndex("repositories_owner").on("repositories").column("owner").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("repositories_owner").execute();
  await db.schema.alterTable("repositories").dropColumn("owner").execute();
}
