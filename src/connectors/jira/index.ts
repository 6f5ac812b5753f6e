// Jira Cloud: the catalog card, the connection (API token of a service account, Cloud ID,
// email; classic tokens on the site, scoped tokens through the gateway), and the tracker
// capability: projects, issue types, create metadata, issues with a Patchbay label, ADF
// descriptions, comments and workflow transitions.
import { ExternalError } from "../../http.js";
import { cvesIn, type ExistingTicket } from "../types.js";
import type {
  Connector,
  ConnectionSettings,
  ConnectorContext,
  FieldValue,
  TicketContent,
  TicketRef,
  TicketTarget,
  TrackerChoice,
  TrackerField,
  TrackerFieldKind,
  TrackerSession,
  TransitionOptions,
  UpdateOutcome,
} from "../types.js";
import { httpsOrigin } from "../origin.js";
import { toAdf } from "./adf.js";
import { toWiki } from "./wiki.js";
import { DC_SERVICE, GATEWAY, gatewayBase, JiraClient, jiraErrorMessage, SCOPES, SERVICE } from "./client.js";
import { jiraInbound, PATCHBAY_LABEL } from "./inbound.js";
import { withoutTrailingSlash } from "../../text.js";

const CLOUD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SUMMARY_MAX = 255;
const PAGE = 50;
const MAX_PAGES = 40;

const siteOrigin = httpsOrigin;

interface Conn {
  client: JiraClient;
  /** Where people open issues (the site), for links. */
  site: string | undefined;
  /** "/rest/api/3" on Cloud; "/rest/api/2" on Data Center. */
  api: string;
  /** Jira Data Center / Server: wiki markup, people by username, startAt search, the older metadata. */
  dc: boolean;
}

function open(connection: ConnectionSettings, ctx: ConnectorContext, mode?: "site" | "gateway"): Conn {
  const s = connection.settings;
  const site = typeof s.siteUrl === "string" && s.siteUrl ? siteOrigin(s.siteUrl) : undefined;
  const chosen = mode ?? (s.apiMode === "site" && site ? "site" : s.apiMode === "gateway" || !site ? "gateway" : "site");
  const base = chosen === "site" && site ? site : gatewayBase(String(s.cloudId));
  const http = ctx.http(SERVICE, { errorMessage: jiraErrorMessage });
  return { client: new JiraClient(http, base, String(s.email), connection.secrets.apiToken ?? ""), site, api: "/rest/api/3", dc: false };
}

interface Myself {
  accountId: string;
  displayName?: string;
  emailAddress?: string;
}

async function verify(connection: ConnectionSettings, ctx: ConnectorContext): Promise<{ conn: Conn; mode: "site" | "gateway"; me: Myself }> {
  const cloudId = String(connection.settings.cloudId ?? "");
  const first = open(connection, ctx, connection.settings.siteUrl ? "site" : "gateway");
  if (first.site) {
    // The Cloud ID must be this site's: Atlassian publishes it, unauthenticated, at /_edge/tenant_info.
    const http = ctx.http(SERVICE, { errorMessage: jiraErrorMessage });
    const { data } = await http.json<{ cloudId?: string }>({ url: `${first.site}/_edge/tenant_info`, headers: { accept: "application/json" }, apiRoot: true });
    if (data.cloudId && data.cloudId.toLowerCase() !== cloudId.toLowerCase()) {
      throw new ExternalError(
        "invalid_input",
        SERVICE,
        `The Cloud ID ${cloudId} is not the Cloud ID of ${first.site} (which is ${data.cloudId}). Enter the site's Cloud ID, or correct the Site URL.`,
      );
    }
    try {
      return { conn: first, mode: "site", me: await first.client.get<Myself>("account", "/rest/api/3/myself", { apiRoot: true }) };
    } catch (err) {
      // A scoped token is refused on the site; it works only through the gateway.
      if (!(err instanceof ExternalError && err.kind === "auth")) throw err;
    }
  }
  const gateway = open(connection, ctx, "gateway");
  try {
    return { conn: gateway, mode: "gateway", me: await gateway.client.get<Myself>("account", "/rest/api/3/myself", { apiRoot: true }) };
  } catch (err) {
    // The gateway refuses a classic (unscoped) token as it refuses a missing scope: 401 "scope
    // does not match". Without a Site URL, the likelier mistake is the classic token.
    if (!first.site && err instanceof ExternalError && err.kind === "permission" && err.status === 401 && (await refusedEverywhere(gateway))) {
      throw new ExternalError(
        "invalid_input",
        SERVICE,
        "Atlassian's gateway refused the token even to read the service account, as it refuses every classic API token (one created without scopes). " +
          "A classic token works only on your site: enter the Site URL (https://your-site.atlassian.net). " +
          `If this is a scoped token, give it ${SCOPES.account.granular.join(", ")} and the other scopes in the Overview.`,
        { status: 401, remoteMessage: err.remoteMessage },
      );
    }
    throw err;
  }
}

/** Whether the gateway refuses the token a second, unrelated call too (a scoped token lacking one scope passes it). */
async function refusedEverywhere(conn: Conn): Promise<boolean> {
  try {
    await conn.client.get("projects", "/rest/api/3/project/search?maxResults=1");
    return false;
  } catch (err) {
    return err instanceof ExternalError && err.status === 401;
  }
}

