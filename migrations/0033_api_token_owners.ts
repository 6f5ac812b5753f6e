// API tokens act for the person who created them, with the scopes chosen then (read, write,
// upload, admin) and an optional end date. Tokens made before this carry their creator's name;
// the owner is found by it (a token whose creator is gone keeps its upload scope only).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("api_tokens").addColumn("user_id", "integer").execute();
  await db.schema.alterTable("api_tokens").addColumn("expires_at", "text").execute();
  await sql`update api_tokens set user_id = (select users.id from users where users.username = api_tokens.created_by)`.execute(db);
  await db.schema.createIndex("api_tokens_user").on("api_tokens").column("user_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("api_tokens_user").execute();
  await db.schema.alterTable("api_tokens").dropColumn("expires_at").execute();
  await db.schema.alterTable("api_tokens").dropColumn("user_id").execute();
}
