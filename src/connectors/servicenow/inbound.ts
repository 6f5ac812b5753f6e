// ServiceNow's side of two-way sync: ServiceNow sends nothing by itself, so a business rule on
// the mapped table (after update, when the state changes or a comment is added) posts the
// record's state to Patchbay with the integration's secret in X-Patchbay-Token. The rule's
// script is shown on the tracker page; its body is this JSON: {event, delivery (sys_id and
// sys_mod_count: the same on a retry), table, sys_id, number, state, state_changed,
// updated_by, updated_on (UTC), comment}. Reconciliation reads the states when no rule is set.
import { SECRET_HEADER, secretHeaderMatches } from "../signatures.js";
import type { TicketEvent, TrackerInbound, WebhookCheck } from "../types.js";

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

function verify(headers: Headers, rawBody: string, secret: string): WebhookCheck {
  if (!secretHeaderMatches(headers, secret)) return { ok: false, reason: `The delivery does not carry the webhook secret in ${SECRET_HEADER}: copy the business rule again from Patchbay.` };
  try {
    const p = JSON.parse(rawBody) as RulePayload;
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
    `  r.setRequestHeader('${SECRET_HEADER}', gs.getProperty('patchbay.webhook_secret'));`,
    "  r.setRequestBody(JSON.stringify({ event: 'record.updated', delivery: current.getUniqueValue() + ':' + current.getValue('sys_mod_count'),",
    "    table: current.getTableName(), sys_id: current.getUniqueValue(), number: current.getValue('number'), state: current.getValue('state'),",
    "    state_changed: current.state.changes(), updated_by: current.getValue('sys_updated_by'), updated_on: current.getValue('sys_updated_on'),",
    "    comment: current.comments.getJournalEntry(1) }));",
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
