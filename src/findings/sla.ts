// Remediation deadlines (SLAs): days from a finding's first detection, per severity. The
// policy is the team's (Settings → SLAs); a finding's due date is set when it is created (or
// its severity changes) from the policy of that moment, so a changed policy applies to new
// findings unless someone asks to recompute the existing ones.
import { readMeta, writeMeta } from "../db/meta.js";
import type { Services } from "../services.js";
import type { Db, FindingStatus, Severity } from "../db/schema.js";
import { jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { publish } from "../jobs/events.js";
import { SEVERITIES } from "./normalize.js";
import { restampDueDates } from "./store.js";

export type SlaPolicy = Record<Severity, number | null>;

export const DEFAULT_SLA: SlaPolicy = { critical: 3, high: 14, medium: 30, low: 90, info: null };
const KEY = "sla.policy";
export const MAX_SLA_DAYS = 3650;

export async function loadSla(db: Db): Promise<SlaPolicy> {
  const value = await readMeta(db, KEY);
  if (!value) return { ...DEFAULT_SLA };
  const stored = JSON.parse(value) as Partial<SlaPolicy>;
  return Object.fromEntries(SEVERITIES.map((s) => [s, stored[s] === undefined ? DEFAULT_SLA[s] : stored[s]])) as SlaPolicy;
}

export async function saveSla(db: Db, policy: SlaPolicy): Promise<void> {
  await writeMeta(db, KEY, JSON.stringify(policy));
}

/** The due date of a finding first detected then, at that severity, or null for no deadline. */
export function dueAt(firstDetectedAt: string, severity: Severity, policy: SlaPolicy): string | null {
  const days = policy[severity];
  if (days === null) return null;
  const start = Date.parse(firstDetectedAt);
  return Number.isNaN(start) ? null : new Date(start + days * 86_400_000).toISOString();
}

/** Parses the SLA form: a whole number of days per severity, empty for no deadline. */
export function parseSlaForm(
  form: Record<string, string | undefined>,
): { ok: true; policy: SlaPolicy } | { ok: false; errors: Record<string, string>; values: Record<string, string> } {
  const errors: Record<string, string> = {};
  const values: Record<string, string> = {};
  const policy = {} as SlaPolicy;
  for (const s of SEVERITIES) {
    const raw = (form[s] ?? "").trim();
    values[s] = raw.slice(0, 10);
    if (!raw) {
      policy[s] = null;
      continue;
    }
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > MAX_SLA_DAYS)
      errors[s] = `Enter a whole number of days from 1 to ${MAX_SLA_DAYS.toLocaleString("en")}, or leave it empty for no deadline.`;
    else policy[s] = n;
  }
  return Object.keys(errors).length ? { ok: false, errors, values } : { ok: true, policy };
}

/** Sets every existing finding's due date from the policy; returns how many changed. */
export async function recomputeDueDates(db: Db, policy: SlaPolicy): Promise<number> {
  let changed = 0;
  for (const s of SEVERITIES) changed += await restampDueDates(db, s, policy[s]);
  return changed;
}

/** How far ahead the daily reminder looks. */
export const APPROACHING_DAYS = 3;

/** Whether a finding is past its deadline: still open (or in remediation) after its due date. */
export function isOverdue(finding: { status: FindingStatus; due_at: string | null }, now: Date): boolean {
  return (finding.status === "open" || finding.status === "in_remediation") && finding.due_at !== null && finding.due_at < now.toISOString();
}

/** Open findings whose deadline falls within the next days, by severity, and those already overdue. */
export async function approachingDeadlines(db: Db, now: Date): Promise<{ counts: Record<Severity, number>; overdue: number; soonest: string | null }> {
  const from = now.toISOString();
  const until = new Date(now.getTime() + APPROACHING_DAYS * 86_400_000).toISOString();
  const open = ["open", "in_remediation"] as const;
  const rows = await db
    .selectFrom("findings")
    .select(["severity", (eb) => eb.fn.countAll<number>().as("n"), (eb) => eb.fn.min<string>("due_at").as("soonest")])
    .where("status", "in", [...open])
    .where("due_at", ">=", from)
    .where("due_at", "<", until)
    .groupBy("severity")
    .execute();
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const r of rows) counts[r.severity] = Number(r.n);
  const overdue = Number(
    (
      await db
        .selectFrom("findings")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("status", "in", [...open])
        .where("due_at", "<", from)
        .executeTakeFirstOrThrow()
    ).n,
  );
  const soonest = rows.map((r) => r.soonest).sort()[0] ?? null;
  return { counts, overdue, soonest };
}

export const RECOMPUTE_DUE_JOB = jobKind("findings.recompute-due", { label: "Due dates update", dedupe: "one" });
/** Daily: a reminder of the deadlines coming up, for the notifiers that take it. */
export const SLA_REMINDER_JOB = jobKind("findings.sla-reminder", { label: "SLA reminder", dedupe: "one" });

export function slaReminderHandler(deps: Pick<Services, "db" | "now">): JobHandler {
  return async ({ logger }) => {
    const now = deps.now();
    const found = await approachingDeadlines(deps.db, now);
    const total = Object.values(found.counts).reduce((a, b) => a + b, 0);
    if (total === 0) return;
    await publish(deps.db, { type: "sla.approaching", ...found, days: APPROACHING_DAYS }, now);
    logger.info("sla reminder published", { total, overdue: found.overdue });
  };
}

export function recomputeDueHandler(deps: Pick<Services, "db">): JobHandler {
  return async ({ logger, progress }) => {
    const changed = await recomputeDueDates(deps.db, await loadSla(deps.db));
    await progress({ done: changed, total: changed, message: `${changed.toLocaleString("en")} due dates changed` });
    logger.info("due dates recomputed", { changed });
  };
}
