// GitHub webhook deliveries: X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the
// webhook secret), X-GitHub-Event, X-GitHub-Delivery; JSON or form-encoded (payload=…).
import { sha256SignatureMatches } from "../signatures.js";
import type { PullRequestEvent, TicketEvent, WebhookBody, WebhookCheck } from "../types.js";

/** GitHub caps deliveries at 25 MB (larger events are not sent). */
export const GITHUB_MAX_DELIVERY_BYTES = 25 * 1024 * 1024;
/** Every signed GitHub delivery carries this header. */
export const GITHUB_SIGNATURE_HEADERS = ["x-hub-signature-256"];

export function verifyGitHubDelivery(headers: Headers, body: WebhookBody, secret: string): WebhookCheck {
  const signature = headers.get("x-hub-signature-256");
  const deliveryId = headers.get("x-github-delivery");
  const event = headers.get("x-github-event");
  if (!signature) return { ok: false, reason: "The delivery is not signed (no X-Hub-Signature-256 header)." };
  if (!deliveryId || !event) return { ok: false, reason: "The delivery has no X-GitHub-Delivery or X-GitHub-Event header." };
  if (!sha256SignatureMatches(signature, body.bytes, secret)) {
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
    head?: { ref?: string; repo?: { id?: number; full_name?: string } | null };
    base?: { repo?: { id?: number; full_name?: string } };
    user?: { login?: string };
    author_association?: string;
  };
}

function payloadJson(rawBody: string, contentType: string): string {
  return contentType.startsWith("application/x-www-form-urlencoded") ? (new URLSearchParams(rawBody).get("payload") ?? "") : rawBody;
}

interface GitHubIssuePayload {
  action?: string;
  /** "transferred": where the issue went. */
  changes?: { new_issue?: { number?: number; html_url?: string }; new_repository?: { full_name?: string } };
  issue?: { number?: number; state?: string; state_reason?: string | null; updated_at?: string; pull_request?: unknown };
  comment?: { id?: number; body?: string; created_at?: string; updated_at?: string };
  repository?: { full_name?: string };
  sender?: { login?: string };
}

/** GitHub Issues' statuses: open, and closed with each reason GitHub gives (a duplicate is its own: not a fix). */
export const ISSUE_STATUSES = [
  { id: "open", name: "Open" },
  { id: "closed:completed", name: "Closed as completed" },
  { id: "closed:not_planned", name: "Closed as not planned" },
  { id: "closed:duplicate", name: "Closed as duplicate" },
];

/** An issue's status from its state and state_reason (a closed issue without a reason was completed). */
export function issueStatus(state: string | undefined, reason: string | null | undefined): { id: string; name: string } {
  if (state !== "closed") return ISSUE_STATUSES[0]!;
  return ISSUE_STATUSES.find((s) => s.id === `closed:${reason}`) ?? ISSUE_STATUSES[1]!;
}

/**
 * An issue closed, reopened or commented on (events "issues" and "issue_comment"), as a ticket
 * event: its status is one of ISSUE_STATUSES; the ticket is named by its key, owner/repo#number
 * (numbers repeat across repositories).
 */
export function parseGitHubIssueDelivery(event: string, rawBody: string, contentType: string): TicketEvent | undefined {
  if (event !== "issues" && event !== "issue_comment") return undefined;
  const p = JSON.parse(payloadJson(rawBody, contentType)) as GitHubIssuePayload;
  const issue = p.issue;
  if (!issue?.number || !p.repository?.full_name || issue.pull_request) return undefined;
  const ticket = { key: `${p.repository.full_name}#${issue.number}` };
  const actor = { id: p.sender?.login ?? "", name: p.sender?.login ?? "someone" };
  if (event === "issue_comment") {
    if (p.action !== "created" || !p.comment?.body) return undefined;
    return {
      ticket,
      at: p.comment.updated_at ?? p.comment.created_at ?? issue.updated_at ?? new Date().toISOString(),
      actor,
      comment: { id: String(p.comment.id ?? ""), text: p.comment.body },
    };
  }
  if (p.action === "transferred") {
    // The old repository's delivery says where the issue went; its events come from there now.
    const repo = p.changes?.new_repository?.full_name;
    const number = p.changes?.new_issue?.number;
    const url = p.changes?.new_issue?.html_url;
    if (!repo || !number || !url) return undefined;
    const key = `${repo}#${number}`;
    return {
      ticket,
      at: issue.updated_at ?? new Date().toISOString(),
      actor,
      movedTo: { to: { id: key, key, url }, how: `transferred to ${repo} by ${actor.name}` },
    };
  }
  if (p.action !== "closed" && p.action !== "reopened") return undefined;
  return { ticket, at: issue.updated_at ?? new Date().toISOString(), actor, status: issueStatus(issue.state, issue.state_reason) };
}

export function parseGitHubDelivery(event: string, rawBody: string, contentType: string): PullRequestEvent | undefined {
  if (event !== "pull_request") return undefined;
  const json = payloadJson(rawBody, contentType);
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
    outside: outsideGitHubPullRequest(pr, repo.id),
  };
}

/** People GitHub says hold a role in the repository (author_association). */
const INSIDERS = new Set(["OWNER", "MEMBER", "COLLABORATOR"]);

function outsideGitHubPullRequest(pr: NonNullable<GitHubPullRequestPayload["pull_request"]>, repositoryId: number): string | null {
  // A branch of the repository itself (Dependabot's and Renovate's among them) needs write access to push.
  if (pr.head?.repo?.id !== undefined && pr.head.repo.id === (pr.base?.repo?.id ?? repositoryId)) return null;
  if (INSIDERS.has(pr.author_association ?? "")) return null;
  const from = pr.head?.repo?.full_name ? `the fork ${pr.head.repo.full_name}` : "a deleted fork";
  return `from ${from} by ${pr.user?.login ?? "someone"} (${(pr.author_association ?? "NONE").toLowerCase().replace(/_/g, " ")}, without write access)`;
}
