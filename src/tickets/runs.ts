// The reconcile_runs table: a mapping's reconciliations and its link-by-CVE runs, each with
// its progress and report. One door for both kinds of run.
import type { Updateable } from "kysely";
import type { Db, ReconcileDirection, ReconcileRun, ReconcileRunTable } from "../db/schema.js";

export type RunKind = ReconcileDirection | "link";

export function findRun(db: Db, id: number): Promise<ReconcileRun | undefined> {
  return db.selectFrom("reconcile_runs").selectAll().where("id", "=", id).executeTakeFirst();
}

/** A mapping's reconciliation that is running now, if any (link-by-CVE runs aside). */
export async function runningReconcile(db: Db, mappingId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom("reconcile_runs")
    .select("id")
    .where("mapping_id", "=", mappingId)
    .where("status", "=", "running")
    .where("direction", "!=", "link")
    .executeTakeFirst();
  return row?.id;
}

/** A new run, running from now. */
export async function createRun(db: Db, mappingId: number, kind: RunKind, by: string, now: Date): Promise<number> {
  const row = await db
    .insertInto("reconcile_runs")
    .values({
      mapping_id: mappingId,
      direction: kind,
      status: "running",
      requested_by: by,
      started_at: now.toISOString(),
      finished_at: null,
      error: null,
      total: null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Records a run's progress, outcome or report. */
export async function updateRun(db: Db, id: number, set: Updateable<ReconcileRunTable>): Promise<void> {
  await db.updateTable("reconcile_runs").set(set).where("id", "=", id).execute();
}

/** Takes a proposed link-by-CVE run for approval; false when it is not waiting for one (approved already, or another run). */
export async function claimProposedRun(db: Db, mappingId: number, id: number): Promise<boolean> {
  const claimed = await db
    .updateTable("reconcile_runs")
    .set({ status: "approving" })
    .where("id", "=", id)
    .where("mapping_id", "=", mappingId)
    .where("direction", "=", "link")
    .where("status", "=", "proposed")
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

/** The mapping's last reconciliation, or (with `link`) its last link-by-CVE run. */
export function latestRun(db: Db, mappingId: number, link: boolean): Promise<ReconcileRun | undefined> {
  return db
    .selectFrom("reconcile_runs")
    .selectAll()
    .where("mapping_id", "=", mappingId)
    .where("direction", link ? "=" : "!=", "link")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
}
