// Notification delivery. The dispatcher reads the outbox past its cursor and, for each notifier
// whose rules take an event, queues a send job per (notifier, rule). A burst collapses: while a
// send of the rule is queued, new events join it, and a rule sends at most once a minute, so
// one message says "and N more". A failing notifier shows Error on its card and is retried;
// the work that raised the event is never held up by it.
import { readMeta, writeMeta } from "../db/meta.js";
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { Db } from "../db/schema.js";
import { connectionOf } from "../integrations/reused.js";
import { integrationSettings, listConnected, loadConnected, setIntegrationStatus } from "../integrations/store.js";
import { enqueue, integrationLane, jobKind, releaseDedupeKey, updateQueuedPayload } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { redactText } from "../log.js";
import { publish } from "../jobs/events.js";
import { describe } from "./render.js";
import { type Route, routeForFindings, routeForRepository } from "../routing/ownership.js";
import { parseSubjectKey } from "../tickets/subjects.js";
import { type OutboxEvent, type Rule, ruleFor } from "./rules.js";

export const SEND_JOB = jobKind<SendPayload>("notification.send", {
  label: "Notification",
  maxAttempts: 5,
  // A notifier's rule (and channel) waits as one job that gathers events until it is sent.
  dedupe: (p) => sendKey(p.integrationId, p.rule, p.channel),
  lane: (p) => integrationLane(p.integrationId),
});

function sendKey(integrationId: number, rule: Rule, channel: string | undefined): string {
  return `notify:${integrationId}:${rule}${channel ? `:${channel}` : ""}`;
}
const CURSOR = "notifications.cursor";
const BATCH = 200;
const WINDOW_MS = 60_000;
/** Event ids a collapsed message keeps; beyond, only the count grows. */
const KEEP = 20;

export function dispatchHandler(deps: Services): JobHandler {
  return async ({ job, logger }) => {
    await releaseDedupeKey(deps.db, job.id);
    let queued = 0;
    for (;;) {
      const cursor = Number((await readMeta(deps.db, CURSOR)) ?? 0);
      const rows = await deps.db.selectFrom("domain_events").selectAll().where("id", ">", cursor).orderBy("id").limit(BATCH).execute();
      if (rows.length === 0) break;
      const notifiers = (await listConnected(deps.db, deps.catalogue, "notifier")).map((n) => n.integration);
      await deps.db.transaction().execute(async (trx) => {
        for (const row of rows) {
          const event: OutboxEvent = { id: row.id, type: row.type, payload: JSON.parse(row.payload) as Record<string, unknown> };
          const source = await sourceIntegration(trx, event);
          const channel = (await eventRoute(trx, event))?.channel ?? undefined;
          for (const notifier of notifiers) {
            // A notifier's own failures are shown on its card, not sent through it.
            if (notifier.id === source) continue;
            const rule = ruleFor(integrationSettings(notifier), event, source);
            if (!rule) continue;
            await enqueueNotification(trx, notifier.id, rule, event.id, deps.now(), channel);
            queued++;
          }
        }
        await writeMeta(trx, CURSOR, String(rows.at(-1)!.id));
      });
    }
    if (queued) deps.notifyWorker?.();
    logger.debug("notifications dispatched", { queued });
  };
}

async function sourceIntegration(db: Db, event: OutboxEvent): Promise<number | undefined> {
  if (typeof event.payload.integrationId === "number") return event.payload.integrationId;
  if (typeof event.payload.remediationId === "number") {
    return (await db.selectFrom("remediations").select("integration_id").where("id", "=", event.payload.remediationId).executeTakeFirst())?.integration_id;
  }
  return undefined;
}

