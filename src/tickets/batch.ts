// Push to Integrators on a filtered selection of the Vulnerabilities table: one durable job
// walks the selection, pushes each subject to every mapping whose assignments cover it, and
// keeps a progress count the page polls. A crash re-runs it; pushes already made are unchanged.
import type { Db, PushBatch } from "../db/schema.js";
import { enqueueJob } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import type { FindingFilter } from "../findings/query.js";
import { filterWhere } from "../findings/query.js";
import { openTracker, pushSubject, type PushDeps, recordPushError, type TrackerHandle } from "./push.js";
import { assignmentScope, subjectKeyOf } from "./subjects.js";

export const BATCH_JOB = "tickets.batch";

export async function startBatch(db: Db, filter: FindingFilter, description: string, by: string, now: Date): Promise<number> {
  const { after: _a, before: _b, ...stored } = filter;
  const batch = await db
    .insertInto("push_batches")
    .values({ requested_by: by, description, filter: JSON.stringify(stored), total: null, created_at: now.toISOString(), finished_at: null })
    .returning("id")
    .executeTakeFirstOrThrow();
  await enqueueJob(db, BATCH_JOB, { batchId: batch.id }, now, { maxAttempts: 3 });
  return batch.id;
}

export function findBatch(db: Db, id: number): Promise<PushBatch | undefined> {
  return db.selectFrom("push_batches").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The subjects a selection sends: per mapping, the subject of each covered finding. */
export async function batchSubjects(db: Db, filter: FindingFilter): Promise<{ mappingId: number; subjectKey: string }[]> {
  const assignments = await db.selectFrom("tracker_assignments").selectAll().orderBy("mapping_id").orderBy("id").execute();
  const seen = new Set<string>();
  const out: { mappingId: number; subjectKey: string }[] = [];
  for (const assignment of assignments) {
    let after = 0;
    for (;;) {
      const rows = await db
        .selectFrom("findings")
        .select(["id", "ecosystem", "package_lc", "cve", "asset_id"])
        .where(filterWhere({ ...filter, after: undefined, before: undefined }))
        .where(assignmentScope(assignment))
        .where("findings.id", ">", after)
        .orderBy("findings.id")
        .limit(2000)
        .execute();
      if (rows.length === 0) break;
      for (const row of rows) {
        const subjectKey = subjectKeyOf(assignment.group_by, row);
        const key = `${assignment.mapping_id}|${subjectKey}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ mappingId: assignment.mapping_id, subjectKey });
      }
      after = rows.at(-1)!.id;
    }
  }
  return out;
}

export function batchHandler(deps: PushDeps): JobHandler {
  return async ({ payload, logger, progress }) => {
    const { batchId } = payload as { batchId: number };
    const batch = await findBatch(deps.db, batchId);
    if (!batch || batch.finished_at) return;
    const filter = JSON.parse(batch.filter) as FindingFilter;
    const subjects = await batchSubjects(deps.db, filter);
    await deps.db.updateTable("push_batches").set({ total: subjects.length, done: 0, failed: 0 }).where("id", "=", batchId).execute();
    const handles = new Map<number, TrackerHandle | null>();
    let done = 0;
    let failed = 0;
    for (const { mappingId, subjectKey } of subjects) {
      try {
        if (!handles.has(mappingId)) handles.set(mappingId, (await openTracker(deps, mappingId, logger)) ?? null);
        const handle = handles.get(mappingId);
        if (handle) await pushSubject(deps, handle, subjectKey, { manual: true, holder: `batch:${batchId}` });
      } catch (err) {
        failed++;
        await recordPushError(deps.db, mappingId, subjectKey, err, deps.now());
      }
      done++;
      await deps.db.updateTable("push_batches").set({ done, failed }).where("id", "=", batchId).execute();
      if (done % 25 === 0 || done === subjects.length) await progress({ done, total: subjects.length, message: `${failed} failed` });
    }
    await deps.db.updateTable("push_batches").set({ finished_at: deps.now().toISOString() }).where("id", "=", batchId).execute();
    logger.info("push batch finished", { batchId, total: subjects.length, failed });
  };
}
