// GitLab Issues (GitLab Boards) as a tracker: a connected GitLab integration's credentials (or
// a token and server of its own), one project per mapping, labels — scoped labels
// (severity::high, status::doing) are how board columns work, and adding one replaces the
// others of its scope — an assignee, the confidential flag, a due date; close and reopen;
// notes. A Patchbay marker label lets a retry find an issue made before a crash.
import { ExternalError } from "../../http.js";
import { createGitLabClient } from "../gitlab/index.js";
import { type GitLabClient, SERVICE, apiBase, expectList, nextPage } from "../gitlab/client.js";
import { toMarkdown } from "../markdown.js";
import { parseGitLabIssueDelivery, verifyGitLabDelivery } from "../gitlab/webhook.js";
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
  type UpdateOutcome,
} from "../types.js";

const MAX_PAGES = 20;

interface Issue {
  iid: number;
  web_url: string;
  state: "opened" | "closed";
  labels: string[];
}

function client(connection: ConnectionSettings, ctx: ConnectorContext): GitLabClient {
  if (!connection.reused && !connection.secrets.token) {
    throw new ExternalError("invalid_input", SERVICE, "Choose a connected GitLab integration, or enter an access token and your GitLab URL.");
  }
  return createGitLabClient(connection.reused ?? connection, ctx);
}

const projectPath = (target: TicketTarget) => `/projects/${encodeURIComponent(target.project.id)}`;

/** The labels of a project whose scope is "status": the columns of its boards. */
const STATUS_SCOPE = /^status::/i;

class GitLabIssuesSession implements TrackerSession {
  constructor(private readonly gl: GitLabClient) {}

  async whoami() {
    return (await this.gl.get<{ username: string }>("/user")).data.username;
  }