async function test(connection: ConnectionSettings, ctx: ConnectorContext) {
  const { conn, mode, me } = await verify(connection, ctx);
  const info = await conn.client.get<{ baseUrl?: string; deploymentType?: string }>("account", "/rest/api/3/serverInfo");
  if (info.deploymentType && info.deploymentType !== "Cloud") {
    throw new ExternalError(
      "invalid_input",
      SERVICE,
      `This is Jira ${info.deploymentType}, not Jira Cloud: connect it with the Jira Data Center card instead.`,
    );
  }
  const projects = await conn.client.get<{ total?: number; values?: unknown[] }>("projects", `/rest/api/3/project/search?maxResults=${PAGE}`);
  if (!Array.isArray(projects.values))
    throw new ExternalError(
      "remote",
      SERVICE,
      "Jira answered the project search without a list of projects; check that the Site URL is the Jira Cloud site itself.",
    );
  const count = projects.total ?? projects.values.length;
  if (count === 0) {
    throw new ExternalError(
      "permission",
      SERVICE,
      "The service account can see no Jira projects. Give it the Browse Projects, Create Issues, Edit Issues, Transition Issues and Add Comments permissions in the projects Patchbay should use.",
    );
  }
  const site = conn.site ?? (info.baseUrl ? siteOrigin(info.baseUrl) : undefined);
  return {
    message: `Connected to ${site ?? "Jira Cloud"} as ${me.displayName ?? me.emailAddress ?? me.accountId}.`,
    details: [
      mode === "site" ? "Classic API token, used on the site." : `Scoped API token, used through ${GATEWAY}.`,
      `${count} project${count === 1 ? "" : "s"} visible to the service account.`,
    ],
    discovered: { apiMode: mode, ...(site ? { siteUrl: site } : {}), account: me.displayName ?? me.emailAddress ?? me.accountId },
  };
}

interface CreateMetaField {
  fieldId?: string;
  key?: string;
  name: string;
  required: boolean;
  hasDefaultValue?: boolean;
  schema?: { type?: string; items?: string; system?: string; custom?: string };
  allowedValues?: { id?: string; name?: string; value?: string }[];
}

const MANAGED = new Set(["project", "issuetype"]);

function fieldKind(f: CreateMetaField): TrackerFieldKind {
  const schema = f.schema ?? {};
  const custom = schema.custom ?? "";
  if (schema.system === "description" || schema.system === "environment" || custom.endsWith(":textarea")) return "document";
  switch (schema.type) {
    case "string":
      return f.allowedValues ? "choice" : "text";
    case "number":
      return "number";
    case "date":
    case "datetime":
      return "date";
    case "priority":
    case "option":
    case "resolution":
    case "securitylevel":
    case "version":
    case "component":
      return f.allowedValues ? "choice" : "unsupported";
    case "user":
      return "user";
    case "array":
      if (schema.items === "string" && !f.allowedValues) return "labels";
      return f.allowedValues ? "choices" : "unsupported";
    default:
      return "unsupported";
  }
}

function toField(f: CreateMetaField): TrackerField | undefined {
  const id = f.fieldId ?? f.key;
  if (!id || MANAGED.has(id)) return undefined;
  const kind = fieldKind(f);
  return {
    id,
    name: f.name,
    required: f.required,
    kind,
    hasDefault: f.hasDefaultValue === true,
    special: id === "priority" || /severity/i.test(f.name),
    ...(f.allowedValues
      ? { allowedValues: f.allowedValues.filter((v) => v.id).map((v) => ({ id: String(v.id), name: v.name ?? v.value ?? String(v.id) })) }
      : {}),
  };
}

function serialize(fieldId: string, value: FieldValue, dc: boolean): unknown {
  switch (value.kind) {
    case "text":
      return fieldId === "summary" ? value.text.replace(/\s+/g, " ").slice(0, SUMMARY_MAX) : value.text;
    case "document":
      // v3 takes ADF; v2 (Data Center) takes wiki markup text.
      return dc ? toWiki(value.blocks) : toAdf(value.blocks);
    case "number":
      return value.value;
    case "date":
      return value.date;
    case "choice":
      return { id: value.id };
    case "choices":
      return value.ids.map((id) => ({ id }));
    case "list":
      // Jira labels cannot contain spaces.
      return value.items.map((item) => item.replace(/\s+/g, "-"));
    case "user":
      // Cloud names people by account ID (GDPR: usernames are gone from its API); Data Center by username.
      return dc ? { name: value.id } : { accountId: value.id };
  }
}

function createFields(target: TicketTarget, content: TicketContent, dc: boolean): Record<string, unknown> {
  const fields: Record<string, unknown> = { project: { id: target.project.id }, issuetype: { id: target.ticketType.id } };
  for (const [id, value] of Object.entries(content.fields)) fields[id] = serialize(id, value, dc);
  const labels = Array.isArray(fields.labels) ? (fields.labels as string[]) : [];
  fields.labels = [...new Set([...labels, PATCHBAY_LABEL, content.marker])];
  return fields;
}

/** Jira Cloud's search can lag its writes by up to a minute (Atlassian's eventual consistency note). */
const CLOUD_SEARCH_LAG_MS = 60_000;

class JiraSession implements TrackerSession {
  readonly searchLagMs: number;

  constructor(private readonly conn: Conn) {
    this.searchLagMs = conn.dc ? 0 : CLOUD_SEARCH_LAG_MS;
  }

  async whoami() {
    const me = await this.conn.client.get<Myself & { name?: string }>("account", `${this.conn.api}/myself`);
    return me.accountId ?? me.name ?? "";
  }

