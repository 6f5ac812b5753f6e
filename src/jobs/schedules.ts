// Recurring work. A cron callback only enqueues a job (deduplicated by key), so every
// run is durable, retried, and visible on the jobs page like any other job.
import { Cron } from "croner";
import { deleteExpiredSessions } from "../auth/sessions.js";
import type { ConnectorRegistry } from "../connectors/registry.js";
import type { Db } from "../db/schema.js";
import { expireRiskAcceptances } from "../findings/status.js";
import { enqueueDueSyncs } from "../findings/sync.js";
import type { Logger } from "../log.js";
import { enqueueJob, pruneJobs } from "./queue.js";
import type { JobHandler } from "./worker.js";

export interface Schedule {
  name: string;
  pattern: string;
  /** Enqueues the jobs this schedule stands for. */
  enqueue(db: Db, registry: ConnectorRegistry, now: Date): Promise<void>;
}

export const SCHEDULES: Schedule[] = [
  {
    name: "maintenance",
    pattern: "17 * * * *",
    enqueue: async (db, _registry, now) => {
      await enqueueJob(db, "maintenance.prune", {}, now, { dedupeKey: "maintenance.prune" });
    },
  },
  {
    name: "integration syncs",
    // Each connector has its own interval (Wiz: 6 hours, GitHub: 1 hour); this finds the ones due.
    pattern: "*/5 * * * *",
    enqueue: async (db, registry, now) => {
      await enqueueDueSyncs(db, registry, now);
    },
  },
  {
    name: "integration checks",
    pattern: "*/30 * * * *",
    enqueue: async (db, _registry, now) => {
      const rows = await db.selectFrom("integrations").select("id").execute();
      for (const { id } of rows) {
        await enqueueJob(db, "integration.check", { integrationId: id }, now, { dedupeKey: `integration.check:${id}`, maxAttempts: 1 });
      }
    },
  },
];

export function startSchedules(db: Db, registry: ConnectorRegistry, logger: Logger, now: () => Date, onEnqueued: () => void): { stop(): void } {
  const crons = SCHEDULES.map(
    (schedule) =>
      new Cron(schedule.pattern, { name: schedule.name, protect: true, catch: (err) => logger.error("schedule failed", { schedule: schedule.name, error: err }) }, async () => {
        await schedule.enqueue(db, registry, now());
        onEnqueued();
      }),
  );
  return { stop: () => crons.forEach((c) => c.stop()) };
}

export function maintenanceHandler(db: Db, now: () => Date): JobHandler {
  return async ({ logger }) => {
    const sessions = await deleteExpiredSessions(db, now());
    const jobs = await pruneJobs(db, now());
    const reopened = await expireRiskAcceptances(db, now());
    logger.info("maintenance done", { expiredSessionsDeleted: sessions, finishedJobsDeleted: jobs, riskAcceptancesExpired: reopened });
  };
}
