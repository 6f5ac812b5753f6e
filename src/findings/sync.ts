// Job `scanner.sync`: one scan of one scanner integration. Each page is committed with a
// checkpoint (cursor and the external ids it reported), so a scan that fails on page N
// keeps pages 1..N-1 and its retry resumes at page N. Only a scan that has read every page
// resolves what the scanner no longer reports. The job's dedupe key keeps two scans of one
// integration from running at once.
import { findIntegration } from "../integrations/store.js";
import type { Services } from "../services.js";
import { ScanCursorInvalid, type SyncPage } from "../connectors/types.js";
import { refreshPlannerStatistics, writerWanted } from "../db/database.js";
import type { Db, Integration, SyncRun, Severity } from "../db/schema.js";
import { publish } from "../jobs/events.js";
import { SEVERITIES } from "./normalize.js";
import { connectorContext } from "../connectors/context.js";
import { connectionOf } from "../integrations/reused.js";
import { enqueue, jobKind, perIntegration } from "../jobs/queue.js";
import { recordSyncFailure, recordSyncSuccess, resumeOrStartRun, recordSyncProgress } from "../integrations/sync-runs.js";
import { requestTicketSweep } from "../jobs/events.js";
import { JobLeaseLost, type JobHandler } from "../jobs/worker.js";
import { IMPORTED_TABLES, type SyncCounts, emptyCounts, importPage, mergeCounts, resolveUnreported, sourceId } from "./import.js";
import { refreshStatistics } from "../db/dialect.js";
import { loadRepositoryIndex } from "./repositories.js";
import { resolveSources, unreportedSources } from "./store.js";
import { createWorkspace } from "../dependencies/workspace.js";
import { readAhead } from "./read-ahead.js";

export const SCAN_JOB = jobKind<{ integrationId: number }>("scanner.sync", { label: "Scan", maxAttempts: 3, ...perIntegration("scanner.sync") });
/** Records buffered before they are committed: fewer, larger commits write far less to the WAL. */
const COMMIT_RECORDS = 5_000;
/**
 * A transaction takes more buffered pages while it is younger than this; then it commits and the next begins.
 * Readers never wait for it (they have their own connection); a person's write waits at most this long.
 * Each commit writes every page it changed to the WAL: at 150 ms a million-finding import spent 34 s committing.
 */
const TRANSACTION_MS = 300;
/** Sources no longer reported, resolved per batch at the end of a scan. */
const GONE_BATCH = 20_000;
/** How long a buffered page waits for the next one before it is committed on its own. */
const COMMIT_WAIT_MS = 200;

/** Queues a scan unless one is already queued or running; returns the job id. */
export function enqueueScan(db: Db, integrationId: number, now: Date, delayMs = 0): Promise<number> {
  return enqueue(db, SCAN_JOB, { integrationId }, now, { runAt: new Date(now.getTime() + delayMs) });
}

export function syncCounts(run: Pick<SyncRun, "counts">): SyncCounts {
  return JSON.parse(run.counts) as SyncCounts;
}

/**
 * The scan job's handler: in a thread of its own where the runtime runs scans in threads
 * (scan-threads.ts), else in this one.
 */
export function scannerSyncHandler(deps: Services): JobHandler<{ integrationId: number }> {
  const here = scanHere(deps);
  return (ctx) => (deps.scanThreads ? deps.scanThreads.run(ctx) : here(ctx));
}