  async resolutions() {
    const out: TrackerChoice[] = [];
    if (this.conn.dc) {
      const data = await this.conn.client.get<{ id: string; name: string }[]>("statuses", `${this.conn.api}/resolution`);
      if (!Array.isArray(data)) throw new ExternalError("remote", this.conn.client.service, "Jira answered the resolution list without a list.");
      return data.map((r) => ({ id: String(r.id), name: r.name }));
    }
    for (let startAt = 0, page = 0; page < MAX_PAGES; page++) {
      const data = await this.conn.client.get<{ values?: { id: string; name: string }[]; isLast?: boolean }>(
        "statuses",
        `${this.conn.api}/resolution/search?startAt=${startAt}&maxResults=${PAGE}`,
      );
      if (!Array.isArray(data.values)) throw new ExternalError("remote", SERVICE, "Jira answered the resolution list without a list.");
      out.push(...data.values.map((r) => ({ id: String(r.id), name: r.name })));
      if (data.isLast !== false || data.values.length === 0) break;
      startAt += data.values.length;
    }
    return out;
  }

  private browse(key: string, self?: string): string {
    const site = this.conn.site ?? (self ? new URL(self).origin : undefined);
    return site && site !== GATEWAY ? `${site}/browse/${key}` : `${this.conn.client.base}/browse/${key}`;
  }

  async projects() {
    const out: (TrackerChoice & { key: string })[] = [];
    if (this.conn.dc) {
      // Data Center lists every project the user may browse in one answer.
      const data = await this.conn.client.get<{ id: string; key: string; name: string }[]>("projects", `${this.conn.api}/project`);
      if (!Array.isArray(data))
        throw new ExternalError("remote", this.conn.client.service, "Jira answered the project list with something that is not a list.");
      return data.map((p) => ({ id: String(p.id), key: p.key, name: `${p.name} (${p.key})` })).sort((a, b) => a.name.localeCompare(b.name));
    }
    for (let page = 0, startAt = 0; page < MAX_PAGES; page++) {
      const data = await this.conn.client.get<{ values: { id: string; key: string; name: string }[]; isLast?: boolean }>(
        "projects",
        `${this.conn.api}/project/search?startAt=${startAt}&maxResults=${PAGE}&orderBy=name`,
      );
      out.push(...data.values.map((p) => ({ id: String(p.id), key: p.key, name: `${p.name} (${p.key})` })));
      if (data.isLast !== false || data.values.length === 0) break;
      startAt += data.values.length;
    }
    return out;
  }

  async ticketTypes(project: TrackerChoice & { key?: string }) {
    return this.newerOrOlder(
      async () => {
        const out: TrackerChoice[] = [];
        for (let page = 0, startAt = 0; page < MAX_PAGES; page++) {
          const data = await this.conn.client.get<{ issueTypes?: RawType[]; values?: RawType[]; total?: number }>(
            "metadata",
            `${this.conn.api}/issue/createmeta/${encodeURIComponent(project.key ?? project.id)}/issuetypes?startAt=${startAt}&maxResults=${PAGE}`,
          );
          const types = data.issueTypes ?? data.values ?? [];
          out.push(...types.filter((t) => !t.subtask).map((t) => ({ id: String(t.id), name: t.name })));
          startAt += types.length;
          if (types.length === 0 || data.total === undefined || startAt >= data.total) break;
        }
        return out;
      },
      async () => (await this.olderCreateMeta(project, undefined)).filter((t) => !t.subtask).map((t) => ({ id: String(t.id), name: t.name })),
    );
  }

  async fields(target: TicketTarget) {
    return this.newerOrOlder(
      async () => {
        const out: TrackerField[] = [];
        for (let page = 0, startAt = 0; page < MAX_PAGES; page++) {
          const data = await this.conn.client.get<{ fields?: CreateMetaField[]; values?: CreateMetaField[]; results?: CreateMetaField[]; total?: number }>(
            "metadata",
            `${this.conn.api}/issue/createmeta/${encodeURIComponent(target.project.key ?? target.project.id)}/issuetypes/${encodeURIComponent(target.ticketType.id)}?startAt=${startAt}&maxResults=${PAGE}`,
          );
          const fields = data.fields ?? data.values ?? data.results ?? [];
          for (const f of fields) {
            const field = toField(f);
            if (field) out.push(field);
          }
          startAt += fields.length;
          if (fields.length === 0 || data.total === undefined || startAt >= data.total) break;
        }
        return out;
      },
      async () => {
        const type = (await this.olderCreateMeta(target.project, target.ticketType.id)).find((t) => String(t.id) === target.ticketType.id);
        if (!type)
          throw new ExternalError(
            "not_found",
            this.conn.client.service,
            `The issue type ${target.ticketType.name} is no longer in the project ${target.project.name}.`,
          );
        return Object.entries(type.fields ?? {})
          .map(([id, f]) => toField({ ...f, fieldId: id }))
          .filter((f): f is TrackerField => f !== undefined);
      },
    );
  }

  /**
   * Create metadata: the per-project endpoints (Cloud; Data Center 8.4+). Jira Server / Data
   * Center before 8.4 answers them 404 and has only the older one (removed in 9.0).
   */
  private async newerOrOlder<T>(newer: () => Promise<T>, older: () => Promise<T>): Promise<T> {
    if (!this.conn.dc) return newer();
    try {
      return await newer();
    } catch (err) {
      if (err instanceof ExternalError && err.kind === "not_found") return older();
      throw err;
    }
  }

