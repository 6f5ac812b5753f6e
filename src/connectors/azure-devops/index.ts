// Azure DevOps Boards as a tracker: an organization URL and a personal access token; a
// mapping is a project and a work item type (Bug, Issue, Task, User Story…) whose fields —
// area and iteration path, Severity and Priority where the process has them, any custom
// field — come from the work item type's fields API; states from the type's states. Work
// items are created and updated with JSON Patch, carry a Patchbay tag, and are found again
// by that tag through WIQL.
import { ExternalError, type HttpResponse } from "../../http.js";
import { toHtml } from "../html.js";
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
  type TrackerFieldKind,
  type TrackerSession,
} from "../types.js";
import { API_VERSION, AzureDevOpsClient, type PatchOperation, SERVICE, adoErrorMessage, organizationUrl } from "./client.js";
import { azureDevOpsInbound } from "./inbound.js";

const MAX_PAGES = 20;
const TITLE_MAX = 255;
/** System fields people set; the other System.* fields are the work item's own bookkeeping. */
const SETTABLE_SYSTEM = new Set([
  "System.Title",
  "System.Description",
  "System.AreaPath",
  "System.IterationPath",
  "System.Tags",
  "System.AssignedTo",
  "System.History",
]);
/** Set by Azure DevOps as the work item moves (dates and people of state changes). */
const READ_ONLY =
  /^Microsoft\.VSTS\.Common\.(StateChangeDate|ActivatedDate|ActivatedBy|ResolvedDate|ResolvedBy|ResolvedReason|ClosedDate|ClosedBy|StackRank|BacklogPriority)$/;

interface TypeField {
  referenceName: string;
  name: string;
  alwaysRequired: boolean;
  allowedValues?: unknown[];
  defaultValue?: unknown;
}

interface FieldDefinition {
  referenceName: string;
  type: string;
  readOnly?: boolean;
}

interface ClassificationNode {
  name: string;
  structureType: "area" | "iteration";
  hasChildren?: boolean;
  children?: ClassificationNode[];
}

interface WorkItem {
  id: number;
  fields: Record<string, unknown>;
  _links?: { html?: { href?: string } };
}

function client(connection: ConnectionSettings, ctx: ConnectorContext): AzureDevOpsClient {
  const base = organizationUrl(String(connection.settings.organizationUrl ?? ""));
  if (!base) throw new ExternalError("invalid_input", SERVICE, "The organization URL is not valid: use https://dev.azure.com/<organization>.");
  return new AzureDevOpsClient(ctx.http(SERVICE, { errorMessage: adoErrorMessage }), base, connection.secrets.token ?? "");
}

const seg = (s: string) => encodeURIComponent(s);

/** Paths as System.AreaPath and System.IterationPath take them: "Project\\Team\\Sprint 1". */
function paths(node: ClassificationNode, prefix: string): string[] {
  const here = prefix ? `${prefix}\\${node.name}` : node.name;
  return [here, ...(node.children ?? []).flatMap((c) => paths(c, here))];
}

function kindOf(type: string, hasAllowed: boolean): TrackerFieldKind {
  if (hasAllowed) return "choice";
  switch (type) {
    case "string":
    case "plainText":
    case "identity":
      return "text";
    case "html":
      return "document";
    case "integer":
    case "double":
      return "number";
    case "dateTime":
      return "date";
    default:
      return "unsupported";
  }
}

/**
 * One allowed value as a choice. An identity field (Assigned To, other identity pickers) lists
 * people as objects: shown by display name, sent as the unique name Azure DevOps accepts.
 */
function allowedChoice(value: unknown): { id: string; name: string } {
  if (value && typeof value === "object") {
    const person = value as { displayName?: unknown; uniqueName?: unknown; id?: unknown };
    const unique = typeof person.uniqueName === "string" ? person.uniqueName : typeof person.id === "string" ? person.id : "";
    const display = typeof person.displayName === "string" ? person.displayName : unique;
    return { id: unique, name: unique && display !== unique ? `${display} (${unique})` : display };
  }
  return { id: String(value), name: String(value) };
}

