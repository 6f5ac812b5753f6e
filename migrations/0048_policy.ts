// Remediation policy as code: which rule's decision a finding carries now (its name), what to
// restore when the rule stops matching (the status and severity it had before), where its
// tickets may go ("none", or one mapping), and whether a person set its current status (a rule
// never overrides or undoes that).
import { type Kysely, PostgresAdapter, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  const text = db.getExecutor().adapter instanceof PostgresAdapter ? sql`text collate "C"` : sql`text`;
  await db.schema.alterTable("findings").addColumn("policy_rule", text).execute();
  await db.schema.alterTable("findings").addColumn("policy_undo", text).execute();
  await db.schema.alterTable("findings").addColumn("policy_push", text).execute();
  await db.schema
    .alterTable("findings")
    .addColumn("person_status", "integer", (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ["person_status", "policy_push", "policy_undo", "policy_rule"]) await db.schema.alterTable("findings").dropColumn(column).execute();
}
