// Assembles a running Patchbay from its configuration: database, vault, connectors,
// web app, job worker and schedules. Used by the server, the demo and the tests.
import type { Services } from "./services.js";
import { HELPERS_HEADER, helpers, serviceLinks } from "./web/format.js";
import { startFirstSync } from "./sync-kinds.js";
import { Eta } from "eta";
import type { Hono } from "hono";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import { type ConnectorCatalogue, defaultCatalogue } from "./connectors/catalogue.js";
import { openDatabase, type OpenDatabase } from "./db/database.js";
import type { HttpClientOptions } from "./http.js";
import { connectorEnvironment, type PaceClock } from "./connectors/context.js";
import { SCAN_JOB, scannerSyncHandler } from "./findings/sync.js";
import { ScanThreads } from "./findings/scan-threads.js";
import { WriterLock } from "./db/writer-lock.js";
import { SCM_JOB, repositorySyncHandler } from "./scm/sync.js";
import { WEBHOOK_JOB } from "./remediation/deliveries.js";
import { webhookProcessHandler } from "./remediation/process.js";
import { POLL_DUE_JOB, POLL_JOB, pollDueHandler, pollHandler, RECONCILE_JOB, reconcileHandler } from "./tickets/reconcile.js";
import { LINK_JOB, linkByCveHandler } from "./tickets/link.js";
import { SLA_REMINDER_JOB, slaReminderHandler } from "./findings/sla.js";
import { SNAPSHOT_JOB, snapshotHandler } from "./findings/trends.js";
import { HEALTH_JOB, healthHandler } from "./health/integrations.js";
import { CHECK_JOB, integrationCheckHandler } from "./integrations/service.js";
import { BACKUP_JOB, backupHandler, MAINTENANCE_JOB, maintenanceHandler, startSchedules } from "./schedules.js";
import { handles, type JobHandler, Worker } from "./jobs/worker.js";
import type { Logger } from "./log.js";
import { VIEWS_DIR } from "./paths.js";
import type { AppEnv } from "./web/context.js";
import { openVault, type Vault } from "./vault.js";
import { ANNOTATE_JOB, PUSH_JOB, pushHandler } from "./tickets/push.js";
import { BATCH_JOB, batchHandler } from "./tickets/batch.js";
import { SWEEP_JOB, sweepHandler } from "./tickets/sweep.js";
import { annotateHandler } from "./remediation/annotate-job.js";
import { OPEN_FIX_JOB, openFixHandler } from "./remediation/open-fix.js";
import { FIX_SWEEP_JOB, fixSweepHandler } from "./remediation/sweep.js";
import { FEED_JOB, feedHandler } from "./exploitation/feeds.js";
import { RESCORE_JOB, rescoreHandler } from "./exploitation/risk.js";
import {
  POLICY_DRY_RUN_JOB,
  policyDryRunHandler,
  RECOMPUTE_DUE_JOB,
  recomputeDueHandler,
  SLA_PREVIEW_JOB,
  slaPreviewHandler,
} from "./exploitation/previews.js";
import { DISPATCH_JOB } from "./jobs/events.js";
import { SEND_JOB, dispatchHandler, sendHandler } from "./notifications/dispatch.js";
import { REGISTRY_JOB, registrySyncHandler } from "./registries/sync.js";
import { PACKAGES_JOB, packageSyncHandler } from "./packages/sync.js";
import { OWNERSHIP_JOB, ownershipSyncHandler } from "./routing/sync.js";
import { UPLOAD_RESUME_JOB, recoverUploads, spoolOwner, uploadResumeHandler } from "./uploads/import.js";
import { storageProblem } from "./db/storage.js";
import { openPostgres, postgresMaintenanceWarnings } from "./db/postgres.js";
import { MOVED_MARKER } from "./db/migrate-to-postgres.js";
import { readMeta } from "./db/meta.js";

export interface RuntimeOptions {
  now?: () => Date;
  catalogue?: ConnectorCatalogue;
  http?: Partial<HttpClientOptions>;
  /** The clock outbound pacing waits by (tests pass theirs), or false for none. */
  pace?: PaceClock | false;
  /** Start the job worker and cron schedules (off in tests that drive jobs by hand). */
  background?: boolean;
  /**
   * Run scans in threads of their own (scan-threads.ts; the server does). Not with an in-memory
   * database, which another thread cannot open; `script` names a built scan thread (tests).
   */
  scanThreads?: boolean | { script: string };
}

export interface Runtime {
  app: Hono<AppEnv>;
  /** What jobs and routes are given (tests call engines with it). */
  services: Services;
  /** SQLite (with its handle, for backups and the storage check), or PostgreSQL (DATABASE_URL). */
  database: Pick<OpenDatabase, "db" | "close"> & { sqlite?: OpenDatabase["sqlite"] };
  vault: Vault;
  worker: Worker;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  const now = options.now ?? (() => new Date());
  // Slow queries are logged: a page or job that blocks the process shows in the logs.
  const slowQuery = (sqlText: string, ms: number) => logger.warn("slow query", { ms, sql: sqlText.slice(0, 500) });
  const threaded = Boolean(options.scanThreads) && (config.databaseUrl !== undefined || config.databasePath !== ":memory:");
  // SQLite: the writer's turn the main thread shares with scan threads, waited for without blocking.
  const writerLock = threaded && !config.databaseUrl ? new WriterLock() : undefined;
  const database: Runtime["database"] = config.databaseUrl
    ? await openPostgres(config.databaseUrl, undefined, slowQuery)
    : await openDatabase(config.databasePath, slowQuery, { lock: writerLock });
  let vault: Vault;
  try {
    vault = await openVault(database.db, config);
  } catch (err) {
    await database.close();
    throw err;
  }
  if (config.databaseUrl) {
    for (const warning of await postgresMaintenanceWarnings(database.db).catch(() => [])) logger.warn(warning);
  } else {
    const moved = await readMeta(database.db, MOVED_MARKER);
    if (moved) {
      const { at, to } = JSON.parse(moved) as { at: string; to: string };
      logger.warn(
        `This SQLite database was copied to PostgreSQL (${to}) on ${at} by migrate-to-postgres --final. Changes made here are not in PostgreSQL: set DATABASE_URL to run on PostgreSQL.`,
      );
    }
  }
  const catalogue = options.catalogue ?? defaultCatalogue();
  const connectorEnv = connectorEnvironment(config, logger, options);
  const db = database.db;

