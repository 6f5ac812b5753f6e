// Azure DevOps' side of two-way sync: a service hook subscription (Project settings → Service
// hooks → Web Hooks) for "Work item updated", whose HTTP headers carry the integration's secret
// (X-Patchbay-Token) or whose Basic authentication password is it. The event's id identifies
// the delivery (the same on Azure DevOps' retries). A state change (System.State) or a
// discussion comment (System.History) in the update is read.
import { SECRET_HEADER, secretHeaderMatches } from "../signatures.js";
import type { TicketEvent, TrackerInbound, WebhookBody, WebhookCheck } from "../types.js";

interface ServiceHookPayload {
  id?: string;
  eventType?: string;
  createdDate?: string;
  resource?: {
    workItemId?: number;
    revisedBy?: { id?: string; displayName?: string; uniqueName?: string };
    revisedDate?: string;
    fields?: Record<string, { oldValue?: unknown; newValue?: unknown }>;
  };
}

function verify(headers: Headers, body: WebhookBody, secret: string): WebhookCheck {
  if (!secretHeaderMatches(headers, secret)) {
    return {
      ok: false,
      reason: `The delivery does not carry the webhook secret: add the HTTP header ${SECRET_HEADER}: <secret> (or Basic authentication with it as the password) to the service hook.`,
    };
  }
  try {
    const p = JSON.parse(body.text) as ServiceHookPayload;
    if (!p.id || !p.eventType) return { ok: false, reason: "The delivery is not an Azure DevOps service hook event (no id or eventType)." };
    return { ok: true, deliveryId: p.id, event: p.eventType };
  } catch {
    return { ok: false, reason: "The delivery's body is not JSON." };
  }
}

/** The text of an HTML comment (System.History). */
function plain(html: string): string {
  return html
    .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, "\n")
    .replace(/<[^<>]*>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .trim();
}

function parse(event: string, rawBody: string): TicketEvent | undefined {
  if (event !== "workitem.updated") return undefined;
  const p = JSON.parse(rawBody) as ServiceHookPayload;
  const r = p.resource;
  if (!r?.workItemId) return undefined;
  const state = r.fields?.["System.State"]?.newValue;
  const history = r.fields?.["System.History"]?.newValue;
  if (state === undefined && typeof history !== "string") return undefined;
  return {
    ticket: { id: String(r.workItemId) },
    at: new Date(Date.parse(r.revisedDate ?? p.createdDate ?? "") || Date.now()).toISOString(),
    actor: { id: r.revisedBy?.id ?? "", name: r.revisedBy?.displayName ?? r.revisedBy?.uniqueName ?? "someone" },
    ...(state !== undefined ? { status: { id: String(state), name: String(state) } } : {}),
    ...(typeof history === "string" && plain(history) ? { comment: { id: `${r.workItemId}:${r.revisedDate ?? ""}`, text: plain(history) } } : {}),
  };
}

export const azureDevOpsInbound: TrackerInbound = {
  secretField: "webhookSecret",
  filter: "work items of the mapped projects",
  verify,
  parse,
  instructions: (hook) => [
    "In Azure DevOps, open Project settings → Service hooks, choose Create subscription, then Web Hooks.",
    "Trigger: Work item updated (leave the filters empty, or limit them to the mapped area path).",
    `URL: ${hook.url}`,
    `HTTP headers: ${SECRET_HEADER}:<the webhook secret saved in this integration's Configuration> (or Basic authentication with any user name and the secret as the password).`,
    "Resource details to send: All; messages: None. Test, then Finish. Repeat for each mapped project.",
  ],
};
