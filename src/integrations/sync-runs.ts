// Bookkeeping shared by every sync of an integration (scanner scans, repository syncs): the
// run row the card reads, and what a failed attempt records on the run and the card.
import type { Db, Integration, Job, SyncRun } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { redactText } from "../log.js";
import { publish } from "../jobs/events.js";
import { syncDuration } from "../metrics.js";
import { markSynced, setIntegrationStatus } from "./store.js";
import { credentialsReplaced } from "./oauth.js";

/** What one sync run counted: read, new, updated, unchanged, resolved, and skipped by reason. */
export interface SyncCounts {
  fetched: number;
  new: number;
  updated: number;
  unchanged: number;
  resolved: number;
  skipped: Record<string, number>;
}

export function emptyCounts(): SyncCounts {
  return { fetched: 0, new: 0, updated: 0, unchanged: 0, resolved: 0, skipped: {} };
}

/** A new run for the card to read: running, empty counts (a scan's, a repository or image sync's). */
export function startRun(db: Db, integrationId: number, jobId: number, now: Date): Promise<SyncRun> {
  return db
    .insertInto("sync_runs")
    .values({
      integration_id: integrationId,
      job_id: jobId,
      status: "running",
      cursor: null,
      total: null,
      counts: JSON.stringify(emptyCounts()),
      error: null,
      started_at: now.toISOString(),
      finished_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The run this job already started (a retry resumes it), or a new one. */
export async function resumeOrStartRun(db: Db, integrationId: number, jobId: number, now: Date): Promise<SyncRun> {
  const existing = await db
    .selectFrom("sync_runs")
    .selectAll()
    .where("job_id", "=", jobId)
    .where("status", "in", ["running", "interrupted"])
    .executeTakeFirst();
  if (existing) return existing;
  // Runs left behind by earlier jobs that gave up will never finish: close them.
  await db
    .updateTable("sync_runs")
    .set({ status: "failed", finished_at: now.toISOString() })
    .where("integration_id", "=", integrationId)
    .where("status", "in", ["running", "interrupted"])
    .execute();
  return startRun(db, integrationId, jobId, now);
}

/** Records a failed attempt and returns the error for the job to rethrow (and retry). */
export async function recordSyncFailure(
  db: Db,
  integration: Integration,
  runId: number,
  job: Job,
  err: unknown,
  where: string,
  now: Date,
  resumable: boolean,
  /** The connection the attempt used: a refusal of credentials replaced meanwhile is retried, not a failure of the integration. */
  connection?: object,
): Promise<Error> {
  const lastAttempt = job.attempts >= job.max_attempts;
  const replaced = err instanceof ExternalError && err.kind === "auth" && (await credentialsReplaced(db, connection));
  const message = replaced
    ? `${where}: ${integration.name}'s credentials were replaced while it ran (an OAuth token refreshed by another job), and the old ones were refused.${lastAttempt ? "" : " It will be retried with the new ones."}`
    : redactText(err instanceof Error ? err.message : String(err));
  await db
    .updateTable("sync_runs")
    .set({ status: lastAttempt ? "failed" : "interrupted", error: message, finished_at: lastAttempt ? now.toISOString() : null })
    .where("id", "=", runId)
    .execute();
  // Not a failure of the integration: neither flagged nor announced.
  if (replaced) return new Error(message);
  await observeDuration(db, runId, lastAttempt ? "failed" : "interrupted", now);
  const retry = lastAttempt ? "" : resumable ? " It will be retried and resume where it stopped." : " It will be retried.";
  await setIntegrationStatus(db, integration.id, "error", `${where}: ${message}${retry}`, now);
  if (lastAttempt) await publish(db, { type: "scan.failed", integrationId: integration.id, reason: `${where}: ${message}` }, now);
  // Credentials that stopped working (a revoked token) are worth a notification, once.
  if (err instanceof ExternalError && (err.kind === "auth" || err.kind === "permission") && integration.status !== "error") {
    await publish(db, { type: "integration.failed", integrationId: integration.id, kind: integration.kind, reason: message }, now);
  }
  return err instanceof ExternalError ? err : new Error(`${where}: ${message}`);
}

/** Records a run's progress: pages read, counts so far, and (for resumable syncs) where the next page starts. */
export async function recordSyncProgress(
  db: Db,
  runId: number,
  progress: { pages: number; counts: unknown; cursor?: string | null; total?: number | null },
): Promise<void> {
  await db
    .updateTable("sync_runs")
    .set({
      pages: progress.pages,
      counts: JSON.stringify(progress.counts),
      ...(progress.cursor !== undefined ? { cursor: progress.cursor, total: progress.total ?? null, status: "running" as const, error: null } : {}),
    })
    .where("id", "=", runId)
    .execute();
}

/** Marks a run finished and the integration synced and healthy. */
export async function recordSyncSuccess(db: Db, integrationId: number, runId: number, counts: unknown, now: Date): Promise<void> {
  const stamp = now.toISOString();
  await db
    .updateTable("sync_runs")
    .set({ status: "succeeded", counts: JSON.stringify(counts), finished_at: stamp, error: null })
    .where("id", "=", runId)
    .execute();
  await observeDuration(db, runId, "succeeded", now);
  await markSynced(db, integrationId, now);
}

/** The run's time so far, for the sync-duration metric. */
async function observeDuration(db: Db, runId: number, outcome: "succeeded" | "failed" | "interrupted", now: Date): Promise<void> {
  const run = await db.selectFrom("sync_runs").select("started_at").where("id", "=", runId).executeTakeFirst();
  if (run) syncDuration.observe({ outcome }, Math.max(0, now.getTime() - Date.parse(run.started_at)) / 1000);
}
