// ServiceNow as a tracker, through the Table API: an instance URL and a user and password (or
// an OAuth client); a mapping is a table (incident unless another task table is chosen) whose
// fields come from the table's dictionary (with the task fields it inherits) and choice lists;
// impact and urgency take Patchbay's severity (ServiceNow computes priority from them); states
// from the table's state choices. Records carry correlation_id = Patchbay's marker, by which a
// retry finds them; remediation events become work notes.
import { ExternalError, RateLimitedError } from "../../http.js";
import { serviceNowInbound } from "./inbound.js";
import type {
  Connector,
  Block,
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
  UpdateOutcome,
} from "../types.js";
import { cvesIn } from "../types.js";
import { type Credentials, SERVICE, ServiceNowClient, instanceUrl, serviceNowErrorMessage } from "./client.js";

/** Fields the record keeps for itself, or Patchbay sets on its own (state, correlation). */
const MANAGED =
  /^(sys_|number$|state$|priority$|active$|correlation_id$|correlation_display$|work_notes|comments|opened_at$|opened_by$|closed_|resolved_|sla_|upon_|made_sla$|escalation$|calendar_|business_duration$|reassignment_count$|reopen_count$|parent$|order$|approval)/;
const SHORT_DESCRIPTION_MAX = 160;

interface DictionaryEntry {
  name: string;
  element: string;
  column_label: string;
  internal_type: string | { value: string };
  mandatory: string;
  read_only: string;
  reference: string | { value: string };
  max_length: string;
}

interface ChoiceEntry {
  name: string;
  element: string;
  value: string;
  label: string;
}

interface RecordRef {
  sys_id: string;
  number?: string;
  state?: string;
}

function value(v: string | { value: string } | undefined): string {
  return typeof v === "object" && v ? v.value : (v ?? "");
}

function credentials(connection: ConnectionSettings): Credentials {
  const s = connection.settings;
  const clientId = String(s.clientId ?? "");
  if (clientId && connection.secrets.clientSecret) return { kind: "oauth", clientId, clientSecret: connection.secrets.clientSecret };
  const user = String(s.username ?? "");
  if (user && connection.secrets.password) return { kind: "basic", user, password: connection.secrets.password };
  throw new ExternalError("invalid_input", SERVICE, "Enter a user name and password, or an OAuth client ID and secret.");
}

function client(connection: ConnectionSettings, ctx: ConnectorContext): ServiceNowClient {
  const base = instanceUrl(String(connection.settings.instanceUrl ?? ""));
  if (!base) throw new ExternalError("invalid_input", SERVICE, "The instance URL is not valid: use https://<instance>.service-now.com.");
  return new ServiceNowClient(ctx.http(SERVICE, { errorMessage: serviceNowErrorMessage }), base, credentials(connection));
}

function kindOf(type: string, hasChoices: boolean): TrackerFieldKind {
  if (hasChoices) return "choice";
  switch (type) {
    case "string":
    case "translated_text":
    case "email":
    case "url":
      return "text";
    case "integer":
    case "decimal":
    case "float":
      return "number";
    case "glide_date":
    case "glide_date_time":
    case "due_date":
      return "date";
    default:
      return "unsupported";
  }
}

class ServiceNowSession implements TrackerSession {
  constructor(
    private readonly sn: ServiceNowClient,
    /** The user name Patchbay writes as (basic authentication); with OAuth, the rule's updated_by is not known in advance. */
    private readonly user?: string,
  ) {}

  async whoami() {
    return this.user ?? "";
  }

  async projects() {
    // Tables that extend Task (incident, problem, change, security incident…), incident first.
    const rows = await this.sn.list<{ name: string; label: string }>("sys_db_object", {
      sysparm_query: "super_class.name=task^ORname=incident^ORDERBYlabel",
      sysparm_fields: "name,label",
      sysparm_limit: "500",
    });
    const tables = rows.map((r) => ({ id: r.name, name: `${r.label} (${r.name})` }));
    return [...tables.filter((t) => t.id === "incident"), ...tables.filter((t) => t.id !== "incident")];
  }

  async ticketTypes() {
    return [{ id: "record", name: "Record" }];
  }

