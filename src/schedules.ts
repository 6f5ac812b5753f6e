// Recurring work. A cron callback only enqueues a job (deduplicated by key), so every
// run is durable, retried, and visible on the jobs page like any other job.
import { pruneAudit } from "./audit/store.js";
import { claimTick, pruneTicks } from "./jobs/ticks.js";
import { giveUpAbandonedUploads } from "./uploads/import.js";
import fs from "node:fs";
import path from "node:path";
import { Cron } from "croner";
import { backupDatabase, backupName, pruneBackups } from "./db/backups.js";
import { deleteExpiredSessions } from "./auth/sessions.js";
import { deleteOldAttempts } from "./auth/rate-limit.js";
import type { ConnectorCatalogue } from "./connectors/catalogue.js";
import type { Db } from "./db/schema.js";
import { expireRiskAcceptances } from "./findings/status.js";
import { SLA_REMINDER_JOB } from "./findings/sla.js";
import { SNAPSHOT_JOB } from "./findings/trends.js";
import { enqueueHealthChecks } from "./health/integrations.js";
import { requestTicketSweep } from "./tickets/sweep.js";
import { POLL_DUE_JOB, startReconcile } from "./tickets/reconcile.js";
import { DISPATCH_JOB, RESCORE_JOB } from "./jobs/events.js";
import type { Logger } from "./log.js";
import { enqueue, type JobKind, jobKind, pruneJobs } from "./jobs/queue.js";
import { CHECK_JOB } from "./integrations/service.js";
import type { JobHandler } from "./jobs/worker.js";
import { syncKind } from "./sync-kinds.js";
import { requestFeedRefresh } from "./exploitation/feeds.js";

export interface Schedule {
  name: string;
  pattern: string;
  /** Enqueues the jobs this schedule stands for. */
  enqueue(db: Db, catalogue: ConnectorCatalogue, now: Date): Promise<void>;
}

/** Hourly upkeep: expired sessions and sign-in attempts, finished jobs, lapsed risk acceptances. */
export const MAINTENANCE_JOB = jobKind("maintenance.prune", { label: "Clean-up", dedupe: "one" });

/** A schedule that queues one job of a kind with no payload (its kind keeps one queued at a time). */
function queueOne(kind: JobKind<null>): Schedule["enqueue"] {
  return async (db, _catalogue, now) => {
    await enqueue(db, kind, null, now);
  };
}

/** The daily backup of the database, checked, the newest PATCHBAY_BACKUP_KEEP kept. */
export const BACKUP_JOB = jobKind("maintenance.backup", { label: "Database backup", dedupe: "one", maxAttempts: 3 });

export const SCHEDULES: Schedule[] = [
  {
    name: "backups",
    // Daily, before the night's reconciliation and snapshots.
    pattern: "10 2 * * *",
    enqueue: queueOne(BACKUP_JOB),
  },
  {
    name: "maintenance",
    pattern: "17 * * * *",
    enqueue: queueOne(MAINTENANCE_JOB),
  },
  {
    name: "integration syncs",
    // Each connector has its own interval (Wiz: 6 hours, GitHub: 1 hour); this finds the ones due.
    pattern: "*/5 * * * *",
    enqueue: async (db, catalogue, now) => {
      await enqueueDueSyncs(db, catalogue, now);
    },
  },
  {
    name: "ticket pushes",
    // Events start a sweep at once; this catches anything that arrived while one was running.
    pattern: "*/5 * * * *",
    enqueue: async (db, _catalogue, now) => {
      await requestTicketSweep(db, now);
    },
  },
  {
    name: "risk scores",
    // Every finding scored again each night: what changed beside the feeds (dependency records, images gone) counts too.
    pattern: "50 5 * * *",
    enqueue: async (db, _catalogue, now) => {
      await enqueue(db, RESCORE_JOB, { all: true }, now);
    },
  },
  {
    name: "exploitation data",
    // CISA updates KEV on weekdays, FIRST publishes EPSS once a day: read both each morning.
    pattern: "20 5 * * *",
    enqueue: async (db, _catalogue, now) => {
      await requestFeedRefresh(db, "kev", now);
      await requestFeedRefresh(db, "epss", now);
    },
  },
  {
    name: "notifications",
    // Publishing an event starts the dispatcher at once; this is the safety net.
    pattern: "* * * * *",
    enqueue: queueOne(DISPATCH_JOB),
  },
  {
    name: "ticket reconciliation",
    // Daily, at night: every mapping's linked tickets compared with the tracker.
    pattern: "40 3 * * *",
    enqueue: async (db, _catalogue, now) => {
      for (const { id } of await db.selectFrom("tracker_mappings").select("id").execute()) await startReconcile(db, id, "schedule", now);
    },
  },
  {
    name: "finding snapshots",
    // Just before midnight UTC: the day's open findings by severity, for the trend chart.
    pattern: "55 23 * * *",
    enqueue: queueOne(SNAPSHOT_JOB),
  },
  {
    name: "integration health",
    pattern: "40 6 * * *",
    enqueue: async (db, _catalogue, now) => {
      await enqueueHealthChecks(db, now);
    },
  },
  {
    name: "SLA reminders",
    pattern: "5 7 * * *",
    enqueue: queueOne(SLA_REMINDER_JOB),
  },
  {
    name: "ticket polling",
    // Trackers whose events cannot arrive (no webhook secret) are read for people's changes.
    pattern: "25 * * * *",
    enqueue: queueOne(POLL_DUE_JOB),
  },
  {
    name: "integration checks",
    pattern: "*/30 * * * *",
    enqueue: async (db, catalogue, now) => {
      // A notifier's check would send a message every half hour: its deliveries tell instead.
      const rows = (await db.selectFrom("integrations").select(["id", "kind"]).execute()).filter((i) => !catalogue.get(i.kind)?.notifier);
      for (const { id } of rows) {
        await enqueue(db, CHECK_JOB, { integrationId: id }, now);
      }
    },
  },
];

