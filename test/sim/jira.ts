// Jira Cloud simulator, REST v3, written from Atlassian's documentation:
//   site      https://<site>.atlassian.net/rest/api/3/…   unscoped (classic) API tokens only
//   gateway   https://api.atlassian.com/ex/jira/<cloudId>/rest/api/3/…   scoped tokens only;
//             a call outside the token's scopes answers 401 "Unauthorized; scope does not match"
//   /_edge/tenant_info (unauthenticated) → {cloudId}
// Basic auth (email:token), /myself, /serverInfo, /project/search (paged, isLast),
// createmeta issue types and fields (paged), /project/{key}/statuses, create/edit/get issue
// with field validation against the create metadata, bulk create (POST /issue/bulk: ≤ 50,
// per-issue errors by failedElementNumber, 201 if any was made, 400 if none), comments, transitions (ids differ from
// status ids), POST /search/jql, error bodies {errorMessages, errors}, and a token-bucket
// rate limit answering 429 with Retry-After and X-RateLimit-* headers.
import crypto from "node:crypto";
import { Hono, type Context } from "hono";
import adfSchema from "@atlaskit/adf-schema/dist/json-schema/v1/full.json" with { type: "json" };
import Ajv04 from "ajv-draft-04";
import { plainText, ticketPage } from "./pages.js";
import { FaultKnobs } from "./faults.js";

/** Jira checks rich text against the ADF schema Atlassian publishes (@atlaskit/adf-schema). */
const validAdf = new Ajv04({ strict: false }).compile(adfSchema);

/** An account as Jira's payloads name it. */
export interface SimUser {
  accountId: string;
  displayName: string;
}

/** The service account every API token here belongs to (GET /myself). */
export const SERVICE_ACCOUNT: SimUser = { accountId: "5b10ac8d82e05b22cc7d4ef5", displayName: "Patchbay Service" };

interface SimWebhook {
  id: number;
  name: string;
  url: string;
  events: string[];
  jql: string;
  secret: string | undefined;
}

export interface SimField {
  fieldId: string;
  name: string;
  required: boolean;
  hasDefaultValue?: boolean;
  schema: { type: string; items?: string; system?: string; custom?: string; customId?: number };
  allowedValues?: { id: string; name?: string; value?: string }[];
}

export interface SimIssue {
  id: string;
  key: string;
  projectKey: string;
  issueTypeId: string;
  fields: Record<string, unknown>;
  statusId: string;
  comments: unknown[];
  created: number;
}

interface Token {
  email: string;
  kind: "unscoped" | "scoped";
  scopes: string[];
  revoked?: boolean;
}

/** The site's resolutions (GET /resolution/search). */
export const RESOLUTIONS = [
  { id: "10000", name: "Done" },
  { id: "10001", name: "Won't Do" },
  { id: "10002", name: "Duplicate" },
  { id: "10003", name: "Cannot Reproduce" },
];

export const STATUSES = [
  { id: "10000", name: "To Do" },
  { id: "10001", name: "In Progress" },
  { id: "10002", name: "Done" },
  { id: "10003", name: "Won't Do" },
];

/** Which scopes a route needs: any one of these sets (classic or granular). */
const NEEDS: Record<string, string[][]> = {
  account: [["read:jira-user"], ["read:user:jira"]],
  projects: [["read:jira-work"], ["read:project:jira"]],
  metadata: [["read:jira-work"], ["read:issue-type:jira", "read:project:jira"]],
  statuses: [["read:jira-work"], ["read:status:jira"]],
  read: [["read:jira-work"], ["read:issue-details:jira"]],
  write: [["write:jira-work"], ["write:issue:jira"]],
  comment: [["write:jira-work"], ["write:comment:jira"]],
};

export const CLASSIC_SCOPES = ["read:jira-work", "read:jira-user", "write:jira-work"];

/** A field of a transition screen, as GET /issue/{key}/transitions?expand=transitions.fields gives it. */
interface ScreenField {
  required: boolean;
  name: string;
  key: string;
  schema: { type: string; system?: string };
  operations: string[];
  allowedValues?: unknown[];
}

export type TransitionScreen = { resolution?: "required" | "optional"; required?: string[] };

/** A transition screen's fields as Jira lists them. */
export function screenFields(screen: TransitionScreen | undefined, api: string): Record<string, ScreenField> {
  if (!screen) return {};
  const out: Record<string, ScreenField> = {};
  if (screen.resolution)
    out.resolution = {
      required: screen.resolution === "required",
      name: "Resolution",
      key: "resolution",
      schema: { type: "resolution", system: "resolution" },
      operations: ["set"],
      allowedValues: RESOLUTIONS.map((r) => ({ ...r, self: `${api}/resolution/${r.id}` })),
    };
  for (const id of screen.required ?? [])
    out[id] = { required: true, name: id === "fixVersions" ? "Fix versions" : id, key: id, schema: { type: "string" }, operations: ["set"] };
  return out;
}

/** Checks a transition's fields against its screen: Jira's errors, by field. */
export function screenErrors(screen: Record<string, ScreenField>, sent: Record<string, unknown>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const name of Object.keys(sent)) if (!(name in screen)) errors[name] = `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`;
  for (const [name, field] of Object.entries(screen)) if (field.required && sent[name] === undefined) errors[name] = `${field.name} is required.`;
  const chosen = sent.resolution as { id?: string; name?: string } | undefined;
  if (chosen && !RESOLUTIONS.some((r) => r.id === chosen.id || r.name === chosen.name))
    errors.resolution = `Could not find a resolution matching '${chosen.id ?? chosen.name}'.`;
  return errors;
}

