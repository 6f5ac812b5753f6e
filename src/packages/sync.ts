// Job `packages.sync`: the packages a package registry lists for the organisation, with their
// versions, kept in the packages table (what the Packages page shows, and what the dependency
// monitor keeps to itself). Packages no longer listed are removed.
import type { ConnectionSettings } from "../connectors/types.js";
import { loadConnected } from "../integrations/store.js";
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { Db } from "../db/schema.js";
import { type SyncCounts, emptyCounts } from "../findings/import.js";
import { connectionOf } from "../integrations/reused.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import { recordSyncFailure, recordSyncSuccess, startRun } from "../integrations/sync-runs.js";
import type { JobHandler } from "../jobs/worker.js";

export const PACKAGES_JOB = jobKind<{ integrationId: number }>("packages.sync", {
  label: "Package registry sync",
  maxAttempts: 3,
  ...perIntegration("packages.sync"),
});

export function enqueuePackageSync(db: Db, integrationId: number, now: Date): Promise<number> {
  return enqueue(db, PACKAGES_JOB, { integrationId }, now);
}

export function packageSyncHandler(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ job, payload, logger }) => {
    const { db, now } = deps;
    const { integrationId } = payload;
    const found = await loadConnected(db, deps.catalogue, integrationId, "packages");
    if (!found) return;
    const { integration, connector } = found;
    // The scan counts' shape, so the card reads it like a scan: "resolved" = packages no longer listed.
    const counts: SyncCounts = emptyCounts();
    const run = await startRun(db, integration.id, job.id, now());
    let connection: ConnectionSettings | undefined;
    try {
      connection = await connectionOf(deps, connector, integration);
      const listed = await connector.packages.list(connection, connectorContext({ ...deps.env, logger }));
      const ecosystem = connector.packages.ecosystem;
      const stamp = now().toISOString();
      await db.transaction().execute(async (trx) => {
        const existing = new Map(
          (await trx.selectFrom("packages").select(["id", "name", "latest", "versions"]).where("integration_id", "=", integration.id).execute()).map((p) => [
            p.name,
            p,
          ]),
        );
        for (const pkg of listed) {
          counts.fetched++;
          const versions = JSON.stringify(pkg.versions);
          const row = existing.get(pkg.name);
          existing.delete(pkg.name);
          if (!row) {
            await trx
              .insertInto("packages")
              .values({ integration_id: integration.id, ecosystem, name: pkg.name, latest: pkg.latest, versions, updated_at: stamp })
              .execute();
            counts.new++;
          } else if (row.latest !== pkg.latest || row.versions !== versions) {
            await trx.updateTable("packages").set({ latest: pkg.latest, versions, updated_at: stamp }).where("id", "=", row.id).execute();
            counts.updated++;
          } else {
            counts.unchanged++;
          }
        }
        const gone = [...existing.values()].map((p) => p.id);
        if (gone.length) await trx.deleteFrom("packages").where("id", "in", gone).execute();
        counts.resolved = gone.length;
        await recordSyncSuccess(trx, integration.id, run.id, counts, now());
      });
      logger.info("packages listed", { integrationId, ...counts });
    } catch (err) {
      throw await recordSyncFailure(db, integration, run.id, job, err, "Package listing stopped", now(), false, connection);
    }
  };
}
