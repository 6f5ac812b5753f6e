// Automatic pushes, by each assignment's push mode. A sweep runs after anything that can
// change findings (a scan, a status change, a pull request event) and on a schedule:
//   link new          findings newer than the assignment's watermark, whose subject has no
//                     ticket yet, are pushed (tickets are created);
//   update existing   linked tickets whose findings or pull requests changed since their
//                     last push (at or after it: a change in the same millisecond is not
//                     missed) are pushed again; an update goes out only if content changed.
// The sweep only enqueues durable push jobs; it reads set-wise, so it stays cheap at 100k findings.
import type { Services } from "../services.js";
import { requestTicketSweep, SWEEP_JOB } from "../jobs/events.js";
import type { Db, TrackerAssignment } from "../db/schema.js";
import { releaseDedupeKey } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { enqueuePush } from "./push.js";
import { linksNew, setLinkedThrough, updatesLinks } from "./store.js";
import { assignmentScope, ownerColumn, OPEN_STATUSES, subjectKeyOf } from "./subjects.js";

export { requestTicketSweep, SWEEP_JOB };
const BATCH = 1000;

export function sweepHandler(deps: Pick<Services, "db" | "now" | "notifyWorker">): JobHandler {
  return async ({ job, logger }) => {
    await releaseDedupeKey(deps.db, job.id);
    const assignments = await deps.db.selectFrom("tracker_assignments").selectAll().where("push_mode", "!=", "explicit").orderBy("id").execute();
    let queued = 0;
    for (const assignment of assignments) {
      queued += await sweepNew(deps.db, assignment, deps.now);
      if (updatesLinks(assignment.push_mode)) queued += await sweepChanged(deps.db, assignment, deps.now);
    }
    if (queued) deps.notifyWorker();
    logger.info("ticket sweep done", { assignments: assignments.length, queued });
  };
}

async function sweepNew(db: Db, assignment: TrackerAssignment, now: () => Date): Promise<number> {
  let watermark = assignment.linked_through;
  let queued = 0;
  for (;;) {
    const rows = await db
      .selectFrom("findings")
      .select(["id", "ecosystem", "package_lc", "cve", "asset_id", "status"])
      .$if(assignment.group_by === "owner", (q) => q.select(ownerColumn))
      .where("id", ">", watermark)
      .where(assignmentScope(assignment))
      .orderBy("id")
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    const subjects = [...new Set(rows.filter((r) => (OPEN_STATUSES as readonly string[]).includes(r.status)).map((r) => subjectKeyOf(assignment.group_by, r)))];
    const linked = new Set(
      subjects.length
        ? (
            await db.selectFrom("tickets").select("subject_key").where("mapping_id", "=", assignment.mapping_id).where("subject_key", "in", subjects).execute()
          ).map((t) => t.subject_key)
        : [],
    );
    const next = rows.at(-1)!.id;
    await db.transaction().execute(async (trx) => {
      for (const subject of subjects) {
        const wanted = linked.has(subject) ? updatesLinks(assignment.push_mode) : linksNew(assignment.push_mode);
        if (wanted) {
          await enqueuePush(trx, assignment.mapping_id, subject, now());
          queued++;
        }
      }
      await setLinkedThrough(trx, assignment.id, next);
    });
    watermark = next;
  }
  return queued;
}

async function sweepChanged(db: Db, assignment: TrackerAssignment, now: () => Date): Promise<number> {
  const tickets = await db
    .selectFrom("tickets")
    .select(["tickets.subject_key"])
    .where("tickets.mapping_id", "=", assignment.mapping_id)
    .where("tickets.linked_at", "is not", null)
    .where((eb) =>
      eb.or([
        eb.exists(
          eb
            .selectFrom("ticket_findings")
            .innerJoin("findings", "findings.id", "ticket_findings.finding_id")
            .select("findings.id")
            .whereRef("ticket_findings.ticket_id", "=", "tickets.id")
            .whereRef("findings.updated_at", ">=", "tickets.synced_at")
            .where(assignmentScope(assignment)),
        ),
        eb.exists(
          eb
            .selectFrom("ticket_findings")
            .innerJoin("remediation_findings", "remediation_findings.finding_id", "ticket_findings.finding_id")
            .innerJoin("remediations", "remediations.id", "remediation_findings.remediation_id")
            .select("remediations.id")
            .whereRef("ticket_findings.ticket_id", "=", "tickets.id")
            .whereRef("remediations.updated_at", ">=", "tickets.synced_at"),
        ),
      ]),
    )
    .execute();
  for (const t of tickets) await enqueuePush(db, assignment.mapping_id, t.subject_key, now());
  return tickets.length;
}
