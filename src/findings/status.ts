// Every change of a finding's status goes through moveFindings: the status, the columns that
// follow it (resolved_at, the expiry of a risk acceptance) and one history line per finding,
// written together. Imports, tracker events, pull requests, registries, expiries and people
// all call it. People's own changes (risk accepted with reason and expiry, false positive,
// reopening) are changeFindingStatus; re-imports never override them.
import type { Db, Finding, FindingStatus } from "../db/schema.js";
import { chunks } from "../db/chunks.js";
import { insertMany } from "../db/dialect.js";
import { requestTicketSweep } from "../jobs/events.js";

/** A finding as a move needs it: its id and its status now (and anything a note reads). */
export interface Moving {
  id: number;
  status: FindingStatus;
}

export interface Move<F extends Moving> {
  to: FindingStatus;
  /** Who: a username, "scanner: <integration>", "<tracker>: <person>", "remediation", "Patchbay". */
  actor: string;
  /** The history line: one for all, or each finding's own. */
  note: string | null | ((finding: F) => string | null);
  /** The finding's status reason; left as it is when absent. */
  reason?: string | null;
  /** When a risk acceptance ends (only with to: "risk_accepted"); any other status clears it. */
  expiresAt?: string;
  /** When a tracker closed the finding's ticket; left as it is when absent. */
  trackerClosedAt?: string | null;
  /** A person set this status (a remediation policy rule then leaves it alone). */
  byPerson?: boolean;
}

const CHUNK = 500;

/**
 * Moves these findings to `move.to`, each from the status it has, and writes each one's
 * history line; `at` stamps both. Run it inside the caller's transaction when the move goes
 * with other writes. Gives how many moved.
 */
export async function moveFindings<F extends Moving>(db: Db, findings: F[], move: Move<F>, at: Date | string): Promise<number> {
  if (findings.length === 0) return 0;
  const stamp = typeof at === "string" ? at : at.toISOString();
  const set = {
    status: move.to,
    resolved_at: move.to === "resolved" ? stamp : null,
    status_expires_at: move.to === "risk_accepted" ? (move.expiresAt ?? null) : null,
    ...(move.reason !== undefined ? { status_reason: move.reason } : {}),
    ...(move.trackerClosedAt !== undefined ? { tracker_closed_at: move.trackerClosedAt } : {}),
    person_status: move.byPerson ? 1 : 0,
    updated_at: stamp,
  };
  for (const batch of chunks(findings, CHUNK)) {
    await db
      .updateTable("findings")
      .set(set)
      .where(
        "id",
        "in",
        batch.map((f) => f.id),
      )
      .execute();
    await db
      .insertInto("finding_events")
      .values(
        batch.map((f) => ({
          finding_id: f.id,
          at: stamp,
          actor: move.actor,
          from_status: f.status,
          to_status: move.to,
          note: typeof move.note === "function" ? move.note(f) : move.note,
        })),
      )
      .execute();
  }
  return findings.length;
}

/** The first line of new findings' history: they were imported, open. */
export async function recordImported(db: Db, findingIds: number[], actor: string, at: string): Promise<void> {
  for (const batch of chunks(findingIds, CHUNK)) {
    await insertMany(
      db,
      "finding_events",
      batch.map((id) => ({ finding_id: id, at, actor, from_status: null, to_status: "open" as const, note: "Imported" })),
    );
  }
}

/** A line on each finding's history that leaves its status as it is (a ticket's comment, a PR's note). */
export async function noteFindings(db: Db, notes: { finding: Moving; note: string }[], actor: string, at: Date | string): Promise<void> {
  const stamp = typeof at === "string" ? at : at.toISOString();
  for (const batch of chunks(notes, CHUNK)) {
    await db
      .insertInto("finding_events")
      .values(batch.map(({ finding, note }) => ({ finding_id: finding.id, at: stamp, actor, from_status: finding.status, to_status: finding.status, note })))
      .execute();
  }
}

export type StatusChange =
  { status: "risk_accepted"; reason: string; expiresAt: string } | { status: "false_positive"; reason: string } | { status: "open"; reason: string | null };

/** A person's status change as asked for (a form or the API), checked: the change, or what to correct per field. */
export function parseStatusChange(form: Record<string, string | undefined>, now: Date): StatusChange | { errors: Record<string, string> } {
  const reason = (form.reason ?? "").trim();
  const errors: Record<string, string> = {};
  if (reason.length > 1000) errors.reason = "Keep the reason under 1,000 characters.";
  switch (form.status) {
    case "risk_accepted": {
      if (!reason) errors.reason = "Say why the risk is accepted.";
      const expires = /^\d{4}-\d{2}-\d{2}$/.test(form.expires ?? "") ? new Date(`${form.expires}T23:59:59Z`) : undefined;
      if (!expires || Number.isNaN(expires.getTime())) errors.expires = "Choose the date the acceptance ends.";
      else if (expires.getTime() <= now.getTime()) errors.expires = "The end date must be in the future.";
      else if (expires.getTime() > now.getTime() + 366 * 24 * 3600_000) errors.expires = "Accept a risk for at most a year; review it again then.";
      return Object.keys(errors).length ? { errors } : { status: "risk_accepted", reason, expiresAt: expires!.toISOString() };
    }
    case "false_positive":
      if (!reason) errors.reason = "Say why this is a false positive.";
      return Object.keys(errors).length ? { errors } : { status: "false_positive", reason };
    case "open":
      return Object.keys(errors).length ? { errors } : { status: "open", reason: reason || null };
    default:
      return { errors: { status: "Choose risk accepted, false positive or reopen." } };
  }
}

export async function changeFindingStatus(db: Db, finding: Finding, change: StatusChange, actor: string, now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await moveFindings(
      trx,
      [finding],
      {
        to: change.status,
        actor,
        byPerson: true,
        reason: change.reason,
        ...(change.status === "risk_accepted" ? { expiresAt: change.expiresAt } : {}),
        note: change.status === "risk_accepted" ? `${change.reason} (until ${change.expiresAt.slice(0, 10)})` : change.reason,
      },
      now,
    );
    await requestTicketSweep(trx, now);
  });
}

/** Risk acceptances whose expiry has passed go back to open. */
export async function expireRiskAcceptances(db: Db, now: Date): Promise<number> {
  const due = await db
    .selectFrom("findings")
    .select(["id", "status"])
    .where("status_expires_at", "is not", null)
    .where("status_expires_at", "<=", now.toISOString())
    .where("status", "=", "risk_accepted")
    .execute();
  if (due.length === 0) return 0;
  await db.transaction().execute(async (trx) => {
    await moveFindings(trx, due, { to: "open", actor: "Patchbay", note: "Risk acceptance expired" }, now);
    await requestTicketSweep(trx, now);
  });
  return due.length;
}

/** Rewrites the reason the findings' current status gives (a tracker comment that explains a transition). */
export async function setStatusReason(db: Db, ids: number[], reason: string): Promise<void> {
  for (const part of chunks(ids, CHUNK)) await db.updateTable("findings").set({ status_reason: reason }).where("id", "in", part).execute();
}
