// The webhook_deliveries table: each verified delivery, recorded once, and the latest ones
// an integration's page lists.
import type { Db } from "../db/schema.js";
import { enqueue, jobKind } from "../jobs/queue.js";

/** Processing a recorded delivery (remediation/process.ts handles it). */
export const WEBHOOK_JOB = jobKind<{ deliveryId: number }>("webhook.process", { label: "Webhook delivery" });

export interface Delivery {
  integrationId: number;
  deliveryId: string;
  /** SHA-256 of the body's bytes, hex. */
  bodyHash: string;
  event: string;
  contentType: string;
  body: string;
}

/**
 * Records a verified delivery and queues its processing, in one transaction. Both the delivery
 * id and the body's hash are unique per integration: a delivery seen before (on any replica,
 * or replayed under a new id) records nothing and gives undefined.
 */
export function acceptDelivery(db: Db, delivery: Delivery, now: Date): Promise<number | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto("webhook_deliveries")
      .values({
        integration_id: delivery.integrationId,
        delivery_id: delivery.deliveryId,
        body_hash: delivery.bodyHash,
        event: delivery.event,
        received_at: now.toISOString(),
        outcome: "accepted",
        detail: null,
        payload: JSON.stringify({ contentType: delivery.contentType, body: delivery.body }),
      })
      .onConflict((oc) => oc.doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!row) return undefined;
    await enqueue(trx, WEBHOOK_JOB, { deliveryId: row.id }, now);
    return row.id;
  });
}

/** An integration's latest deliveries, newest first: what its page shows. */
export function recentDeliveries(db: Db, integrationId: number, limit = 10) {
  return db
    .selectFrom("webhook_deliveries")
    .select(["delivery_id", "event", "received_at", "outcome", "detail"])
    .where("integration_id", "=", integrationId)
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
}

/** A delivery still waiting to be processed, with its body; undefined once settled (or gone). */
export async function acceptedDelivery(db: Db, id: number): Promise<{ integrationId: number; event: string; contentType: string; body: string } | undefined> {
  const row = await db.selectFrom("webhook_deliveries").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || row.outcome !== "accepted") return undefined;
  const { contentType, body } = JSON.parse(row.payload ?? "{}") as { contentType: string; body: string };
  return { integrationId: row.integration_id, event: row.event, contentType, body };
}

/** Records what processing a delivery did, and lets go of its body. */
export async function settleDelivery(db: Db, id: number, outcome: string, detail: string): Promise<void> {
  await db.updateTable("webhook_deliveries").set({ outcome, detail, payload: null }).where("id", "=", id).execute();
}
