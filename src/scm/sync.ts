// Job `scm.sync`: lists every repository a source control integration can see (paginated to
// the end) into `repositories`. A repository no longer listed is marked inaccessible, not
// deleted: its findings stay, and the scanners' SCA import skips it from then on.
import { markUnlisted, upsertRepository } from "./store.js";
import { findIntegration, listConnected, mergeIntegrationSettings } from "../integrations/store.js";
import type { Services } from "../services.js";
import type { Db } from "../db/schema.js";
import { type SyncCounts, emptyCounts } from "../findings/import.js";
import { connectorContext } from "../connectors/context.js";
import { pacerFor } from "../integrations/pacing.js";
import { enqueueScan } from "../findings/sync.js";
import { connectionFor } from "../integrations/oauth.js";
import { registerWebhooks } from "./webhooks.js";
import { enqueueOwnershipSync } from "../routing/sync.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import { recordSyncFailure, recordSyncSuccess, startRun, recordSyncProgress } from "../integrations/sync-runs.js";
import type { JobHandler } from "../jobs/worker.js";

export const SCM_JOB = jobKind<{ integrationId: number }>("scm.sync", { label: "Repository sync", maxAttempts: 3, ...perIntegration("scm.sync") });

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
          await recordSyncProgress(trx, run.id, { pages, counts });
        });
        await progress({ done: counts.fetched, total: counts.fetched, message: `page ${pages}` });
        cursor = page.nextCursor;
      } while (cursor);
      await db.transaction().execute(async (trx) => {
        counts.resolved = await markUnlisted(trx, integration.id, seen, now());
        await recordSyncSuccess(trx, integration.id, run.id, counts, now());
        // CODEOWNERS are read after every repository sync (unchanged files are not read again).
        await enqueueOwnershipSync(trx, integration.id, now());
        // Scanners that read the repositories themselves follow every repository sync.
        for (const scanner of await listConnected(trx, deps.catalogue, "scanner")) {
          if (scanner.connector.scanner.afterRepositorySync) await enqueueScan(trx, scanner.integration.id, now());
        }
      });
      logger.info("repositories synced", { integrationId, ...counts });
      const note = await registerWebhooks(db, connector, integration, connection, { ...ctx, logger }, deps.baseUrl, now());
      await mergeIntegrationSettings(db, integration.id, { webhookNote: note });
    } catch (err) {
      throw await recordSyncFailure(db, integration, run.id, job, err, `Repository sync stopped on page ${pages + 1}`, now(), false, connection);
    }
  };
}
