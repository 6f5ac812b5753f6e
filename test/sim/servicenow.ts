// ServiceNow simulator: the Table API (/api/now/table/<table>) with encoded queries (=, !=,
// IN, ISNOTEMPTY, ^, ^OR, ORDERBY, dot-walked super_class.name), sysparm_fields,
// sysparm_limit/offset with Link headers, Basic auth or OAuth client credentials
// (/oauth_token.do), ACLs by role (itil to write tasks), the dictionary and choice tables the
// mapping form reads, incident numbering, priority computed from impact and urgency, work
// notes, ServiceNow's error body {error: {message, detail}, status: "failure"}, and the Batch
// API (/api/now/v1/batch: base64 bodies, serviced and unserviced requests).
import crypto from "node:crypto";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";

type Row = Record<string, string>;

export interface SnSimRecord extends Row {
  sys_id: string;
  number: string;
}

const sysId = () => crypto.randomBytes(16).toString("hex");

/** Priority from impact × urgency, as the default Priority Lookup Rules have it. */
const PRIORITY: Record<string, string> = { "1|1": "1", "1|2": "2", "2|1": "2", "1|3": "3", "2|2": "3", "3|1": "3", "2|3": "4", "3|2": "4", "3|3": "5" };

/**
 * What Patchbay's business rule script sends when a record changes: the JSON body, signed
 * as GlideCertificateEncryption.generateMac(base64(secret), "HmacSHA256", timestamp + "." +
 * body) computes it (a base64 MAC), with the timestamp in seconds from GlideDateTime.
 */
export function businessRuleDelivery(
  url: string,
  body: Record<string, unknown>,
  secret: string,
  opts: { at?: Date; signature?: string } = {},
): Promise<Response> {
  const text = JSON.stringify(body);
  const timestamp = String(Math.floor((opts.at ?? new Date()).getTime() / 1000));
  const mac = crypto
    .createHmac("sha256", Buffer.from(Buffer.from(secret, "utf8").toString("base64"), "base64"))
    .update(`${timestamp}.${text}`, "utf8")
    .digest("base64");
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-patchbay-timestamp": timestamp, "x-patchbay-signature": opts.signature ?? `sha256=${mac}` },
    body: text,
  });
}

export class ServiceNowSim {
  readonly faults = new FaultKnobs();
  readonly users = new Map<string, { password: string; roles: string[] }>();
  readonly oauthClients = new Map<string, { secret: string; user: string }>();
  readonly #tokens = new Map<string, string>();
  readonly tables = new Map<string, SnSimRecord[]>();
  /** Work notes (a journal field) by record sys_id, oldest first. */
  readonly workNotes = new Map<string, string[]>();
  /**
   * Fields a write ACL or UI policy keeps the account from changing on existing records: as
   * ServiceNow does, an update leaves them as they were and answers 200 all the same.
   */
  readonly lockedFields = new Set<string>();
  readonly groups = [
    { sys_id: "8a5055c9c61122780043563ef53438e3", name: "Security Operations" },
    { sys_id: "d625dccec0a8016700a222a0f7900d06", name: "Service Desk" },
  ];
  /**
   * Records a Batch API request gets through before its time limit ends the transaction (the
   * rest are listed as unserviced, nothing done); unlimited unless set.
   */
  batchServiceLimit = Infinity;
  /** The size of each Batch API request served. */
  readonly batches: number[] = [];
  /** A business rule refusing some inserts: its message, or undefined to insert. */
  refuse: ((record: Row) => string | undefined) | undefined;
  #counter = 10001;

  constructor() {
    for (const t of ["incident", "problem", "sn_si_incident"]) this.tables.set(t, []);
  }

  records(table = "incident"): SnSimRecord[] {
    return this.tables.get(table) ?? [];
  }