  async fields(target: TicketTarget): Promise<TrackerField[]> {
    const table = target.project.id;
    const [dictionary, choices, groups] = await Promise.all([
      this.sn.list<DictionaryEntry>("sys_dictionary", {
        sysparm_query: `nameIN${table},task^active=true^elementISNOTEMPTY`,
        sysparm_fields: "name,element,column_label,internal_type,mandatory,read_only,reference,max_length",
        sysparm_limit: "1000",
      }),
      this.sn.list<ChoiceEntry>("sys_choice", {
        sysparm_query: `nameIN${table},task^inactive=false^language=en^ORDERBYsequence`,
        sysparm_fields: "name,element,value,label",
        sysparm_limit: "2000",
      }),
      this.sn.list<{ sys_id: string; name: string }>("sys_user_group", {
        sysparm_query: "active=true^ORDERBYname",
        sysparm_fields: "sys_id,name",
        sysparm_limit: "500",
      }),
    ]);
    // The table's own definition of a field wins over the one it inherits from task.
    const entries = new Map<string, DictionaryEntry>();
    for (const e of dictionary) if (!entries.has(e.element) || e.name === table) entries.set(e.element, e);
    const out: TrackerField[] = [];
    for (const e of entries.values()) {
      if (MANAGED.test(e.element) || e.read_only === "true") continue;
      const own = choices.filter((c) => c.element === e.element && c.name === table);
      const list = own.length ? own : choices.filter((c) => c.element === e.element && c.name === "task");
      const reference = value(e.reference);
      let allowed = list.map((c) => ({ id: c.value, name: c.label }));
      if (reference === "sys_user_group") allowed = groups.map((g) => ({ id: g.sys_id, name: g.name }));
      const type = value(e.internal_type);
      const kind =
        e.element === "description" ? "text" : type === "reference" && reference !== "sys_user_group" ? "unsupported" : kindOf(type, allowed.length > 0);
      out.push({
        id: e.element,
        name: e.column_label,
        required: e.mandatory === "true",
        kind,
        hasDefault: false,
        special: e.element === "impact" || e.element === "urgency",
        ...(allowed.length ? { allowedValues: allowed } : {}),
      });
    }
    return out.sort((a, b) => Number(b.required) - Number(a.required) || a.name.localeCompare(b.name));
  }

  async statuses(target: TicketTarget) {
    const table = target.project.id;
    const rows = await this.sn.list<ChoiceEntry>("sys_choice", {
      sysparm_query: `nameIN${table},task^element=state^inactive=false^language=en^ORDERBYsequence`,
      sysparm_fields: "name,value,label",
      sysparm_limit: "100",
    });
    const own = rows.filter((r) => r.name === table);
    return (own.length ? own : rows).map((r) => ({ id: r.value, name: r.label }));
  }

  async find(target: TicketTarget, marker: string) {
    const rows = await this.sn.list<RecordRef>(target.project.id, {
      sysparm_query: `correlation_id=${marker}`,
      sysparm_fields: "sys_id,number",
      sysparm_limit: "1",
    });
    return rows[0] ? this.ref(target, rows[0]) : undefined;
  }

  async create(target: TicketTarget, content: TicketContent) {
    const record = await this.sn.write<RecordRef>("POST", encodeURIComponent(target.project.id), {
      ...body(content),
      correlation_id: content.marker,
      correlation_display: "Patchbay",
    });
    return this.ref(target, record);
  }

  /** Records per Batch API request: well inside its 30-second transaction limit. */
  readonly bulkCreateLimit = 50;

  async createMany(target: TicketTarget, contents: TicketContent[]): Promise<(TicketRef | ExternalError)[]> {
    const answers = await this.sn.batch(
      contents.map((content) => ({
        method: "POST" as const,
        path: encodeURIComponent(target.project.id),
        body: { ...body(content), correlation_id: content.marker, correlation_display: "Patchbay" },
      })),
    );
    return answers.map((answer) => {
      // Not processed: ServiceNow stopped the batch at its size or time limit first.
      if (answer === "unserviced")
        return new RateLimitedError(SERVICE, "ServiceNow stopped the batch at its size or time limit before this record; Patchbay sends it again.", 1);
      const result = (answer.body as { result?: RecordRef } | undefined)?.result;
      if (answer.status >= 200 && answer.status < 300) {
        if (!result?.sys_id)
          throw new ExternalError(
            "remote",
            SERVICE,
            "ServiceNow made a record in the batch but did not name it: Patchbay looks for it by its correlation ID before creating it again.",
          );
        return this.ref(target, result);
      }
      const said = serviceNowErrorMessage(JSON.stringify(answer.body ?? ""));
      return new ExternalError(
        answer.status === 429 ? "rate_limited" : answer.status === 401 ? "auth" : answer.status === 403 ? "permission" : "remote",
        SERVICE,
        `ServiceNow rejected the record (HTTP ${answer.status}).${said ? ` ServiceNow said: "${said.slice(0, 300)}"` : ""}`,
        { status: answer.status, remoteMessage: said },
      );
    });
  }

