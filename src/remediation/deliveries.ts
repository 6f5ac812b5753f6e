// The webhook_deliveries table: each verified delivery, recorded once, and the latest ones
// an integration's page lists.
import type { Db } from "../db/schema.js";
import { enqueue } from "../jobs/queue.js";
import { WEBHOOK_JOB } from "./process.js";

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
