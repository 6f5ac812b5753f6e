// GitHub Issues as a tracker: a connected GitHub integration's credentials (or a token of its
// own), one repository per mapping, labels (Patchbay's severity labels and the repository's
// own), assignees, milestone; closed as completed or not planned, reopened; comments. Each
// issue carries a Patchbay marker label, which GitHub's issue list filters on at once (the
// search API's index lags), so a retry finds an issue made before a crash.
import { ExternalError } from "../../http.js";
import { createGitHubClient } from "../github/index.js";
import { GITHUB_PACING, type GitHubClient, SERVICE, nextLink } from "../github/client.js";
import { paceFields } from "../pace.js";
import { toMarkdown } from "../markdown.js";
import {
  GITHUB_MAX_DELIVERY_BYTES,
  GITHUB_SIGNATURE_HEADERS,
  ISSUE_STATUSES,
  issueStatus,
  parseGitHubIssueDelivery,
  verifyGitHubDelivery,
} from "../github/webhook.js";
import {
  cvesIn,
  type Connector,
  type Block,
  type ConnectionSettings,
  type ConnectorContext,
  type ExistingTicket,
  type FieldValue,
  type TicketContent,
  type TicketRef,
  type TicketTarget,
  type TrackerChoice,
  type TrackerField,
  type TrackerProject,
  type TrackerSession,
  TicketMovedError,
  type UpdateOutcome,
} from "../types.js";

const MAX_PAGES = 20;
const TITLE_MAX = 256;

export const STATUSES: TrackerChoice[] = ISSUE_STATUSES;

interface Issue {
  number: number;
  html_url: string;
  state: "open" | "closed";
  state_reason: string | null;
  body?: string | null;
}

function client(connection: ConnectionSettings, ctx: ConnectorContext): GitHubClient {
  const own = connection.secrets.token;
  if (!connection.reused && !own) {
    throw new ExternalError("invalid_input", SERVICE, "Choose a connected GitHub integration, or enter a personal access token.");
  }
  return createGitHubClient(connection.reused ?? connection, ctx);
}

const repoPath = (target: TicketTarget) => `/repos/${target.project.id.split("/").map(encodeURIComponent).join("/")}`;

/** An issue's API path: in the mapping's repository, or ("owner/repo#12") where it was transferred to. */
function issuePath(target: TicketTarget, ticket: TicketRef): string {
  const hash = ticket.id.indexOf("#");
  if (hash < 0) return `${repoPath(target)}/issues/${ticket.id}`;
  return `/repos/${ticket.id.slice(0, hash).split("/").map(encodeURIComponent).join("/")}/issues/${ticket.id.slice(hash + 1)}`;
}

/** The repository "owner/repo" of an issue's page address. */
function repositoryOf(htmlUrl: string): string | undefined {
  const parts = new URL(htmlUrl).pathname.split("/");
  return parts.length >= 5 && parts[3] === "issues" ? `${parts[1]}/${parts[2]}` : undefined;
}

class GitHubIssuesSession implements TrackerSession {
  constructor(private readonly gh: GitHubClient) {}

  async whoami() {
    return this.gh.whoami();
  }

