// Incoming webhooks from source control and trackers: POST /webhooks/<kind>/<integration id>. No session:
// a delivery is authenticated by its signature (checked in constant time by the connector)
// with the integration's webhook secret. Unsigned, wrongly signed and replayed deliveries get
// 401 and change nothing; an accepted one is recorded and processed as a durable job.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { enqueueJob } from "../jobs/queue.js";
import { WEBHOOK_JOB } from "../remediation/process.js";
import type { AppDeps, AppEnv } from "./context.js";

export const MAX_WEBHOOK_BYTES = 10 * 1024 * 1024;

export function webhookRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post(
    "/webhooks/:kind/:id",
    bodyLimit({ maxSize: MAX_WEBHOOK_BYTES, onError: (c) => c.json({ error: "The delivery is larger than 10 MB." }, 413) }),
    async (c) => {
      const refuse = (status: 401 | 404, reason: string) => {
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
      const raw = await c.req.text();
      const check = receiver.verify(c.req.raw.headers, raw, secret);
      if (!check.ok) return refuse(401, check.reason);

      const now = deps.now();
      const recorded = await deps.db.transaction().execute(async (trx) => {
        const seen = await trx
          .selectFrom("webhook_deliveries")
          .select("id")
          .where("integration_id", "=", integration.id)
          .where("delivery_id", "=", check.deliveryId)
          .executeTakeFirst();
        if (seen) return undefined;
        const row = await trx
          .insertInto("webhook_deliveries")
          .values({
            integration_id: integration.id,
            delivery_id: check.deliveryId,
            event: check.event,
            received_at: now.toISOString(),
            outcome: "accepted",
            detail: null,
            payload: JSON.stringify({ contentType: c.req.header("content-type") ?? "", body: raw }),
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        await enqueueJob(trx, WEBHOOK_JOB, { deliveryId: row.id }, now);
        return row.id;
      });
      if (recorded === undefined) return refuse(401, `Delivery ${check.deliveryId} was already received (a replay).`);
      deps.notifyWorker();
      return c.json({ accepted: check.deliveryId }, 202);
    },
  );
  return app;
}
