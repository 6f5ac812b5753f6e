// Push to Integrators on a filtered selection of the Vulnerabilities table: one durable job per
// tracker integration (a part) walks the selection, pushes each subject to that integration's
// mappings whose assignments cover it, and keeps a progress count the page polls. Each part
// runs in its integration's lane (a tracker that hangs holds its own slots, not the queue),
// and in its requester's group: one person's bulk pushes run at most two at a time. A crash
// re-runs a part; pushes already made are unchanged.
import type { Services } from "../services.js";
import type { Db, PushBatch } from "../db/schema.js";
import { enqueue, integrationLane, jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import type { FindingFilter } from "../findings/query.js";
import { ExternalError, RateLimitedError } from "../http.js";
import type { ConnectorCatalogue } from "../connectors/catalogue.js";
import { estimatePush, paceOf, type PushEstimate } from "../integrations/pacing.js";
import { filterWhere } from "../findings/query.js";
import { openTracker, type PushOutcome, pushSubjects, recordPushError, type TrackerHandle } from "./push.js";
import { assignmentScope, ownerColumn, subjectKeyOf } from "./subjects.js";

export const BATCH_JOB = jobKind<{ batchId: number; integrationId: number }>("tickets.batch", {
  label: "Bulk push",
  maxAttempts: 3,
  lane: (p) => integrationLane(p.integrationId),
});
/** Rate-limit waits one subject may sit through before it is recorded as failed. */
const MAX_RATE_LIMIT_WAITS = 30;

export async function startBatch(db: Db, filter: FindingFilter, description: string, by: string, now: Date): Promise<number> {
  const { after: _a, before: _b, ...stored } = filter;
  const integrations = (
    await db
      .selectFrom("tracker_assignments")
      .innerJoin("tracker_mappings", "tracker_mappings.id", "tracker_assignments.mapping_id")
      .select("tracker_mappings.integration_id")
      .distinct()
      .execute()
  ).map((r) => r.integration_id);
  return db.transaction().execute(async (trx) => {
    const batch = await trx
      .insertInto("push_batches")
      .values({
        requested_by: by,
        description,
        filter: JSON.stringify(stored),
        total: integrations.length ? null : 0,
        created_at: now.toISOString(),
        finished_at: integrations.length ? null : now.toISOString(),
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    for (const integrationId of integrations) {
      await trx.insertInto("push_batch_parts").values({ batch_id: batch.id, integration_id: integrationId, total: null, finished_at: null }).execute();
      await enqueue(trx, BATCH_JOB, { batchId: batch.id, integrationId }, now, { group: `bulk:${by}` });
    }
    return batch.id;
  });
}

/** The batch with its parts' progress added up: finished when every part is. */
export async function findBatch(db: Db, id: number): Promise<PushBatch | undefined> {
  const batch = await db.selectFrom("push_batches").selectAll().where("id", "=", id).executeTakeFirst();
  if (!batch) return undefined;
  const parts = await db.selectFrom("push_batch_parts").selectAll().where("batch_id", "=", id).execute();
  if (parts.length === 0) return batch;
  const finished = parts.every((p) => p.finished_at);
  return {
    ...batch,
    total: parts.every((p) => p.total !== null) ? parts.reduce((n, p) => n + p.total!, 0) : null,
    done: parts.reduce((n, p) => n + p.done, 0),
    failed: parts.reduce((n, p) => n + p.failed, 0),
    finished_at: finished
      ? parts
          .map((p) => p.finished_at!)
          .sort()
          .at(-1)!
      : null,
  };
}

/** The trackers where this push failed for some subjects, with how many (their error tables list why). */
export async function batchFailures(db: Db, id: number): Promise<{ integrationId: number; integration: string; failed: number }[]> {
  const parts = await db
    .selectFrom("push_batch_parts")
    .innerJoin("integrations", "integrations.id", "push_batch_parts.integration_id")
    .select(["integrations.id", "integrations.name", "push_batch_parts.failed"])
    .where("push_batch_parts.batch_id", "=", id)
    .where("push_batch_parts.failed", ">", 0)
    .orderBy("integrations.name")
    .execute();
  return parts.map((p) => ({ integrationId: p.id, integration: p.name, failed: p.failed }));
}

/** For each tracker still pushing, what is left and how long it takes at the tracker's pace (where its service documents limits). */
export async function batchEstimates(
  db: Db,
  catalogue: ConnectorCatalogue,
  id: number,
): Promise<{ integration: string; left: number; estimate: PushEstimate; grouped: boolean }[]> {
  const parts = await db
    .selectFrom("push_batch_parts")
    .innerJoin("integrations", "integrations.id", "push_batch_parts.integration_id")
    .select(["push_batch_parts.total", "push_batch_parts.done", "integrations.id", "integrations.kind", "integrations.name", "integrations.settings"])
    .where("push_batch_parts.batch_id", "=", id)
    .where("push_batch_parts.finished_at", "is", null)
    .where("push_batch_parts.total", "is not", null)
    .execute();
  const out = [];
  for (const part of parts) {
    const connector = catalogue.get(part.kind);
    const pace = connector ? await paceOf(db, connector, part) : undefined;
    const left = part.total! - part.done;
    if (!pace || left <= 0) continue;
    const grouping = await db
      .selectFrom("tracker_assignments")
      .innerJoin("tracker_mappings", "tracker_mappings.id", "tracker_assignments.mapping_id")
      .select("tracker_assignments.group_by")
      .where("tracker_mappings.integration_id", "=", part.id)
      .execute();
    out.push({ integration: part.name, left, estimate: estimatePush(left, pace), grouped: grouping.every((g) => g.group_by !== "finding") });
  }
  return out;
}

/** What a bulk push of this selection would send, per tracker integration, and how long it takes at the tracker's pace: shown before it starts. */
export async function planBatch(
  db: Db,
  catalogue: ConnectorCatalogue,
  filter: FindingFilter,
): Promise<{ integration: string; tickets: number; estimate: PushEstimate | undefined }[]> {
  const mappings = await db
    .selectFrom("tracker_mappings")
    .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
    .select(["tracker_mappings.id as mapping_id", "integrations.id", "integrations.kind", "integrations.name", "integrations.settings"])
    .execute();
  const perIntegration = new Map<number, number>();
  const integrationOf = new Map(mappings.map((m) => [m.mapping_id, m.id]));
  for (const [mappingId, n] of await countSubjects(db, filter)) {
    const id = integrationOf.get(mappingId)!;
    perIntegration.set(id, (perIntegration.get(id) ?? 0) + n);
  }
  const out = [];
  for (const [id, tickets] of perIntegration) {
    const integration = mappings.find((m) => m.id === id)!;
    const connector = catalogue.get(integration.kind);
    const pace = connector ? await paceOf(db, connector, integration) : undefined;
    out.push({ integration: integration.name, tickets, estimate: pace ? estimatePush(tickets, pace) : undefined });
  }
  return out;
}

/** Findings read a page at a time by a bulk push's walk over its selection. */
const SUBJECT_PAGE = 2000;

/**
 * The subjects a selection sends, a page at a time: per mapping (of one tracker integration), the
 * subject of each covered finding, each once. One walk over the findings per mapping and grouping,
 * covered when any of its assignments covers them; memory holds a page (and, for finding groups,
 * the groups seen), whatever the selection's size.
 */
export async function* batchSubjectPages(db: Db, filter: FindingFilter, integrationId?: number): AsyncGenerator<{ mappingId: number; subjectKey: string }[]> {
  const assignments = await db
    .selectFrom("tracker_assignments")
    .innerJoin("tracker_mappings", "tracker_mappings.id", "tracker_assignments.mapping_id")
    .selectAll("tracker_assignments")
    .$if(integrationId !== undefined, (q) => q.where("tracker_mappings.integration_id", "=", integrationId!))
    .orderBy("tracker_assignments.mapping_id")
    .orderBy("tracker_assignments.id")
    .execute();
  const walks = new Map<string, typeof assignments>();
  for (const assignment of assignments) {
    const key = `${assignment.mapping_id}|${assignment.group_by}`;
    walks.set(key, [...(walks.get(key) ?? []), assignment]);
  }
  for (const covering of walks.values()) {
    const { mapping_id: mappingId, group_by: groupBy } = covering[0]!;
    // A finding is its own subject (one row, one subject); groups are sent once however many findings they hold.
    const seen = groupBy === "finding" ? undefined : new Set<string>();
    for (let after = 0; ;) {
      const rows = await db
        .selectFrom("findings")
        .select(["id", "ecosystem", "package_lc", "cve", "asset_id"])
        .$if(groupBy === "owner", (q) => q.select(ownerColumn))
        .where(filterWhere({ ...filter, after: undefined, before: undefined }))
        .where((eb) => eb.or(covering.map((a) => assignmentScope(a)(eb))))
        .where("findings.id", ">", after)
        .orderBy("findings.id")
        .limit(SUBJECT_PAGE)
        .execute();
      if (rows.length === 0) break;
      const page: { mappingId: number; subjectKey: string }[] = [];
      for (const row of rows) {
        const subjectKey = subjectKeyOf(groupBy, row);
        if (seen?.has(subjectKey)) continue;
        seen?.add(subjectKey);
        page.push({ mappingId, subjectKey });
      }
      if (page.length) yield page;
      after = rows.at(-1)!.id;
    }
  }
}

/** How many subjects a selection sends, per mapping: a walk that keeps no subject. */
async function countSubjects(db: Db, filter: FindingFilter, integrationId?: number): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for await (const page of batchSubjectPages(db, filter, integrationId))
    for (const { mappingId } of page) counts.set(mappingId, (counts.get(mappingId) ?? 0) + 1);
  return counts;
}

export function batchHandler(deps: Services): JobHandler<{ batchId: number; integrationId: number }> {
  return async ({ payload, logger, progress }) => {
    const { batchId, integrationId } = payload;
    const batch = await deps.db.selectFrom("push_batches").selectAll().where("id", "=", batchId).executeTakeFirst();
    const part = await deps.db
      .selectFrom("push_batch_parts")
      .selectAll()
      .where("batch_id", "=", batchId)
      .where("integration_id", "=", integrationId)
      .executeTakeFirst();
    if (!batch || !part || part.finished_at) return;
    const filter = JSON.parse(batch.filter) as FindingFilter;
    // First how many (a walk that keeps nothing), then the subjects a page at a time.
    const total = [...(await countSubjects(deps.db, filter, integrationId)).values()].reduce((sum, n) => sum + n, 0);
    await deps.db
      .updateTable("push_batch_parts")
      .set({ total, done: 0, failed: 0 })
      .where("batch_id", "=", batchId)
      .where("integration_id", "=", integrationId)
      .execute();
    const handles = new Map<number, TrackerHandle | null>();
    let done = 0;
    let failed = 0;
    const sleep = deps.env.pace ? deps.env.pace.sleep : (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    /** One mapping's subjects, as many as one bulk create takes (Jira: 50) or one, pushed until each succeeded, failed or waited too often. */
    const pushWindow = async (mappingId: number, handle: TrackerHandle | null | undefined, opening: unknown, window: string[]) => {
      let keys = window;
      for (let waits = 0; keys.length; waits++) {
        const outcomes: PushOutcome[] =
          opening !== undefined
            ? keys.map((subjectKey) => ({ subjectKey, error: opening }))
            : handle
              ? await pushSubjects(deps, handle, keys, { manual: true, holderOf: () => `batch:${batchId}` })
              : keys.map((subjectKey) => ({ subjectKey, action: "skipped" as const }));
        // The tracker's limit (or Patchbay's pace ahead of it): wait, then push the same subjects again.
        const limited = outcomes.filter((o) => "error" in o && isRateLimit(o.error));
        const waitFor = waits < MAX_RATE_LIMIT_WAITS ? limited : [];
        for (const outcome of outcomes) {
          if (waitFor.includes(outcome)) continue;
          if ("error" in outcome) {
            failed++;
            await recordPushError(deps.db, mappingId, outcome.subjectKey, outcome.error, deps.now());
          }
          done++;
        }
        keys = waitFor.map((o) => o.subjectKey);
        if (keys.length) {
          const seconds = Math.max(...waitFor.map((o) => ("error" in o && o.error instanceof RateLimitedError ? o.error.retryAfterSeconds : undefined) ?? 60));
          const reason = (waitFor[0] as { error: Error }).error.message;
          logger.info("push batch waiting for the tracker's rate limit", { batchId, integrationId, seconds });
          await progress({ done, total, message: `waiting ${seconds} s: ${reason}` });
          await sleep(seconds * 1000);
        }
      }
      await deps.db.updateTable("push_batch_parts").set({ done, failed }).where("batch_id", "=", batchId).where("integration_id", "=", integrationId).execute();
      if (done % 25 < window.length || done === total) await progress({ done, total, message: `${failed} failed` });
    };
    for await (const page of batchSubjectPages(deps.db, filter, integrationId)) {
      for (let next = 0; next < page.length;) {
        const { mappingId } = page[next]!;
        let handle: TrackerHandle | null | undefined;
        let opening: unknown;
        try {
          if (!handles.has(mappingId)) handles.set(mappingId, (await openTracker(deps, mappingId, logger)) ?? null);
          handle = handles.get(mappingId);
        } catch (err) {
          opening = err;
        }
        const size = handle?.session.createMany ? (handle.session.bulkCreateLimit ?? 1) : 1;
        const window: string[] = [];
        while (window.length < size && next < page.length && page[next]!.mappingId === mappingId) window.push(page[next++]!.subjectKey);
        await pushWindow(mappingId, handle, opening, window);
      }
    }
    // Findings that left the selection while it was pushed (resolved meanwhile) were not sent: the total is what was.
    await deps.db
      .updateTable("push_batch_parts")
      .set({ finished_at: deps.now().toISOString(), total: done, done, failed })
      .where("batch_id", "=", batchId)
      .where("integration_id", "=", integrationId)
      .execute();
    logger.info("push batch part finished", { batchId, integrationId, total, failed });
  };
}

/** A refusal that passes with time: the service's rate limit, or Patchbay's pace ahead of it. */
function isRateLimit(err: unknown): boolean {
  return err instanceof ExternalError && err.kind === "rate_limited";
}
