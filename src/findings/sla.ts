// Remediation deadlines (SLAs): days from a finding's first detection, per severity or per risk
// band (the policy is the team's: Settings → SLAs), and for a finding in CISA's KEV, days from
// when Patchbay first saw it there: CISA's own window (due date − date added) or the configured
// days, whichever is sooner — never later than the deadline it had without KEV. Due dates always
// follow the policy: a change is previewed (how many deadlines move) and then applied to every
// finding by a durable job; the rescore keeps them in step as scores and KEV change.
import { readMeta, writeMeta } from "../db/meta.js";
import { type Proposal, proposalStore } from "../db/proposals.js";
import type { Services } from "../services.js";
import type { Db, FindingStatus, Severity } from "../db/schema.js";
import { jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { publish } from "../jobs/events.js";
import { SEVERITIES } from "./normalize.js";
import { RISK_BANDS, type RiskBand, riskBand } from "../vuln/severity.js";

export interface SlaPolicy extends Record<Severity, number | null> {
  /** What the days count by: the finding's severity, or its risk score's band. */
  basis: "severity" | "risk";
  /** Days per risk band (used with the risk basis). */
  bands: Record<RiskBand, number | null>;
  /** At most this many days from when Patchbay first saw a finding in KEV (null: CISA's window alone). */
  kevDays: number | null;
}

export const DEFAULT_SLA: SlaPolicy = {
  critical: 3,
  high: 14,
  medium: 30,
  low: 90,
  info: null,
  basis: "severity",
  bands: { critical: 7, high: 30, medium: 90, low: 180 },
  kevDays: null,
};
const KEY = "sla.policy";
export const MAX_SLA_DAYS = 3650;

/** A policy from its stored or imported form (older ones: days per severity only). */
export function slaPolicy(stored: Partial<SlaPolicy>): SlaPolicy {
  return {
    ...(Object.fromEntries(SEVERITIES.map((s) => [s, stored[s] === undefined ? DEFAULT_SLA[s] : stored[s]])) as Record<Severity, number | null>),
    basis: stored.basis === "risk" ? "risk" : "severity",
    bands: Object.fromEntries(RISK_BANDS.map((b) => [b, stored.bands?.[b] === undefined ? DEFAULT_SLA.bands[b] : stored.bands[b]])) as SlaPolicy["bands"],
    kevDays: stored.kevDays ?? null,
  };
}

export async function loadSla(db: Db): Promise<SlaPolicy> {
  const value = await readMeta(db, KEY);
  return slaPolicy(value ? (JSON.parse(value) as Partial<SlaPolicy>) : {});
}

export async function saveSla(db: Db, policy: SlaPolicy): Promise<void> {
  await writeMeta(db, KEY, JSON.stringify(policy));
}

export const samePolicy = (a: SlaPolicy, b: SlaPolicy) => JSON.stringify(slaPolicy(a)) === JSON.stringify(slaPolicy(b));

/** What a finding's deadline is computed from. */
export interface DeadlineFacts {
  firstDetectedAt: string;
  severity: Severity;
  /** Its risk score before KEV's floor, or null before it is first scored. */
  riskBase: number | null;
  /** Its CVE's KEV entry: when Patchbay first saw it there, and CISA's dates. */
  kev: { firstSeenAt: string; dateAdded: string; dueDate: string | null } | null;
}

const DAY = 86_400_000;
const plus = (iso: string, days: number) => {
  const start = Date.parse(iso);
  return Number.isNaN(start) ? null : new Date(start + days * DAY).toISOString();
};

/**
 * A finding's due date under a policy, or null for none. The days: its risk band's under the
 * risk basis (its severity's until it is scored), else its severity's. In KEV: from the later of
 * its first detection and Patchbay's first sight of the CVE in KEV, the sooner of CISA's window
 * and the configured days — and the earlier of that and the deadline without KEV.
 */
export function deadline(f: DeadlineFacts, policy: SlaPolicy): string | null {
  const days = policy.basis === "risk" && f.riskBase !== null ? policy.bands[riskBand(f.riskBase)] : policy[f.severity];
  const base = days === null ? null : plus(f.firstDetectedAt, days);
  if (!f.kev) return base;
  const added = Date.parse(f.kev.dateAdded);
  const due = f.kev.dueDate ? Date.parse(f.kev.dueDate) : Number.NaN;
  const window = Number.isNaN(added) || Number.isNaN(due) || due < added ? null : Math.round((due - added) / DAY);
  const kevDays = window === null ? policy.kevDays : policy.kevDays === null ? window : Math.min(window, policy.kevDays);
  if (kevDays === null) return base;
  const from = f.kev.firstSeenAt > f.firstDetectedAt ? f.kev.firstSeenAt : f.firstDetectedAt;
  const kevDue = plus(from, kevDays);
  return base === null || (kevDue !== null && kevDue < base) ? kevDue : base;
}

/** The due date of a finding first detected then, at that severity, before it is scored or known in KEV. */
export function dueAt(firstDetectedAt: string, severity: Severity, policy: SlaPolicy): string | null {
  return deadline({ firstDetectedAt, severity, riskBase: null, kev: null }, policy);
}

type SlaForm = Record<string, string | undefined>;

/**
 * Parses the SLA form: the basis, a whole number of days per severity and per band (empty: no
 * deadline), KEV's days. A field the form leaves out keeps its value in `current`.
 */
export function parseSlaForm(
  form: SlaForm,
  current: SlaPolicy,
): { ok: true; policy: SlaPolicy } | { ok: false; errors: Record<string, string>; values: Record<string, string> } {
  const errors: Record<string, string> = {};
  const values: Record<string, string> = {};
  const kept = slaFormValues(current);
  const days = (name: string): number | null => {
    const raw = (form[name] ?? kept[name] ?? "").trim();
    values[name] = raw.slice(0, 10);
    if (!raw) return null;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > MAX_SLA_DAYS) {
      errors[name] = `Enter a whole number of days from 1 to ${MAX_SLA_DAYS.toLocaleString("en")}, or leave it empty for no deadline.`;
      return null;
    }
    return n;
  };
  const basis = (form.basis ?? current.basis) === "risk" ? "risk" : "severity";
  values.basis = basis;
  if (form.basis !== undefined && form.basis !== "risk" && form.basis !== "severity") errors.basis = "Count deadlines by severity or by risk band.";
  const policy: SlaPolicy = {
    ...(Object.fromEntries(SEVERITIES.map((s) => [s, days(s)])) as Record<Severity, number | null>),
    basis,
    bands: Object.fromEntries(RISK_BANDS.map((b) => [b, days(`band_${b}`)])) as SlaPolicy["bands"],
    kevDays: days("kev_days"),
  };
  return Object.keys(errors).length ? { ok: false, errors, values } : { ok: true, policy };
}

