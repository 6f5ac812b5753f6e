// The repositories table, as the Repositories page reads it.
import type { RepositoryInfo } from "../connectors/types.js";
import type { Db, Repository } from "../db/schema.js";
import { repositoryUrlKey } from "../findings/repositories.js";
import { contains } from "../db/search.js";

export interface RepositoryFilter {
  /** Part of the full name. */
  q: string;
  integrationId?: number;
  /** Include repositories the integration can no longer reach. */
  showGone: boolean;
  /** The page starts after this full name. */
  after: string;
  limit: number;
}

/** Repositories by full name, a page of them, with the name of the integration that lists each. */
export function listRepositories(db: Db, filter: RepositoryFilter) {
  let query = db
    .selectFrom("repositories")
    .leftJoin("integrations", "integrations.id", "repositories.integration_id")
    .selectAll("repositories")
    .select("integrations.name as integration_name")
    .orderBy("repositories.full_name")
    .limit(filter.limit);
  if (filter.q) query = query.where(contains("repositories.full_name", filter.q));
  if (filter.integrationId) query = query.where("repositories.integration_id", "=", filter.integrationId);
  if (!filter.showGone) query = query.where("repositories.accessible", "=", 1);
  if (filter.after) query = query.where("repositories.full_name", ">", filter.after);
  return query.execute();
}

/** The integrations that list at least one repository, by name: the page's filter. */
export function integrationsWithRepositories(db: Db): Promise<{ id: number; name: string }[]> {
  return db
    .selectFrom("integrations")
    .select(["integrations.id", "integrations.name"])
    .where((eb) => eb.exists(eb.selectFrom("repositories").select("repositories.id").whereRef("repositories.integration_id", "=", "integrations.id")))
    .orderBy("integrations.name")
    .execute();
}

/** One repository with the name of the integration that lists it. */
export function findRepository(db: Db, id: number) {
  return db
    .selectFrom("repositories")
    .leftJoin("integrations", "integrations.id", "repositories.integration_id")
    .selectAll("repositories")
    .select("integrations.name as integration_name")
    .where("repositories.id", "=", id)
    .executeTakeFirst();
}

/** How many of an integration's reachable repositories have Patchbay's webhook registered. */
export async function webhookCoverage(db: Db, integrationId: number): Promise<{ all: number; done: number }> {
  const row = await db
    .selectFrom("repositories")
    .select([(eb) => eb.fn.countAll<number>().as("all"), (eb) => eb.fn.count<number>("webhook_registered_at").as("done")])
    .where("integration_id", "=", integrationId)
    .where("accessible", "=", 1)
    .executeTakeFirstOrThrow();
  return { all: Number(row.all), done: Number(row.done) };
}

/** Every repository id: what an assignment's repository list is checked against. */
export async function repositoryIdSet(db: Db): Promise<Set<number>> {
  return new Set((await db.selectFrom("repositories").select("id").execute()).map((r) => r.id));
}

/** Reachable repositories by name, for pickers (at most `limit`). */
export function reachableRepositories(db: Db, limit: number): Promise<{ id: number; full_name: string }[]> {
  return db.selectFrom("repositories").select(["id", "full_name"]).where("accessible", "=", 1).orderBy("full_name").limit(limit).execute();
}

/** The repository an integration lists under the service's own id for it. */
export function repositoryByExternalId(db: Db, integrationId: number, externalId: string): Promise<{ id: number } | undefined> {
  return db.selectFrom("repositories").select("id").where("integration_id", "=", integrationId).where("external_id", "=", externalId).executeTakeFirst();
}

/** Records a repository as source control lists it now: new, updated (something changed) or unchanged (seen again). */
export async function upsertRepository(
  db: Db,
  integrationId: number,
  provider: string,
  repo: RepositoryInfo,
  stamp: string,
): Promise<"new" | "updated" | "unchanged"> {
  const values = {
    full_name: repo.fullName,
    url: repo.url,
    url_key: repositoryUrlKey(repo.url) ?? null,
    default_branch: repo.defaultBranch,
    visibility: repo.visibility,
    archived: repo.archived ? 1 : 0,
    accessible: 1,
    topics: repo.topics?.length ? JSON.stringify([...new Set(repo.topics.map((t) => t.toLowerCase()))].sort()) : null,
  };
  const existing = await db
    .selectFrom("repositories")
    .selectAll()
    .where("integration_id", "=", integrationId)
    .where("external_id", "=", repo.externalId)
    .executeTakeFirst();
  if (!existing) {
    await db
      .insertInto("repositories")
      .values({ integration_id: integrationId, provider, external_id: repo.externalId, ...values, last_seen_at: stamp, created_at: stamp, updated_at: stamp })
      .execute();
    return "new";
  }
  const changed = (Object.keys(values) as (keyof typeof values)[]).some((k) => existing[k] !== values[k]);
  await db
    .updateTable("repositories")
    .set({ ...values, last_seen_at: stamp, ...(changed ? { updated_at: stamp } : {}) })
    .where("id", "=", existing.id)
    .execute();
  return changed ? "updated" : "unchanged";
}

/** Marks the integration's reachable repositories it no longer lists as inaccessible (kept with their findings); gives how many. */
export async function markUnlisted(db: Db, integrationId: number, listed: Set<string>, now: Date): Promise<number> {
  const rows = await db
    .selectFrom("repositories")
    .select(["id", "external_id"])
    .where("integration_id", "=", integrationId)
    .where("accessible", "=", 1)
    .execute();
  const gone = rows.filter((r) => r.external_id !== null && !listed.has(r.external_id)).map((r) => r.id);
  if (gone.length) await db.updateTable("repositories").set({ accessible: 0, updated_at: now.toISOString() }).where("id", "in", gone).execute();
  return gone.length;
}

/** A repository known without a source-control listing (a scanner's, or a test's). */
export async function addRepository(
  db: Db,
  input: { integrationId: number | null; provider: string; fullName: string; url?: string; externalId?: string },
  now: Date,
): Promise<Repository> {
  const stamp = now.toISOString();
  return db
    .insertInto("repositories")
    .values({
      integration_id: input.integrationId,
      provider: input.provider,
      full_name: input.fullName,
      url: input.url ?? null,
      url_key: input.url ? (repositoryUrlKey(input.url) ?? null) : null,
      external_id: input.externalId ?? null,
      default_branch: null,
      visibility: null,
      last_seen_at: stamp,
      created_at: stamp,
      updated_at: stamp,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Patchbay's webhook is on this repository now (a stamp), or gone from it (null). */
export async function setWebhookRegistered(db: Db, repositoryId: number, at: Date | null): Promise<void> {
  await db
    .updateTable("repositories")
    .set({ webhook_registered_at: at ? at.toISOString() : null })
    .where("id", "=", repositoryId)
    .execute();
}
