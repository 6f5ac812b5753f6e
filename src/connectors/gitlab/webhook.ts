// GitLab webhook deliveries: X-Gitlab-Token carries the secret itself (compared in constant
// time), X-Gitlab-Event names the hook, X-Gitlab-Event-UUID identifies the delivery.
import { constantTimeEqual } from "../signatures.js";
import type { PullRequestEvent, TicketEvent, WebhookBody, WebhookCheck } from "../types.js";

export function verifyGitLabDelivery(headers: Headers, _body: WebhookBody, secret: string): WebhookCheck {
  const token = headers.get("x-gitlab-token");
  const event = headers.get("x-gitlab-event");
  const deliveryId = headers.get("x-gitlab-event-uuid") ?? headers.get("idempotency-key");
  if (!token) return { ok: false, reason: "The delivery carries no X-Gitlab-Token: set the webhook's secret token in GitLab." };
  if (!event || !deliveryId) return { ok: false, reason: "The delivery has no X-Gitlab-Event or X-Gitlab-Event-UUID header." };
  if (!constantTimeEqual(token, secret)) {
    return { ok: false, reason: "The X-Gitlab-Token does not match the webhook secret entered in Patchbay." };
  }
  return { ok: true, deliveryId, event };
}

interface MergeRequestHook {
  object_kind?: string;
  user?: { username?: string };
  project?: { id?: number; path_with_namespace?: string; web_url?: string };
  object_attributes?: {
    iid?: number;
    title?: string;
    description?: string | null;
    url?: string;
    source_branch?: string;
    action?: string;
    state?: string;
    source_project_id?: number;
    target_project_id?: number;
    source?: { path_with_namespace?: string };
  };
}

const ACTIONS: Record<string, PullRequestEvent["action"]> = { open: "opened", reopen: "opened", update: "updated", merge: "merged", close: "closed" };

export function parseGitLabDelivery(event: string, rawBody: string): PullRequestEvent | undefined {
  if (event !== "Merge Request Hook") return undefined;
  const hook = JSON.parse(rawBody) as MergeRequestHook;
  const mr = hook.object_attributes;
  const project = hook.project;
  const action = mr?.action ? ACTIONS[mr.action] : undefined;
  if (hook.object_kind !== "merge_request" || !mr?.iid || !project?.id || !project.path_with_namespace || !action) return undefined;
  return {
    action,
    repository: { externalId: String(project.id), fullName: project.path_with_namespace, url: project.web_url ?? "" },
    number: mr.iid,
    title: mr.title ?? "",
    body: mr.description ?? "",
    url: mr.url ?? "",
    sourceBranch: mr.source_branch ?? null,
    author: hook.user?.username ?? null,
    // Pushing a branch to the project itself takes a Developer role; a fork's author may be anyone.
    outside:
      mr.source_project_id !== undefined && mr.source_project_id === (mr.target_project_id ?? project.id)
        ? null
        : `from the fork ${mr.source?.path_with_namespace ?? "(unknown)"} by ${hook.user?.username ?? "someone"}`,
  };
}

interface IssueHook {
  object_kind?: string;
  user?: { id?: number; username?: string; name?: string };
  project?: { path_with_namespace?: string };
  object_attributes?: {
    id?: number;
    iid?: number;
    action?: string;
    state?: string;
    note?: string;
    noteable_type?: string;
    updated_at?: string;
    created_at?: string;
  };
  issue?: { iid?: number; updated_at?: string };
}

/** GitLab's "2026-11-23 08:00:00 UTC" (hooks) or ISO 8601, as ISO 8601. */
function isoTime(value: string | undefined): string {
  if (!value) return new Date().toISOString();
  const parsed = Date.parse(value.replace(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/, "$1T$2Z"));
  return Number.isNaN(parsed) ? new Date().toISOString() : new Date(parsed).toISOString();
}

/**
 * An issue closed or reopened ("Issue Hook"), or a comment on one ("Note Hook"), as a ticket
 * event: statuses "opened" and "closed" (GitLab Issues' own); the ticket named group/project#iid.
 */
export function parseGitLabIssueDelivery(event: string, rawBody: string): TicketEvent | undefined {
  if (event !== "Issue Hook" && event !== "Note Hook") return undefined;
  const p = JSON.parse(rawBody) as IssueHook;
  const a = p.object_attributes;
  const project = p.project?.path_with_namespace;
  if (!a || !project) return undefined;
  const actor = { id: p.user?.username ?? "", name: p.user?.name ?? p.user?.username ?? "someone" };
  if (event === "Note Hook") {
    if (a.noteable_type !== "Issue" || !p.issue?.iid || !a.note) return undefined;
    return {
      ticket: { key: `${project}#${p.issue.iid}` },
      at: isoTime(a.updated_at ?? a.created_at),
      actor,
      comment: { id: String(a.id ?? ""), text: a.note },
    };
  }
  if (!a.iid || (a.action !== "close" && a.action !== "reopen")) return undefined;
  const closed = a.action === "close";
  return {
    ticket: { key: `${project}#${a.iid}` },
    at: isoTime(a.updated_at),
    actor,
    status: { id: closed ? "closed" : "opened", name: closed ? "Closed" : "Open" },
  };
}