/** The form's values for a policy. */
export function slaFormValues(policy: SlaPolicy): Record<string, string> {
  const text = (n: number | null) => (n === null ? "" : String(n));
  return {
    ...Object.fromEntries(SEVERITIES.map((s) => [s, text(policy[s])])),
    ...Object.fromEntries(RISK_BANDS.map((b) => [`band_${b}`, text(policy.bands[b])])),
    kev_days: text(policy.kevDays),
    basis: policy.basis,
  };
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
/** Counting what a proposed SLA policy would change (Settings → SLAs shows it before it is applied). */
export const SLA_PREVIEW_JOB = jobKind<{ at: string }>("findings.sla-preview", { label: "SLA preview", dedupe: (p) => `findings.sla-preview:${p.at}` });

/** What applying an SLA policy would change: counts, and a sample of the open findings whose deadline moves. */
export interface DeadlinePreview {
  findings: number;
  /** Deadlines that change (of any finding), and of those: earlier, later, gained, lost. */
  changed: number;
  earlier: number;
  later: number;
  gained: number;
  lost: number;
  /** Open findings that would be overdue at once, and that would no longer be. */
  overdueNow: number;
  noLongerOverdue: number;
  sample: { id: number; cve: string; from: string | null; to: string | null }[];
}

/** A policy an admin proposed (Settings → SLAs), with its preview once counted. */
export type SlaProposal = Proposal<SlaPolicy, DeadlinePreview>;

const proposals = proposalStore<SlaPolicy, DeadlinePreview>("sla.proposal");

export async function loadSlaProposal(db: Db): Promise<SlaProposal | undefined> {
  const p = await proposals.load(db);
  return p && { ...p, value: slaPolicy(p.value) };
}

export const saveSlaProposal = proposals.save;
export const saveSlaPreview = proposals.saveResult;
export const clearSlaProposal = proposals.clear;
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
