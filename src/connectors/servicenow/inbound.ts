// ServiceNow's side of two-way sync: ServiceNow sends nothing by itself, so a business rule on
// the mapped table (after update, when the state changes or a comment is added) posts the
// record's state to Patchbay, signed: X-Patchbay-Timestamp (seconds) and X-Patchbay-Signature,
// "sha256=" + base64 HMAC-SHA256 of "<timestamp>.<body>" with the integration's secret (what
// GlideCertificateEncryption.generateMac computes), so a captured delivery cannot be replayed
// after five minutes. The rule's script is shown on the tracker page; its body is this JSON:
// {event, delivery (sys_id and sys_mod_count: the same on a retry), table, sys_id, number,
// state, state_changed, updated_by, updated_on (UTC), comment}. Reconciliation reads the
// states when no rule is set.
import crypto from "node:crypto";
import { constantTimeEqual, staleTimestamp } from "../signatures.js";
import type { TicketEvent, TrackerInbound, WebhookBody, WebhookCheck } from "../types.js";

interface RulePayload {
  event?: string;
  delivery?: string;
  sys_id?: string;
  number?: string;
  state?: string;
  state_changed?: boolean | string;
  updated_by?: string;
  updated_on?: string;
  comment?: string;
}

export const TIMESTAMP_HEADER = "x-patchbay-timestamp";
export const SIGNATURE_HEADER = "x-patchbay-signature";

/** What the business rule signs: the timestamp, a dot, and the body's bytes. */
export function ruleSignature(secret: string, timestamp: string, body: Uint8Array): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("base64")}`;
}

function verify(headers: Headers, body: WebhookBody, secret: string, now: Date): WebhookCheck {
  const signature = headers.get(SIGNATURE_HEADER);
  const timestamp = headers.get(TIMESTAMP_HEADER);
  if (!signature) return { ok: false, reason: `The delivery is not signed (no ${SIGNATURE_HEADER} header): copy the business rule again from Patchbay.` };
  if (!constantTimeEqual(signature, ruleSignature(secret, timestamp ?? "", body.bytes))) {
    return { ok: false, reason: "The signature does not match: the patchbay.webhook_secret property differs from the secret saved in Patchbay." };
  }
  const stale = staleTimestamp(timestamp, now);
  if (stale) return { ok: false, reason: stale };
  try {
    const p = JSON.parse(body.text) as RulePayload;
    if (!p.delivery || !p.event) return { ok: false, reason: "The delivery has no delivery id or event: copy the business rule again from Patchbay." };
    return { ok: true, deliveryId: p.delivery, event: p.event };
  } catch {
    return { ok: false, reason: "The delivery's body is not JSON." };
  }
}

/** ServiceNow's "2026-11-23 08:00:00" (UTC, as getValue returns it) as ISO 8601. */
function isoTime(value: string | undefined): string {
  const parsed = value ? Date.parse(value.replace(" ", "T") + (value.endsWith("Z") ? "" : "Z")) : NaN;
  return Number.isNaN(parsed) ? new Date().toISOString() : new Date(parsed).toISOString();
}

function parse(event: string, rawBody: string): TicketEvent | undefined {
  if (event !== "record.updated") return undefined;
  const p = JSON.parse(rawBody) as RulePayload;
  if (!p.sys_id) return undefined;
  const changed = p.state_changed === true || p.state_changed === "true";
  // A journal entry arrives as "2026-11-23 08:00:00 - Ada Lovelace (Additional comments)\ntext".
  const comment = (p.comment ?? "").replace(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - [^\n]*\n/, "").trim();
  if (!changed && !comment) return undefined;
  return {
    ticket: { id: p.sys_id, key: p.number },
    at: isoTime(p.updated_on),
    actor: { id: p.updated_by ?? "", name: p.updated_by ?? "someone" },
    ...(changed && p.state !== undefined ? { status: { id: String(p.state), name: String(p.state) } } : {}),
    ...(comment ? { comment: { id: p.delivery ?? "", text: comment } } : {}),
  };
}

/** The business rule's script, for the tracker page. */
function script(url: string): string {
  return [
    "(function executeRule(current, previous) {",
    "  var r = new sn_ws.RESTMessageV2();",
    `  r.setEndpoint('${url}');`,
    "  r.setHttpMethod('post');",
    "  r.setRequestHeader('Content-Type', 'application/json');",
    "  var body = JSON.stringify({ event: 'record.updated', delivery: current.getUniqueValue() + ':' + current.getValue('sys_mod_count'),",
    "    table: current.getTableName(), sys_id: current.getUniqueValue(), number: current.getValue('number'), state: current.getValue('state'),",
    "    state_changed: current.state.changes(), updated_by: current.getValue('sys_updated_by'), updated_on: current.getValue('sys_updated_on'),",
    "    comment: current.comments.getJournalEntry(1) });",
    "  var timestamp = String(Math.floor(new GlideDateTime().getNumericValue() / 1000));",
    "  var key = GlideStringUtil.base64Encode(gs.getProperty('patchbay.webhook_secret'));",
    "  var mac = new GlideCertificateEncryption().generateMac(key, 'HmacSHA256', timestamp + '.' + body);",
    `  r.setRequestHeader('${TIMESTAMP_HEADER}', timestamp);`,
    `  r.setRequestHeader('${SIGNATURE_HEADER}', 'sha256=' + mac);`,
    "  r.setRequestBody(body);",
    "  r.executeAsync();",
    "})(current, previous);",
  ].join("\n");
}

export const serviceNowInbound: TrackerInbound = {
  secretField: "webhookSecret",
  filter: "records of the mapped tables that Patchbay created",
  verify,
  parse,
  instructions: (hook) => [
    "In ServiceNow, create a system property patchbay.webhook_secret (type password2) holding the webhook secret saved in this integration's Configuration.",
    "Open System Definition → Business Rules → New, on the mapped table (incident…): When after, Update; condition: State changes OR Additional comments changes; and correlation_display is Patchbay.",
    `Advanced → Script:\n${script(hook.url)}`,
    "Save. Until the rule is in place, the nightly reconciliation reads the records' states.",
  ],
};
