// GitHub webhook deliveries: X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the
// webhook secret), X-GitHub-Event, X-GitHub-Delivery; JSON or form-encoded (payload=…).
import { sha256SignatureMatches } from "../signatures.js";
import type { PullRequestEvent, WebhookCheck } from "../types.js";

export function verifyGitHubDelivery(headers: Headers, rawBody: string, secret: string): WebhookCheck {
  const signature = headers.get("x-hub-signature-256");
  const deliveryId = headers.get("x-github-delivery");
  const event = headers.get("x-github-event");
  if (!signature) return { ok: false, reason: "The delivery is not signed (no X-Hub-Signature-256 header)." };
  if (!deliveryId || !event) return { ok: false, reason: "The delivery has no X-GitHub-Delivery or X-GitHub-Event header." };
  if (!sha256SignatureMatches(signature, rawBody, secret)) {
    return { ok: false, reason: "The signature does not match: the webhook's secret differs from the one entered in Patchbay." };
  }
  return { ok: true, deliveryId, event };
}

interface GitHubPullRequestPayload {
  action?: string;
  number?: number;
  repository?: { id?: number; full_name?: string; html_url?: string };
  pull_request?: {
    number?: number;
    title?: string;
    body?: string | null;
    html_url?: string;
    merged?: boolean;
    head?: { ref?: string };
    user?: { login?: string };
  };
}

export function parseGitHubDelivery(event: string, rawBody: string, contentType: string): PullRequestEvent | undefined {
  if (event !== "pull_request") return undefined;
  const json = contentType.startsWith("application/x-www-form-urlencoded") ? (new URLSearchParams(rawBody).get("payload") ?? "") : rawBody;
  const payload = JSON.parse(json) as GitHubPullRequestPayload;
  const pr = payload.pull_request;
  const repo = payload.repository;
  if (!pr || !repo?.id || !repo.full_name || !pr.number) return undefined;
  const action =
    payload.action === "opened" || payload.action === "reopened"
      ? "opened"
      : payload.action === "edited" || payload.action === "synchronize"
        ? "updated"
        : payload.action === "closed"
          ? pr.merged
            ? "merged"
            : "closed"
          : undefined;
  if (!action) return undefined;
  return {
    action,
    repository: { externalId: String(repo.id), fullName: repo.full_name, url: repo.html_url ?? "" },
    number: pr.number,
    title: pr.title ?? "",
    body: pr.body ?? "",
    url: pr.html_url ?? "",
    sourceBranch: pr.head?.ref ?? null,
    author: pr.user?.login ?? null,
  };
}
