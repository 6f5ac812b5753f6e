// A webhook receiver that verifies Patchbay's signature the way a receiver should: HMAC-SHA256
// of timestamp "." body with the shared secret, compared in constant time, timestamps older
// than five minutes refused.
import crypto from "node:crypto";
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export class WebhookReceiver {
  readonly faults = new FaultKnobs();
  readonly received: { event: string; delivery: string; body: Record<string, unknown>; verified: boolean }[] = [];
  constructor(readonly secret: string) {}

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware(() => JSON.stringify({ error: "unavailable" })),
    );
    app.post("/hooks/patchbay", async (c) => {
      const raw = await c.req.text();
      const timestamp = c.req.header("x-patchbay-timestamp") ?? "";
      const expected = `sha256=${crypto.createHmac("sha256", this.secret).update(`${timestamp}.${raw}`).digest("hex")}`;
      const given = c.req.header("x-patchbay-signature") ?? "";
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
      const verified = fresh && given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
      if (!verified) return c.json({ error: "bad signature" }, 401);
      this.received.push({
        event: c.req.header("x-patchbay-event") ?? "",
        delivery: c.req.header("x-patchbay-delivery") ?? "",
        body: JSON.parse(raw),
        verified,
      });
      return c.json({ received: true });
    });
    return app;
  }
}