  /** /issue/createmeta?projectKeys=…&expand=projects.issuetypes.fields: the project's issue types with their fields keyed by id. */
  private async olderCreateMeta(
    project: TrackerChoice & { key?: string },
    typeId: string | undefined,
  ): Promise<(RawType & { fields?: Record<string, CreateMetaField> })[]> {
    const key = project.key ?? project.id;
    const query = new URLSearchParams({ projectKeys: key, expand: "projects.issuetypes.fields" });
    if (typeId) query.set("issuetypeIds", typeId);
    const data = await this.conn.client.get<{ projects?: { key: string; issuetypes?: (RawType & { fields?: Record<string, CreateMetaField> })[] }[] }>(
      "metadata",
      `${this.conn.api}/issue/createmeta?${query}`,
    );
    const found = data.projects?.find((p) => p.key === key) ?? data.projects?.[0];
    if (!found) throw new ExternalError("not_found", this.conn.client.service, `Jira has no project ${key} the token's user may create issues in.`);
    return found.issuetypes ?? [];
  }

  async statuses(target: TicketTarget) {
    const data = await this.conn.client.get<{ id: string; name: string; statuses: { id: string; name: string }[] }[]>(
      "statuses",
      `${this.conn.api}/project/${encodeURIComponent(target.project.key ?? target.project.id)}/statuses`,
    );
    const type = data.find((t) => String(t.id) === target.ticketType.id);
    return (type?.statuses ?? []).map((s) => ({ id: String(s.id), name: s.name }));
  }

  /**
   * Live statuses, surviving deleted, moved and unreadable issues: one bad key must not fail
   * the page (Jira answers a JQL "key in (…)" naming a deleted issue with 400). Cloud: the bulk
   * fetch by id, which lists per-issue errors apart; Data Center: the search, in halves down to
   * single keys when Jira refuses a batch. A moved issue is reported with its new key.
   */
  async states(_target: TicketTarget, tickets: TicketRef[]) {
    const out = new Map<string, TrackerChoice & { movedTo?: TicketRef }>();
    type Found = { id: string; key: string; self?: string; fields?: { status?: { id: string; name: string } } };
    const record = (issue: Found, asked: TicketRef | undefined) => {
      const ticket = asked ?? tickets.find((t) => t.id === String(issue.id));
      if (!ticket || !issue.fields?.status) return;
      const status = { id: String(issue.fields.status.id), name: issue.fields.status.name };
      out.set(
        ticket.id,
        issue.key !== ticket.key ? { ...status, movedTo: { id: String(issue.id), key: issue.key, url: this.browse(issue.key, issue.self) } } : status,
      );
    };
    if (!this.conn.dc) {
      for (let i = 0; i < tickets.length; i += 100) {
        const batch = tickets.slice(i, i + 100);
        const data = await this.conn.client.send<{ issues?: Found[] }>(
          "search",
          "POST",
          `${this.conn.api}/issue/bulkfetch`,
          { issueIdsOrKeys: batch.map((t) => t.id), fields: ["status"] },
          { idempotent: true },
        );
        if (!Array.isArray(data?.issues)) throw new ExternalError("remote", SERVICE, "Jira answered the bulk fetch without a list of issues.");
        for (const issue of data.issues) record(issue, undefined);
      }
      return out;
    }
    const searchKeys = async (batch: TicketRef[]): Promise<void> => {
      const jql = `key in (${batch.map((t) => JSON.stringify(t.key)).join(", ")})`;
      let data: { issues?: Found[] };
      try {
        data = await this.search<Found>(jql, ["status"], batch.length);
      } catch (err) {
        // A key Jira no longer knows fails the whole query: narrow down to it.
        if (!(err instanceof ExternalError && err.status === 400)) throw err;
        if (batch.length === 1) return;
        const half = Math.ceil(batch.length / 2);
        await searchKeys(batch.slice(0, half));
        await searchKeys(batch.slice(half));
        return;
      }
      if (!Array.isArray(data?.issues)) throw new ExternalError("remote", SERVICE, "Jira answered the search without a list of issues.");
      for (const issue of data.issues) record(issue, batch.length === 1 ? batch[0] : undefined);
    };
    if (tickets.length) await searchKeys(tickets);
    return out;
  }

  /**
   * A JQL search. Cloud: POST /search/jql with nextPageToken (the old /search is gone there).
   * Data Center: POST /search with startAt; the next page's token is its startAt.
   */
  private async search<I>(jql: string, fields: string[], maxResults: number, pageToken?: string): Promise<{ issues?: I[]; nextPageToken?: string }> {
    if (this.conn.dc) {
      const startAt = Number(pageToken ?? 0);
      const data = await this.conn.client.send<{ issues?: I[]; total?: number; startAt?: number }>(
        "search",
        "POST",
        `${this.conn.api}/search`,
        { jql, fields, maxResults, startAt },
        { idempotent: true },
      );
      const got = data?.issues?.length ?? 0;
      const more = data?.total !== undefined && startAt + got < data.total && got > 0;
      return { ...(data?.issues ? { issues: data.issues } : {}), ...(more ? { nextPageToken: String(startAt + got) } : {}) };
    }
    const data = await this.conn.client.send<{ issues?: I[]; nextPageToken?: string }>(
      "search",
      "POST",
      `${this.conn.api}/search/jql`,
      { jql, fields, maxResults, ...(pageToken ? { nextPageToken: pageToken } : {}) },
      { idempotent: true },
    );
    return data ?? {};
  }

  async lookup(target: TicketTarget, reference: string) {
    const key = /\b([A-Z][A-Z0-9_]+-\d+)\b/.exec(reference.trim().toUpperCase())?.[1];
    if (!key) return undefined;
    try {
      const issue = await this.conn.client.get<{
        id: string;
        key: string;
        self?: string;
        fields?: { summary?: string; project?: { id?: string; key?: string } };
      }>("search", `${this.conn.api}/issue/${encodeURIComponent(key)}?fields=summary,project`);
      const project = issue.fields?.project;
      if (project && project.key !== target.project.key && String(project.id) !== target.project.id) return undefined;
      return { id: String(issue.id), key: issue.key, url: this.browse(issue.key, issue.self), title: issue.fields?.summary ?? "" };
    } catch (err) {
      if (err instanceof ExternalError && err.kind === "not_found") return undefined;
      throw err;
    }
  }

