// Job `registry.sync`: the images a container registry lists — each repository's tags resolved
// to manifest digests — as container image assets keyed by digest ("image:sha256:…", the key
// scanners' container findings use), named <host>/<repository>:<tag>, linked to their source
// repository by the org.opencontainers.image.source label. Images the registry no longer lists
// are marked gone and their open findings resolved.
import { loadConnected } from "../integrations/store.js";
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { ConnectionSettings, RegistryImage } from "../connectors/types.js";
import type { Db } from "../db/schema.js";
import { type SyncCounts, emptyCounts } from "../findings/import.js";
import { loadRepositoryIndex } from "../findings/repositories.js";
import { connectionOf } from "../integrations/reused.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import { recordSyncFailure, recordSyncSuccess, startRun } from "../integrations/sync-runs.js";
import type { JobHandler } from "../jobs/worker.js";
import { moveFindings } from "../findings/status.js";
import { markImagesGone, saveImageAsset } from "../findings/store.js";
import { requestTicketSweep } from "../tickets/sweep.js";

export const REGISTRY_JOB = jobKind<{ integrationId: number }>("registry.sync", { label: "Image sync", maxAttempts: 3, ...perIntegration("registry.sync") });
export const SOURCE_LABEL = "org.opencontainers.image.source";

export function enqueueRegistrySync(db: Db, integrationId: number, now: Date): Promise<number> {
  return enqueue(db, REGISTRY_JOB, { integrationId }, now);
}

export function registrySyncHandler(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ job, payload, logger, progress }) => {
    const { db, now } = deps;
    const { integrationId } = payload;
    const found = await loadConnected(db, deps.catalogue, integrationId, "registry");
    if (!found) return;
    const { integration, connector } = found;
    // The scan counts' shape, so the card reads it like a scan: "resolved" = images gone.
    const counts: SyncCounts = emptyCounts();
    const run = await startRun(db, integration.id, job.id, now());
    let where = "Image sync could not start";
    let connection: ConnectionSettings | undefined;
    try {
      connection = await connectionOf(deps, connector, integration);
      const host = connector.registry.host(connection.settings);
      const session = connector.registry.session(connection, connectorContext({ ...deps.env, logger }));
      const repositories = await session.repositories();
      const repoIndex = await loadRepositoryIndex(db);
      const seen = new Map<string, { image: RegistryImage; tags: string[] }>();
      for (const [n, repository] of repositories.entries()) {
        where = `Image sync stopped at ${repository}`;
        for (const tag of await session.tags(repository)) {
          const image = await session.image(repository, tag);
          const key = `image:${image.digest}`;
          const entry = seen.get(key);
          if (entry) entry.tags.push(`${repository}:${tag}`);
          else seen.set(key, { image, tags: [`${repository}:${tag}`] });
          counts.fetched++;
        }
        await progress({ done: n + 1, total: repositories.length, message: `${counts.fetched} images` });
      }
      where = "Image sync could not save the inventory";
      const stamp = now().toISOString();
      await db.transaction().execute(async (trx) => {
        for (const [key, { image, tags }] of seen) {
          const source = image.labels[SOURCE_LABEL];
          const repo = source ? repoIndex.match({ name: source, url: source }) : undefined;
          const values = {
            name: `${host}/${image.repository}:${tags[0]!.split(":").slice(1).join(":")}`,
            repository_id: repo?.id ?? null,
            integration_id: integration.id,
            details: JSON.stringify({
              registry: host,
              repository: image.repository,
              digest: image.digest,
              tags,
              labels: image.labels,
              created: image.created,
              source: source ?? null,
            }),
          };
          counts[await saveImageAsset(trx, key, values, stamp)]++;
        }
        // Listed before, not now: gone, and their open findings resolved.
        const gone = await markImagesGone(trx, integration.id, new Set(seen.keys()), stamp);
        if (gone.length) {
          counts.resolved += await resolveOnGoneImages(trx, gone, `registry: ${integration.name}`, stamp);
          if (counts.resolved) await requestTicketSweep(trx, now());
        }
        await recordSyncSuccess(trx, integration.id, run.id, counts, now());
      });
      logger.info("registry synced", { integrationId, ...counts });
    } catch (err) {
      throw await recordSyncFailure(db, integration, run.id, job, err, where, now(), false, connection);
    }
  };
}

/** The image is gone: its open findings are resolved, whatever a scanner last said of them. */
async function resolveOnGoneImages(db: Db, assetIds: number[], actor: string, stamp: string): Promise<number> {
  const open = await db
    .selectFrom("findings")
    .select(["id", "status"])
    .where("asset_id", "in", assetIds)
    .where("status", "in", ["open", "in_remediation"])
    .execute();
  if (open.length === 0) return 0;
  await moveFindings(db, open, { to: "resolved", actor, note: "The image is no longer in the registry" }, stamp);
  return open.length;
}
