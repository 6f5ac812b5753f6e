// GitLab webhook deliveries: X-Gitlab-Token carries the secret itself (compared in constant
// time), X-Gitlab-Event names the hook, X-Gitlab-Event-UUID identifies the delivery.
import crypto from "node:crypto";
import type { PullRequestEvent, WebhookCheck } from "../types.js";

export function verifyGitLabDelivery(headers: Headers, _rawBody: string, secret: string): WebhookCheck {
  const token = headers.get("x-gitlab-token");
  const event = headers.get("x-gitlab-event");
  const deliveryId = headers.get("x-gitlab-event-uuid") ?? headers.get("idempotency-key");
  if (!token) return { ok: false, reason: "The delivery carries no X-Gitlab-Token: set the webhook's secret token in GitLab." };
  if (!event || !deliveryId) return { ok: false, reason: "The delivery has no X-Gitlab-Event or X-Gitlab-Event-UUID header." };
  // Compare digests so that neither length nor content leaks through timing.
  const digest = (value: string) => crypto.createHash("sha256").update(value, "utf8").digest();
  if (!crypto.timingSafeEqual(digest(token), digest(secret))) {
    return { ok: false, reason: "The X-Gitlab-Token does not match the webhook secret entered in Patchbay." };
  }
  return { ok: true, deliveryId, event };
}

interface MergeRequestHook {
  object_kind?: string;
  user?: { username?: string };
  project?: { id?: number; path_with_namespace?: string; web_url?: string };
  object_attributes?: { iid?: number; title?: string; description?: string | null; url?: string; source_branch?: string; action?: string; state?: string };
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
  };
}