  async withCves(target: TicketTarget, limit: number) {
    const out: ExistingTicket[] = [];
    let nextPageToken: string | undefined;
    for (let page = 0; page < MAX_PAGES && out.length < limit; page++) {
      const jql = `project = ${JSON.stringify(target.project.key ?? target.project.id)} AND summary ~ "CVE" ORDER BY created ASC`;
      const data = await this.search<{ id: string; key: string; self?: string; fields?: { summary?: string } }>(
        jql,
        ["summary"],
        100,
        nextPageToken ?? (page ? String(out.length) : undefined),
      );
      if (!Array.isArray(data?.issues)) throw new ExternalError("remote", SERVICE, "Jira answered the search without a list of issues.");
      for (const i of data.issues)
        if (cvesIn(i.fields?.summary ?? "").length) out.push({ id: String(i.id), key: i.key, url: this.browse(i.key, i.self), title: i.fields?.summary ?? "" });
      nextPageToken = data.nextPageToken;
      if (!nextPageToken) break;
    }
    return out.slice(0, limit);
  }

  async find(target: TicketTarget, marker: string) {
    const jql = `project = ${JSON.stringify(target.project.key ?? target.project.id)} AND labels = ${JSON.stringify(marker)} ORDER BY created ASC`;
    const data = await this.search<{ id: string; key: string; self?: string }>(jql, ["summary"], 1);
    const issue = data?.issues?.[0];
    return issue ? { id: String(issue.id), key: issue.key, url: this.browse(issue.key, issue.self) } : undefined;
  }

  async create(target: TicketTarget, content: TicketContent) {
    const created = await this.conn.client.send<{ id: string; key: string; self?: string }>("write", "POST", `${this.conn.api}/issue`, {
      fields: createFields(target, content, this.conn.dc),
    });
    if (!created?.key) throw new ExternalError("remote", SERVICE, "Jira Cloud created the issue but did not return its key.");
    return { id: String(created.id), key: created.key, url: this.browse(created.key, created.self) };
  }

  /** Jira's bulk create takes at most 50 issues a request (Cloud and Data Center). */
  readonly bulkCreateLimit = 50;

  async createMany(target: TicketTarget, contents: TicketContent[]): Promise<(TicketRef | ExternalError)[]> {
    const service = this.conn.client.service;
    // 201 when any issue was made, 400 when none was: both list each refused one by its index.
    const answer = await this.conn.client.send<{ issues?: unknown; errors?: unknown }>(
      "write",
      "POST",
      `${this.conn.api}/issue/bulk`,
      { issueUpdates: contents.map((content) => ({ fields: createFields(target, content, this.conn.dc) })) },
      { answers: [400] },
    );
    const unmatched = (why: string) =>
      new ExternalError(
        "remote",
        service,
        `${service} answered the bulk create ${why}, so Patchbay cannot tell which issues it made: it looks for each by its label before creating any again.`,
      );
    if (!answer || !Array.isArray(answer.issues) || (answer.errors !== undefined && !Array.isArray(answer.errors)))
      throw unmatched("without its lists of issues and errors");
    const failed = new Map<number, ExternalError>();
    for (const e of (answer.errors ?? []) as { status?: unknown; elementErrors?: unknown; failedElementNumber?: unknown }[]) {
      const index = e?.failedElementNumber;
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= contents.length || failed.has(index))
        throw unmatched("with an error for an issue it was not sent");
      const status = typeof e.status === "number" ? e.status : 400;
      const said = jiraErrorMessage(JSON.stringify(e.elementErrors ?? {}));
      const message = `${service} rejected the issue (HTTP ${status}).${said ? ` ${service} said: "${said.slice(0, 300)}"` : ""}`;
      failed.set(index, new ExternalError(status === 429 ? "rate_limited" : "remote", service, message, { status, remoteMessage: said }));
    }
    // The issues made come in the order they were asked for, the refused ones left out.
    const made = answer.issues as { id?: unknown; key?: unknown; self?: unknown }[];
    if (made.length !== contents.length - failed.size || made.some((i) => typeof i?.key !== "string" || i.id === undefined))
      throw unmatched(`with ${made.length} issues made and ${failed.size} refused for ${contents.length} asked for`);
    let next = 0;
    return contents.map((_, index) => {
      const error = failed.get(index);
      if (error) return error;
      const issue = made[next++]!;
      return { id: String(issue.id), key: issue.key as string, url: this.browse(issue.key as string, typeof issue.self === "string" ? issue.self : undefined) };
    });
  }

  async update(target: TicketTarget, ticket: TicketRef, content: TicketContent): Promise<UpdateOutcome | void> {
    const fields = createFields(target, content, this.conn.dc);
    delete fields.project;
    delete fields.issuetype;
    // Only what the issue's edit screen holds now: Jira refuses the whole edit for one field
    // that is not on it, and an issue locked in its status (a closed one) has none.
    const key = encodeURIComponent(ticket.key);
    const meta = await this.conn.client.get<{ fields?: Record<string, unknown> }>("write", `${this.conn.api}/issue/${key}/editmeta`);
    const editable = new Set(Object.keys(meta?.fields ?? {}));
    const ignored = Object.keys(fields).filter((id) => !editable.has(id));
    for (const id of ignored) delete fields[id];
    // Labels are added, never replaced: people's own labels on the issue stay.
    const labels = (fields.labels as string[] | undefined) ?? [];
    delete fields.labels;
    const update = labels.length ? { labels: labels.map((label) => ({ add: label })) } : undefined;
    if (Object.keys(fields).length || update)
      await this.conn.client.send("write", "PUT", `${this.conn.api}/issue/${key}`, { fields, ...(update ? { update } : {}) });
    return ignored.length
      ? { ignored, reason: editable.size ? "not on Jira's edit screen" : "Jira does not allow editing the issue in its status" }
      : undefined;
  }

  async transition(_target: TicketTarget, ticket: TicketRef, statusId: string, options: TransitionOptions = {}) {
    const key = encodeURIComponent(ticket.key);
    const issue = await this.conn.client.get<{ fields: { status?: { id: string; name: string } } }>(
      "transition",
      `${this.conn.api}/issue/${key}?fields=status`,
    );
    if (issue.fields.status && String(issue.fields.status.id) === statusId) return "already" as const;
    // Transition ids differ between workflows: take the one that leads to the mapped status,
    // with its screen's fields (a Resolution that must be set on the way to Done).
    const { transitions } = await this.conn.client.get<{ transitions: JiraTransition[] }>(
      "transition",
      `${this.conn.api}/issue/${key}/transitions?expand=transitions.fields`,
    );
    const transition = transitions.find((t) => String(t.to.id) === statusId && t.isAvailable !== false);
    if (!transition) {
      throw new ExternalError(
        "invalid_input",
        SERVICE,
        `No transition in ${ticket.key}'s workflow leads from "${issue.fields.status?.name ?? "its status"}" to the mapped status (id ${statusId}). Allow that transition in the Jira workflow, or map another status.`,
      );
    }
    const fields = transitionFields(ticket, transition, options);
    await this.conn.client.send("transition", "POST", `${this.conn.api}/issue/${key}/transitions`, {
      transition: { id: transition.id },
      ...(Object.keys(fields).length ? { fields } : {}),
    });
    return "moved" as const;
  }

  async comment(_target: TicketTarget, ticket: TicketRef, blocks: Parameters<typeof toAdf>[0]) {
    await this.conn.client.send("comment", "POST", `${this.conn.api}/issue/${encodeURIComponent(ticket.key)}/comment`, {
      body: this.conn.dc ? toWiki(blocks) : toAdf(blocks),
    });
  }
}

