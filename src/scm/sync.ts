// Job `scm.sync`: lists every repository a source control integration can see (paginated to
// the end) into `repositories`. A repository no longer listed is marked inaccessible, not
// deleted: its findings stay, and the scanners' SCA import skips it from then on.
import { findIntegration } from "../integrations/store.js";
import type { Services } from "../services.js";
import type { RepositoryInfo } from "../connectors/types.js";
import type { Db } from "../db/schema.js";
import { type SyncCounts, emptyCounts } from "../findings/import.js";
import { repositoryUrlKey } from "../findings/repositories.js";
import { connectorContext } from "../connectors/context.js";
import { pacerFor } from "../integrations/pacing.js";
import { enqueueScan } from "../findings/sync.js";
import { connectionFor } from "../integrations/oauth.js";
import { registerWebhooks } from "./webhooks.js";
import { enqueueOwnershipSync } from "../routing/sync.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import { recordSyncFailure, recordSyncSuccess, startRun } from "../jobs/sync-runs.js";
import type { JobHandler } from "../jobs/worker.js";

export const SCM_JOB = jobKind<{ integrationId: number }>("scm.sync", { maxAttempts: 3, ...perIntegration("scm.sync") });

export function enqueueRepositorySync(db: Db, integrationId: number, now: Date): Promise<number> {
  return enqueue(db, SCM_JOB, { integrationId }, now);
}

export function repositorySyncHandler(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ job, payload, logger, progress }) => {
    const { db, now } = deps;
    const { integrationId } = payload;
    const integration = await findIntegration(db, integrationId);
    if (!integration) return;
    const scm = deps.catalogue.get(integration.kind)?.scm;
    if (!scm) throw new Error(`Integration "${integration.name}" is not source control.`);
    // The scan counts' shape, so one card template reads both; "resolved" = no longer accessible.
    const counts: SyncCounts = emptyCounts();
    const run = await startRun(db, integration.id, job.id, now());
    const connector = deps.catalogue.get(integration.kind)!;
    const ctx = connectorContext({ ...deps.env, logger, pacer: await pacerFor(db, connector, integration, logger, deps.env.pace) });
    let session;
    let connection;
    try {
      connection = await connectionFor(deps, connector, integration);
      session = scm.session(connection, ctx);
    } catch (err) {
      throw await recordSyncFailure(db, integration, run.id, job, err, "Repository sync could not start", now(), false);
    }
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const page = await session.listRepositories(cursor);
        pages++;
        const stamp = now().toISOString();
        await db.transaction().execute(async (trx) => {
          for (const repo of page.repositories) {
            seen.add(repo.externalId);
            counts.fetched++;
            counts[await upsertRepository(trx, integration.id, scm.provider, repo, stamp)]++;
          }
          await trx
            .updateTable("sync_runs")
            .set({ pages, counts: JSON.stringify(counts) })
            .where("id", "=", run.id)
            .execute();
        });
        await progress({ done: counts.fetched, total: counts.fetched, message: `page ${pages}` });
        cursor = page.nextCursor;
      } while (cursor);
      await db.transaction().execute(async (trx) => {
        const listed = await trx
          .selectFrom("repositories")
          .select(["id", "external_id"])
          .where("integration_id", "=", integration.id)
          .where("accessible", "=", 1)
          .execute();
        const gone = listed.filter((r) => r.external_id !== null && !seen.has(r.external_id)).map((r) => r.id);
        if (gone.length) {
          await trx.updateTable("repositories").set({ accessible: 0, updated_at: now().toISOString() }).where("id", "in", gone).execute();
        }
        counts.resolved = gone.length;
        await recordSyncSuccess(trx, integration.id, run.id, counts, now());
        // CODEOWNERS are read after every repository sync (unchanged files are not read again).
        await enqueueOwnershipSync(trx, integration.id, now());
        // Scanners that read the repositories themselves follow every repository sync.
        for (const other of await trx.selectFrom("integrations").select(["id", "kind"]).execute()) {
          if (deps.catalogue.get(other.kind)?.scanner?.afterRepositorySync) await enqueueScan(trx, other.id, now());
        }
      });
      logger.info("repositories synced", { integrationId, ...counts });
      const note = await registerWebhooks(db, connector, integration, connection, { ...ctx, logger }, deps.baseUrl, now());
      const fresh = await db.selectFrom("integrations").select("settings").where("id", "=", integration.id).executeTakeFirstOrThrow();
      const settings = JSON.parse(fresh.settings) as Record<string, unknown>;
      if ((settings.webhookNote ?? null) !== note) {
        await db
          .updateTable("integrations")
          .set({ settings: JSON.stringify({ ...settings, webhookNote: note }) })
          .where("id", "=", integration.id)
          .execute();
      }
    } catch (err) {
      throw await recordSyncFailure(db, integration, run.id, job, err, `Repository sync stopped on page ${pages + 1}`, now(), false);
    }
  };
}

async function upsertRepository(
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
