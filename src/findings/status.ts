// Status changes people make: risk accepted (with reason and expiry), false positive, and
// reopening. Each is recorded in the finding's history; re-imports never override them.
import type { Db, Finding, FindingStatus } from "../db/schema.js";
import { requestTicketSweep } from "../jobs/events.js";

export type StatusChange =
  | { status: "risk_accepted"; reason: string; expiresAt: string }
  | { status: "false_positive"; reason: string }
  | { status: "open"; reason: string | null };

export async function changeFindingStatus(db: Db, finding: Finding, change: StatusChange, actor: string, now: Date): Promise<void> {
  const stamp = now.toISOString();
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("findings")
      .set({
        status: change.status,
        status_reason: change.reason,
        status_expires_at: change.status === "risk_accepted" ? change.expiresAt : null,
        resolved_at: null,
        updated_at: stamp,
      })
      .where("id", "=", finding.id)
      .execute();
    const note =
      change.status === "risk_accepted" ? `${change.reason} (until ${change.expiresAt.slice(0, 10)})` : change.reason;
    await trx
      .insertInto("finding_events")
      .values({ finding_id: finding.id, at: stamp, actor, from_status: finding.status, to_status: change.status, note })
      .execute();
    await requestTicketSweep(trx, now);
  });
}

/** Risk acceptances whose expiry has passed go back to open. */
export async function expireRiskAcceptances(db: Db, now: Date): Promise<number> {
  const stamp = now.toISOString();
  const due = await db
    .selectFrom("findings")
    .select(["id", "status"])
    .where("status_expires_at", "is not", null)
    .where("status_expires_at", "<=", stamp)
    .where("status", "=", "risk_accepted")
    .execute();
  if (due.length === 0) return 0;
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("findings")
      .set({ status: "open", status_expires_at: null, updated_at: stamp })
      .where("id", "in", due.map((f) => f.id))
      .execute();
    await trx
      .insertInto("finding_events")
      .values(due.map((f) => ({ finding_id: f.id, at: stamp, actor: "Patchbay", from_status: f.status as FindingStatus, to_status: "open" as const, note: "Risk acceptance expired" })))
      .execute();
    await requestTicketSweep(trx, now);
  });
  return due.length;
}