interface JiraTransition {
  id: string;
  name: string;
  to: { id: string; name: string };
  isAvailable?: boolean;
  /** The transition screen's fields (expand=transitions.fields). */
  fields?: Record<string, { required?: boolean; hasDefaultValue?: boolean; name?: string; allowedValues?: { id: string; name?: string }[] }>;
}

/** Resolutions that fit a reason, by name, when the mapping names none. */
const FITTING_RESOLUTION: Record<NonNullable<TransitionOptions["reason"]>, RegExp> = {
  resolved: /^(done|fixed|resolved|complete)/i,
  accepted: /won.?t|not (a )?(bug|fix)|declined|accepted/i,
  reopened: /^$/,
};

/**
 * The fields a transition is sent with: its screen's Resolution (the mapping's, or one that fits
 * the reason where the screen requires one). A screen that requires any other field without a
 * default cannot be filled by Patchbay: that is said plainly rather than sent and refused.
 */
function transitionFields(ticket: TicketRef, transition: JiraTransition, options: TransitionOptions): Record<string, unknown> {
  const screen = transition.fields ?? {};
  const out: Record<string, unknown> = {};
  const resolution = screen.resolution;
  if (resolution) {
    const allowed = resolution.allowedValues ?? [];
    const chosen =
      allowed.find((r) => String(r.id) === options.resolutionId) ??
      (resolution.required
        ? ((options.reason ? allowed.find((r) => FITTING_RESOLUTION[options.reason!].test(r.name ?? "")) : undefined) ?? allowed[0])
        : undefined);
    if (chosen) out.resolution = { id: String(chosen.id) };
    else if (options.resolutionId && allowed.length) {
      throw new ExternalError(
        "invalid_input",
        SERVICE,
        `The resolution the mapping names (id ${options.resolutionId}) is not offered on the way to "${transition.to.name}" for ${ticket.key}. Choose another resolution in the mapping's status map.`,
      );
    }
  }
  const missing = Object.entries(screen).filter(([id, f]) => id !== "resolution" && f.required && !f.hasDefaultValue);
  if (missing.length) {
    throw new ExternalError(
      "invalid_input",
      SERVICE,
      `The transition "${transition.name}" to "${transition.to.name}" requires ${missing.map(([id, f]) => `"${f.name ?? id}"`).join(", ")} on its screen, which Patchbay cannot fill. Make ${missing.length === 1 ? "it" : "them"} optional on the transition screen in the Jira workflow, give ${missing.length === 1 ? "it" : "them"} a default, or map another status.`,
    );
  }
  return out;
}

interface RawType {
  id: string;
  name: string;
  subtask?: boolean;
}