export class JiraSim {
  readonly faults = new FaultKnobs();
  readonly tokens = new Map<string, Token>();
  readonly projects: { id: string; key: string; name: string }[] = [];
  /** Create metadata per project key → issue type id → fields. */
  readonly issueTypes = new Map<string, { id: string; name: string; subtask: boolean; fields: SimField[] }[]>();
  readonly issues: SimIssue[] = [];
  /** Status ids an issue may move to, per current status id (all by default). */
  blockedTransitions = new Set<string>();
  /**
   * Transition screens, by the status the transition leads to: Resolution on the screen
   * (required or not), and other fields the screen requires. Jira refuses a transition that
   * leaves a required field empty, and any field that is not on its screen.
   */
  readonly transitionScreens = new Map<string, TransitionScreen>();
  /** Fields not on the edit screen (editmeta leaves them out; PUT refuses them). */
  readonly notEditable = new Set<string>();
  /** Statuses whose issues cannot be edited at all (jira.issue.editable = false): editmeta is empty. */
  readonly lockedStatuses = new Set<string>();
  /** Statuses an administrator removed from the workflow. */
  readonly removedStatuses = new Set<string>();
  cloudId = "a436116f-02ce-4520-8fbb-7301462a1674";
  siteOrigin = "https://acme.atlassian.net";
  /** Requests per second allowed before 429 (0: no limit). */
  rateLimitPerSecond = 0;
  readonly rateLimited: number[] = [];
  #bucket = { tokens: 0, at: 0 };
  /** Admin webhooks (System → WebHooks, /rest/webhooks/1.0/webhook). */
  readonly webhooks: SimWebhook[] = [];
  /** Emails of the accounts that are Jira administrators (only they may manage webhooks). */
  readonly admins = new Set<string>();
  /** Where a delivery to a URL really goes (the test serves Patchbay on a port of its own). */
  deliverTo: (url: string) => string = (url) => url;
  /** Deliveries sent, with Patchbay's answers. */
  readonly deliveries: { url: string; event: string; id: string; status: number }[] = [];
  #pending: Promise<unknown>[] = [];
  /** Called when an issue is created, before the response goes out (a test can crash Patchbay here). */
  onCreate: ((issue: SimIssue) => Promise<void> | void) | undefined;
  /**
   * A project's own refusal of some creates (a workflow validator, a field required in one
   * context): the field errors Jira gives for these fields, or undefined to create.
   */
  refuse: ((fields: Record<string, unknown>) => Record<string, string> | undefined) | undefined;
  /** The size of each bulk create request served. */
  readonly bulkCreates: number[] = [];
  /** Bulk create requests being served at this moment. */
  bulkInFlight = 0;
  /** How long a bulk create's answer takes to leave once its issues are made. */
  bulkAnswerDelayMs = 0;
  #nextId = 10000;

  addToken(token: string, email: string, kind: Token["kind"] = "unscoped", scopes: string[] = []): void {
    this.tokens.set(token, { email, kind, scopes });
  }

  revoke(token: string): void {
    const t = this.tokens.get(token);
    if (t) t.revoked = true;
  }

  /** A project with a Bug issue type (the usual fields) and a Task with fewer. */
  addProject(key: string, name: string, extraFields: SimField[] = []): void {
    const id = String(10000 + this.projects.length);
    this.projects.push({ id, key, name });
    this.issueTypes.set(key, [
      { id: "10004", name: "Bug", subtask: false, fields: [...standardFields(), ...extraFields] },
      { id: "10002", name: "Task", subtask: false, fields: standardFields().filter((f) => f.fieldId !== "duedate") },
      { id: "10003", name: "Sub-task", subtask: true, fields: standardFields() },
    ]);
  }

  issueByKey(key: string): SimIssue | undefined {
    return this.issues.find((i) => i.key === key);
  }

  /** How long a new issue stays out of search results (Jira Cloud's index lags writes by up to a minute); 0 by default. */
  searchLagMs = 0;
  /** The sim's clock for that lag (a test's clock, to move time without waiting). */
  clock: () => number = () => Date.now();

  /** Keys issues had before a move: Jira still resolves them to the issue (GET, JQL). */
  readonly movedKeys = new Map<string, string>();

  /** A person deletes an issue: its key and id are gone (JQL naming the key is an error). */
  deleteIssue(key: string): void {
    this.issues.splice(
      this.issues.findIndex((i) => i.key === key),
      1,
    );
  }

  /** A person moves an issue to another project: it takes a key there; the old one still finds it. */
  moveIssue(key: string, toProject: string): SimIssue {
    const issue = this.issueByKey(key)!;
    this.movedKeys.set(key, issue.id);
    issue.key = `${toProject}-${this.issues.filter((i) => i.projectKey === toProject).length + 1}`;
    issue.projectKey = toProject;
    return issue;
  }

  /**
   * Whether a comment written on a transition screen rides in the jira:issue_updated delivery.
   * Jira does not always include it: then the update arrives without it, and the comment in its
   * own comment_created delivery.
   */
  commentsWithTransitions = true;