  app(): Hono {
    const root = new Hono();
    root.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ error: { message: `Simulated error ${status}`, detail: "" }, status: "failure" })),
    );
    root.post("/oauth_token.do", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      const client = this.oauthClients.get(form.get("client_id") ?? "");
      if (form.get("grant_type") !== "client_credentials" || !client || client.secret !== form.get("client_secret")) {
        return c.json({ error_description: "access_denied", error: "server_error" }, 401);
      }
      const token = crypto.randomBytes(24).toString("base64url");
      this.#tokens.set(token, client.user);
      return c.json({ access_token: token, scope: "useraccount", token_type: "Bearer", expires_in: 1799 });
    });
    const api = new Hono();
    api.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      let user: string | undefined;
      const basic = /^Basic (.+)$/.exec(header)?.[1];
      if (basic) {
        const [name, ...rest] = Buffer.from(basic, "base64").toString().split(":");
        if (this.users.get(name!)?.password === rest.join(":")) user = name;
      }
      const bearer = /^Bearer (.+)$/.exec(header)?.[1];
      if (bearer) user = this.#tokens.get(bearer);
      if (!user) return c.json({ error: { message: "User Not Authenticated", detail: "Required to provide Auth information" }, status: "failure" }, 401);
      c.set("snUser" as never, user as never);
      await next();
    });
    const roles = (c: Context) => this.users.get(c.get("snUser" as never) as string)?.roles ?? [];
    const acl = (c: Context, op: string) =>
      c.json({ error: { message: "Operation Failed", detail: `ACL Exception ${op} Failed due to security constraints` }, status: "failure" }, 403);

    api.get("/table/:table", (c) => {
      const table = c.req.param("table");
      const rows = this.rows(table);
      if (!rows) return c.json({ error: { message: "Invalid table", detail: `Invalid table ${table}` }, status: "failure" }, 400);
      if (table.startsWith("sys_") && !roles(c).includes("admin") && !roles(c).includes("personalize_dictionary")) return c.json({ result: [] });
      const matched = query(rows, c.req.query("sysparm_query") ?? "");
      const limit = Number(c.req.query("sysparm_limit") ?? 10000);
      const offset = Number(c.req.query("sysparm_offset") ?? 0);
      const fields = c.req.query("sysparm_fields")?.split(",");
      const page = matched.slice(offset, offset + limit).map((r) => (fields ? Object.fromEntries(fields.map((f) => [f, r[f] ?? ""])) : r));
      c.header("x-total-count", String(matched.length));
      if (offset + limit < matched.length) {
        const next = new URL(c.req.url);
        next.searchParams.set("sysparm_offset", String(offset + limit));
        c.header("link", `<${next}>;rel="next"`);
      }
      return c.json({ result: page });
    });
    api.post("/table/:table", async (c) => {
      const table = c.req.param("table");
      const records = this.tables.get(table);
      if (!records) return c.json({ error: { message: "Invalid table", detail: `Invalid table ${table}` }, status: "failure" }, 400);
      if (!roles(c).includes("itil")) return acl(c, "Insert");
      const body = (await c.req.json().catch(() => null)) as Row | null;
      if (!body) return c.json({ error: { message: "Exception while reading request", detail: "The payload is not valid JSON." }, status: "failure" }, 400);
      const refused = this.refuse?.(body);
      if (refused) return c.json({ error: { message: "Operation Failed", detail: refused }, status: "failure" }, 403);
      const record: SnSimRecord = {
        state: "1",
        impact: "3",
        urgency: "3",
        ...Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)])),
        sys_id: sysId(),
        number: `${table === "incident" ? "INC" : table === "problem" ? "PRB" : "SIR"}00${this.#counter++}`,
      };
      record.priority = PRIORITY[`${record.impact}|${record.urgency}`] ?? "5";
      records.push(record);
      return c.json({ result: record }, 201);
    });
    api.patch("/table/:table/:sysId", async (c) => {
      const records = this.tables.get(c.req.param("table"));
      const record = records?.find((r) => r.sys_id === c.req.param("sysId"));
      if (!record)
        return c.json({ error: { message: "No Record found", detail: "Record doesn't exist or ACL restricts the record retrieval" }, status: "failure" }, 404);
      if (!roles(c).includes("itil")) return acl(c, "Update");
      const body = (await c.req.json().catch(() => null)) as Row | null;
      if (!body) return c.json({ error: { message: "Exception while reading request", detail: "The payload is not valid JSON." }, status: "failure" }, 400);
      for (const [k, v] of Object.entries(body)) {
        if (k === "work_notes") this.workNotes.set(record.sys_id, [...(this.workNotes.get(record.sys_id) ?? []), String(v)]);
        else if (k !== "sys_id" && k !== "number" && !this.lockedFields.has(k)) record[k] = String(v);
      }
      record.priority = PRIORITY[`${record.impact}|${record.urgency}`] ?? "5";
      return c.json({ result: record });
    });
    // The Batch API: each rest_request run as if sent alone (its body and answer base64), in
    // order, until the transaction's limit; the rest listed by id as unserviced.
    const batch = async (c: Context) => {
      const body = (await c.req.json().catch(() => null)) as {
        batch_request_id?: string;
        rest_requests?: { id?: string; method?: string; url?: string; headers?: { name: string; value: string }[]; body?: string }[];
      } | null;
      if (!Array.isArray(body?.rest_requests))
        return c.json({ error: { message: "Exception while reading request", detail: "rest_requests is required" }, status: "failure" }, 400);
      this.batches.push(body.rest_requests.length);
      const serviced: unknown[] = [];
      const unserviced: string[] = [];
      for (const r of body.rest_requests) {
        if (serviced.length >= this.batchServiceLimit) {
          unserviced.push(String(r.id));
          continue;
        }
        const headers = Object.fromEntries((r.headers ?? []).map((h) => [h.name, h.value]));
        const answer = await root.request(r.url ?? "", {
          method: r.method ?? "GET",
          headers: { ...headers, authorization: c.req.header("authorization") ?? "" },
          body: r.body && r.method !== "GET" ? Buffer.from(r.body, "base64").toString("utf8") : undefined,
        });
        serviced.push({
          id: r.id,
          body: Buffer.from(await answer.text()).toString("base64"),
          status_code: answer.status,
          status_text: answer.statusText || String(answer.status),
          headers: [],
          execution_time: 3,
        });
      }
      return c.json({ batch_request_id: body.batch_request_id, serviced_requests: serviced, unserviced_requests: unserviced });
    };
    api.post("/v1/batch", batch);
    api.post("/batch", batch);
    root.route("/api/now", api);
    return root;
  }

  private rows(table: string): Row[] | undefined {
    switch (table) {
      case "sys_db_object":
        return [
          { name: "task", label: "Task", "super_class.name": "" },
          { name: "incident", label: "Incident", "super_class.name": "task" },
          { name: "problem", label: "Problem", "super_class.name": "task" },
          { name: "sn_si_incident", label: "Security Incident", "super_class.name": "task" },
          { name: "sys_user", label: "User", "super_class.name": "" },
        ];
      case "sys_dictionary":
        return DICTIONARY;
      case "sys_choice":
        return CHOICES;
      case "sys_user_group":
        return this.groups.map((g) => ({ ...g, active: "true" }));
      default:
        return this.tables.get(table);
    }
  }
}

