// Jira Cloud's side of two-way sync: an admin webhook (System → WebHooks, or its REST API
// /rest/webhooks/1.0/webhook) with a secret, limited by JQL to Patchbay's labelled issues.
// Jira signs each delivery: X-Hub-Signature = "sha256=" + HMAC-SHA256(secret, raw body); the
// delivery's id (the same on Jira's retries) is X-Atlassian-Webhook-Identifier. Events read:
// jira:issue_updated (a status change, with the comment written on the transition screen)
// and comment_created.
import { ExternalError } from "../../http.js";
import { sha256SignatureMatches } from "../signatures.js";
import type { ConnectionSettings, ConnectorContext, TicketEvent, TrackerInbound, WebhookBody, WebhookCheck } from "../types.js";
import { JiraClient, jiraErrorMessage, SERVICE } from "./client.js";
import { httpsOrigin } from "../origin.js";

/** Every issue Patchbay creates carries this label, so the webhook's JQL can name them all. */
export const PATCHBAY_LABEL = "patchbay";
const EVENTS = ["jira:issue_updated", "comment_created"];
const HOOK_NAME = "Patchbay two-way sync";

interface Account {
  accountId?: string;
  displayName?: string;
}

interface IssuePayload {
  webhookEvent?: string;
  timestamp?: number;
  user?: Account;
  issue?: {
    id?: string | number;
    key?: string;
    fields?: { status?: { id?: string | number; name?: string }; resolution?: { id?: string | number; name?: string } | null; updated?: string };
  };
  changelog?: { items?: { field?: string; fieldId?: string; to?: string | null; toString?: string | null }[] };
  comment?: { id?: string | number; body?: unknown; author?: Account; updateAuthor?: Account; created?: string; updated?: string };
}

function verify(headers: Headers, body: WebhookBody, secret: string): WebhookCheck {
  const signature = headers.get("x-hub-signature");
  if (!signature) return { ok: false, reason: "The delivery is not signed (no X-Hub-Signature): give the Jira webhook the secret set in Patchbay." };
  if (!sha256SignatureMatches(signature, body.bytes, secret))
    return { ok: false, reason: "The signature does not match: the Jira webhook's secret differs from Patchbay's." };
  const deliveryId = headers.get("x-atlassian-webhook-identifier");
  if (!deliveryId) return { ok: false, reason: "The delivery has no X-Atlassian-Webhook-Identifier." };
  let event = "";
  try {
    event = String((JSON.parse(body.text) as IssuePayload).webhookEvent ?? "");
  } catch {
    return { ok: false, reason: "The delivery's body is not JSON." };
  }
  return { ok: true, deliveryId, event };
}

/** A comment body as webhooks send it: wiki-markup text, or an ADF document on some sites. */
function commentText(body: unknown): string {
  if (typeof body === "string") return body;
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (!node || typeof node !== "object") return;
    const n = node as { type?: string; text?: string; content?: unknown[] };
    if (typeof n.text === "string") out.push(n.text);
    for (const child of n.content ?? []) walk(child);
    if (n.type === "paragraph") out.push("\n");
  };
  walk(body);
  return out.join("").trim();
}

function parse(event: string, rawBody: string): TicketEvent | undefined {
  if (!EVENTS.includes(event)) return undefined;
  const p = JSON.parse(rawBody) as IssuePayload;
  const issue = p.issue;
  if (!issue?.id && !issue?.key) return undefined;
  const at = new Date(
    typeof p.timestamp === "number" ? p.timestamp : Date.parse(p.comment?.updated ?? issue.fields?.updated ?? "") || Date.now(),
  ).toISOString();
  const ticket = { id: issue.id !== undefined ? String(issue.id) : undefined, key: issue.key };
  const comment = p.comment && p.comment.body !== undefined ? { id: String(p.comment.id ?? ""), text: commentText(p.comment.body) } : undefined;
  if (event === "comment_created") {
    const author = p.comment?.author ?? p.user ?? {};
    if (!comment) return undefined;
    return { ticket, at, actor: { id: String(author.accountId ?? ""), name: author.displayName ?? "someone" }, comment };
  }
  // An update: only its status change (and the comment written with it) matters here.
  const moved = (p.changelog?.items ?? []).some((i) => ["status", "resolution"].includes(String(i.fieldId ?? i.field)));
  const status = issue.fields?.status;
  const resolution = issue.fields?.resolution;
  if (!moved && !comment) return undefined;
  return {
    ticket,
    at,
    actor: { id: String(p.user?.accountId ?? ""), name: p.user?.displayName ?? "someone" },
    ...(moved && status?.id !== undefined ? { status: { id: String(status.id), name: status.name ?? String(status.id) } } : {}),
    ...(moved && resolution?.id !== undefined ? { resolution: { id: String(resolution.id), name: resolution.name ?? String(resolution.id) } } : {}),
    ...(comment ? { comment } : {}),
  };
}

