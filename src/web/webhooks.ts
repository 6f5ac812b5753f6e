// Incoming webhooks from source control and trackers: POST /webhooks/<kind>/<integration id>. No session:
// a delivery is authenticated by its signature (checked in constant time by the connector,
// over the body's bytes) with the integration's webhook secret. Unsigned and wrongly signed
// deliveries get 401 and change nothing; a body that is not UTF-8, or JSON nested deeper than
// any service sends, gets 400, as does a signed body that is empty or not JSON. Bodies are read as
// a stream up to the service's documented maximum (GitHub: 25 MB; others 10 MB; larger: 413),
// an unsigned one not at all, and at most two large ones at once per integration. A delivery seen before — the same delivery id, or the same
// signed body under a new id — gets 202 "already processed" and is not processed again (a
// service's redelivery expects a 2xx). An accepted one is recorded and processed as a durable job.
import { loadConnected } from "../integrations/store.js";
import crypto from "node:crypto";
import { Hono } from "hono";
import { readBytesUpTo } from "../http.js";
import { acceptDelivery } from "../remediation/deliveries.js";
import type { AppDeps, AppEnv } from "./context.js";
import { jsonNestingExceeds } from "../text.js";

export const MAX_WEBHOOK_BYTES = 10 * 1024 * 1024;
/** Deeper than any service's payload (Jira's rich text included); deeper bodies are refused unread. */
const MAX_JSON_DEPTH = 64;

/** The JSON a delivery carries: the body, or GitHub's form-encoded payload= field. */
function jsonOf(text: string, contentType: string): string {
  return contentType.includes("application/x-www-form-urlencoded") ? (new URLSearchParams(text).get("payload") ?? "") : text;
}

/** A body above this is "large": an integration reads at most two of them at once. */
const LARGE_BODY_BYTES = 1024 * 1024;
const LARGE_IN_FLIGHT = 2;

export function webhookRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  /** Large bodies being read, per integration. */
  const large = new Map<number, number>();
  app.post("/webhooks/:kind/:id", async (c) => {
    const refuse = (status: 400 | 401 | 404, reason: string) => {
      deps.logger.warn("webhook refused", { path: c.req.path, reason, ip: c.get("clientIp") });
      return c.json({ error: reason }, status);
    };
    const loaded = await loadConnected(deps.db, deps.catalogue, Number(c.req.param("id")));
    const found = loaded?.integration.kind === c.req.param("kind") ? loaded : undefined;
    // Source control signs its deliveries; so do trackers that send their tickets' changes.
    const receiver = found?.connector.scm?.webhook ?? found?.connector.tracker?.inbound;
    if (!found || !receiver) return refuse(404, "No integration that sends webhooks at this address.");
    const { integration, connector } = found;
    const secret = deps.vault.openSecrets(integration.secrets)[receiver.secretField];
    if (!secret) return refuse(401, "This integration has no webhook secret; enter one in its Configuration tab.");
    // Unsigned: refused before a byte of the body is read.
    if (receiver.signatureHeaders && !receiver.signatureHeaders.some((h) => c.req.header(h))) {
      return refuse(401, `The delivery is not signed (no ${receiver.signatureHeaders.join(" or ")} header); its body was not read.`);
    }
    const max = receiver.maxBodyBytes ?? MAX_WEBHOOK_BYTES;
    const tooLarge = () => c.json({ error: `The delivery is larger than ${max / 1024 / 1024} MB, the most ${connector.card.name} sends.` }, 413);
    const declared = Number(c.req.header("content-length") ?? NaN);
    if (declared > max) return tooLarge();
    // Memory stays bounded whoever sends: two large bodies in flight per integration.
    const isLarge = !(declared <= LARGE_BODY_BYTES);
    if (isLarge && (large.get(integration.id) ?? 0) >= LARGE_IN_FLIGHT) {
      return c.json({ error: "Two large deliveries for this integration are being read; send this one again in a few seconds." }, 503, { "retry-after": "5" });
    }
    if (isLarge) large.set(integration.id, (large.get(integration.id) ?? 0) + 1);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readBytesUpTo(c.req.raw.body, max);
    } finally {
      if (isLarge) large.set(integration.id, (large.get(integration.id) ?? 1) - 1);
    }
    if (!bytes) return tooLarge();
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
    const json = jsonOf(raw, contentType);
    if (jsonNestingExceeds(json, MAX_JSON_DEPTH))
      return refuse(400, `The delivery's JSON is nested deeper than ${MAX_JSON_DEPTH} levels; no service sends that.`);
    // Signed, but nothing Patchbay can read: said at once, and no job is queued.
    if (!json.trim()) return refuse(400, "The delivery is signed, but its body is empty: there is no event to process.");
    try {
      JSON.parse(json);
    } catch (err) {
      return refuse(400, `The delivery is signed, but its body is not JSON (${(err as Error).message.slice(0, 120)}): there is no event to process.`);
    }

    const bodyHash = crypto.createHash("sha256").update(bytes).digest("hex");
    const recorded = await acceptDelivery(
      deps.db,
      { integrationId: integration.id, deliveryId: check.deliveryId, bodyHash, event: check.event, contentType, body: raw },
      now,
    );
    if (recorded === undefined) {
      deps.logger.info("webhook duplicate", { path: c.req.path, deliveryId: check.deliveryId });
      return c.json({ status: "already processed", deliveryId: check.deliveryId }, 202);
    }
    deps.notifyWorker();
    return c.json({ accepted: check.deliveryId }, 202);
  });
  return app;
}