  // One set of services for every job and route; the worker is woken through it once it exists.
  let worker: Worker | undefined;
  const services: Services = {
    db,
    vault,
    catalogue,
    env: connectorEnv,
    logger,
    now,
    baseUrl: config.baseUrl,
    spoolDir: config.spoolDir,
    notifyWorker: () => worker?.notify(),
    firstSync: startFirstSync,
    scanThreads: threaded
      ? new ScanThreads({
          settings: config,
          lock: writerLock,
          notify: () => worker?.notify(),
          script: typeof options.scanThreads === "object" ? options.scanThreads.script : undefined,
        })
      : undefined,
  };
  const handlers = new Map<string, JobHandler>([
    handles(MAINTENANCE_JOB, maintenanceHandler(db, now, config.auditRetentionDays)),
    // PostgreSQL is backed up where it runs (pg_dump, the provider's snapshots); the job then has nothing to do.
    handles(BACKUP_JOB, backupHandler(config.databaseUrl ? ":memory:" : config.databasePath, config.backupKeep, now)),
    handles(CHECK_JOB, integrationCheckHandler(services)),
    handles(SCAN_JOB, scannerSyncHandler(services)),
    handles(SCM_JOB, repositorySyncHandler(services)),
    handles(WEBHOOK_JOB, webhookProcessHandler(services)),
    handles(PUSH_JOB, pushHandler(services)),
    handles(RECONCILE_JOB, reconcileHandler(services)),
    handles(POLL_JOB, pollHandler(services)),
    handles(POLL_DUE_JOB, pollDueHandler(services)),
    handles(RECOMPUTE_DUE_JOB, recomputeDueHandler(services)),
    handles(SLA_REMINDER_JOB, slaReminderHandler(services)),
    handles(SNAPSHOT_JOB, snapshotHandler(services)),
    handles(HEALTH_JOB, healthHandler(services)),
    handles(LINK_JOB, linkByCveHandler(services)),
    handles(BATCH_JOB, batchHandler(services)),
    handles(SWEEP_JOB, sweepHandler(services)),
    handles(ANNOTATE_JOB, annotateHandler(services)),
    handles(OPEN_FIX_JOB, openFixHandler(services)),
    handles(FIX_SWEEP_JOB, fixSweepHandler(services)),
    handles(FEED_JOB, feedHandler(services)),
    handles(RESCORE_JOB, rescoreHandler(services)),
    handles(SLA_PREVIEW_JOB, slaPreviewHandler(services)),
    handles(POLICY_DRY_RUN_JOB, policyDryRunHandler(services)),
    handles(DISPATCH_JOB, dispatchHandler(services)),
    handles(SEND_JOB, sendHandler(services)),
    handles(REGISTRY_JOB, registrySyncHandler(services)),
    handles(PACKAGES_JOB, packageSyncHandler(services)),
    handles(OWNERSHIP_JOB, ownershipSyncHandler(services)),
    handles(UPLOAD_RESUME_JOB, uploadResumeHandler(services)),
  ]);
  // Uploads a stopped process left behind: resumed from a complete spool, or marked interrupted.
  const recovered = await recoverUploads(services);
  if (recovered.resumed || recovered.interrupted) logger.info("uploads recovered", recovered);
  worker = new Worker({
    db,
    handlers,
    logger: logger.child({ component: "worker" }),
    now,
    leaseMs: config.jobLeaseSeconds * 1000,
    pin: spoolOwner(config.spoolDir),
  });

  // Views escape by default and get the page helpers (dates, counts, plurals) by name.
  const views = new Eta({
    views: VIEWS_DIR,
    cache: true,
    autoEscape: true,
    autoTrim: false,
    functionHeader: HELPERS_HEADER,
    helpers: { ...helpers, serviceLink: serviceLinks(config.originMap) },
  } as ConstructorParameters<typeof Eta>[0]);
  const app = createApp({
    ...services,
    views,
    baseUrlSet: config.baseUrlSet,
    trustedProxies: config.trustedProxies,
    metricsToken: config.metricsToken,
    auditRetentionDays: config.auditRetentionDays,
    viewReuseMs: config.viewReuseMs,
    signIn: config.signIn,
    authProxy: config.authProxyHeader
      ? { header: config.authProxyHeader, groupsHeader: config.authProxyGroupsHeader, adminGroup: config.authProxyAdminGroup }
      : undefined,
    storageProblem: () => (database.sqlite ? storageProblem(database.sqlite, config.dataDir) : undefined),
  });

  let schedules: { stop(): void } | undefined;
  if (options.background !== false) {
    worker.start();
    schedules = startSchedules(db, catalogue, logger, now, () => worker!.notify());
  }

  return {
    app,
    services,
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
