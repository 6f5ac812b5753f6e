// The audit log: who did what and when. Written by the web layer and the command line at the
// moment a change is made; read on Settings → Audit log and through the API; pruned after the
// retention period (a year by default) by the daily clean-up. Details never hold secrets: a
// caller passes names of what changed, never values of secret settings.
import type { AuditEntry, Db } from "../db/schema.js";

/** Every action recorded, with the words the audit page shows for it. */
export const AUDIT_ACTIONS = {
  "auth.sign_in": "Signed in",
  "auth.sign_in_failed": "Sign-in failed",
  "auth.sign_out": "Signed out",
  "auth.password_changed": "Changed their password",
  "auth.password_reset": "Password reset (one-time password)",
  "auth.totp_enabled": "Turned on two-step sign-in",
  "auth.totp_disabled": "Turned off two-step sign-in",
  "auth.settings_changed": "Changed sign-in settings",
  "user.created": "Added a user",
  "user.role_changed": "Changed a role",
  "user.removed": "Removed a user",
  "token.created": "Created an API token",
  "token.revoked": "Revoked an API token",
  "integration.connected": "Connected an integration",
  "integration.changed": "Changed an integration",
  "integration.renamed": "Renamed an integration",
  "integration.disconnected": "Disconnected an integration",
  "integration.sync_requested": "Asked for a sync",
  "mapping.saved": "Saved a tracker mapping",
  "mapping.deleted": "Deleted a tracker mapping",
  "assignment.saved": "Saved an assignment",
  "assignment.deleted": "Deleted an assignment",
  "ticket.linked": "Linked a ticket by hand",
  "push.requested": "Asked for a push",
  "fix.requested": "Asked for a fix pull request",
  "fix.dismissed": "Dismissed a proposed fix",
  "remediation.changed": "Changed remediation settings",
  "exploitation.changed": "Changed or loaded exploitation data",
  "sla.changed": "Changed the SLA policy",
  "policy.changed": "Changed the remediation policy",
  "ownership.changed": "Changed ownership routing",
  "configuration.imported": "Imported a configuration",
  "finding.status_changed": "Changed a finding's status",
  "job.retried": "Retried a job",
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export interface AuditRecord {
  actor: string | null;
  via?: string | null;
  action: AuditAction;
  target?: string | null;
  detail?: Record<string, unknown>;
  ip?: string | null;
}

const MAX_TEXT = 500;
const clip = (text: string | null | undefined) => (text == null ? null : text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) + "…" : text);

export async function recordAudit(db: Db, entry: AuditRecord, now: Date): Promise<void> {
  const detail = entry.detail && Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : null;
  await db
    .insertInto("audit_log")
    .values({
      at: now.toISOString(),
      actor: clip(entry.actor),
      via: clip(entry.via ?? null),
      action: entry.action,
      target: clip(entry.target ?? null),
      detail: detail && detail.length > 4000 ? JSON.stringify({ note: "detail too long to keep" }) : detail,
      ip: clip(entry.ip ?? null),
    })
    .execute();
}

export interface AuditFilter {
  actor?: string;
  /** An action, or a family ("integration"). */
  action?: string;
  /** ISO dates (inclusive day range). */
  from?: string;
  to?: string;
  /** Entries before this id (the next page). */
  before?: number;
  limit: number;
}

/** Entries newest first, a page at a time; `next` is the id to ask for the following page. */
export async function listAudit(db: Db, filter: AuditFilter): Promise<{ entries: AuditEntry[]; next: number | undefined }> {
  const rows = await db
    .selectFrom("audit_log")
    .selectAll()
    .$if(Boolean(filter.actor), (q) => q.where("actor", "=", filter.actor!))
    .$if(Boolean(filter.action), (q) =>
      filter.action!.includes(".")
        ? q.where("action", "=", filter.action!)
        : q.where("action", ">=", `${filter.action}.`).where("action", "<", `${filter.action}/`),
    )
    .$if(Boolean(filter.from), (q) => q.where("at", ">=", filter.from!))
    .$if(Boolean(filter.to), (q) => q.where("at", "<", filter.to!))
    .$if(filter.before !== undefined, (q) => q.where("id", "<", filter.before!))
    .orderBy("id", "desc")
    .limit(filter.limit + 1)
    .execute();
  const more = rows.length > filter.limit;
  if (more) rows.pop();
  return { entries: rows, next: more ? rows.at(-1)!.id : undefined };
}

/** People who appear in the log, for the page's filter. */
export async function auditActors(db: Db): Promise<string[]> {
  const rows = await db.selectFrom("audit_log").select("actor").distinct().where("actor", "is not", null).orderBy("actor").limit(500).execute();
  return rows.map((r) => r.actor!);
}

/** Deletes entries older than `days` days; returns how many. */
export async function pruneAudit(db: Db, days: number, now: Date): Promise<number> {
  if (days <= 0) return 0;
  const before = new Date(now.getTime() - days * 86_400_000).toISOString();
  const result = await db.deleteFrom("audit_log").where("at", "<", before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