export const jira: Connector = {
  multiInstance: true,
  card: {
    kind: "jira",
    badge: "J",
    name: "Jira",
    category: "collaboration",
    summary: "Create and update Jira Cloud issues from findings and remediations.",
    overview: {
      description: "Link your Jira projects to automatically create and update issues based on Patchbay findings and remediations.",
      benefits: [
        "Automatically create and update Jira issues for vulnerabilities",
        "Update tickets when pull requests are opened for remediation",
        "Update tickets when pull requests are merged and remediation is resolved",
        "Add Jira ticket references to associated pull request descriptions",
        "Track remediation work in your team's existing workflow",
      ],
      requirements: [
        "A Jira Cloud site (for Jira Data Center or Jira Server, use the Jira Data Center card)",
        "A dedicated service account in your Jira Cloud domain, and the ability to generate API tokens for it",
        "Your Atlassian Cloud ID",
        `API token scopes — classic: ${[...new Set([...SCOPES.projects.classic, ...SCOPES.account.classic, ...SCOPES.write.classic])].join(", ")}; or granular: read:avatar:jira, read:board-scope:jira-software, read:comment:jira, read:comment.property:jira, read:custom-field-contextual-configuration:jira, read:field.default-value:jira, read:group:jira, read:issue:jira, read:issue-details:jira, read:issue-field-values:jira, read:issue-type:jira, read:issue-type.property:jira, read:issue-type-screen-scheme:jira, read:label:jira, read:project:jira, read:project-role:jira, read:project.component:jira-platform, read:screen-scheme:jira, read:screen-tab:jira, read:screenable-field:jira, read:sprint:jira-software, read:status:jira, read:user:jira, write:comment:jira, write:issue:jira`,
      ],
      docs: [
        { label: "Atlassian: Manage API tokens", url: "https://id.atlassian.com/manage-profile/security/api-tokens" },
        { label: "Atlassian: Retrieve your Cloud ID", url: "https://support.atlassian.com/jira/kb/retrieve-my-atlassian-sites-cloud-id/" },
        { label: "Jira Cloud REST API v3", url: "https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/" },
      ],
    },
  },
  fields: [
    {
      name: "apiToken",
      label: "API Token",
      type: "secret",
      required: true,
      editableWhenConnected: true,
      help: "The token generated for the service account (classic or granular scopes, see the Overview).",
    },
    {
      name: "cloudId",
      label: "Cloud ID",
      type: "text",
      required: true,
      glance: true,
      example: "a436116f-02ce-4520-8fbb-7301462a1674",
      help: "Your Atlassian Cloud ID: open https://<your-site>.atlassian.net/_edge/tenant_info, or see Atlassian's article in the Overview.",
      validate: (v) => (CLOUD_ID.test(v.trim()) ? undefined : "A Cloud ID looks like a436116f-02ce-4520-8fbb-7301462a1674 (36 characters)."),
    },
    {
      name: "email",
      label: "Email Address",
      type: "email",
      required: true,
      editableWhenConnected: true,
      help: "The email address of the service account used to generate the token.",
    },
    {
      name: "siteUrl",
      label: "Site URL",
      type: "url",
      glance: true,
      example: "https://your-domain.atlassian.net",
      help: "Needed for a classic token; optional with a scoped token (Patchbay then finds the site itself).",
      validate: (v) => (siteOrigin(v) ? undefined : "Enter the site's https address only, like https://your-domain.atlassian.net."),
    },
    {
      name: "webhookSecret",
      label: "Webhook Secret",
      type: "secret",
      editableWhenConnected: true,
      help: "For two-way sync: the secret of the Jira webhook that sends issue changes back. Leave empty and Patchbay makes one when you set up the webhook on the Trackers page.",
    },
  ],
  defaultName: (settings) => {
    const site = typeof settings.siteUrl === "string" ? siteOrigin(settings.siteUrl) : undefined;
    return site ? `Jira ${new URL(site).hostname.replace(/\.atlassian\.net$/, "")}` : "Jira";
  },
  test,
  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — Jira rejected the API token",
        steps: [
          "Check the Email Address: it must be the service account's, the one that generated the token.",
          "Copy the API token again in full; tokens expire, so generate a new one if it is old.",
          "A scoped (granular) token works only through Atlassian's gateway: check the Cloud ID.",
          "A classic token also needs the Site URL of your Jira Cloud site.",
        ],
      };
    }
    if (error.kind === "permission") {
      return {
        title: "Connection Failed — missing scope or permission",
        steps: [
          "Create a new API token with the scopes listed in the Jira card's Overview (classic or granular).",
          "Give the service account Browse Projects, Create Issues, Edit Issues, Transition Issues and Add Comments in the projects Patchbay uses.",
        ],
      };
    }
    if (error.kind === "invalid_input") return { title: "Connection Failed — check the settings", steps: [error.message] };
    return undefined;
  },
  tracker: {
    nouns: { project: "project", ticketType: "issue type", ticket: "issue" },
    descriptionFormat: "Atlassian Document Format",
    session: (connection, ctx) => new JiraSession(open(connection, ctx)),
    inbound: jiraInbound,
  },
};

// Jira Data Center / Server: the same tracker over REST v2, with a personal access token (Jira
// 8.14+) sent as Bearer, wiki markup for text, people by username, and the older create
// metadata where the per-project one is missing (before 8.4).
function openDataCenter(connection: ConnectionSettings, ctx: ConnectorContext): Conn {
  const base = dataCenterBase(String(connection.settings.baseUrl ?? ""));
  const http = ctx.http(DC_SERVICE, { errorMessage: jiraErrorMessage });
  const username = String(connection.settings.username ?? "").trim();
  // A personal access token as Bearer; on Jira before 8.14 (no tokens), a user name and password.
  const auth = username
    ? { kind: "basic" as const, email: username, token: connection.secrets.token ?? "" }
    : { kind: "bearer" as const, token: connection.secrets.token ?? "" };
  return { client: new JiraClient(http, base, auth, undefined, DC_SERVICE), site: base, api: "/rest/api/2", dc: true };
}

/** The base URL people use, with its context path (https://example.com/jira), without a trailing slash. */
export function dataCenterBase(value: string): string {
  const url = new URL(value.trim());
  return `${url.origin}${withoutTrailingSlash(url.pathname)}`;
}