  /** A person moves an issue to a status in Jira's UI (with an optional comment on the transition screen). */
  humanTransition(key: string, statusName: string, by: SimUser, comment?: string, resolutionName?: string): void {
    const i = this.issueByKey(key)!;
    const from = STATUSES.find((s) => s.id === i.statusId)!;
    const to = STATUSES.find((s) => s.name === statusName)!;
    i.statusId = to.id;
    const resolution = resolutionName ? RESOLUTIONS.find((r) => r.name === resolutionName)! : undefined;
    // As Jira's workflows do: a resolution set on the way to done, cleared on the way back.
    if (resolution) i.fields.resolution = { id: resolution.id, name: resolution.name };
    else if (to.id === "10000" || to.id === "10001") i.fields.resolution = null;
    if (comment) i.comments.push(comment);
    const written = comment === undefined ? undefined : { id: String(i.comments.length), text: comment, by };
    this.#issueUpdated(i, by, from, to, this.commentsWithTransitions ? written : undefined, resolution);
    if (written && !this.commentsWithTransitions) {
      this.#emit("comment_created", i, {
        timestamp: Date.now(),
        webhookEvent: "comment_created",
        comment: this.#comment(written.id, written.text, by),
        issue: this.#issuePayload(i),
      });
    }
  }

  /** A person comments on an issue in Jira's UI. */
  humanComment(key: string, text: string, by: SimUser): void {
    const i = this.issueByKey(key)!;
    i.comments.push(text);
    this.#emit("comment_created", i, {
      timestamp: Date.now(),
      webhookEvent: "comment_created",
      comment: this.#comment(String(i.comments.length), text, by),
      issue: this.#issuePayload(i),
    });
  }

  /** Waits for every delivery sent so far to be answered. */
  async settled(): Promise<void> {
    while (this.#pending.length) await Promise.all(this.#pending.splice(0));
  }

  #issuePayload(i: SimIssue) {
    const status = STATUSES.find((s) => s.id === i.statusId)!;
    return {
      id: i.id,
      key: i.key,
      self: `${this.siteOrigin}/rest/api/2/${i.id}`,
      fields: {
        summary: i.fields.summary,
        labels: i.fields.labels ?? [],
        resolution: i.fields.resolution ?? null,
        status: { self: `${this.siteOrigin}/rest/api/2/status/${status.id}`, id: status.id, name: status.name },
        updated: new Date().toISOString().replace("Z", "+0000"),
      },
    };
  }

  #comment(id: string, text: string, by: SimUser) {
    const stamp = new Date().toISOString().replace("Z", "+0000");
    const author = {
      self: `${this.siteOrigin}/rest/api/2/user?accountId=${by.accountId}`,
      accountId: by.accountId,
      displayName: by.displayName,
      active: true,
      accountType: "atlassian",
    };
    return {
      self: `${this.siteOrigin}/rest/api/2/issue/${id}/comment/${id}`,
      id,
      author,
      body: text,
      updateAuthor: author,
      created: stamp,
      updated: stamp,
      jsdPublic: true,
    };
  }

  /** The transition screen's fields (expand=transitions.fields), by the status it leads to. */
  #screenFields(statusId: string): Record<string, ScreenField> {
    return screenFields(this.transitionScreens.get(statusId), `${this.siteOrigin}/rest/api/3`);
  }

  #issueUpdated(
    i: SimIssue,
    by: SimUser,
    from: { id: string; name: string },
    to: { id: string; name: string },
    comment?: { id: string; text: string; by: SimUser },
    resolution?: { id: string; name: string },
  ): void {
    this.#emit("jira:issue_updated", i, {
      timestamp: Date.now(),
      webhookEvent: "jira:issue_updated",
      issue_event_type_name: "issue_generic",
      user: {
        self: `${this.siteOrigin}/rest/api/2/user?accountId=${by.accountId}`,
        accountId: by.accountId,
        displayName: by.displayName,
        active: true,
        accountType: "atlassian",
      },
      issue: this.#issuePayload(i),
      changelog: {
        id: String(Date.now()),
        items: [
          ...(resolution
            ? [{ field: "resolution", fieldtype: "jira", fieldId: "resolution", from: null, fromString: null, to: resolution.id, toString: resolution.name }]
            : []),
          { field: "status", fieldtype: "jira", fieldId: "status", from: from.id, fromString: from.name, to: to.id, toString: to.name },
        ],
      },
      ...(comment ? { comment: this.#comment(comment.id, comment.text, comment.by) } : {}),
    });
  }

  /** Sends an event to every webhook that wants it and whose JQL filter (labels = x) matches the issue. */
  #emit(event: string, i: SimIssue, payload: Record<string, unknown>): void {
    for (const hook of this.webhooks) {
      if (!hook.events.includes(event)) continue;
      const label = /labels\s*=\s*"?([\w-]+)"?/.exec(hook.jql)?.[1];
      if (label && !((i.fields.labels as string[] | undefined) ?? []).includes(label)) continue;
      const body = JSON.stringify(payload);
      const id = crypto.randomUUID();
      const headers: Record<string, string> = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Atlassian Webhook HTTP Client",
        "x-atlassian-webhook-identifier": id,
      };
      if (hook.secret) headers["x-hub-signature"] = `sha256=${crypto.createHmac("sha256", hook.secret).update(body).digest("hex")}`;
      this.sent.push({ url: hook.url, headers, body });
      this.#pending.push(
        fetch(this.deliverTo(hook.url), { method: "POST", headers, body })
          .then((res) => this.deliveries.push({ url: hook.url, event, id, status: res.status }))
          .catch(() => this.deliveries.push({ url: hook.url, event, id, status: 0 })),
      );
    }
  }

  /** Every delivery sent (URL, headers, body): a test replays one as Jira retries. */
  readonly sent: { url: string; headers: Record<string, string>; body: string }[] = [];

  app(): Hono {
    const root = new Hono();
    root.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ errorMessages: [`Simulated error ${status}`], errors: {} })),
    );
    root.use("*", async (c, next) => {
      if (!this.rateLimitPerSecond) return next();
      const now = Date.now();
      const rate = this.rateLimitPerSecond;
      const b = this.#bucket;
      b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
      c.header("x-ratelimit-limit", String(rate));
      if (b.tokens < 1) {
        const wait = Math.max(1, Math.ceil((1 - b.tokens) / rate));
        this.rateLimited.push(now);
        return c.json({ errorMessages: ["Rate limit exceeded."] }, 429, {
          "retry-after": String(wait),
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": new Date(now + wait * 1000).toISOString(),
          "ratelimit-reason": "jira-quota-global-based",
        });
      }
      b.tokens -= 1;
      c.header("x-ratelimit-remaining", String(Math.floor(b.tokens)));
      return next();
    });
    root.get("/_edge/tenant_info", (c) => c.json({ cloudId: this.cloudId }));
    // The issue's own page, as a person opens it from Patchbay.
    root.get("/browse/:key", (c) => {
      const i = this.issues.find((x) => x.key === c.req.param("key"));
      if (!i) return c.html("<!doctype html><title>Not found</title><p>No such issue.</p>", 404);
      const status = STATUSES.find((s) => s.id === i.statusId);
      return c.html(
        ticketPage({
          service: "Jira",
          key: i.key,
          title: String(i.fields.summary ?? ""),
          facts: [
            ["Status", status?.name ?? i.statusId],
            ["Labels", ((i.fields.labels as string[] | undefined) ?? []).join(", ")],
          ],
          body: plainText(i.fields.description),
          comments: i.comments.map((x) => plainText((x as { body?: unknown }).body)),
        }),
      );
    });
    root.route("/rest/webhooks/1.0", this.webhookApi());
    root.route("/rest/api/3", this.api("site"));
    root.route("/ex/jira/:cloudId/rest/api/3", this.api("gateway"));
    return root;
  }

  /** Admin webhooks: a Jira administrator's classic token on the site. */
  private webhookApi(): Hono {
    const api = new Hono();
    api.use("*", async (c, next) => {
      const auth = /^Basic (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const [email, token] = auth ? Buffer.from(auth, "base64").toString().split(/:(.*)/s) : [];
      const entry = token ? this.tokens.get(token) : undefined;
      if (!entry || entry.revoked || entry.email !== email || entry.kind !== "unscoped")
        return c.text("Client must be authenticated to access this resource.", 401);
      if (!this.admins.has(entry.email)) return c.json({ errorMessages: ["You do not have the permission to manage webhooks."], errors: {} }, 403);
      await next();
    });
    const view = (h: SimWebhook) => ({
      self: `${this.siteOrigin}/rest/webhooks/1.0/webhook/${h.id}`,
      name: h.name,
      url: h.url,
      events: h.events,
      filters: { "issue-related-events-section": h.jql },
      excludeBody: false,
      enabled: true,
    });
    const read = async (c: Context) => {
      const body = (await c.req.json().catch(() => undefined)) as
        { name?: string; url?: string; events?: string[]; filters?: Record<string, string>; secret?: string } | undefined;
      if (!body?.name || !body.url || !Array.isArray(body.events)) return undefined;
      return { name: body.name, url: body.url, events: body.events, jql: body.filters?.["issue-related-events-section"] ?? "", secret: body.secret };
    };
    api.get("/webhook", (c) => c.json(this.webhooks.map(view)));
    api.post("/webhook", async (c) => {
      const hook = await read(c);
      if (!hook) return c.json({ errorMessages: ["name, url and events are required."], errors: {} }, 400);
      const created = { id: this.webhooks.length + 1, ...hook };
      this.webhooks.push(created);
      return c.json(view(created), 201);
    });
    api.put("/webhook/:id", async (c) => {
      const existing = this.webhooks.find((h) => h.id === Number(c.req.param("id")));
      const hook = await read(c);
      if (!existing) return c.json({ errorMessages: ["Webhook not found."], errors: {} }, 404);
      if (!hook) return c.json({ errorMessages: ["name, url and events are required."], errors: {} }, 400);
      Object.assign(existing, hook);
      return c.json(view(existing));
    });
    return api;
  }

  private api(via: "site" | "gateway"): Hono {
    const api = new Hono();
    api.use("*", async (c, next) => {
      if (via === "gateway" && c.req.param("cloudId") !== this.cloudId) return c.json({ errorMessages: ["Site temporarily unavailable"] }, 404);
      const auth = /^Basic (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const [email, token] = auth ? Buffer.from(auth, "base64").toString().split(/:(.*)/s) : [];
      const entry = token ? this.tokens.get(token) : undefined;
      // Jira answers an unauthenticated or wrong-credential call with 401 and a plain message.
      if (!entry || entry.revoked || entry.email !== email) return c.text("Client must be authenticated to access this resource.", 401);
      if (via === "site" && entry.kind === "scoped") return c.text("Client must be authenticated to access this resource.", 401);
      if (via === "gateway" && entry.kind === "unscoped") return c.json({ code: 401, message: "Unauthorized; scope does not match" }, 401);
      c.set("token" as never, entry as never);
      await next();
    });
    const need = (c: Context, what: keyof typeof NEEDS) => {
      const entry = c.get("token" as never) as Token;
      if (entry.kind === "unscoped") return undefined;
      const ok = NEEDS[what]!.some((set) => set.every((s) => entry.scopes.includes(s)));
      return ok ? undefined : c.json({ code: 401, message: "Unauthorized; scope does not match" }, 401);
    };
    const site = () => this.siteOrigin;

    api.get(
      "/myself",
      (c) =>
        need(c, "account") ??
        c.json({
          accountId: SERVICE_ACCOUNT.accountId,
          accountType: "atlassian",
          emailAddress: (c.get("token" as never) as Token).email,
          displayName: "Patchbay Service",
          active: true,
        }),
    );
    api.get("/resolution/search", (c) => {
      const denied = need(c, "statuses");
      if (denied) return denied;
      const startAt = Number(c.req.query("startAt") ?? 0);
      const maxResults = Math.min(50, Number(c.req.query("maxResults") ?? 50));
      return c.json({
        self: c.req.url,
        maxResults,
        startAt,
        total: RESOLUTIONS.length,
        isLast: startAt + maxResults >= RESOLUTIONS.length,
        values: RESOLUTIONS.slice(startAt, startAt + maxResults).map((r) => ({ ...r, description: "", self: `${site()}/rest/api/3/resolution/${r.id}` })),
      });
    });
    api.get("/serverInfo", (c) => c.json({ baseUrl: site(), version: "1001.0.0-SNAPSHOT", deploymentType: "Cloud", serverTitle: "Jira" }));
    api.get("/project/search", (c) => {
      const denied = need(c, "projects");
      if (denied) return denied;
      const startAt = Number(c.req.query("startAt") ?? 0);
      const maxResults = Math.min(50, Number(c.req.query("maxResults") ?? 50));
      const all = [...this.projects].sort((a, b) => a.name.localeCompare(b.name));
      const values = all
        .slice(startAt, startAt + maxResults)
        .map((p) => ({ id: p.id, key: p.key, name: p.name, self: `${site()}/rest/api/3/project/${p.id}` }));
      return c.json({ self: c.req.url, maxResults, startAt, total: all.length, isLast: startAt + maxResults >= all.length, values });
    });
    const project = (c: Context) => {
      const idOrKey = c.req.param("project");
      return this.projects.find((p) => p.key === idOrKey || p.id === idOrKey);
    };
    const notFound = (c: Context, what: string) => c.json({ errorMessages: [what], errors: {} }, 404);
    api.get("/issue/createmeta/:project/issuetypes", (c) => {
      const denied = need(c, "metadata");
      if (denied) return denied;
      const p = project(c);
      if (!p) return notFound(c, "No project could be found with key or id.");
      const types = this.issueTypes.get(p.key) ?? [];
      const startAt = Number(c.req.query("startAt") ?? 0);
      const maxResults = Math.min(200, Number(c.req.query("maxResults") ?? 50));
      return c.json({
        maxResults,
        startAt,
        total: types.length,
        issueTypes: types
          .slice(startAt, startAt + maxResults)
          .map((t) => ({ id: t.id, name: t.name, subtask: t.subtask, self: `${site()}/rest/api/3/issuetype/${t.id}` })),
      });
    });
    api.get("/issue/createmeta/:project/issuetypes/:type", (c) => {
      const denied = need(c, "metadata");
      if (denied) return denied;
      const p = project(c);
      const type = p ? this.issueTypes.get(p.key)?.find((t) => t.id === c.req.param("type")) : undefined;
      if (!p || !type) return notFound(c, "Issue type with id '" + c.req.param("type") + "' does not exist or is not valid for this project.");
      const startAt = Number(c.req.query("startAt") ?? 0);
      const maxResults = Math.min(200, Number(c.req.query("maxResults") ?? 50));
      const all: SimField[] = [
        { fieldId: "project", name: "Project", required: true, schema: { type: "project", system: "project" } },
        { fieldId: "issuetype", name: "Issue Type", required: true, schema: { type: "issuetype", system: "issuetype" } },
        ...type.fields,
      ];
      return c.json({
        maxResults,
        startAt,
        total: all.length,
        fields: all
          .slice(startAt, startAt + maxResults)
          .map((f) => ({ ...f, key: f.fieldId, operations: ["set"], hasDefaultValue: f.hasDefaultValue ?? false })),
      });
    });
    api.get("/project/:project/statuses", (c) => {
      const denied = need(c, "statuses");
      if (denied) return denied;
      const p = project(c);
      if (!p) return notFound(c, "No project could be found with key or id.");
      return c.json(
        (this.issueTypes.get(p.key) ?? []).map((t) => ({
          id: t.id,
          name: t.name,
          subtask: t.subtask,
          statuses: STATUSES.filter((s) => !this.removedStatuses.has(s.id)).map((s) => ({ ...s, self: `${site()}/rest/api/3/status/${s.id}` })),
        })),
      );
    });
    /** One issue from a create's fields, or Jira's refusal ({errorMessages, errors}) with nothing created. */
    const createIssue = (f: Record<string, unknown>): SimIssue | { errorMessages: string[]; errors: Record<string, string> } => {
      const p = this.projects.find((x) => x.id === (f.project as { id?: string })?.id || x.key === (f.project as { key?: string })?.key);
      if (!p) return { errorMessages: [], errors: { project: "valid project is required" } };
      const type = this.issueTypes.get(p.key)?.find((t) => t.id === (f.issuetype as { id?: string })?.id);
      if (!type) return { errorMessages: [], errors: { issuetype: "valid issue type is required" } };
      const errors = { ...validate(type.fields, f, true), ...this.refuse?.(f) };
      if (Object.keys(errors).length) return { errorMessages: [], errors };
      const id = String(this.#nextId++);
      const issue: SimIssue = {
        id,
        key: `${p.key}-${this.issues.filter((i) => i.projectKey === p.key).length + 1}`,
        projectKey: p.key,
        issueTypeId: type.id,
        fields: { ...f },
        statusId: "10000",
        comments: [],
        created: this.clock(),
      };
      this.issues.push(issue);
      return issue;
    };
    api.post("/issue", async (c) => {
      const denied = need(c, "write");
      if (denied) return denied;
      const body = (await c.req.json().catch(() => undefined)) as { fields?: Record<string, unknown> } | undefined;
      if (!body?.fields) return c.json({ errorMessages: ["Can not deserialize: no fields."], errors: {} }, 400);
      const issue = createIssue(body.fields);
      if ("errors" in issue) return c.json(issue, 400);
      await this.onCreate?.(issue);
      return c.json({ id: issue.id, key: issue.key, self: `${site()}/rest/api/3/issue/${issue.id}` }, 201);
    });
    // Bulk create (bulkCreate below), counted while it is served.
    api.post("/issue/bulk", async (c) => {
      const denied = need(c, "write");
      if (denied) return denied;
      this.bulkInFlight++;
      try {
        const answer = await bulkCreate(
          await c.req.json().catch(() => undefined),
          createIssue,
          (issue) => `${site()}/rest/api/3/issue/${issue.id}`,
          // A test may drop the connection here: the issues made so far stay made.
          async (issue) => this.onCreate?.(issue),
        );
        if (answer.made !== undefined) this.bulkCreates.push(answer.made);
        // The issues are made; the answer takes this long to leave (a client gone meanwhile never reads it).
        if (this.bulkAnswerDelayMs && answer.made !== undefined) await new Promise((r) => setTimeout(r, this.bulkAnswerDelayMs));
        return c.json(answer.body, answer.status);
      } finally {
        this.bulkInFlight--;
      }
    });
    const issue = (c: Context) => resolveIssue(this.issues, this.movedKeys, c.req.param("key") ?? "");
    // Bulk fetch (Cloud): up to 100 ids or keys; the ones Jira cannot give are listed apart.
    api.post("/issue/bulkfetch", async (c) => {
      const denied = need(c, "read");
      if (denied) return denied;
      const body = (await c.req.json().catch(() => undefined)) as { issueIdsOrKeys?: string[]; fields?: string[] } | undefined;
      const wanted = body?.issueIdsOrKeys ?? [];
      if (!wanted.length || wanted.length > 100) return c.json({ errorMessages: ["issueIdsOrKeys must list between 1 and 100 issues."], errors: {} }, 400);
      const issues: unknown[] = [];
      const issueErrors: unknown[] = [];
      for (const k of wanted) {
        const i = resolveIssue(this.issues, this.movedKeys, k);
        if (!i) {
          issueErrors.push({ id: k, errorMessages: ["Issue does not exist or you do not have permission to see it."], status: 404 });
          continue;
        }
        const status = STATUSES.find((s) => s.id === i.statusId)!;
        issues.push({
          id: i.id,
          key: i.key,
          self: `${site()}/rest/api/3/issue/${i.id}`,
          fields: Object.fromEntries((body?.fields ?? ["summary"]).map((f) => [f, f === "status" ? { id: status.id, name: status.name } : i.fields[f]])),
        });
      }
      return c.json({ expand: "schema,names", issues, issueErrors });
    });
    api.get("/issue/:key", (c) => {
      const denied = need(c, "read");
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue does not exist or you do not have permission to see it.");
      const status = STATUSES.find((s) => s.id === i.statusId)!;
      return c.json({
        id: i.id,
        key: i.key,
        self: `${site()}/rest/api/3/issue/${i.id}`,
        fields: { ...i.fields, status: { id: status.id, name: status.name } },
      });
    });
    api.put("/issue/:key", async (c) => {
      const denied = need(c, "write");
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue does not exist or you do not have permission to see it.");
      const body = (await c.req.json().catch(() => undefined)) as
        { fields?: Record<string, unknown>; update?: Record<string, { add?: unknown; set?: unknown; remove?: unknown }[]> } | undefined;
      if (!body) return c.json({ errorMessages: ["Can not deserialize the body."], errors: {} }, 400);
      const fields = body.fields ?? {};
      for (const name of Object.keys(body.update ?? {})) {
        if (name in fields)
          return c.json({ errorMessages: [], errors: { [name]: `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.` } }, 400);
      }
      const locked = this.lockedStatuses.has(i.statusId);
      const offScreen = [...Object.keys(fields), ...Object.keys(body.update ?? {})].filter((name) => locked || this.notEditable.has(name));
      if (offScreen.length)
        return c.json(
          {
            errorMessages: [],
            errors: Object.fromEntries(offScreen.map((name) => [name, `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`])),
          },
          400,
        );
      const type = this.issueTypes.get(i.projectKey)!.find((t) => t.id === i.issueTypeId)!;
      const errors = validate(type.fields, fields, false);
      if (Object.keys(errors).length) return c.json({ errorMessages: [], errors }, 400);
      Object.assign(i.fields, fields);
      for (const [name, ops] of Object.entries(body.update ?? {})) {
        let current = Array.isArray(i.fields[name]) ? [...(i.fields[name] as unknown[])] : [];
        for (const op of ops) {
          if (op.add !== undefined && !current.includes(op.add)) current.push(op.add);
          if (op.remove !== undefined) current = current.filter((x) => x !== op.remove);
          if (op.set !== undefined) current = op.set as unknown[];
        }
        i.fields[name] = current;
      }
      return c.body(null, 204);
    });
    api.post("/issue/:key/comment", async (c) => {
      const denied = need(c, "comment");
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue does not exist or you do not have permission to see it.");
      const body = (await c.req.json().catch(() => undefined)) as { body?: { type?: string } } | undefined;
      if (body?.body?.type !== "doc" || !validAdf(body.body))
        return c.json({ errorMessages: [], errors: { comment: "Comment body is not valid Atlassian Document Format." } }, 400);
      i.comments.push(body.body);
      this.#emit("comment_created", i, {
        timestamp: Date.now(),
        webhookEvent: "comment_created",
        comment: this.#comment(String(i.comments.length), adfText(body.body), SERVICE_ACCOUNT),
        issue: this.#issuePayload(i),
      });
      return c.json({ id: String(i.comments.length), body: body.body, created: new Date().toISOString() }, 201);
    });
    api.get("/issue/:key/transitions", (c) => {
      const denied = need(c, "read");
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue does not exist or you do not have permission to see it.");
      // Transition ids are the workflow's own (here 11, 21, 31, 41), not the status ids.
      const transitions = STATUSES.filter((s) => s.id !== i.statusId && !this.blockedTransitions.has(s.id)).map((s, n) => ({
        id: String(11 + Number(s.id.slice(-1)) * 10),
        name: n >= 0 ? `Move to ${s.name}` : "",
        to: { id: s.id, name: s.name, statusCategory: { key: s.id === "10002" || s.id === "10003" ? "done" : s.id === "10001" ? "indeterminate" : "new" } },
        hasScreen: this.transitionScreens.has(s.id),
        isAvailable: true,
        // As Jira: the screen's fields only with expand=transitions.fields.
        ...(/transitions\.fields/.test(c.req.query("expand") ?? "") ? { fields: this.#screenFields(s.id) } : {}),
      }));
      return c.json({ expand: "transitions", transitions });
    });
    api.get("/issue/:key/editmeta", (c) => {
      const denied = need(c, "read");
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue does not exist or you do not have permission to see it.");
      if (this.lockedStatuses.has(i.statusId)) return c.json({ fields: {} });
      const type = this.issueTypes.get(i.projectKey)!.find((t) => t.id === i.issueTypeId)!;
      const fields = Object.fromEntries(
        type.fields
          .filter((f) => !this.notEditable.has(f.fieldId) && f.fieldId !== "project" && f.fieldId !== "issuetype" && f.fieldId !== "reporter")
          .map((f) => [
            f.fieldId,
            {
              required: f.required,
              schema: f.schema,
              name: f.name,
              key: f.fieldId,
              operations: f.schema.type === "array" ? ["add", "set", "remove"] : ["set"],
              ...(f.allowedValues ? { allowedValues: f.allowedValues } : {}),
            },
          ]),
      );
      return c.json({ fields });
    });
    api.post("/issue/:key/transitions", async (c) => {
      const denied = need(c, "write");
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue does not exist or you do not have permission to see it.");
      const body = (await c.req.json().catch(() => undefined)) as
        { transition?: { id?: string }; fields?: Record<string, { id?: string; name?: string } | unknown> } | undefined;
      const target = STATUSES.find((s) => String(11 + Number(s.id.slice(-1)) * 10) === body?.transition?.id);
      if (!target || target.id === i.statusId || this.blockedTransitions.has(target.id)) {
        return c.json({ errorMessages: [`Transition id '${body?.transition?.id}' is not valid for this issue.`], errors: {} }, 400);
      }
      const sent = body?.fields ?? {};
      const errors = screenErrors(this.#screenFields(target.id), sent);
      if (Object.keys(errors).length) return c.json({ errorMessages: [], errors }, 400);
      const chosen = sent.resolution as { id?: string; name?: string } | undefined;
      const resolution = chosen ? RESOLUTIONS.find((r) => r.id === chosen.id || r.name === chosen.name) : undefined;
      const from = STATUSES.find((s) => s.id === i.statusId)!;
      i.statusId = target.id;
      if (resolution) i.fields.resolution = { id: resolution.id, name: resolution.name };
      this.#issueUpdated(i, SERVICE_ACCOUNT, from, target, undefined, resolution);
      return c.body(null, 204);
    });
    api.post("/search/jql", async (c) => {
      const denied = need(c, "read");
      if (denied) return denied;
      const body = (await c.req.json().catch(() => undefined)) as { jql?: string; maxResults?: number; fields?: string[] } | undefined;
      const jql = body?.jql ?? "";
      // field = "value", and summary ~ "text" (contains, ignoring case).
      const clauses = [...jql.matchAll(/(\w+)\s*(=|~)\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!.toLowerCase() + (m[2] === "~" ? "~" : ""), m[3]!] as const);
      // key in ("SEC-1", "SEC-2"): what reconciliation asks for.
      const keys = /^key in \((.*)\)$/i.exec(jql.trim())?.[1];
      if (!clauses.length && keys === undefined) return c.json({ errorMessages: [`Error in the JQL Query: '${jql}'`], errors: {} }, 400);
      // As Jira: a key that names no issue (deleted) makes the whole query an error; a moved issue's old key finds it.
      const named = keys === undefined ? undefined : jqlKeys(this.issues, this.movedKeys, keys);
      if (named && "missing" in named)
        return c.json({ errorMessages: [`An issue with key '${named.missing}' does not exist for field 'key'.`], errors: {} }, 400);
      const wanted = named ? new Set(named.ids) : undefined;
      // Jira Cloud's index lags its writes: an issue created within searchLagMs is not found yet.
      const indexed = (i: SimIssue) => this.clock() - i.created >= this.searchLagMs;
      const matches = this.issues.filter((i) =>
        !indexed(i)
          ? false
          : wanted
            ? wanted.has(i.id)
            : clauses.every(([field, value]) =>
                field === "project"
                  ? i.projectKey === value
                  : field === "labels"
                    ? ((i.fields.labels as string[]) ?? []).includes(value)
                    : field === "summary~"
                      ? String(i.fields.summary ?? "")
                          .toLowerCase()
                          .includes(value.toLowerCase())
                      : false,
              ),
      );
      const max = Math.min(5000, body?.maxResults ?? 50);
      const fieldsOf = (i: SimIssue) => {
        const status = STATUSES.find((s) => s.id === i.statusId)!;
        return Object.fromEntries((body?.fields ?? ["summary"]).map((f) => [f, f === "status" ? { id: status.id, name: status.name } : i.fields[f]]));
      };
      return c.json({
        issues: matches.slice(0, max).map((i) => ({ id: i.id, key: i.key, self: `${site()}/rest/api/3/issue/${i.id}`, fields: fieldsOf(i) })),
        isLast: matches.length <= max,
      });
    });
    return api;
  }
}

/** An issue by id, key, or a key it had before it was moved. */
/** Jira's cap on one bulk create request (Cloud and Data Center alike). */
export const BULK_CREATE_LIMIT = 50;

type Refusal = { errorMessages: string[]; errors: Record<string, string> };

/**
 * Jira's bulk create over a simulator's own create (Cloud and Data Center alike): up to 50
 * issues, each made or refused on its own. The answer lists the issues made, in the order asked,
 * and apart each refused one by its index (failedElementNumber); 201 when any was made, 400 when
 * none was. `made`: how many were asked for, when the request itself was read.
 */
export async function bulkCreate(
  body: unknown,
  create: (fields: Record<string, unknown>) => SimIssue | Refusal,
  self: (issue: SimIssue) => string,
  made?: (issue: SimIssue) => Promise<void>,
): Promise<{ status: 201 | 400; body: unknown; made?: number }> {
  const updates = (body as { issueUpdates?: { fields?: Record<string, unknown> }[] } | undefined)?.issueUpdates;
  if (!Array.isArray(updates) || updates.length === 0)
    return { status: 400, body: { errorMessages: ["Nothing to create: issueUpdates is empty."], errors: {} } };
  if (updates.length > BULK_CREATE_LIMIT)
    return { status: 400, body: { errorMessages: [`You can create at most ${BULK_CREATE_LIMIT} issues in one bulk request.`], errors: {} } };
  const issues: { id: string; key: string; self: string }[] = [];
  const errors: { status: number; elementErrors: Refusal; failedElementNumber: number }[] = [];
  for (const [index, update] of updates.entries()) {
    const issue = update?.fields ? create(update.fields) : { errorMessages: ["Can not deserialize: no fields."], errors: {} };
    if ("errors" in issue) {
      errors.push({ status: 400, elementErrors: issue, failedElementNumber: index });
      continue;
    }
    await made?.(issue);
    issues.push({ id: issue.id, key: issue.key, self: self(issue) });
  }
  return { status: issues.length ? 201 : 400, body: { issues, errors }, made: updates.length };
}

export function resolveIssue(issues: SimIssue[], movedKeys: Map<string, string>, k: string): SimIssue | undefined {
  const id = movedKeys.get(k);
  return issues.find((i) => i.key === k || i.id === k || (id !== undefined && i.id === id));
}

/** The issue ids a JQL "key in (…)" names, or the first key that names none. */
export function jqlKeys(issues: SimIssue[], movedKeys: Map<string, string>, list: string): { ids: string[] } | { missing: string } {
  const ids: string[] = [];
  for (const m of list.matchAll(/"([^"]+)"/g)) {
    const issue = resolveIssue(issues, movedKeys, m[1]!);
    if (!issue) return { missing: m[1]! };
    ids.push(issue.id);
  }
  return { ids };
}

/** The text of an Atlassian Document Format document (how webhooks render a v3 comment's body). */
function adfText(node: unknown): string {
  if (!node || typeof node !== "object") return "";
  const n = node as { text?: string; content?: unknown[] };
  return (typeof n.text === "string" ? n.text : "") + (n.content ?? []).map(adfText).join("");
}

export function standardFields(): SimField[] {
  return [
    { fieldId: "summary", name: "Summary", required: true, schema: { type: "string", system: "summary" } },
    { fieldId: "description", name: "Description", required: false, schema: { type: "string", system: "description" } },
    {
      fieldId: "priority",
      name: "Priority",
      required: false,
      hasDefaultValue: true,
      schema: { type: "priority", system: "priority" },
      allowedValues: [
        { id: "1", name: "Highest" },
        { id: "2", name: "High" },
        { id: "3", name: "Medium" },
        { id: "4", name: "Low" },
        { id: "5", name: "Lowest" },
      ],
    },
    { fieldId: "labels", name: "Labels", required: false, schema: { type: "array", items: "string", system: "labels" } },
    { fieldId: "duedate", name: "Due date", required: false, schema: { type: "date", system: "duedate" } },
    { fieldId: "reporter", name: "Reporter", required: true, hasDefaultValue: true, schema: { type: "user", system: "reporter" } },
    { fieldId: "assignee", name: "Assignee", required: false, schema: { type: "user", system: "assignee" } },
    {
      fieldId: "components",
      name: "Components",
      required: false,
      schema: { type: "array", items: "component", system: "components" },
      allowedValues: [
        { id: "10100", name: "Payments" },
        { id: "10101", name: "Platform" },
      ],
    },
  ];
}

/** Checks fields the way Jira does: known fields only, required ones present, allowed values, shapes. */
export function validate(defs: SimField[], fields: Record<string, unknown>, creating: boolean, flavor: "cloud" | "dc" = "cloud"): Record<string, string> {
  const errors: Record<string, string> = {};
  const byId = new Map(defs.map((d) => [d.fieldId, d]));
  for (const [id, value] of Object.entries(fields)) {
    if (id === "project" || id === "issuetype") continue;
    const def = byId.get(id);
    if (!def) {
      errors[id] = `Field '${id}' cannot be set. It is not on the appropriate screen, or unknown.`;
      continue;
    }
    const problem = shapeProblem(def, value, flavor);
    if (problem) errors[id] = problem;
  }
  if (creating) {
    for (const def of defs) {
      if (def.required && !def.hasDefaultValue && (fields[def.fieldId] === undefined || fields[def.fieldId] === ""))
        errors[def.fieldId] = `${def.name} is required.`;
    }
  }
  return errors;
}

function shapeProblem(def: SimField, value: unknown, flavor: "cloud" | "dc"): string | undefined {
  const t = def.schema;
  if (def.fieldId === "summary") {
    if (typeof value !== "string" || !value.trim()) return "You must specify a summary of the issue.";
    if (value.length > 255) return "Summary must be less than 255 characters.";
    if (/[\r\n]/.test(value)) return "The summary is invalid because it contains newline characters.";
    return undefined;
  }
  if (flavor === "dc" && (t.system === "description" || t.custom?.endsWith(":textarea"))) {
    // REST v2 takes wiki markup text.
    if (typeof value !== "string") return "Operation value must be a string";
    return value.length > 32_767 ? "The entered text is too long. It exceeds the allowed limit of 32,767 characters." : undefined;
  }
  if (t.system === "description" || t.custom?.endsWith(":textarea")) {
    const doc = value as { type?: string; version?: number; content?: unknown[] };
    if (!doc || doc.type !== "doc" || doc.version !== 1 || !Array.isArray(doc.content))
      return "Operation value must be an Atlassian Document (see the Atlassian Document Format).";
    if (JSON.stringify(doc).length > 32_767) return "The entered text is too long. It exceeds the allowed limit of 32,767 characters.";
    if (emptyTextNode(doc)) return "Text nodes must not be empty.";
    return validAdf(doc) ? undefined : "INVALID_INPUT: the document is not valid Atlassian Document Format.";
  }
  if (t.type === "array" && t.items === "string") {
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) return "Labels must be an array of strings.";
    return value.some((v: string) => /\s/.test(v)) ? "The label can't contain spaces." : undefined;
  }
  if (def.allowedValues) {
    const ids = (Array.isArray(value) ? value : [value]).map((v) => (v as { id?: string })?.id);
    const bad = ids.find((id) => !def.allowedValues!.some((a) => a.id === id));
    return bad === undefined ? undefined : `Specify a valid value for ${def.name}`;
  }
  if (t.type === "user") {
    // Cloud takes people by account ID only (GDPR); a username is refused.
    const v = value as { accountId?: unknown; name?: unknown } | null;
    if (!v || typeof v !== "object") return "Operation value must be an object.";
    if (flavor === "dc") return typeof v.name === "string" && v.name ? undefined : "Specify the user by name (username).";
    if (typeof v.accountId !== "string" || !v.accountId) return "Specify the user by accountId.";
    return undefined;
  }
  if (t.type === "date") return typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) ? undefined : `Error parsing date string: ${String(value)}`;
  if (t.type === "number") return typeof value === "number" ? undefined : `Operation value must be a number`;
  if (t.type === "string") return typeof value === "string" ? undefined : `Operation value must be a string`;
  return undefined;
}