  async lookup(target: TicketTarget, reference: string) {
    const r = reference.trim();
    const m = /^(?:https?:\/\/[^/]+\/)?(?:([\w.-]+\/[\w.-]+)(?:\/issues\/|#))?#?(\d+)\/?$/.exec(r);
    if (!m || (m[1] && m[1].toLowerCase() !== target.project.id.toLowerCase())) return undefined;
    try {
      const { data } = await this.gh.get<Issue & { title: string; pull_request?: unknown }>(`${repoPath(target)}/issues/${m[2]}`);
      if (data.pull_request) return undefined;
      return { ...ref(target, data), title: data.title };
    } catch (err) {
      if (err instanceof ExternalError && (err.status === 404 || err.status === 410)) return undefined;
      throw err;
    }
  }

  async withCves(target: TicketTarget, limit: number) {
    const out: ExistingTicket[] = [];
    let url: string | null = `${repoPath(target)}/issues?state=all&direction=asc&per_page=100`;
    for (let page = 0; url && page < MAX_PAGES && out.length < limit; page++) {
      const { data, response }: { data: (Issue & { title: string; pull_request?: unknown })[]; response: { headers: Headers } } = await this.gh.get(url);
      if (!Array.isArray(data)) throw new ExternalError("remote", SERVICE, "GitHub answered the issue list with something that is not a list.");
      for (const issue of data) if (!issue.pull_request && cvesIn(issue.title).length) out.push({ ...ref(target, issue), title: issue.title });
      url = nextLink(response.headers.get("link"));
    }
    return out.slice(0, limit);
  }

  async states(target: TicketTarget, tickets: TicketRef[]) {
    const out = new Map<string, TrackerChoice & { movedTo?: TicketRef }>();
    for (const ticket of tickets) {
      try {
        const { data, response } = await this.gh.get<Issue>(issuePath(target, ticket));
        const status = issueStatus(data.state, data.state_reason);
        // Followed to where a transferred issue is now: the ticket is updated to point there.
        out.set(ticket.id, response.redirected ? { ...status, movedTo: ref(target, data) } : status);
      } catch (err) {
        // Deleted (404) or transferred away (410): not among the live tickets.
        if (!(err instanceof ExternalError && (err.status === 404 || err.status === 410))) throw err;
      }
    }
    return out;
  }

  async projects() {
    const out: TrackerProject[] = [];
    let url: string | null = this.gh.installation ? "/installation/repositories?per_page=100" : "/user/repos?per_page=100&sort=full_name";
    for (let page = 0; url && page < MAX_PAGES; page++) {
      type Repo = { full_name: string; archived?: boolean; has_issues?: boolean; private?: boolean; visibility?: string };
      const { data, response } = await this.gh.get<Repo[] | { repositories: Repo[] }>(url);
      const repos = Array.isArray(data) ? data : data.repositories;
      out.push(
        ...repos
          .filter((r) => !r.archived && r.has_issues !== false)
          .map((r) => ({ id: r.full_name, name: r.full_name, public: r.visibility ? r.visibility === "public" : r.private === false })),
      );
      url = nextLink(response.headers.get("link"));
    }
    return out;
  }

  exposure(target: TicketTarget): string | undefined {
    return target.project.public
      ? `${target.project.name} is a public repository: anyone can read its issues, so each ticket would tell the world which vulnerability is open and where.`
      : undefined;
  }

  async ticketTypes() {
    return [{ id: "issue", name: "Issue" }];
  }

  async fields(target: TicketTarget): Promise<TrackerField[]> {
    const [labels, milestones] = await Promise.all([
      this.gh.get<{ name: string }[]>(`${repoPath(target)}/labels?per_page=100`),
      this.gh.get<{ number: number; title: string }[]>(`${repoPath(target)}/milestones?state=open&per_page=100`),
    ]);
    const labelChoices = labels.data.map((l) => ({ id: l.name, name: l.name }));
    return [
      { id: "title", name: "Title", required: true, kind: "text", hasDefault: false },
      { id: "body", name: "Body", required: false, kind: "document", hasDefault: false },
      { id: "labels", name: "Labels", required: false, kind: "labels", hasDefault: false },
      { id: "severityLabel", name: "Severity label", required: false, kind: "choice", hasDefault: false, special: true, allowedValues: labelChoices },
      { id: "teamLabel", name: "Label from the repository", required: false, kind: "choice", hasDefault: false, allowedValues: labelChoices },
      { id: "assignees", name: "Assignees (logins)", required: false, kind: "labels", hasDefault: false },
      {
        id: "milestone",
        name: "Milestone",
        required: false,
        kind: "choice",
        hasDefault: false,
        allowedValues: milestones.data.map((m) => ({ id: String(m.number), name: m.title })),
      },
    ];
  }

  async statuses() {
    return STATUSES;
  }

  /**
   * The issue carrying the marker: by its label, or — since GitHub silently drops the labels an
   * account without push access sends, and may not have had time to add them before a crash —
   * among the account's own latest issues (the issue list, which does not lag as search does),
   * by the marker in the body.
   */
  async find(target: TicketTarget, marker: string) {
    const { data } = await this.gh.get<Issue[]>(`${repoPath(target)}/issues?labels=${encodeURIComponent(marker)}&state=all&per_page=1`);
    if (data[0]) return ref(target, data[0]);
    const login = await this.gh.whoami();
    const { data: own } = await this.gh.get<Issue[]>(
      `${repoPath(target)}/issues?creator=${encodeURIComponent(login)}&state=all&sort=created&direction=desc&per_page=100`,
    );
    const issue = own.find((i) => (i.body ?? "").includes(`<!-- ${marker} -->`));
    return issue ? ref(target, issue) : undefined;
  }

  async create(target: TicketTarget, content: TicketContent) {
    if (await this.#canPush(target)) {
      const issue = await this.gh.send<Issue>("POST", `${repoPath(target)}/issues`, { ...payload(content), labels: labels(content) });
      return ref(target, issue);
    }
    // Without push access GitHub would drop labels, assignees and milestone without a word:
    // the issue is created without them, and its labels added after (triage may add labels).
    const { assignees: _a, milestone: _m, ...plain } = payload(content);
    const issue = await this.gh.send<Issue>("POST", `${repoPath(target)}/issues`, plain);
    await this.gh.send("POST", `${repoPath(target)}/issues/${issue.number}/labels`, { labels: labels(content) });
    return ref(target, issue);
  }

  readonly #push = new Map<string, Promise<boolean>>();

  /** Whether the account may set labels, assignees and milestone on a new issue (push access). */
  #canPush(target: TicketTarget): Promise<boolean> {
    const known = this.#push.get(target.project.id);
    if (known) return known;
    const asked = this.gh.get<{ permissions?: { push?: boolean } }>(repoPath(target)).then(({ data }) => data.permissions?.push !== false);
    this.#push.set(target.project.id, asked);
    // A failed lookup is not remembered: the next create asks again.
    asked.catch(() => this.#push.delete(target.project.id));
    return asked;
  }

  async update(target: TicketTarget, ticket: TicketRef, content: TicketContent): Promise<UpdateOutcome | void> {
    const ignored: string[] = [];
    await this.#write(target, ticket, async (path) => {
      const sent = payload(content);
      // GitHub drops assignee and milestone changes it will not make without a word: its answer says what it did.
      const issue = await this.gh.patch<Issue & { assignees?: { login: string }[]; milestone?: { number: number } | null }>(path, sent);
      const assigned = new Set((issue?.assignees ?? []).map((a) => a.login.toLowerCase()));
      if (Array.isArray(sent.assignees) && !(sent.assignees as string[]).every((login) => assigned.has(login.toLowerCase()))) ignored.push("assignees");
      if (sent.milestone !== undefined && issue?.milestone?.number !== sent.milestone) ignored.push("milestone");
      // Labels are added, never replaced: people's own labels on the issue stay.
      const wanted = labels(content);
      const now = await this.gh.send<{ name: string }[]>("POST", `${path}/labels`, { labels: wanted });
      const has = new Set((Array.isArray(now) ? now : []).map((l) => l.name.toLowerCase()));
      if (!wanted.every((l) => has.has(l.toLowerCase()))) ignored.push(...["labels", "severityLabel", "teamLabel"].filter((id) => content.fields[id]));
    });
    return ignored.length ? { ignored, reason: "GitHub did not apply them: the account lacks push access to the repository" } : undefined;
  }

