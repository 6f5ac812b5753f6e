// Assembles a running Patchbay from its configuration: database, vault, connectors,
// web app, job worker and schedules. Used by the server, the demo and the tests.
import { Eta } from "eta";
import type { Hono } from "hono";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import { type ConnectorRegistry, defaultRegistry } from "./connectors/registry.js";
import { openDatabase, type OpenDatabase } from "./db/database.js";
import type { HttpClientOptions } from "./http.js";
import type { PaceClock } from "./connectors/context.js";
import { SCAN_JOB, scannerSyncHandler } from "./findings/sync.js";
import { SCM_JOB, repositorySyncHandler } from "./scm/sync.js";
import { WEBHOOK_JOB, webhookProcessHandler } from "./remediation/process.js";
import { POLL_DUE_JOB, POLL_JOB, pollDueHandler, pollHandler, RECONCILE_JOB, reconcileHandler } from "./tickets/reconcile.js";
import { LINK_JOB, linkByCveHandler } from "./tickets/link.js";
import { RECOMPUTE_DUE_JOB, recomputeDueHandler, SLA_REMINDER_JOB, slaReminderHandler } from "./findings/sla.js";
import { SNAPSHOT_JOB, snapshotHandler } from "./findings/trends.js";
import { HEALTH_JOB, healthHandler } from "./health/integrations.js";
import { integrationCheckHandler } from "./integrations/service.js";
import { maintenanceHandler, startSchedules } from "./schedules.js";
import { type JobHandler, Worker } from "./jobs/worker.js";
import type { Logger } from "./log.js";
import { VIEWS_DIR } from "./paths.js";
import type { AppEnv } from "./web/context.js";
import { openVault, type Vault } from "./vault.js";
import { ANNOTATE_JOB, PUSH_JOB, pushHandler } from "./tickets/push.js";
import { BATCH_JOB, batchHandler } from "./tickets/batch.js";
import { SWEEP_JOB, sweepHandler } from "./tickets/sweep.js";
import { annotateHandler } from "./remediation/annotate-job.js";
import { DISPATCH_JOB } from "./jobs/events.js";
import { SEND_JOB, dispatchHandler, sendHandler } from "./notifications/dispatch.js";
import { REGISTRY_JOB, registrySyncHandler } from "./registries/sync.js";
import { PACKAGES_JOB, packageSyncHandler } from "./packages/sync.js";
import { OWNERSHIP_JOB, ownershipSyncHandler } from "./routing/sync.js";
import { UPLOAD_RESUME_JOB, recoverUploads, uploadResumeHandler } from "./uploads/import.js";
import { storageProblem } from "./db/storage.js";
import { outboundFetch } from "./outbound.js";

export interface RuntimeOptions {
  now?: () => Date;
  registry?: ConnectorRegistry;
  http?: Partial<HttpClientOptions>;
  /** The clock outbound pacing waits by (tests pass theirs), or false for none. */
  pace?: PaceClock | false;
  /** Start the job worker and cron schedules (off in tests that drive jobs by hand). */
  background?: boolean;
}

export interface Runtime {
  app: Hono<AppEnv>;
  database: OpenDatabase;
  vault: Vault;
  worker: Worker;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  const now = options.now ?? (() => new Date());
  // Slow queries are logged: a page or job that blocks the process shows in the logs.
  const database = await openDatabase(config.databasePath, (sqlText, ms) => logger.warn("slow query", { ms, sql: sqlText.slice(0, 500) }));
  let vault: Vault;
  try {
    vault = await openVault(database.db, config);
  } catch (err) {
    await database.close();
    throw err;
  }
  const registry = options.registry ?? defaultRegistry();
  const outbound = outboundFetch(config.proxy, config.outboundDenyPrivate);
  const connectorEnv = { logger, originMap: config.originMap, proxy: config.proxy, pace: options.pace, http: { ...(outbound ? { fetch: outbound } : {}), ...options.http } };
  const db = database.db;

  const pushDeps = { db, vault, registry, env: connectorEnv, now, baseUrl: config.baseUrl };
  const handlers = new Map<string, JobHandler>([
    ["maintenance.prune", maintenanceHandler(db, now)],
    ["integration.check", integrationCheckHandler({ db, vault, registry, env: connectorEnv, now })],
    [SCAN_JOB, scannerSyncHandler({ db, vault, registry, env: connectorEnv, now })],
    [SCM_JOB, repositorySyncHandler({ db, vault, registry, env: connectorEnv, now, baseUrl: config.baseUrl })],
    [WEBHOOK_JOB, webhookProcessHandler({ db, vault, registry, env: connectorEnv, now })],
    [PUSH_JOB, pushHandler(pushDeps)],
    [RECONCILE_JOB, reconcileHandler(pushDeps)],
    [POLL_JOB, pollHandler(pushDeps)],
    [POLL_DUE_JOB, pollDueHandler(pushDeps)],
    [RECOMPUTE_DUE_JOB, recomputeDueHandler({ db })],
    [SLA_REMINDER_JOB, slaReminderHandler({ db, now })],
    [SNAPSHOT_JOB, snapshotHandler({ db, now })],
    [HEALTH_JOB, healthHandler(pushDeps)],
    [LINK_JOB, linkByCveHandler(pushDeps)],
    [BATCH_JOB, batchHandler(pushDeps)],
    [SWEEP_JOB, sweepHandler({ db, now, notifyWorker: () => worker.notify() })],
    [ANNOTATE_JOB, annotateHandler({ db, vault, registry, env: connectorEnv, now })],
    [DISPATCH_JOB, dispatchHandler({ ...pushDeps, notifyWorker: () => worker.notify() })],
    [SEND_JOB, sendHandler(pushDeps)],
    [REGISTRY_JOB, registrySyncHandler({ db, vault, registry, env: connectorEnv, now })],
    [PACKAGES_JOB, packageSyncHandler({ db, vault, registry, env: connectorEnv, now })],
    [OWNERSHIP_JOB, ownershipSyncHandler({ db, vault, registry, env: connectorEnv, now })],
    [UPLOAD_RESUME_JOB, uploadResumeHandler({ db, vault, registry, env: connectorEnv, now, spoolDir: config.spoolDir })],
  ]);
  // Uploads a stopped process left behind: resumed from a complete spool, or marked interrupted.
  const recovered = await recoverUploads({ db, vault, registry, env: connectorEnv, now, spoolDir: config.spoolDir });
  if (recovered.resumed || recovered.interrupted) logger.info("uploads recovered", recovered);
  const worker = new Worker({ db, handlers, logger: logger.child({ component: "worker" }), now, leaseMs: config.jobLeaseSeconds * 1000 });

  const views = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true, autoTrim: false });
  const app = createApp({
    db,
    vault,
    registry,
    logger,
    views,
    baseUrl: config.baseUrl,
    baseUrlSet: config.baseUrlSet,
    trustedProxies: config.trustedProxies,
    spoolDir: config.spoolDir,
    storageProblem: () => storageProblem(database.sqlite, config.dataDir),
    connectorEnv,
    now,
    notifyWorker: () => worker.notify(),
  });

  let schedules: { stop(): void } | undefined;
  if (options.background !== false) {
    worker.start();
    schedules = startSchedules(db, registry, logger, now, () => worker.notify());
  }

  return {
    app,
    database,
    vault,
    worker,
    async close() {
      schedules?.stop();
      await worker.stop();
      await database.close();
    },
  };
}
