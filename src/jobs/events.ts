// Domain events: an outbox table written in the same transaction as the change it
// describes. Publishing also queues the notifications dispatcher, which reads the outbox;
// nothing here calls a notifier directly.
import type { Db, Severity } from "../db/schema.js";
import { enqueue, jobKind } from "./queue.js";

export const DISPATCH_JOB = jobKind("notifications.dispatch", { label: "Notification routing", dedupe: "one" });

export type DomainEvent =
  | { type: "remediation.opened"; remediationId: number; findingIds: number[] }
  | { type: "remediation.merged"; remediationId: number; findingIds: number[] }
  | { type: "remediation.closed"; remediationId: number; findingIds: number[] }
  | {
      type: "ticket.push_failed";
      mappingId: number;
      integrationId: number;
      subjectKey: string;
      subjectLabel: string;
      reason: string;
      httpStatus: number | null;
      trackerMessage: string | null;
    }
  | { type: "integration.failed"; integrationId: number; kind: string; reason: string }
  | { type: "integration.warning"; integrationId: number; notes: { level: "warning" | "error"; message: string }[] }
  | { type: "scan.failed"; integrationId: number; reason: string }
  | { type: "findings.new"; integrationId: number; counts: Record<Severity, number> }
  | { type: "sla.approaching"; counts: Record<Severity, number>; overdue: number; soonest: string | null; days: number }
  | { type: "findings.kev"; counts: Record<Severity, number>; cves: string[] };

/** The ticket sweep (automatic pushes), asked for after findings change; one queued at a time. */
export const SWEEP_JOB = jobKind("tickets.sweep", { label: "Ticket sweep", dedupe: "one" });

/** The fix sweep (fix pull requests proposed or opened by the remediation modes); one queued at a time. */
export const FIX_SWEEP_JOB = jobKind("remediation.fix-sweep", { label: "Fix sweep", dedupe: "one" });

/** Which findings a rescore scores: all, those new or with changed feed data since a moment, a repository's, an asset's. */
export type RescoreScope = { all: true } | { since: string } | { repository: number } | { asset: number };

/**
 * Risk scores computed again: every finding's (nightly, or after the ownership table's
 * criticality changed), those not scored yet and those whose CVE's KEV or EPSS data changed since
 * a moment, or a repository's or an image's after its criticality changed. One of each queued at a time.
 */
export const RESCORE_JOB = jobKind<RescoreScope>("exploitation.rescore", {
  label: "Risk scores",
  dedupe: (p) =>
    "all" in p
      ? "exploitation.rescore:all"
      : "since" in p
        ? "exploitation.rescore:changed"
        : "repository" in p
          ? `exploitation.rescore:repository:${p.repository}`
          : `exploitation.rescore:asset:${p.asset}`,
});

/**
 * The sweeps that follow a change of findings: the ticket sweep, new findings' risk scores, and
 * the fix sweep where a remediation mode is on (the default's, or any repository's own setting).
 */
export async function requestTicketSweep(db: Db, now: Date): Promise<void> {
  await enqueue(db, SWEEP_JOB, null, now);
  await enqueue(db, RESCORE_JOB, { since: now.toISOString() }, now);
  if (await fixSweepWanted(db)) await enqueue(db, FIX_SWEEP_JOB, null, now);
}

/** The meta key of the remediation settings' default (see remediation/settings). */
export const REMEDIATION_DEFAULTS_KEY = "remediation.defaults";

async function fixSweepWanted(db: Db): Promise<boolean> {
  const own = await db.selectFrom("repositories").select("id").where("remediation", "is not", null).limit(1).executeTakeFirst();
  if (own) return true;
  const defaults = await db.selectFrom("meta").select("value").where("key", "=", REMEDIATION_DEFAULTS_KEY).executeTakeFirst();
  if (!defaults) return false;
  try {
    const mode = (JSON.parse(defaults.value) as { mode?: unknown }).mode;
    return mode === "hybrid" || mode === "automated";
  } catch {
    return false;
  }
}

export async function publish(db: Db, event: DomainEvent, now: Date): Promise<void> {
  const { type, ...payload } = event;
  await db
    .insertInto("domain_events")
    .values({ type, payload: JSON.stringify(payload), created_at: now.toISOString() })
    .execute();
  await enqueue(db, DISPATCH_JOB, null, now);
}