function emptyTextNode(node: unknown): boolean {
  if (!node || typeof node !== "object") return false;
  const n = node as { type?: string; text?: string; content?: unknown[] };
  if (n.type === "text" && !n.text) return true;
  return (n.content ?? []).some(emptyTextNode);
}

/**
 * The mapping form for the Security project's Bug, filled the way a person would: title,
 * description, severity as priority, labels, due date, and the full status map.
 */
export function securityBugMapping(extra: Record<string, string> = {}): Record<string, string> {
  return {
    project: "10000",
    ticketType: "10004",
    name: "Security bugs",
    "source.summary": "patchbay",
    "value.summary.patchbay": "title",
    "source.description": "patchbay",
    "value.description.patchbay": "description",
    "source.priority": "patchbay",
    "value.priority.patchbay": "severity",
    ...Object.fromEntries(["critical", "high", "medium", "low", "info"].map((s, i) => [`severity.priority.${s}`, String(i + 1)])),
    "source.labels": "patchbay",
    "value.labels.patchbay": "labels",
    "source.duedate": "patchbay",
    "value.duedate.patchbay": "due_date",
    ...Object.fromEntries(STATUSES.map((s, i) => [`status.${["open", "in_progress", "done", "accepted"][i]}`, s.id])),
    ...extra,
  };
}