const dict = (name: string, element: string, column_label: string, internal_type: string, extra: Partial<Row> = {}): Row => ({
  name,
  element,
  column_label,
  internal_type,
  mandatory: "false",
  read_only: "false",
  reference: "",
  max_length: "40",
  active: "true",
  ...extra,
});

const DICTIONARY: Row[] = [
  dict("task", "number", "Number", "string", { read_only: "true" }),
  dict("task", "short_description", "Short description", "string", { max_length: "160" }),
  dict("task", "description", "Description", "string", { max_length: "4000" }),
  dict("task", "assignment_group", "Assignment group", "reference", { reference: "sys_user_group", max_length: "32" }),
  dict("task", "assigned_to", "Assigned to", "reference", { reference: "sys_user", max_length: "32" }),
  dict("task", "impact", "Impact", "integer"),
  dict("task", "urgency", "Urgency", "integer"),
  dict("task", "priority", "Priority", "integer", { read_only: "true" }),
  dict("task", "state", "State", "integer"),
  dict("task", "correlation_id", "Correlation ID", "string", { max_length: "100" }),
  dict("task", "correlation_display", "Correlation display", "string", { max_length: "100" }),
  dict("task", "work_notes", "Work notes", "journal_input", { max_length: "4000" }),
  dict("task", "due_date", "Due date", "glide_date_time"),
  dict("task", "sys_id", "Sys ID", "GUID", { read_only: "true" }),
  dict("incident", "short_description", "Short description", "string", { mandatory: "true", max_length: "160" }),
  dict("incident", "category", "Category", "string"),
  dict("incident", "state", "Incident state", "integer"),
  dict("incident", "cmdb_ci", "Configuration item", "reference", { reference: "cmdb_ci", max_length: "32" }),
];