async function testDataCenter(connection: ConnectionSettings, ctx: ConnectorContext) {
  const conn = openDataCenter(connection, ctx);
  const info = await conn.client.get<{ version?: string; versionNumbers?: number[]; deploymentType?: string; serverTitle?: string }>(
    "account",
    "/rest/api/2/serverInfo",
  );
  if (info.deploymentType === "Cloud")
    throw new ExternalError("invalid_input", DC_SERVICE, "This is Jira Cloud: connect it with the Jira card (API token, Cloud ID and email) instead.");
  const [major = 0, minor = 0] = info.versionNumbers ?? [];
  if (!connection.settings.username && info.versionNumbers && (major < 8 || (major === 8 && minor < 14))) {
    throw new ExternalError(
      "invalid_input",
      DC_SERVICE,
      `This Jira is version ${info.version ?? `${major}.${minor}`}; personal access tokens need Jira 8.14 or later. Enter the Patchbay user's name under Username and its password as the token, or upgrade Jira.`,
    );
  }
  const me = await conn.client.get<{ name?: string; key?: string; displayName?: string }>("account", "/rest/api/2/myself");
  const projects = await conn.client.get<unknown>("projects", "/rest/api/2/project");
  if (!Array.isArray(projects))
    throw new ExternalError(
      "remote",
      DC_SERVICE,
      "Jira answered the project list with something that is not a list; check that the Base URL is Jira's own address (with its context path, such as /jira).",
    );
  if (projects.length === 0) {
    throw new ExternalError(
      "permission",
      DC_SERVICE,
      "The token's user can see no Jira projects. Give it Browse Projects, Create Issues, Edit Issues, Transition Issues and Add Comments in the projects Patchbay should use.",
    );
  }
  return {
    message: `Connected to ${[info.serverTitle ?? "Jira", info.version].filter(Boolean).join(" ")} (${info.deploymentType ?? "Server"}) as ${me.displayName ?? me.name ?? "the token's user"}.`,
    details: [
      `${projects.length} project${projects.length === 1 ? "" : "s"} visible to the token's user.`,
      "Two-way sync: Patchbay reads issue statuses hourly and on reconciliation (Data Center webhooks are not signed).",
    ],
  };
}

export const jiraDataCenter: Connector = {
  multiInstance: true,
  card: {
    kind: "jira-data-center",
    badge: "J",
    name: "Jira Data Center",
    category: "collaboration",
    summary: "Create and update issues in Jira Data Center or Jira Server.",
    overview: {
      description:
        "Link the projects of your own Jira Data Center or Server to create and update issues from Patchbay findings and remediations, with the same mappings as Jira Cloud.",
      benefits: [
        "Issues created and updated from findings, with your fields, priorities and workflow",
        "Comments when remediation pull requests open and merge; transitions by target status",
        "Works with instances that have only the older create metadata (before 8.4) and with 9.x",
      ],
      requirements: [
        "Jira Data Center or Server, reachable from Patchbay",
        "A personal access token of a dedicated user (Profile → Personal Access Tokens, Jira 8.14 and later), or that user's name and password on older Jira",
        "That user needs Browse Projects, Create Issues, Edit Issues, Transition Issues and Add Comments in the projects Patchbay uses",
      ],
      docs: [
        { label: "Atlassian: Using personal access tokens", url: "https://confluence.atlassian.com/enterprise/using-personal-access-tokens-1026032365.html" },
        { label: "Jira Data Center REST API", url: "https://developer.atlassian.com/server/jira/platform/rest/" },
      ],
    },
  },
  fields: [
    {
      name: "baseUrl",
      label: "Base URL",
      type: "url",
      required: true,
      glance: true,
      example: "https://jira.example.com",
      help: "Jira's address as people open it, with its context path if it has one (https://example.com/jira).",
    },
    {
      name: "token",
      label: "Personal access token",
      type: "secret",
      required: true,
      editableWhenConnected: true,
      help: "Created by the Patchbay user in Jira under Profile → Personal Access Tokens. With a Username below: that user's password.",
    },
    {
      name: "username",
      label: "Username (Jira before 8.14 only)",
      type: "text",
      editableWhenConnected: true,
      help: "Leave empty to use the personal access token. Jira older than 8.14 has no such tokens: enter the user's name here and its password above (sent with Basic authentication; use HTTPS).",
    },
  ],
  defaultName: (settings) => {
    try {
      return `Jira ${new URL(String(settings.baseUrl)).hostname}`;
    } catch {
      return "Jira Data Center";
    }
  },
  test: testDataCenter,
  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — Jira rejected the personal access token",
        steps: [
          "Copy the token again in full: Jira shows it once, when it is created.",
          "Check that it has not expired or been revoked (Profile → Personal Access Tokens).",
          "The token's user must be active and allowed to log in.",
        ],
      };
    }
    if (error.kind === "permission") return { title: "Connection Failed — missing permission", steps: [error.message] };
    if (error.kind === "unreachable")
      return {
        title: "Connection Failed — Jira could not be reached",
        steps: ["Check the Base URL, and that Patchbay's host can reach Jira (proxy, firewall, DNS).", error.message],
      };
    if (error.kind === "invalid_input") return { title: "Connection Failed — check the settings", steps: [error.message] };
    return undefined;
  },
  tracker: {
    nouns: { project: "project", ticketType: "issue type", ticket: "issue" },
    descriptionFormat: "Jira wiki markup",
    session: (connection, ctx) => new JiraSession(openDataCenter(connection, ctx)),
  },
};