/** One scan, run on this thread (a scan thread runs it on its own). */
export function scanHere(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ job, payload, logger, progress, fence }) => {
    const { db, now } = deps;
    const { integrationId } = payload;
    const integration = await findIntegration(db, integrationId);
    if (!integration) return; // disconnected since the scan was queued
    const scanner = deps.catalogue.get(integration.kind)?.scanner;
    if (!scanner) throw new Error(`Integration "${integration.name}" is not a scanner.`);

    // Killed after the scan finished but before the job was marked done: nothing is left to do.
    if (await db.selectFrom("sync_runs").select("id").where("job_id", "=", job.id).where("status", "=", "succeeded").executeTakeFirst()) return;
    const run = await resumeOrStartRun(db, integration.id, job.id, now());
    const connection = await connectionOf(deps, deps.catalogue.get(integration.kind)!, integration);
    const session = scanner.session(connection, {
      ...connectorContext({ ...deps.env, logger }),
      workspace: createWorkspace({ ...deps, env: { ...deps.env, logger } }),
    });
    const repositories = await loadRepositoryIndex(db);
    const actor = `scanner: ${integration.name}`;
    const counts = syncCounts(run);
    const cursor = run.cursor;
    let pages = run.pages;
    let total = run.total;
    let restarts = 0;

    // Pages are read ahead of the import (readAhead: the next request goes on while buffered
    // pages are committed) and committed in batches of about COMMIT_RECORDS records; when the
    // next page is slow to come, what is buffered is committed while waiting, so progress shows.
    let buffer: SyncPage[] = [];
    // Where the scan's time goes, for its log line: waiting for the scanner's pages, and committing them.
    const spent = { waitingMs: 0, committingMs: 0, started: performance.now() };
    const commit = async () => {
      const from = performance.now();
      while (buffer.length > 0) {
        const stamp = now();
        const started = performance.now();
        await db.transaction().execute(async (trx) => {
          // Taken over by another attempt (this one's lease ran out): its pages are that attempt's to write.
          await fence(trx);
          let last: SyncPage | undefined;
          // Pages while the transaction is young: it holds the write lock, and every other writer (a
          // person's triage, a push's ticket row) waits for its commit — in a scan thread, not even that
          // long: the transaction ends at the next page once the main thread waits for the writer.
          while (buffer.length > 0 && (last === undefined || (performance.now() - started < TRANSACTION_MS && !writerWanted(db)))) {
            const page = buffer.shift()!;
            const added = await importPage(trx, page.records, { integrationId: integration.id, actor, repositories, now: stamp });
            mergeCounts(counts, added);
            await trx
              .insertInto("sync_pages")
              .values({ run_id: run.id, page: ++committedPages, external_ids: JSON.stringify(page.records.map((r) => sourceId(r.externalId))) })
              .execute();
            last = page;
          }
          await recordSyncProgress(trx, run.id, { pages: committedPages, counts, cursor: last!.nextCursor, total });
        });
        await refreshStatistics(db, IMPORTED_TABLES);
        await progress({ done: counts.fetched, total: total ?? counts.fetched, message: `page ${committedPages}` });
      }
      spent.committingMs += performance.now() - from;
    };
    let committedPages = pages;
    const read = (from: string | null) => readAhead((at) => session.fetchPage(at), from, COMMIT_RECORDS);

    // A run with pages but no cursor read its last page before it was interrupted.
    let reader = pages === 0 || cursor !== null ? read(cursor) : undefined;
    try {
      let pending = reader?.take();
      while (pending) {
        // The wait for this page, less what was committed meanwhile.
        const waitFrom = performance.now();
        const committedBefore = spent.committingMs;
        if (buffer.length > 0 && !(await arrivesWithin(pending, COMMIT_WAIT_MS))) await commit();
        let page: SyncPage;
        try {
          page = await pending;
        } catch (err) {
          await commit();
          if (!(err instanceof ScanCursorInvalid) || ++restarts > 2) throw err;
          // The saved cursor expired: start this run over; the pages kept so far stay imported.
          logger.warn("scan cursor rejected; restarting from the first page", { error: err.message });
          await db.deleteFrom("sync_pages").where("run_id", "=", run.id).execute();
          Object.assign(counts, emptyCounts());
          committedPages = pages = 0;
          reader?.stop();
          reader = read(null);
          pending = reader.take();
          continue;
        }
        spent.waitingMs += performance.now() - waitFrom - (spent.committingMs - committedBefore);
        pages++;
        total = page.total ?? total;
        buffer.push(page);
        pending = reader!.take();
        // The first page is committed at once: the scan shows progress, and a restart resumes after it.
        if (!pending || committedPages === 0 || buffer.reduce((n, p) => n + p.records.length, 0) >= COMMIT_RECORDS) await commit();
      }
      await finish(db, integration, run.id, counts, actor, now(), fence);
      logger.info("scan finished", {
        integrationId,
        pages,
        ...counts,
        skipped: counts.skipped,
        seconds: Math.round(performance.now() - spent.started) / 1000,
        waitingForPagesS: Math.round(spent.waitingMs) / 1000,
        committingS: Math.round(spent.committingMs) / 1000,
      });
    } catch (err) {
      if (err instanceof JobLeaseLost) throw err;
      throw await recordSyncFailure(db, integration, run.id, job, err, `Scan stopped on page ${committedPages + 1}`, now(), true, connection);
    } finally {
      // A scan that stopped (its lease lost, a commit failed) asks the scanner for nothing more.
      reader?.stop();
    }
  };
}

/** True if the promise settles within `ms`. */
async function arrivesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** After the last page: resolve what the scanner no longer reports, and record success. */
async function finish(
  db: Db,
  integration: Integration,
  runId: number,
  counts: SyncCounts,
  actor: string,
  now: Date,
  fence: (trx: Db) => Promise<void>,
): Promise<void> {
  const stamp = now.toISOString();
  await db.transaction().execute(async (trx) => {
    await fence(trx);
    // Batches of what no page reported (sources are resolved as they go, so each batch reads past the last).
    for (let after = 0; ;) {
      const gone = await unreportedSources(trx, integration.id, runId, after, GONE_BATCH);
      if (gone.length === 0) break;
      after = gone.at(-1)!.id;
      await resolveSources(
        trx,
        gone.map((s) => s.id),
        stamp,
      );
      counts.resolved += await resolveUnreported(trx, [...new Set(gone.map((s) => s.finding_id))], actor, stamp, "No longer reported by the scanner");
    }
    await trx.deleteFrom("sync_pages").where("run_id", "=", runId).execute();
    await recordSyncSuccess(trx, integration.id, runId, counts, now);
    await requestTicketSweep(trx, now);
    await publishNewFindings(trx, integration.id, runId, now);
  });
  await refreshPlannerStatistics(db);
}

/** One event per scan with the findings it brought that Patchbay had not seen, by severity. */
async function publishNewFindings(db: Db, integrationId: number, runId: number, now: Date): Promise<void> {
  const run = await db.selectFrom("sync_runs").select("started_at").where("id", "=", runId).executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom("findings")
    .innerJoin("finding_sources", "finding_sources.finding_id", "findings.id")
    .select(["findings.severity", (eb) => eb.fn.countAll<number>().as("n")])
    .where("finding_sources.integration_id", "=", integrationId)
    .where("findings.created_at", ">=", run.started_at)
    .groupBy("findings.severity")
    .execute();
  if (rows.length === 0) return;
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, Number(rows.find((r) => r.severity === s)?.n ?? 0)])) as Record<Severity, number>;
  await publish(db, { type: "findings.new", integrationId, counts }, now);
}

export function latestRuns(db: Db): Promise<SyncRun[]> {
  return db
    .selectFrom("sync_runs")
    .selectAll()
    .where(
      "id",
      "in",
      db
        .selectFrom("sync_runs")
        .select((eb) => eb.fn.max("id").as("id"))
        .groupBy("integration_id"),
    )
    .execute();
}