const choice = (name: string, element: string, value: string, label: string): Row => ({ name, element, value, label, inactive: "false", language: "en" });

const CHOICES: Row[] = [
  choice("task", "impact", "1", "1 - High"),
  choice("task", "impact", "2", "2 - Medium"),
  choice("task", "impact", "3", "3 - Low"),
  choice("task", "urgency", "1", "1 - High"),
  choice("task", "urgency", "2", "2 - Medium"),
  choice("task", "urgency", "3", "3 - Low"),
  choice("task", "state", "1", "Open"),
  choice("task", "state", "2", "Work in Progress"),
  choice("task", "state", "3", "Closed Complete"),
  choice("incident", "state", "1", "New"),
  choice("incident", "state", "2", "In Progress"),
  choice("incident", "state", "3", "On Hold"),
  choice("incident", "state", "6", "Resolved"),
  choice("incident", "state", "7", "Closed"),
  choice("incident", "state", "8", "Canceled"),
  choice("incident", "category", "inquiry", "Inquiry / Help"),
  choice("incident", "category", "software", "Software"),
  choice("incident", "category", "network", "Network"),
  choice("incident", "category", "security", "Security"),
];

/** Encoded queries: conditions joined by ^ (and) and ^OR (or), with =, !=, IN, LIKE, ISNOTEMPTY, ORDERBY. */
function query(rows: Row[], encoded: string): Row[] {
  if (!encoded) return rows;
  const parts = encoded.split("^").filter((p) => !/^ORDERBY/.test(p));
  const groups: string[][] = [];
  for (const part of parts) {
    if (part.startsWith("OR") && groups.length) groups.at(-1)!.push(part.slice(2));
    else groups.push([part]);
  }
  const test = (row: Row, cond: string): boolean => {
    let m = /^([\w.]+)ISNOTEMPTY$/.exec(cond);
    if (m) return Boolean(row[m[1]!]);
    m = /^([\w.]+)LIKE(.*)$/.exec(cond);
    if (m) return (row[m[1]!] ?? "").toLowerCase().includes(m[2]!.toLowerCase());
    m = /^([\w.]+)IN(.*)$/.exec(cond);
    if (m) return m[2]!.split(",").includes(row[m[1]!] ?? "");
    m = /^([\w.]+)!=(.*)$/.exec(cond);
    if (m) return (row[m[1]!] ?? "") !== m[2];
    m = /^([\w.]+)=(.*)$/.exec(cond);
    if (m) return (row[m[1]!] ?? "") === m[2];
    return false;
  };
  return rows.filter((row) => groups.every((alternatives) => alternatives.some((cond) => test(row, cond))));
}