class AzureDevOpsSession implements TrackerSession {
  constructor(private readonly ado: AzureDevOpsClient) {}

  async whoami() {
    // The identity a service hook names in revisedBy.id.
    return (
      (await this.ado.get<{ authenticatedUser?: { id?: string } }>("/_apis/connectionData", { apiVersion: "7.1-preview.1" })).data.authenticatedUser?.id ?? ""
    );
  }

  async projects() {
    const out: TrackerChoice[] = [];
    let token: string | null = "";
    for (let page = 0; token !== null && page < MAX_PAGES; page++) {
      const { data, response }: { data: { value: { id: string; name: string; state?: string }[] }; response: HttpResponse } = await this.ado.get(
        `/_apis/projects?$top=100${token ? `&continuationToken=${encodeURIComponent(token)}` : ""}`,
        { apiRoot: page === 0 },
      );
      out.push(...data.value.filter((p) => !p.state || p.state === "wellFormed").map((p) => ({ id: p.name, name: p.name })));
      token = response.headers.get("x-ms-continuationtoken");
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async ticketTypes(project: TrackerChoice) {
    const { data } = await this.ado.get<{ value: { name: string; isDisabled?: boolean }[] }>(`/${seg(project.id)}/_apis/wit/workitemtypes`);
    return data.value.filter((t) => !t.isDisabled).map((t) => ({ id: t.name, name: t.name }));
  }

  async fields(target: TicketTarget): Promise<TrackerField[]> {
    const project = seg(target.project.id);
    const [typeFields, definitions, nodes] = await Promise.all([
      this.ado.get<{ value: TypeField[] }>(`/${project}/_apis/wit/workitemtypes/${seg(target.ticketType.id)}/fields?$expand=allowedValues`),
      this.ado.get<{ value: FieldDefinition[] }>(`/${project}/_apis/wit/fields`),
      this.ado.get<{ value: ClassificationNode[] }>(`/${project}/_apis/wit/classificationnodes?$depth=10`),
    ]);
    const types = new Map(definitions.data.value.map((d) => [d.referenceName, d]));
    const treePaths = (structure: "area" | "iteration") => {
      const root = nodes.data.value.find((n) => n.structureType === structure);
      return root ? paths(root, "").map((p) => ({ id: p, name: p })) : [];
    };
    const out: TrackerField[] = [];
    for (const f of typeFields.data.value) {
      const def = types.get(f.referenceName);
      if (!def || def.readOnly || READ_ONLY.test(f.referenceName)) continue;
      if (f.referenceName.startsWith("System.") && !SETTABLE_SYSTEM.has(f.referenceName)) continue;
      if (f.referenceName === "System.History") continue;
      let allowed = (f.allowedValues ?? []).map(allowedChoice);
      if (def.type === "treePath") allowed = treePaths(f.referenceName === "System.IterationPath" ? "iteration" : "area");
      const kind: TrackerFieldKind = f.referenceName === "System.Tags" ? "labels" : kindOf(def.type, allowed.length > 0);
      out.push({
        id: f.referenceName,
        name: f.name,
        required: f.alwaysRequired,
        kind,
        hasDefault: f.defaultValue !== undefined && f.defaultValue !== null && f.defaultValue !== "",
        special: /^Microsoft\.VSTS\.Common\.(Severity|Priority)$/.test(f.referenceName),
        ...(allowed.length ? { allowedValues: allowed } : {}),
      });
    }
    return out;
  }

  async statuses(target: TicketTarget) {
    const { data } = await this.ado.get<{ value: { name: string; category?: string }[] }>(
      `/${seg(target.project.id)}/_apis/wit/workitemtypes/${seg(target.ticketType.id)}/states`,
    );
    return data.value.map((s) => ({ id: s.name, name: s.name }));
  }

  async find(target: TicketTarget, marker: string) {
    const query = `SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS '${marker}' ORDER BY [System.Id]`;
    const data = await this.ado.send<{ workItems: { id: number }[] }>(
      "POST",
      `/${seg(target.project.id)}/_apis/wit/wiql?$top=1`,
      { query },
      { idempotent: true },
    );
    const hit = data.workItems[0];
    if (!hit) return undefined;
    return this.ref(target, hit.id);
  }

  async create(target: TicketTarget, content: TicketContent) {
    const ops = operations(content, [content.marker]);
    const item = await this.ado.send<WorkItem>("POST", `/${seg(target.project.id)}/_apis/wit/workitems/$${seg(target.ticketType.id)}`, ops, {
      contentType: "application/json-patch+json",
    });
    return this.toRef(target, item);
  }

  /** The work item batch takes at most 200 requests. */
  readonly bulkCreateLimit = 200;

  async createMany(target: TicketTarget, contents: TicketContent[]): Promise<(TicketRef | ExternalError)[]> {
    // Each create as the batch takes it: PATCH to the work item type's create address, its JSON Patch as the body.
    const uri = `/${seg(target.project.id)}/_apis/wit/workitems/$${seg(target.ticketType.id)}?api-version=${API_VERSION}`;
    const answer = await this.ado.send<{ value?: unknown }>(
      "POST",
      "/_apis/wit/$batch",
      contents.map((content) => ({
        method: "PATCH",
        uri,
        headers: { "Content-Type": "application/json-patch+json" },
        body: operations(content, [content.marker]),
      })),
    );
    const unmatched = (why: string) =>
      new ExternalError(
        "remote",
        SERVICE,
        `Azure DevOps answered the work item batch ${why}, so Patchbay cannot tell which work items it made: it looks for each by its tag before creating any again.`,
      );
    const items = answer?.value;
    if (!Array.isArray(items) || items.length !== contents.length)
      throw unmatched(`with ${Array.isArray(items) ? items.length : "no"} answers for ${contents.length} requests`);
    return (items as { code?: unknown; body?: unknown }[]).map((item) => {
      const code = typeof item?.code === "number" ? item.code : 0;
      let body: { id?: unknown; message?: unknown } | undefined;
      try {
        body = typeof item?.body === "string" ? (JSON.parse(item.body) as typeof body) : undefined;
      } catch {
        body = undefined;
      }
      if (code >= 200 && code < 300) {
        if (typeof body?.id !== "number") throw unmatched("with a work item made but not named");
        return this.toRef(target, body as WorkItem);
      }
      const said = typeof body?.message === "string" ? body.message : undefined;
      return new ExternalError(
        code === 429 ? "rate_limited" : "remote",
        SERVICE,
        `Azure DevOps rejected the work item (HTTP ${code}).${said ? ` Azure DevOps said: "${said.slice(0, 300)}"` : ""}`,
        { status: code, remoteMessage: said },
      );
    });
  }

  async update(target: TicketTarget, ticket: TicketRef, content: TicketContent) {
    // Tags are one field: keep the work item's own tags beside Patchbay's.
    const { data } = await this.ado.get<WorkItem>(`/${seg(target.project.id)}/_apis/wit/workitems/${ticket.id}?fields=System.Tags`);
    const existing = String(data.fields["System.Tags"] ?? "")
      .split(";")
      .map((t) => t.trim())
      .filter(Boolean);
    await this.ado.send("PATCH", `/${seg(target.project.id)}/_apis/wit/workitems/${ticket.id}`, operations(content, existing), {
      contentType: "application/json-patch+json",
      idempotent: true,
    });
  }

  async lookup(target: TicketTarget, reference: string) {
    const id = /(?:^#?|\/_workitems\/edit\/|workItems\/)(\d+)\/?$/i.exec(reference.trim())?.[1];
    if (!id) return undefined;
    try {
      const { data } = await this.ado.get<WorkItem>(`/${seg(target.project.id)}/_apis/wit/workitems/${id}?$expand=links`);
      if (data.fields["System.TeamProject"] !== undefined && String(data.fields["System.TeamProject"]).toLowerCase() !== target.project.name.toLowerCase())
        return undefined;
      return { ...this.toRef(target, data), title: String(data.fields["System.Title"] ?? "") };
    } catch (err) {
      if (err instanceof ExternalError && err.status === 404) return undefined;
      throw err;
    }
  }

  async withCves(target: TicketTarget, limit: number) {
    const query = `SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.WorkItemType] = '${target.ticketType.id.replace(/'/g, "''")}' AND [System.Title] CONTAINS 'CVE-' ORDER BY [System.Id]`;
    const data = await this.ado.send<{ workItems?: { id: number }[] }>(
      "POST",
      `/${seg(target.project.id)}/_apis/wit/wiql?$top=${Math.min(limit, 1000)}`,
      { query },
      { idempotent: true },
    );
    if (!Array.isArray(data.workItems)) throw new ExternalError("remote", SERVICE, "Azure DevOps answered the query without a list of work items.");
    const out: ExistingTicket[] = [];
    for (const { id } of data.workItems.slice(0, limit)) {
      const { data: item } = await this.ado.get<WorkItem>(`/${seg(target.project.id)}/_apis/wit/workitems/${id}?$expand=links`);
      const title = String(item.fields["System.Title"] ?? "");
      if (cvesIn(title).length) out.push({ ...this.toRef(target, item), title });
    }
    return out;
  }

  async states(target: TicketTarget, tickets: TicketRef[]) {
    const out = new Map<string, TrackerChoice>();
    for (const ticket of tickets) {
      try {
        const { data } = await this.ado.get<WorkItem>(`/${seg(target.project.id)}/_apis/wit/workitems/${ticket.id}?fields=System.State`);
        const state = String(data.fields["System.State"]);
        out.set(ticket.id, { id: state, name: state });
      } catch (err) {
        if (!(err instanceof ExternalError && err.status === 404)) throw err;
      }
    }
    return out;
  }

  async transition(target: TicketTarget, ticket: TicketRef, statusId: string) {
    const { data } = await this.ado.get<WorkItem>(`/${seg(target.project.id)}/_apis/wit/workitems/${ticket.id}?fields=System.State`);
    if (data.fields["System.State"] === statusId) return "already" as const;
    await this.ado.send(
      "PATCH",
      `/${seg(target.project.id)}/_apis/wit/workitems/${ticket.id}`,
      [{ op: "add", path: "/fields/System.State", value: statusId }],
      {
        contentType: "application/json-patch+json",
        idempotent: true,
      },
    );
    return "moved" as const;
  }

  async comment(target: TicketTarget, ticket: TicketRef, blocks: Block[]) {
    await this.ado.send(
      "POST",
      `/${seg(target.project.id)}/_apis/wit/workItems/${ticket.id}/comments`,
      { text: toHtml(blocks) },
      { apiVersion: "7.1-preview.4" },
    );
  }

  private async ref(target: TicketTarget, id: number): Promise<TicketRef> {
    const { data } = await this.ado.get<WorkItem>(`/${seg(target.project.id)}/_apis/wit/workitems/${id}?$expand=links`);
    return this.toRef(target, data);
  }

  private toRef(target: TicketTarget, item: WorkItem): TicketRef {
    const url = item._links?.html?.href ?? `${this.ado.base}/${seg(target.project.id)}/_workitems/edit/${item.id}`;
    return { id: String(item.id), key: `#${item.id}`, url };
  }
}

function operations(content: TicketContent, keepTags: string[]): PatchOperation[] {
  const ops: PatchOperation[] = [];
  let tags = [...keepTags];
  for (const [ref, value] of Object.entries(content.fields)) {
    if (ref === "System.Tags") {
      if (value.kind === "list") tags.push(...value.items);
      continue;
    }
    ops.push({ op: "add", path: `/fields/${ref}`, value: serialize(ref, value) });
  }
  tags = [...new Set([...tags, content.marker].map((t) => t.replace(/;/g, " ")))];
  ops.push({ op: "add", path: "/fields/System.Tags", value: tags.join("; ") });
  return ops;
}

function serialize(ref: string, value: FieldValue): unknown {
  switch (value.kind) {
    case "text":
      return ref === "System.Title" ? value.text.replace(/\s+/g, " ").slice(0, TITLE_MAX) : value.text;
    case "document":
      return toHtml(value.blocks);
    case "number":
      return value.value;
    case "date":
      return `${value.date}T00:00:00Z`;
    case "choice":
      // Allowed values of integer fields (Priority) are numbers.
      return /^\d+$/.test(value.id) && /Priority$/.test(ref) ? Number(value.id) : value.id;
    case "choices":
      return value.ids.join("; ");
    case "list":
      return value.items.join("; ");
    case "user":
      // Identity fields (System.AssignedTo) take the person's e-mail or display name.
      return value.id;
  }
}

export const azureDevOps: Connector = {
  multiInstance: true,
  card: {
    kind: "azure-devops",
    badge: "AZ",
    name: "Azure DevOps Boards",
    category: "collaboration",
    summary: "Push findings as Azure DevOps work items.",
    overview: {
      description:
        "Push findings and finding groups as work items (Bug, Issue, Task, User Story…) with area and iteration paths, your process's Severity and Priority, and any field mapped.",
      benefits: [
        "Field mapping from the work item type's own fields",
        "Severity and state mapped to your process",
        "Work items found again by their Patchbay tag, never created twice",
      ],
      requirements: [
        "An organization URL (https://dev.azure.com/<organization>)",
        "A personal access token with the Work Items (Read & write) scope, from a user who is a member of the projects",
      ],
      docs: [
        { label: "Azure DevOps: Work Items REST API", url: "https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items" },
        {
          label: "Azure DevOps: Use personal access tokens",
          url: "https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate",
        },
      ],
    },
  },
  fields: [
    {
      name: "organizationUrl",
      label: "Organization URL",
      type: "url",
      required: true,
      glance: true,
      example: "https://dev.azure.com/fabrikam",
      help: "https://dev.azure.com/<organization>, or https://<organization>.visualstudio.com.",
      validate: (v) => (organizationUrl(v) ? undefined : "Enter the organization's address, like https://dev.azure.com/fabrikam."),
    },
    {
      name: "token",
      label: "Personal access token",
      type: "secret",
      required: true,
      editableWhenConnected: true,
      help: "Scope: Work Items (Read & write). Tokens expire: Patchbay's card turns to Error when it does.",
    },
    {
      name: "webhookSecret",
      label: "Webhook Secret",
      type: "secret",
      editableWhenConnected: true,
      help: "For two-way sync: the secret the service hook sends in its X-Patchbay-Token header. Leave empty and Patchbay makes one on the Trackers page.",
    },
  ],
  defaultName: (settings) => {
    const base = organizationUrl(String(settings.organizationUrl ?? ""));
    const org = base ? (new URL(base).hostname === "dev.azure.com" ? new URL(base).pathname.slice(1) : new URL(base).hostname.split(".")[0]) : "";
    return org ? `Azure DevOps ${org}` : "Azure DevOps";
  },
  async test(connection, ctx) {
    const projects = await new AzureDevOpsSession(client(connection, ctx)).projects();
    if (projects.length === 0) {
      throw new ExternalError(
        "permission",
        SERVICE,
        "The token's user is a member of no project in this organization. Add the user to the projects Patchbay should push to.",
      );
    }
    return {
      message: "Connected to Azure DevOps: the personal access token was accepted.",
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
        title: "Connection Failed — Azure DevOps did not accept the token",
        steps: [
          "Create a new personal access token with Work Items (Read & write) for this organization (User settings → Personal access tokens).",
          "Check that the token has not expired and is for this organization (or all accessible organizations).",
        ],
      };
    }
    if (error.kind === "unreachable")
      return { title: "Connection Failed — organization not found", steps: ["Check the organization URL: https://dev.azure.com/<organization>."] };
    return undefined;
  },
  tracker: {
    nouns: { project: "project", ticketType: "work item type", ticket: "work item" },
    descriptionFormat: "HTML",
    session: (connection, ctx) => new AzureDevOpsSession(client(connection, ctx)),
    inbound: azureDevOpsInbound,
  },
};
