// An OAuth token refresh is done by one process at a time, across every Patchbay process on the
// database: providers that rotate refresh tokens (GitLab, Bitbucket) refuse the second of two
// refreshes made with the same token. The process that sets the lock refreshes; others wait for it.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("integrations").addColumn("refresh_lock_until", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("integrations").dropColumn("refresh_lock_until").execute();
}