/** The ownership route of what an event is about, where it concerns one repository. */
async function eventRoute(db: Db, event: OutboxEvent): Promise<Route | undefined> {
  if (typeof event.payload.remediationId === "number") {
    const row = await db.selectFrom("remediations").select("repository_id").where("id", "=", event.payload.remediationId).executeTakeFirst();
    return row ? routeForRepository(db, row.repository_id) : undefined;
  }
  if (event.type === "ticket.push_failed" && typeof event.payload.subjectKey === "string") {
    const subject = parseSubjectKey(event.payload.subjectKey);
    if (subject?.groupBy === "finding") return routeForFindings(db, [subject.findingId]);
    if (subject?.groupBy === "asset") {
      const asset = await db.selectFrom("assets").select("repository_id").where("id", "=", subject.assetId).executeTakeFirst();
      return asset?.repository_id ? routeForRepository(db, asset.repository_id) : undefined;
    }
    // A group by owning team: the route of a repository that team owns.
    if (subject?.groupBy === "owner" && subject.owner) {
      const repo = await db.selectFrom("repositories").select("id").where("owner", "=", subject.owner).orderBy("id").limit(1).executeTakeFirst();
      return repo ? routeForRepository(db, repo.id) : undefined;
    }
  }
  return undefined;
}

interface SendPayload {
  integrationId: number;
  rule: Rule;
  /** The routed channel (ownership routing) for notifiers that can post to one. */
  channel?: string;
  events: number[];
  /** Events collapsed beyond those kept in `events`. */
  extra: number;
}

/** Queues an event for a notifier's rule, joining a send that is still waiting. */
export async function enqueueNotification(db: Db, integrationId: number, rule: Rule, eventId: number, now: Date, channel?: string): Promise<void> {
  const key = sendKey(integrationId, rule, channel);
  const waiting = await db.selectFrom("jobs").select(["id", "payload"]).where("dedupe_key", "=", key).where("status", "=", "queued").executeTakeFirst();
  if (waiting) {
    const payload = JSON.parse(waiting.payload) as SendPayload;
    if (payload.events.length < KEEP) payload.events.push(eventId);
    else payload.extra++;
    await updateQueuedPayload(db, waiting.id, payload);
    return;
  }
  const last = await readMeta(db, `notify.last:${integrationId}:${rule}`);
  const earliest = last ? Date.parse(last) + WINDOW_MS : 0;
  const runAt = new Date(Math.max(now.getTime(), earliest));
  await enqueue(db, SEND_JOB, { integrationId, rule, events: [eventId], extra: 0, ...(channel ? { channel } : {}) }, now, { runAt });
}

export function sendHandler(deps: Services): JobHandler<SendPayload> {
  return async ({ job, payload, logger }) => {
    // Events arriving while this one sends wait for the next message.
    await releaseDedupeKey(deps.db, job.id);
    const { integrationId, rule, events, extra, channel } = payload;
    const found = await loadConnected(deps.db, deps.catalogue, integrationId, "notifier");
    if (!found) return;
    const { integration, connector } = found;
    const rows = await deps.db.selectFrom("domain_events").selectAll().where("id", "in", events).orderBy("id").execute();
    const settings = integrationSettings(integration);
    const now = deps.now();
    let notification;
    for (const row of rows) {
      notification = await describe(deps.db, deps.baseUrl, { id: row.id, type: row.type, payload: JSON.parse(row.payload) }, settings, now);
      if (notification) break;
    }
    if (!notification) return;
    notification.more = rows.length - 1 + extra;
    if (channel) notification.channel = channel;
    try {
      const connection = await connectionOf(deps, connector, integration);
      await connector.notifier.send(connection, connectorContext({ ...deps.env, logger }), notification);
    } catch (err) {
      const message = redactText(err instanceof Error ? err.message : String(err));
      await setIntegrationStatus(deps.db, integrationId, "error", `Sending a notification failed: ${message}`, deps.now());
      // The other notifiers say this one is failing (never itself: see the dispatcher).
      if (integration.status !== "error")
        await publish(
          deps.db,
          { type: "integration.failed", integrationId, kind: integration.kind, reason: `Sending a notification failed: ${message}` },
          deps.now(),
        );
      throw err;
    }
    await writeMeta(deps.db, `notify.last:${integrationId}:${rule}`, deps.now().toISOString());
    if (integration.status === "error") await setIntegrationStatus(deps.db, integrationId, "connected", null, deps.now());
    logger.info("notification sent", { integrationId, rule, events: rows.length + extra });
  };
}