  async transition(target: TicketTarget, ticket: TicketRef, statusId: string) {
    const { data, response } = await this.gh.get<Issue>(issuePath(target, ticket));
    if (response.redirected) throw this.#moved(target, data);
    const [state, reason] = statusId.split(":") as ["open" | "closed", string | undefined];
    if (data.state === state && (state === "open" || data.state_reason === reason)) return "already" as const;
    await this.#write(target, ticket, (path) =>
      this.gh.patch(path, state === "open" ? { state: "open", state_reason: "reopened" } : { state: "closed", state_reason: reason ?? "completed" }),
    );
    return "moved" as const;
  }

  async comment(target: TicketTarget, ticket: TicketRef, blocks: Block[]) {
    await this.#write(target, ticket, (path) => this.gh.send("POST", `${path}/comments`, { body: toMarkdown(blocks) }));
  }

  /**
   * A write to the issue. GitHub answers a write to a transferred issue with 301 (which is not
   * re-sent): the issue is read where it is now, and the engine told, to write there.
   */
  async #write(target: TicketTarget, ticket: TicketRef, write: (path: string) => Promise<unknown>): Promise<void> {
    try {
      await write(issuePath(target, ticket));
    } catch (err) {
      if (!(err instanceof ExternalError && err.status === 301)) throw err;
      const { data } = await this.gh.get<Issue>(issuePath(target, ticket));
      throw this.#moved(target, data);
    }
  }

  #moved(target: TicketTarget, issue: Issue): TicketMovedError {
    const to = ref(target, issue);
    return new TicketMovedError(SERVICE, to, `transferred to ${repositoryOf(issue.html_url) ?? "another repository"}`);
  }
}

/** The issue's reference; one transferred out of the mapping's repository carries its repository in the id. */
function ref(target: TicketTarget, issue: Issue): TicketRef {
  const repo = repositoryOf(issue.html_url) ?? target.project.id;
  const elsewhere = repo.toLowerCase() !== target.project.id.toLowerCase();
  return { id: elsewhere ? `${repo}#${issue.number}` : String(issue.number), key: `${repo}#${issue.number}`, url: issue.html_url };
}

function text(value: FieldValue | undefined): string | undefined {
  if (!value) return undefined;
  if (value.kind === "text") return value.text;
  if (value.kind === "document") return toMarkdown(value.blocks);
  return undefined;
}

function payload(content: TicketContent): Record<string, unknown> {
  const f = content.fields;
  const out: Record<string, unknown> = {};
  const title = text(f.title);
  if (title) out.title = title.replace(/\s+/g, " ").slice(0, TITLE_MAX);
  const body = text(f.body);
  out.body = `${body ?? ""}\n\n<!-- ${content.marker} -->`.trimStart();
  if (f.assignees?.kind === "list") out.assignees = f.assignees.items;
  if (f.milestone?.kind === "choice") out.milestone = Number(f.milestone.id);
  return out;
}