/** Creates or corrects Patchbay's admin webhook on the site; needs a Jira administrator's classic token. */
async function register(
  connection: ConnectionSettings,
  ctx: ConnectorContext,
  hook: { url: string; secret: string; filter: string },
): Promise<"created" | "updated"> {
  const site = typeof connection.settings.siteUrl === "string" ? httpsOrigin(connection.settings.siteUrl) : undefined;
  if (!site)
    throw new ExternalError(
      "permission",
      SERVICE,
      "Webhooks are created on the Jira site with a classic API token: enter the Site URL, or create the webhook by hand.",
    );
  const client = new JiraClient(
    ctx.http(SERVICE, { errorMessage: jiraErrorMessage }),
    site,
    String(connection.settings.email),
    connection.secrets.apiToken ?? "",
  );
  const body = {
    name: HOOK_NAME,
    url: hook.url,
    events: EVENTS,
    filters: { "issue-related-events-section": hook.filter },
    excludeBody: false,
    secret: hook.secret,
  };
  try {
    const existing = await client.get<{ self?: string; name?: string; url?: string }[]>("account", "/rest/webhooks/1.0/webhook");
    const ours = (Array.isArray(existing) ? existing : []).find((w) => w.url === hook.url || w.name === HOOK_NAME);
    const id = ours?.self ? /\/webhook\/(\d+)$/.exec(ours.self)?.[1] : undefined;
    if (id) {
      await client.send("account", "PUT", `/rest/webhooks/1.0/webhook/${id}`, body, { idempotent: true });
      return "updated";
    }
    await client.send("account", "POST", "/rest/webhooks/1.0/webhook", body);
    return "created";
  } catch (err) {
    if (err instanceof ExternalError && (err.status === 401 || err.status === 403)) {
      throw new ExternalError(
        "permission",
        SERVICE,
        "Only a Jira administrator may create webhooks; the service account is not one. Create the webhook by hand as shown, or let an administrator's token do it.",
        { status: err.status, remoteMessage: err.remoteMessage },
      );
    }
    throw err;
  }
}

/** Whether the site still has a webhook to this address; undefined when the account is not an administrator (or uses the gateway). */
async function registered(connection: ConnectionSettings, ctx: ConnectorContext, url: string): Promise<boolean | undefined> {
  const site = typeof connection.settings.siteUrl === "string" ? httpsOrigin(connection.settings.siteUrl) : undefined;
  if (!site) return undefined;
  const client = new JiraClient(
    ctx.http(SERVICE, { errorMessage: jiraErrorMessage }),
    site,
    String(connection.settings.email),
    connection.secrets.apiToken ?? "",
  );
  try {
    const hooks = await client.get<{ url?: string; enabled?: boolean }[]>("account", "/rest/webhooks/1.0/webhook");
    return Array.isArray(hooks) && hooks.some((h) => h.url === url && h.enabled !== false);
  } catch (err) {
    if (err instanceof ExternalError && (err.status === 401 || err.status === 403)) return undefined;
    throw err;
  }
}

export const jiraInbound: TrackerInbound = {
  secretField: "webhookSecret",
  filter: `labels = ${PATCHBAY_LABEL}`,
  verify,
  parse,
  register,
  registered,
  instructions: (hook) => [
    "In Jira, open Settings → System → WebHooks and choose Create a WebHook (a Jira administrator can).",
    `URL: ${hook.url}`,
    `Secret: the webhook secret saved in this integration's Configuration.`,
    `Events: Issue updated, and Comment created; JQL filter: ${hook.filter}.`,
    "Save. Jira signs each delivery with the secret; Patchbay refuses unsigned ones.",
  ],
};
