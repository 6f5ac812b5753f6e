// Single sign-on with OpenID Connect: a user signed in by the provider is known by the issuer and
// subject (names can change; this cannot), and each sign-in in progress keeps its state, nonce and
// PKCE verifier here until the provider sends the browser back (any replica may receive it).
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("external_id", "text").execute();
  await db.schema.createIndex("users_external_id").unique().on("users").column("external_id").execute();
  await db.schema
    .createTable("oidc_states")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("nonce", "text", (c) => c.notNull())
    .addColumn("verifier", "text", (c) => c.notNull())
    .addColumn("next", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("oidc_states").execute();
  await db.schema.dropIndex("users_external_id").execute();
  await db.schema.alterTable("users").dropColumn("external_id").execute();
}