  async update(target: TicketTarget, ticket: TicketRef, content: TicketContent): Promise<UpdateOutcome | void> {
    const sent = body(content);
    const record = await this.sn.write<Record<string, unknown>>("PATCH", `${encodeURIComponent(target.project.id)}/${ticket.id}`, sent);
    // A write ACL or UI policy makes ServiceNow keep a field as it was and answer 200 all the
    // same: the record it returns says what it took. Long texts are left out of the comparison
    // (ServiceNow may reformat them).
    const ignored = Object.entries(content.fields)
      .filter(([id, value]) => value.kind !== "document" && record && id in record && !sameValue(record[id], sent[id]))
      .map(([id]) => id);
    return ignored.length ? { ignored, reason: "ServiceNow kept them as they were: a write ACL or UI policy keeps the account from changing them" } : undefined;
  }

  async lookup(target: TicketTarget, reference: string) {
    const r = reference.trim();
    const sysId = /sys_id(?:=|%3D)([0-9a-f]{32})/i.exec(r)?.[1] ?? (/^[0-9a-f]{32}$/i.test(r) ? r : undefined);
    const number = sysId ? undefined : /^[A-Z]{2,8}\d{5,}$/i.exec(r)?.[0];
    if (!sysId && !number) return undefined;
    const [record] = await this.sn.list<RecordRef & { short_description?: string }>(target.project.id, {
      sysparm_query: sysId ? `sys_id=${sysId}` : `number=${number!.toUpperCase()}`,
      sysparm_fields: "sys_id,number,short_description",
      sysparm_limit: "1",
    });
    return record ? { ...this.ref(target, record), title: record.short_description ?? "" } : undefined;
  }

  async withCves(target: TicketTarget, limit: number) {
    const records = await this.sn.list<RecordRef & { short_description?: string }>(target.project.id, {
      sysparm_query: "short_descriptionLIKECVE-^ORDERBYsys_created_on",
      sysparm_fields: "sys_id,number,short_description",
      sysparm_limit: String(Math.min(limit, 1000)),
    });
    return records.filter((r) => cvesIn(r.short_description ?? "").length).map((r) => ({ ...this.ref(target, r), title: r.short_description ?? "" }));
  }

  async states(target: TicketTarget, tickets: TicketRef[]) {
    const out = new Map<string, TrackerChoice>();
    if (!tickets.length) return out;
    const names = new Map((await this.statuses(target)).map((s) => [s.id, s.name]));
    const records = await this.sn.list<RecordRef>(target.project.id, {
      sysparm_query: `sys_idIN${tickets.map((t) => t.id).join(",")}`,
      sysparm_fields: "sys_id,state",
      sysparm_limit: String(tickets.length),
    });
    for (const r of records) if (r.state !== undefined) out.set(r.sys_id, { id: String(r.state), name: names.get(String(r.state)) ?? String(r.state) });
    return out;
  }

  async transition(target: TicketTarget, ticket: TicketRef, statusId: string) {
    const [current] = await this.sn.list<RecordRef>(target.project.id, {
      sysparm_query: `sys_id=${ticket.id}`,
      sysparm_fields: "sys_id,state",
      sysparm_limit: "1",
    });
    if (!current) throw new ExternalError("not_found", SERVICE, `ServiceNow has no ${target.project.id} record ${ticket.key} any more.`);
    if (current.state === statusId) return "already" as const;
    await this.sn.write("PATCH", `${encodeURIComponent(target.project.id)}/${ticket.id}`, { state: statusId });
    return "moved" as const;
  }

  async comment(target: TicketTarget, ticket: TicketRef, blocks: Block[]) {
    await this.sn.write("PATCH", `${encodeURIComponent(target.project.id)}/${ticket.id}`, { work_notes: plain(blocks) });
  }

  private ref(target: TicketTarget, record: RecordRef): TicketRef {
    return { id: record.sys_id, key: record.number ?? record.sys_id, url: `${this.sn.base}/${target.project.id}.do?sys_id=${record.sys_id}` };
  }
}

function plain(blocks: Block[]): string {
  return blocks
    .map((b) => {
      const spans = (list: { text: string; href?: string }[]) => list.map((s) => (s.href && s.href !== s.text ? `${s.text} (${s.href})` : s.text)).join("");
      if (b.type === "heading") return b.text;
      if (b.type === "paragraph") return spans(b.spans);
      if (b.type === "facts") return b.rows.map((r) => `${r.label}: ${spans(r.value)}`).join("\n");
      return b.items.map((i) => `- ${spans(i)}`).join("\n");
    })
    .join("\n\n");
}

function serialize(field: string, v: FieldValue): unknown {
  switch (v.kind) {
    case "text":
      return field === "short_description" ? v.text.replace(/\s+/g, " ").slice(0, SHORT_DESCRIPTION_MAX) : v.text;
    case "document":
      return plain(v.blocks);
    case "number":
      return String(v.value);
    case "date":
      return v.date;
    case "choice":
      return v.id;
    case "choices":
      return v.ids.join(",");
    case "list":
      return v.items.join(", ");
    case "user":
      // Reference fields (assigned_to) take a sys_id or, with sysparm_input_display_value, a user name.
      return v.id;
  }
}