function labels(content: TicketContent): string[] {
  const f = content.fields;
  const out = f.labels?.kind === "list" ? [...f.labels.items] : [];
  for (const key of ["severityLabel", "teamLabel"]) {
    const v = f[key];
    if (v?.kind === "choice") out.push(v.id);
  }
  return [...new Set([...out, content.marker])];
}

export const githubIssues: Connector = {
  multiInstance: true,
  card: {
    kind: "github-issues",
    badge: "GH",
    name: "GitHub Issues",
    category: "collaboration",
    summary: "Push findings as GitHub issues.",
    overview: {
      description: "Push findings and finding groups as issues in a GitHub repository, closed and reopened as remediation progresses.",
      benefits: [
        "Severity labels, and labels, assignees and a milestone of your own",
        "Closed as completed when fixed, as not planned when the risk is accepted",
        "Works through a connected GitHub integration",
      ],
      requirements: [
        "A connected GitHub integration, or a token: fine-grained with Issues (read and write) on the repositories, or classic with the repo scope",
      ],
      docs: [{ label: "GitHub: Issues API", url: "https://docs.github.com/en/rest/issues/issues" }],
    },
  },
  fields: [
    {
      name: "source",
      label: "GitHub integration",
      type: "integration",
      integrationKind: "github",
      editableWhenConnected: true,
      help: "Reuse the credentials of a connected GitHub integration; or choose None and enter a token below.",
    },
    {
      name: "githubUrl",
      label: "GitHub URL",
      type: "url",
      example: "https://github.com",
      help: "With a token of its own: github.com, or your GitHub Enterprise Server address.",
    },
    {
      name: "token",
      label: "Personal access token",
      type: "secret",
      editableWhenConnected: true,
      help: "Fine-grained: Issues (read and write) on the repositories Patchbay pushes to. Classic: the repo scope.",
    },
    {
      name: "webhookSecret",
      label: "Webhook Secret",
      type: "secret",
      editableWhenConnected: true,
      help: "With a token of its own, for two-way sync: the secret of the repository webhook that sends issue events. With a GitHub integration, its webhook is used.",
    },
    ...paceFields(GITHUB_PACING),
  ],
  pacing: GITHUB_PACING,
  defaultName: () => "GitHub Issues",
  async test(connection, ctx) {
    const gh = client(connection, ctx);
    const repos = await new GitHubIssuesSession(gh).projects();
    if (repos.length === 0) {
      throw new ExternalError(
        "permission",
        SERVICE,
        "The credentials reach no repository with issues enabled. Grant the token (or the GitHub App) access to the repositories Patchbay should push to.",
      );
    }
    return {
      message: `Connected to GitHub${connection.reused ? " through the chosen GitHub integration" : ""}.`,
      details: [
        `${repos.length} repositor${repos.length === 1 ? "y" : "ies"} with issues: ${repos
          .slice(0, 3)
          .map((r) => r.name)
          .join(", ")}${repos.length > 3 ? ", …" : ""}`,
      ],
    };
  },
  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — GitHub rejected the token",
        steps: ["Copy the whole token again, or reconnect the GitHub integration it comes from.", "Check that the token has not expired or been revoked."],
      };
    }
    if (error.kind === "permission") {
      return {
        title: "Connection Failed — missing access",
        steps: [
          "Give the token Issues (read and write) on the repositories, or the repo scope for a classic token.",
          "For an organization with SSO, authorize the token for the organization.",
        ],
      };
    }
    return undefined;
  },
  tracker: {
    nouns: { project: "repository", ticketType: "issue type", ticket: "issue" },
    descriptionFormat: "Markdown",
    session: (connection, ctx) => new GitHubIssuesSession(client(connection, ctx)),
    // Issue events arrive through the GitHub integration's webhook (Issues and Issue comments
    // events), or through this integration's own when it has a token of its own.
    inbound: {
      secretField: "webhookSecret",
      filter: "issues and issue comments in the mapped repositories",
      verify: verifyGitHubDelivery,
      signatureHeaders: GITHUB_SIGNATURE_HEADERS,
      maxBodyBytes: GITHUB_MAX_DELIVERY_BYTES,
      parse: parseGitHubIssueDelivery,
      instructions: (hook) => [
        "In GitHub, open the GitHub integration's webhook (organization or repository Settings → Webhooks) — or add one with this address:",
        hook.url,
        "Tick the Issues and Issue comments events beside Pull requests; Patchbay's repository sync adds them where its token may.",
        "The secret is the webhook secret of the integration the webhook belongs to.",
      ],
    },
  },
};