  async lookup(target: TicketTarget, reference: string) {
    const r = reference.trim();
    const m = /^(?:https?:\/\/[^/]+\/)?(?:([\w./-]+?)(?:\/-\/issues\/|#))?#?(\d+)\/?$/.exec(r);
    if (!m || (m[1] && m[1].toLowerCase() !== target.project.name.toLowerCase())) return undefined;
    try {
      const { data } = await this.gl.get<Issue & { title: string }>(`${projectPath(target)}/issues/${m[2]}`);
      return { ...ref(target, data), title: data.title };
    } catch (err) {
      if (err instanceof ExternalError && err.status === 404) return undefined;
      throw err;
    }
  }

  async withCves(target: TicketTarget, limit: number) {
    const out: ExistingTicket[] = [];
    let page: string | null = "1";
    for (let n = 0; page && n < 20 && out.length < limit; n++) {
      const { data, response } = await this.gl.get<unknown>(
        `${projectPath(target)}/issues?state=all&search=CVE&in=title&order_by=created_at&sort=asc&per_page=100&page=${page}`,
      );
      for (const issue of expectList<Issue & { title: string }>(data, "the issue list"))
        if (cvesIn(issue.title).length) out.push({ ...ref(target, issue), title: issue.title });
      page = nextPage(response);
    }
    return out.slice(0, limit);
  }

  async states(target: TicketTarget, tickets: TicketRef[]) {
    const out = new Map<string, TrackerChoice>();
    for (const ticket of tickets) {
      try {
        const { data } = await this.gl.get<Issue>(`${projectPath(target)}/issues/${ticket.id}`);
        const column = data.state === "opened" ? data.labels.find((l) => STATUS_SCOPE.test(l)) : undefined;
        out.set(
          ticket.id,
          data.state === "closed"
            ? { id: "closed", name: "Closed" }
            : column
              ? { id: `label:${column}`, name: `Open, in the board column ${column}` }
              : { id: "opened", name: "Open" },
        );
      } catch (err) {
        if (!(err instanceof ExternalError && err.status === 404)) throw err;
      }
    }
    return out;
  }

  async projects() {
    const out: TrackerProject[] = [];
    let page: string | null = "1";
    for (let n = 0; page && n < MAX_PAGES; n++) {
      const { data, response } = await this.gl.get<unknown>(
        `/projects?membership=true&min_access_level=20&archived=false&order_by=path&sort=asc&per_page=100&page=${page}`,
      );
      out.push(
        ...expectList<{ id: number; path_with_namespace: string; visibility?: string }>(data, "the project list").map((p) => ({
          id: String(p.id),
          name: p.path_with_namespace,
          public: p.visibility === "public",
        })),
      );
      page = nextPage(response);
    }
    return out;
  }

  /** Issues are confidential unless the mapping says otherwise; a public project's others are public. */
  exposure(target: TicketTarget, fields: { fieldId: string; source: string; value: string }[]): string | undefined {
    const confidential = fields.find((f) => f.fieldId === "confidential");
    const open = confidential?.source === "manual" && confidential.value === "false";
    return target.project.public && open
      ? `${target.project.name} is a public project and this mapping makes issues not confidential: anyone can read them, so each would tell the world which vulnerability is open and where.`
      : undefined;
  }

  async ticketTypes() {
    return [{ id: "issue", name: "Issue" }];
  }

  async fields(target: TicketTarget): Promise<TrackerField[]> {
    const labels = expectList<{ name: string }>((await this.gl.get<unknown>(`${projectPath(target)}/labels?per_page=100`)).data, "the labels");
    const members = expectList<{ id: number; username: string; name: string }>(
      (await this.gl.get<unknown>(`${projectPath(target)}/members/all?per_page=100`)).data,
      "the members",
    );
    const labelChoices = labels.map((l) => ({ id: l.name, name: l.name }));
    return [
      { id: "title", name: "Title", required: true, kind: "text", hasDefault: false },
      { id: "description", name: "Description", required: false, kind: "document", hasDefault: false },
      { id: "labels", name: "Labels", required: false, kind: "labels", hasDefault: false },
      {
        id: "severityLabel",
        name: "Severity label (scoped, like severity::high)",
        required: false,
        kind: "choice",
        hasDefault: false,
        special: true,
        allowedValues: labelChoices,
      },
      { id: "teamLabel", name: "Label from the project", required: false, kind: "choice", hasDefault: false, allowedValues: labelChoices },
      {
        id: "assignee",
        name: "Assignee",
        required: false,
        kind: "choice",
        hasDefault: false,
        allowedValues: members.map((m) => ({ id: String(m.id), name: `${m.name} (@${m.username})` })),
      },
      {
        id: "confidential",
        name: "Confidential",
        required: false,
        kind: "choice",
        hasDefault: true,
        allowedValues: [
          { id: "true", name: "Confidential" },
          { id: "false", name: "Not confidential" },
        ],
      },
      { id: "due_date", name: "Due date", required: false, kind: "date", hasDefault: false },
    ];
  }

  async statuses(target: TicketTarget) {
    const labels = expectList<{ name: string }>((await this.gl.get<unknown>(`${projectPath(target)}/labels?per_page=100`)).data, "the labels");
    return [
      { id: "opened", name: "Open" },
      ...labels.filter((l) => STATUS_SCOPE.test(l.name)).map((l) => ({ id: `label:${l.name}`, name: `Open, in the board column ${l.name}` })),
      { id: "closed", name: "Closed" },
    ];
  }

  /**
   * The issue carrying the marker: by its label, or — since GitLab drops the labels of an
   * account whose role may not set them — by the marker in its description.
   */
  async find(target: TicketTarget, marker: string) {
    const { data } = await this.gl.get<unknown>(`${projectPath(target)}/issues?labels=${encodeURIComponent(marker)}&state=all&per_page=1`);
    const issue = expectList<Issue>(data, "the issue list")[0];
    if (issue) return ref(target, issue);
    const { data: found } = await this.gl.get<unknown>(
      `${projectPath(target)}/issues?search=${encodeURIComponent(marker)}&in=description&state=all&per_page=20`,
    );
    const described = expectList<Issue & { description?: string | null }>(found, "the issue list").find((i) =>
      (i.description ?? "").includes(`<!-- ${marker} -->`),
    );
    return described ? ref(target, described) : undefined;
  }

  async create(target: TicketTarget, content: TicketContent) {
    const issue = await this.gl.send<Issue>("POST", `${projectPath(target)}/issues`, { ...payload(content), labels: labels(content).join(",") });
    return ref(target, issue);
  }

  async update(target: TicketTarget, ticket: TicketRef, content: TicketContent): Promise<UpdateOutcome | void> {
    // add_labels keeps people's own labels; a scoped one replaces its scope's previous value.
    const sent = payload(content);
    const wanted = labels(content);
    const issue = await this.gl.put<Issue & { assignees?: { id: number }[]; due_date?: string | null; confidential?: boolean }>(
      `${projectPath(target)}/issues/${ticket.id}`,
      { ...sent, add_labels: wanted.join(",") },
    );
    // GitLab drops what the account's role may not set (a Guest's labels, assignees, due date)
    // without an error: its answer says what it applied.
    const ignored: string[] = [];
    if (Array.isArray(sent.assignee_ids) && !(sent.assignee_ids as number[]).every((id) => (issue?.assignees ?? []).some((a) => a.id === id)))
      ignored.push("assignee");
    if (sent.due_date !== undefined && issue?.due_date !== sent.due_date) ignored.push("due_date");
    if (content.fields.confidential && issue?.confidential !== sent.confidential) ignored.push("confidential");
    const has = new Set((issue?.labels ?? []).map((l) => l.toLowerCase()));
    if (!wanted.every((l) => has.has(l.toLowerCase()))) ignored.push(...["labels", "severityLabel", "teamLabel"].filter((id) => content.fields[id]));
    return ignored.length ? { ignored, reason: "GitLab did not apply them: the account's role on the project may not set them" } : undefined;
  }

  async transition(target: TicketTarget, ticket: TicketRef, statusId: string) {
    const { data } = await this.gl.get<Issue>(`${projectPath(target)}/issues/${ticket.id}`);
    if (statusId === "opened" || statusId === "closed") {
      if (data.state === statusId) return "already" as const;
      await this.gl.put(`${projectPath(target)}/issues/${ticket.id}`, { state_event: statusId === "closed" ? "close" : "reopen" });
      return "moved" as const;
    }
    const label = statusId.replace(/^label:/, "");
    if (data.state === "opened" && data.labels.includes(label)) return "already" as const;
    await this.gl.put(`${projectPath(target)}/issues/${ticket.id}`, { add_labels: label, ...(data.state === "closed" ? { state_event: "reopen" } : {}) });
    return "moved" as const;
  }

  async comment(target: TicketTarget, ticket: TicketRef, blocks: Block[]) {
    await this.gl.send("POST", `${projectPath(target)}/issues/${ticket.id}/notes`, { body: toMarkdown(blocks) });
  }
}

function ref(target: TicketTarget, issue: Issue): TicketRef {
  return { id: String(issue.iid), key: `${target.project.name}#${issue.iid}`, url: issue.web_url };
}

function text(value: FieldValue | undefined): string | undefined {
  if (value?.kind === "text") return value.text;
  if (value?.kind === "document") return toMarkdown(value.blocks);
  return undefined;
}

function payload(content: TicketContent): Record<string, unknown> {
  const f = content.fields;
  const out: Record<string, unknown> = {};
  const title = text(f.title);
  if (title) out.title = title.replace(/\s+/g, " ").slice(0, 255);
  out.description = `${text(f.description) ?? ""}\n\n<!-- ${content.marker} -->`.trimStart();
  if (f.assignee?.kind === "choice") out.assignee_ids = [Number(f.assignee.id)];
  // Confidential unless the mapping chose otherwise: an issue names an open vulnerability.
  out.confidential = f.confidential?.kind === "choice" ? f.confidential.id === "true" : true;
  if (f.due_date?.kind === "date") out.due_date = f.due_date.date;
  return out;
}

function labels(content: TicketContent): string[] {
  const f = content.fields;
  const out = f.labels?.kind === "list" ? f.labels.items.map((l) => l.replace(/,/g, " ")) : [];
  for (const key of ["severityLabel", "teamLabel"]) {
    const v = f[key];
    if (v?.kind === "choice") out.push(v.id);
  }
  return [...new Set([...out, content.marker])];
}

export const gitlabIssues: Connector = {
  multiInstance: true,
  card: {
    kind: "gitlab-issues",
    badge: "GL",
    name: "GitLab Issues",
    category: "collaboration",
    summary: "Push findings as GitLab issues on your boards.",
    overview: {
      description: "Push findings and finding groups as GitLab issues, with scoped labels for severity and status so they sit in the right board column.",
      benefits: ["Scoped labels drive board columns", "Confidential issues for sensitive findings", "Works through a connected GitLab integration"],
      requirements: ["A connected GitLab integration, or an access token with the api scope (Reporter or above on the projects)"],
      docs: [{ label: "GitLab: Issues API", url: "https://docs.gitlab.com/api/issues/" }],
    },
  },
  fields: [
    {
      name: "source",
      label: "GitLab integration",
      type: "integration",
      integrationKind: "gitlab",
      editableWhenConnected: true,
      help: "Reuse the credentials of a connected GitLab integration; or choose None and enter a server and token below.",
    },
    {
      name: "gitlabUrl",
      label: "GitLab URL",
      type: "url",
      example: "https://gitlab.com",
      help: "With a token of its own: https://gitlab.com or your self-managed GitLab's address.",
      validate: (value) => (apiBase(value) ? undefined : "Enter https://gitlab.com or your GitLab server's address."),
    },
    {
      name: "token",
      label: "Access token",
      type: "secret",
      editableWhenConnected: true,
      help: "A personal, group or project access token with the api scope.",
    },
    {
      name: "webhookSecret",
      label: "Webhook Secret",
      type: "secret",
      editableWhenConnected: true,
      help: "With a token of its own, for two-way sync: the secret token of the project webhook that sends issue events. With a GitLab integration, its webhook is used.",
    },
  ],
  defaultName: () => "GitLab Issues",
  async test(connection, ctx) {
    const projects = await new GitLabIssuesSession(client(connection, ctx)).projects();
    if (projects.length === 0) {
      throw new ExternalError(
        "permission",
        SERVICE,
        "The credentials reach no project where they may create issues. Give the token's user at least the Reporter role in the projects Patchbay should push to.",
      );
    }
    return {
      message: `Connected to GitLab${connection.reused ? " through the chosen GitLab integration" : ""}.`,
      details: [
        `${projects.length} project${projects.length === 1 ? "" : "s"}: ${projects
          .slice(0, 3)
          .map((p) => p.name)
          .join(", ")}${projects.length > 3 ? ", …" : ""}`,
      ],
    };
  },
  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — GitLab rejected the token",
        steps: [
          "Copy the whole token again, or reconnect the GitLab integration it comes from.",
          "Check that the token has the api scope and has not expired.",
        ],
      };
    }
    return undefined;
  },
  tracker: {
    nouns: { project: "project", ticketType: "issue type", ticket: "issue" },
    descriptionFormat: "Markdown",
    session: (connection, ctx) => new GitLabIssuesSession(client(connection, ctx)),
    // Issue and comment events arrive through the GitLab integration's webhook (Issues and
    // Comments events), or through this integration's own when it has a token of its own.
    inbound: {
      secretField: "webhookSecret",
      filter: "issue and comment events of the mapped projects",
      verify: verifyGitLabDelivery,
      parse: (event, rawBody) => parseGitLabIssueDelivery(event, rawBody),
      instructions: (hook) => [
        "In GitLab, open the project's (or group's) Settings → Webhooks — the GitLab integration's webhook, or a new one with this address:",
        hook.url,
        "Secret token: the webhook secret of the integration the webhook belongs to.",
        "Triggers: Issues events and Comments, beside Merge request events; Patchbay's repository sync adds them where its token may.",
      ],
    },
  },
};
