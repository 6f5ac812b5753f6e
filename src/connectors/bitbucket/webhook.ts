// Bitbucket Cloud webhook deliveries: X-Event-Key (pullrequest:created|updated|fulfilled|
// rejected), X-Request-UUID (the delivery), X-Hub-Signature "sha256=<hex HMAC>" of the raw
// body with the webhook's secret.
import { sha256SignatureMatches } from "../signatures.js";
import type { PullRequestEvent, WebhookBody, WebhookCheck } from "../types.js";

export function verifyBitbucketDelivery(headers: Headers, body: WebhookBody, secret: string): WebhookCheck {
  const signature = headers.get("x-hub-signature");
  const event = headers.get("x-event-key");
  const deliveryId = headers.get("x-request-uuid") ?? headers.get("x-hook-uuid");
  if (!signature) return { ok: false, reason: "The delivery is not signed (no X-Hub-Signature header): set the webhook's secret in Bitbucket." };
  if (!event || !deliveryId) return { ok: false, reason: "The delivery has no X-Event-Key or X-Request-UUID header." };
  if (!sha256SignatureMatches(signature, body.bytes, secret)) {
    return { ok: false, reason: "The signature does not match: the webhook's secret differs from the one entered in Patchbay." };
  }
  return { ok: true, deliveryId, event };
}

interface PullRequestHook {
  pullrequest?: {
    id?: number;
    title?: string;
    description?: string | null;
    links?: { html?: { href?: string } };
    source?: { branch?: { name?: string }; repository?: { uuid?: string; full_name?: string } | null };
    destination?: { repository?: { uuid?: string; full_name?: string } };
    author?: { nickname?: string; display_name?: string };
  };
  repository?: { uuid?: string; full_name?: string; links?: { html?: { href?: string } } };
}

const EVENTS: Record<string, PullRequestEvent["action"]> = {
  "pullrequest:created": "opened",
  "pullrequest:updated": "updated",
  "pullrequest:fulfilled": "merged",
  "pullrequest:rejected": "closed",
};

export function parseBitbucketDelivery(event: string, rawBody: string): PullRequestEvent | undefined {
  const action = EVENTS[event];
  if (!action) return undefined;
  const hook = JSON.parse(rawBody) as PullRequestHook;
  const pr = hook.pullrequest;
  const repo = hook.repository;
  if (!pr?.id || !repo?.uuid || !repo.full_name) return undefined;
  return {
    action,
    repository: { externalId: repo.uuid, fullName: repo.full_name, url: repo.links?.html?.href ?? "" },
    number: pr.id,
    title: pr.title ?? "",
    body: pr.description ?? "",
    url: pr.links?.html?.href ?? "",
    sourceBranch: pr.source?.branch?.name ?? null,
    author: pr.author?.nickname ?? pr.author?.display_name ?? null,
    outside:
      pr.source?.repository?.uuid !== undefined && pr.source.repository.uuid === (pr.destination?.repository?.uuid ?? repo.uuid)
        ? null
        : `from the fork ${pr.source?.repository?.full_name ?? "(deleted)"} by ${pr.author?.nickname ?? pr.author?.display_name ?? "someone"}`,
  };
}
