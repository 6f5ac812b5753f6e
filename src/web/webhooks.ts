// Incoming webhooks from source control and trackers: POST /webhooks/<kind>/<integration id>. No session:
// a delivery is authenticated by its signature (checked in constant time by the connector,
// over the body's bytes) with the integration's webhook secret. Unsigned and wrongly signed
// deliveries get 401 and change nothing; a body that is not UTF-8, or JSON nested deeper than
// any service sends, gets 400. A delivery seen before — the same delivery id, or the same
// signed body under a new id — gets 202 "already processed" and is not processed again (a
// service's redelivery expects a 2xx). An accepted one is recorded and processed as a durable job.
import crypto from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { enqueueJob } from "../jobs/queue.js";
import { WEBHOOK_JOB } from "../remediation/process.js";
import type { AppDeps, AppEnv } from "./context.js";
import { jsonNestingExceeds } from "../text.js";

export const MAX_WEBHOOK_BYTES = 10 * 1024 * 1024;
/** Deeper than any service's payload (Jira's rich text included); deeper bodies are refused unread. */
const MAX_JSON_DEPTH = 64;

/** The JSON a delivery carries: the body, or GitHub's form-encoded payload= field. */
function jsonOf(text: string, contentType: string): string {
  return contentType.includes("application/x-www-form-urlencoded") ? (new URLSearchParams(text).get("payload") ?? "") : text;
}

export function webhookRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post(
    "/webhooks/:kind/:id",
    bodyLimit({ maxSize: MAX_WEBHOOK_BYTES, onError: (c) => c.json({ error: "The delivery is larger than 10 MB." }, 413) }),
    async (c) => {
      const refuse = (status: 400 | 401 | 404, reason: string) => {
        deps.logger.warn("webhook refused", { path: c.req.path, reason, ip: c.get("clientIp") });
        return c.json({ error: reason }, status);
      };
      const id = Number(c.req.param("id"));
      const integration = Number.isSafeInteger(id)
        ? await deps.db.selectFrom("integrations").selectAll().where("id", "=", id).where("kind", "=", c.req.param("kind")).executeTakeFirst()
        : undefined;
      const connector = integration && deps.registry.available(integration.kind);
      // Source control signs its deliveries; so do trackers that send their tickets' changes.
      const receiver = connector?.scm?.webhook ?? connector?.tracker?.inbound;
      if (!integration || !receiver) return refuse(404, "No integration that sends webhooks at this address.");
      const secret = deps.vault.openSecrets(integration.secrets)[receiver.secretField];
      if (!secret) return refuse(401, "This integration has no webhook secret; enter one in its Configuration tab.");
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      let raw: string;
      try {
        raw = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        return refuse(400, "The delivery's body is not UTF-8 text.");
      }
      const now = deps.now();
      const check = receiver.verify(c.req.raw.headers, { bytes, text: raw }, secret, now);
      if (!check.ok) return refuse(401, check.reason);
      const contentType = c.req.header("content-type") ?? "";
      if (jsonNestingExceeds(jsonOf(raw, contentType), MAX_JSON_DEPTH)) return refuse(400, `The delivery's JSON is nested deeper than ${MAX_JSON_DEPTH} levels; no service sends that.`);

      const bodyHash = crypto.createHash("sha256").update(bytes).digest("hex");
      const recorded = await deps.db.transaction().execute(async (trx) => {
        // Both the delivery id and the body's hash are unique per integration: a second
        // replica (or a replay under a new id) inserts nothing.
        const row = await trx
          .insertInto("webhook_deliveries")
          .values({
            integration_id: integration.id,
            delivery_id: check.deliveryId,
            body_hash: bodyHash,
            event: check.event,
            received_at: now.toISOString(),
            outcome: "accepted",
            detail: null,
            payload: JSON.stringify({ contentType, body: raw }),
          })
          .onConflict((oc) => oc.doNothing())
          .returning("id")
          .executeTakeFirst();
        if (!row) return undefined;
        await enqueueJob(trx, WEBHOOK_JOB, { deliveryId: row.id }, now);
        return row.id;
      });
      if (recorded === undefined) {
        deps.logger.info("webhook duplicate", { path: c.req.path, deliveryId: check.deliveryId });
        return c.json({ status: "already processed", deliveryId: check.deliveryId }, 202);
      }
      deps.notifyWorker();
      return c.json({ accepted: check.deliveryId }, 202);
    },
  );
  return app;
}
