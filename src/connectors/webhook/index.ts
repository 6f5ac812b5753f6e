// Outgoing webhook notifications: JSON to any URL, signed so the receiver can check it came
// from this Patchbay and was not replayed. Headers:
//   X-Patchbay-Event      the event ("ticket.push_failed", "test"…)
//   X-Patchbay-Delivery   a unique id per delivery
//   X-Patchbay-Timestamp  Unix seconds when it was sent
//   X-Patchbay-Signature  sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
import crypto from "node:crypto";
import { RULE_FIELDS, testNotification } from "../notifier.js";
import type { Connector, ConnectionSettings, ConnectorContext, Notification } from "../types.js";

const SERVICE = "Webhook";

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

async function send(connection: ConnectionSettings, ctx: ConnectorContext, notification: Notification): Promise<void> {
  const body = JSON.stringify({
    event: notification.event,
    level: notification.level,
    title: notification.title,
    text: notification.text,
    facts: notification.facts,
    link: notification.link ?? null,
    more: notification.more,
    at: notification.at,
  });
  const timestamp = String(Math.floor(Date.now() / 1000));
  await ctx.http(SERVICE).request({
    method: "POST",
    url: String(connection.settings.url ?? ""),
    headers: {
      "content-type": "application/json",
      "user-agent": "Patchbay",
      "x-patchbay-event": notification.event,
      "x-patchbay-delivery": crypto.randomUUID(),
      "x-patchbay-timestamp": timestamp,
      "x-patchbay-signature": signature(connection.secrets.secret ?? "", timestamp, body),
    },
    body,
    idempotent: false,
  });
}

export const webhook: Connector = {
  multiInstance: true,
  card: {
    kind: "webhook",
    name: "Outgoing webhook",
    category: "collaboration",
    summary: "Signed JSON notifications to any URL.",
    overview: {
      description: "Send Patchbay's notifications as JSON to any URL, signed with HMAC-SHA256 so the receiver can verify them.",
      benefits: ["Connect anything that takes an HTTP request", "X-Patchbay-Signature: sha256 of the timestamp and body, keyed with your secret"],
      requirements: ["A URL that accepts POST requests", "A shared secret the receiver verifies the signature with"],
      docs: [{ label: "RFC 2104: HMAC", url: "https://www.rfc-editor.org/rfc/rfc2104" }],
    },
  },
  fields: [
    { name: "url", label: "URL", type: "url", required: true, glance: true, editableWhenConnected: true, example: "https://hooks.example.com/patchbay" },
    {
      name: "secret",
      label: "Signing secret",
      type: "secret",
      required: true,
      editableWhenConnected: true,
      help: 'The receiver checks X-Patchbay-Signature = sha256=HMAC-SHA256(secret, X-Patchbay-Timestamp + "." + body), and rejects old timestamps.',
      validate: (v) => (v.length < 16 ? "Use a secret of at least 16 characters." : undefined),
    },
    ...RULE_FIELDS,
  ],
  defaultName: (settings) => {
    try {
      return `Webhook ${new URL(String(settings.url)).host}`;
    } catch {
      return "Webhook";
    }
  },
  async test(connection, ctx) {
    await send(connection, ctx, testNotification(new Date()));
    return { message: "The URL accepted the signed test message." };
  },
  notifier: { send },
};