/**
 * One tick of a schedule in this process: it enqueues only when this process claims the tick, so
 * several processes on one database run each tick once. True when it enqueued.
 */
export async function runTick(db: Db, catalogue: ConnectorCatalogue, schedule: Schedule, at: Date): Promise<boolean> {
  // The claim and the jobs commit together: a process that dies between them leaves the tick unclaimed, for another to run.
  return db.transaction().execute(async (trx) => {
    if (!(await claimTick(trx, schedule.name, at))) return false;
    await schedule.enqueue(trx, catalogue, at);
    return true;
  });
}

export function startSchedules(db: Db, catalogue: ConnectorCatalogue, logger: Logger, now: () => Date, onEnqueued: () => void): { stop(): void } {
  const crons = SCHEDULES.map(
    (schedule) =>
      new Cron(
        schedule.pattern,
        { name: schedule.name, protect: true, catch: (err) => logger.error("schedule failed", { schedule: schedule.name, error: err }) },
        async () => {
          if (await runTick(db, catalogue, schedule, now())) onEnqueued();
        },
      ),
  );
  return { stop: () => crons.forEach((c) => c.stop()) };
}

export function maintenanceHandler(db: Db, now: () => Date, auditRetentionDays: number): JobHandler<null> {
  return async ({ logger }) => {
    const sessions = await deleteExpiredSessions(db, now());
    await deleteOldAttempts(db, now());
    const jobs = await pruneJobs(db, now());
    const reopened = await expireRiskAcceptances(db, now());
    const audit = await pruneAudit(db, auditRetentionDays, now());
    await pruneTicks(db, now());
    const abandoned = await giveUpAbandonedUploads(db, now());
    logger.info("maintenance done", {
      abandonedUploadsInterrupted: abandoned,
      expiredSessionsDeleted: sessions,
      finishedJobsDeleted: jobs,
      riskAcceptancesExpired: reopened,
      auditEntriesDeleted: audit,
    });
  };
}

/** Writes the daily backup into the data directory's backups folder, then keeps the newest `keep`. */
export function backupHandler(databasePath: string, keep: number, now: () => Date): JobHandler<null> {
  return async ({ logger }) => {
    if (keep === 0 || databasePath === ":memory:") return;
    const dir = path.join(path.dirname(databasePath), "backups");
    const file = path.join(dir, backupName(now()));
    await backupDatabase(databasePath, file);
    const removed = pruneBackups(dir, keep);
    logger.info("backup written", { file, bytes: fs.statSync(file).size, olderRemoved: removed });
  };
}

/**
 * Schedule: every few minutes, queue a sync for each integration whose last one is older than
 * its connector's interval (scanners: a scan; source control: a repository sync).
 */
export async function enqueueDueSyncs(db: Db, catalogue: ConnectorCatalogue, now: Date): Promise<number> {
  let queued = 0;
  for (const integration of await db.selectFrom("integrations").select(["id", "kind", "created_at"]).execute()) {
    const sync = syncKind(catalogue.get(integration.kind));
    if (!sync) continue;
    const last = await db
      .selectFrom("sync_runs")
      .select("started_at")
      .where("integration_id", "=", integration.id)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!last || now.getTime() - Date.parse(last.started_at) >= sync.intervalHours * 3600_000) {
      await sync.enqueue(db, integration.id, now);
      queued++;
    }
  }
  return queued;
}
