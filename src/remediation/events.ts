// Domain events: an outbox table written in the same transaction as the change it
// describes. Notifications read it; nothing here calls them directly.
import type { Db } from "../db/schema.js";

export type DomainEvent =
  | { type: "remediation.opened"; remediationId: number; findingIds: number[] }
  | { type: "remediation.merged"; remediationId: number; findingIds: number[] }
  | { type: "remediation.closed"; remediationId: number; findingIds: number[] }
  | { type: "ticket.push_failed"; mappingId: number; subjectKey: string; subjectLabel: string; reason: string }
  | { type: "integration.failed"; integrationId: number; kind: string; reason: string };

export async function publish(db: Db, event: DomainEvent, now: Date): Promise<void> {
  const { type, ...payload } = event;
  await db.insertInto("domain_events").values({ type, payload: JSON.stringify(payload), created_at: now.toISOString() }).execute();
}