/** A record's value (plain, or a reference's {link, value}) is the one sent. */
function sameValue(stored: unknown, sent: unknown): boolean {
  const value = stored && typeof stored === "object" && "value" in stored ? (stored as { value: unknown }).value : stored;
  return String(value ?? "").trim() === String(sent ?? "").trim();
}

function body(content: TicketContent): Record<string, unknown> {
  return Object.fromEntries(Object.entries(content.fields).map(([k, v]) => [k, serialize(k, v)]));
}

export const serviceNow: Connector = {
  multiInstance: true,
  card: {
    kind: "servicenow",
    badge: "SN",
    name: "ServiceNow",
    category: "collaboration",
    summary: "Push findings as ServiceNow incidents.",
    overview: {
      description: "Push findings and finding groups as records in a ServiceNow table — incidents by default — through the Table API.",
      benefits: [
        "Impact and urgency from severity; ServiceNow computes the priority",
        "Assignment group, and any field of the table's dictionary",
        "Correlation IDs prevent duplicates",
      ],
      requirements: [
        "A ServiceNow instance URL",
        "A user with the itil role (to write incidents) and read access to sys_dictionary, sys_choice, sys_db_object and sys_user_group; or an OAuth client (client credentials) for such a user",
      ],
      docs: [
        {
          label: "ServiceNow: Table API",
          url: "https://www.servicenow.com/docs/bundle/zurich-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html",
        },
      ],
    },
  },
  fields: [
    {
      name: "instanceUrl",
      label: "Instance URL",
      type: "url",
      required: true,
      glance: true,
      example: "https://acme.service-now.com",
      validate: (v) => (instanceUrl(v) ? undefined : "Enter the instance's https address only, like https://acme.service-now.com."),
    },
    { name: "username", label: "User name", type: "text", editableWhenConnected: true, help: "A user with the itil role (basic authentication)." },
    { name: "password", label: "Password", type: "secret", editableWhenConnected: true },
    {
      name: "clientId",
      label: "OAuth client ID",
      type: "text",
      editableWhenConnected: true,
      help: "Or an OAuth application registry entry with the client credentials grant enabled.",
    },
    { name: "clientSecret", label: "OAuth client secret", type: "secret", editableWhenConnected: true },
    {
      name: "webhookSecret",
      label: "Webhook Secret",
      type: "secret",
      editableWhenConnected: true,
      help: "For two-way sync: the secret the business rule sends in its X-Patchbay-Token header. Leave empty and Patchbay makes one on the Trackers page.",
    },
  ],
  defaultName: (settings) => {
    const base = instanceUrl(String(settings.instanceUrl ?? ""));
    return base ? `ServiceNow ${new URL(base).hostname.split(".")[0]}` : "ServiceNow";
  },
  async test(connection, ctx) {
    const sn = client(connection, ctx);
    await sn.list("incident", { sysparm_limit: "1", sysparm_fields: "sys_id" }, { apiRoot: true });
    const tables = await new ServiceNowSession(sn).projects();
    if (tables.length === 0) {
      throw new ExternalError(
        "permission",
        SERVICE,
        "The account cannot read the table list (sys_db_object). Give it read access to sys_db_object, sys_dictionary, sys_choice and sys_user_group.",
      );
    }
    return {
      message: "Connected to ServiceNow: the credentials were accepted.",
      details: [
        `Tables: ${tables
          .slice(0, 4)
          .map((t) => t.name)
          .join(", ")}${tables.length > 4 ? ", …" : ""}`,
      ],
    };
  },
  troubleshoot(error) {
    if (error.kind === "auth") {
      return {
        title: "Connection Failed — ServiceNow did not accept the credentials",
        steps: [
          "Check the user name and password (or the OAuth client ID and secret).",
          "The user must not require multi-factor sign-in, and must be active and not locked out.",
        ],
      };
    }
    if (error.kind === "permission") {
      return {
        title: "Connection Failed — missing role or ACL",
        steps: [
          "Give the user the itil role to create and update incidents.",
          "Allow it to read sys_dictionary, sys_choice, sys_db_object and sys_user_group (for the mapping form).",
        ],
      };
    }
    return undefined;
  },
  tracker: {
    nouns: { project: "table", ticketType: "record type", ticket: "record" },
    descriptionFormat: "plain text",
    session: (connection, ctx) =>
      new ServiceNowSession(
        client(connection, ctx),
        String(connection.settings.clientId ?? "") ? undefined : String(connection.settings.username ?? "") || undefined,
      ),
    inbound: serviceNowInbound,
  },
};
