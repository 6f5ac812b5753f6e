// Jira Data Center / Server simulator, REST v2, written from Atlassian's Data Center docs:
//   auth      Authorization: Bearer <personal access token> (Jira 8.14+); 401 otherwise
//   /rest/api/2/serverInfo (deploymentType "Server" or "DataCenter", versionNumbers)
//   /myself {name, key, displayName}; /project → a plain array; /resolution → array
//   create metadata: /issue/createmeta/{p}/issuetypes[/{id}] → {values, startAt, total, isLast}
//     from 8.4; the older /issue/createmeta?projectKeys=&expand=projects.issuetypes.fields
//     until 9.0, which removed it (404)
//   issues: POST /issue, POST /issue/bulk (≤ 50, per-issue errors), GET/PUT /issue/{key}, descriptions and comments as wiki markup
//   strings, people as {name}; transitions; POST /search {jql, startAt, maxResults} →
//   {issues, startAt, maxResults, total}; 429 with Retry-After when rate limited.
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";
import {
  bulkCreate,
  RESOLUTIONS,
  STATUSES,
  type SimField,
  type SimIssue,
  type TransitionScreen,
  jqlKeys,
  resolveIssue,
  screenErrors,
  screenFields,
  standardFields,
  validate,
} from "./jira.js";

export class JiraDataCenterSim {
  readonly faults = new FaultKnobs();
  /**
   * Transition screens by the status they lead to. As the classic "Jira Workflow" does, the way
   * to Done and to Won't Do goes through the Resolve Issue screen, which requires a Resolution.
   */
  readonly transitionScreens = new Map<string, TransitionScreen>([
    ["10002", { resolution: "required" }],
    ["10003", { resolution: "required" }],
  ]);
  /** Personal access tokens → the user they belong to. */
  readonly tokens = new Map<string, { name: string; revoked?: boolean }>();
  /** Users who sign in with a password (Basic), as Jira before 8.14 requires. */
  readonly passwords = new Map<string, string>();
  readonly projects: { id: string; key: string; name: string }[] = [];
  readonly issueTypes = new Map<string, { id: string; name: string; subtask: boolean; fields: SimField[] }[]>();
  readonly issues: SimIssue[] = [];
  /** Keys issues had before a move: Jira still resolves them. */
  readonly movedKeys = new Map<string, string>();
  /** Users without a permission in every project (403 on writes). */
  readonly readOnly = new Set<string>();
  #nextId = 20000;

  /** A person deletes an issue. */
  deleteIssue(key: string): void {
    this.issues.splice(
      this.issues.findIndex((i) => i.key === key),
      1,
    );
  }

  /** A person moves an issue to another project: a new key there, the old one still resolves. */
  moveIssue(key: string, toProject: string): SimIssue {
    const issue = this.issues.find((i) => i.key === key)!;
    this.movedKeys.set(key, issue.id);
    issue.key = `${toProject}-${this.issues.filter((i) => i.projectKey === toProject).length + 1}`;
    issue.projectKey = toProject;
    return issue;
  }

  /** "9.12.2" by default; "8.3.0" has only the older create metadata; "8.5.0" both. */
  constructor(
    readonly version = "9.12.2",
    readonly contextPath = "/jira",
  ) {}

  get versionNumbers(): number[] {
    return this.version.split(".").map(Number);
  }

  private atLeast(major: number, minor: number): boolean {
    const [a = 0, b = 0] = this.versionNumbers;
    return a > major || (a === major && b >= minor);
  }

  addProject(key: string, name: string): void {
    const id = String(10000 + this.projects.length);
    this.projects.push({ id, key, name });
    this.issueTypes.set(key, [
      { id: "1", name: "Bug", subtask: false, fields: standardFields() },
      { id: "3", name: "Task", subtask: false, fields: standardFields().filter((f) => f.fieldId !== "duedate") },
      { id: "5", name: "Sub-task", subtask: true, fields: standardFields() },
    ]);
  }

  app(): Hono {
    const root = new Hono();
    root.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ errorMessages: [`Simulated error ${status}`], errors: {} })),
    );
    root.route(`${this.contextPath}/rest/api/2`, this.api());
    return root;
  }

  private api(): Hono {
    const api = new Hono();
    const base = () => `https://jira.example.com${this.contextPath}`;
    api.get("/serverInfo", (c) =>
      c.json({
        baseUrl: base(),
        version: this.version,
        versionNumbers: this.versionNumbers,
        deploymentType: "DataCenter",
        buildNumber: 912002,
        serverTitle: "Acme Jira",
      }),
    );
    api.use("*", async (c, next) => {
      if (c.req.path.endsWith("/serverInfo")) return next();
      const header = c.req.header("authorization") ?? "";
      const token = /^Bearer (.+)$/.exec(header)?.[1];
      const basic = /^Basic (.+)$/.exec(header)?.[1];
      const [name, password] = basic ? Buffer.from(basic, "base64").toString().split(/:(.*)/s) : [];
      // Tokens exist from 8.14; a password works on every version.
      const user = token && this.atLeast(8, 14) ? this.tokens.get(token) : name && this.passwords.get(name) === password ? { name } : undefined;
      if (!user || user.revoked)
        return c.json({ errorMessages: ["You are not authenticated. Authentication required to perform this operation."], errors: {} }, 401);
      // Writes without the XSRF opt-out are refused, as Jira does for browser-less clients.
      if (c.req.method !== "GET" && c.req.header("x-atlassian-token") !== "no-check" && !c.req.header("content-type")?.includes("application/json"))
        return c.text("XSRF check failed", 403);
      c.set("user" as never, user.name as never);
      await next();
    });
    const user = (c: Context) => c.get("user" as never) as string;
    const denyWrite = (c: Context) =>
      this.readOnly.has(user(c)) ? c.json({ errorMessages: ["You do not have permission to create issues in this project."], errors: {} }, 403) : undefined;
    const notFound = (c: Context, message: string) => c.json({ errorMessages: [message], errors: {} }, 404);
    const project = (idOrKey: string) => this.projects.find((p) => p.key === idOrKey || p.id === idOrKey);

    api.get("/myself", (c) =>
      c.json({
        self: `${base()}/rest/api/2/user?username=${user(c)}`,
        key: `JIRAUSER${user(c).length}`,
        name: user(c),
        displayName: "Patchbay Service",
        active: true,
      }),
    );
    api.get("/project", (c) =>
      c.json(this.projects.map((p) => ({ self: `${base()}/rest/api/2/project/${p.id}`, id: p.id, key: p.key, name: p.name, projectTypeKey: "software" }))),
    );
    api.get("/resolution", (c) => c.json(RESOLUTIONS.map((r) => ({ ...r, self: `${base()}/rest/api/2/resolution/${r.id}`, description: "" }))));
    const paged = <T>(c: Context, all: T[]) => {
      const startAt = Number(c.req.query("startAt") ?? 0);
      const maxResults = Math.min(50, Number(c.req.query("maxResults") ?? 50));
      const values = all.slice(startAt, startAt + maxResults);
      return { maxResults, startAt, total: all.length, isLast: startAt + values.length >= all.length, values };
    };
    api.get("/issue/createmeta/:project/issuetypes", (c) => {
      if (!this.atLeast(8, 4)) return notFound(c, "null for uri: /rest/api/2/issue/createmeta/" + c.req.param("project") + "/issuetypes");
      const p = project(c.req.param("project"));
      if (!p) return notFound(c, "No project could be found with key '" + c.req.param("project") + "'.");
      return c.json(
        paged(
          c,
          (this.issueTypes.get(p.key) ?? []).map((t) => ({ self: `${base()}/rest/api/2/issuetype/${t.id}`, id: t.id, name: t.name, subtask: t.subtask })),
        ),
      );
    });
    const metaFields = (t: { fields: SimField[] }) => [
      { fieldId: "project", name: "Project", required: true, schema: { type: "project", system: "project" } } as SimField,
      { fieldId: "issuetype", name: "Issue Type", required: true, schema: { type: "issuetype", system: "issuetype" } } as SimField,
      ...t.fields,
    ];
    api.get("/issue/createmeta/:project/issuetypes/:type", (c) => {
      if (!this.atLeast(8, 4))
        return notFound(c, "null for uri: /rest/api/2/issue/createmeta/" + c.req.param("project") + "/issuetypes/" + c.req.param("type"));
      const p = project(c.req.param("project"));
      const type = p ? this.issueTypes.get(p.key)?.find((t) => t.id === c.req.param("type")) : undefined;
      if (!p || !type) return notFound(c, "Issue Type with id '" + c.req.param("type") + "' does not exist.");
      return c.json(
        paged(
          c,
          metaFields(type).map((f) => ({ ...f, operations: ["set"], hasDefaultValue: f.hasDefaultValue ?? false })),
        ),
      );
    });
    // The older create metadata (removed in 9.0): projects → issue types → fields keyed by id.
    api.get("/issue/createmeta", (c) => {
      if (this.atLeast(9, 0)) return notFound(c, "null for uri: /rest/api/2/issue/createmeta");
      const keys = (c.req.query("projectKeys") ?? "").split(",").filter(Boolean);
      const typeIds = (c.req.query("issuetypeIds") ?? "").split(",").filter(Boolean);
      const expandFields = (c.req.query("expand") ?? "").includes("projects.issuetypes.fields");
      const projects = this.projects.filter((p) => !keys.length || keys.includes(p.key));
      return c.json({
        expand: "projects",
        projects: projects.map((p) => ({
          id: p.id,
          key: p.key,
          name: p.name,
          issuetypes: (this.issueTypes.get(p.key) ?? [])
            .filter((t) => !typeIds.length || typeIds.includes(t.id))
            .map((t) => ({
              id: t.id,
              name: t.name,
              subtask: t.subtask,
              ...(expandFields
                ? {
                    fields: Object.fromEntries(
                      metaFields(t).map(({ fieldId, ...f }) => [
                        fieldId,
                        { ...f, key: fieldId, operations: ["set"], hasDefaultValue: f.hasDefaultValue ?? false },
                      ]),
                    ),
                  }
                : {}),
            })),
        })),
      });
    });
    api.get("/project/:project/statuses", (c) => {
      const p = project(c.req.param("project"));
      if (!p) return notFound(c, "No project could be found with key '" + c.req.param("project") + "'.");
      return c.json(
        (this.issueTypes.get(p.key) ?? []).map((t) => ({
          id: t.id,
          name: t.name,
          subtask: t.subtask,
          statuses: STATUSES.map((s) => ({ ...s, self: `${base()}/rest/api/2/status/${s.id}` })),
        })),
      );
    });
    /** One issue from a create's fields, or Jira's refusal ({errorMessages, errors}) with nothing created. */
    const createIssue = (f: Record<string, unknown>): SimIssue | { errorMessages: string[]; errors: Record<string, string> } => {
      const p = this.projects.find((x) => x.id === (f.project as { id?: string })?.id || x.key === (f.project as { key?: string })?.key);
      if (!p) return { errorMessages: [], errors: { project: "project is required" } };
      const type = this.issueTypes.get(p.key)?.find((t) => t.id === (f.issuetype as { id?: string })?.id);
      if (!type) return { errorMessages: [], errors: { issuetype: "issue type is required" } };
      const errors = validate(type.fields, f, true, "dc");
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
        created: Date.now(),
      };
      this.issues.push(issue);
      return issue;
    };
    api.post("/issue", async (c) => {
      const denied = denyWrite(c);
      if (denied) return denied;
      const body = (await c.req.json().catch(() => undefined)) as { fields?: Record<string, unknown> } | undefined;
      if (!body?.fields)
        return c.json(
          { errorMessages: ["Can not deserialize instance of com.atlassian.jira.rest.v2.issue.IssueUpdateBean out of START_ARRAY token"], errors: {} },
          400,
        );
      const issue = createIssue(body.fields);
      if ("errors" in issue) return c.json(issue, 400);
      return c.json({ id: issue.id, key: issue.key, self: `${base()}/rest/api/2/issue/${issue.id}` }, 201);
    });
    // Bulk create, as on Cloud: each issue made or refused on its own (failedElementNumber).
    api.post("/issue/bulk", async (c) => {
      const denied = denyWrite(c);
      if (denied) return denied;
      const answer = await bulkCreate(await c.req.json().catch(() => undefined), createIssue, (issue) => `${base()}/rest/api/2/issue/${issue.id}`);
      return c.json(answer.body, answer.status);
    });
    const issue = (c: Context) => resolveIssue(this.issues, this.movedKeys, c.req.param("key") ?? "");
    api.get("/issue/:key", (c) => {
      const i = issue(c);
      if (!i) return notFound(c, "Issue Does Not Exist");
      const status = STATUSES.find((s) => s.id === i.statusId)!;
      return c.json({
        id: i.id,
        key: i.key,
        self: `${base()}/rest/api/2/issue/${i.id}`,
        fields: {
          ...i.fields,
          project: { id: this.projects.find((p) => p.key === i.projectKey)!.id, key: i.projectKey },
          status: { id: status.id, name: status.name },
        },
      });
    });
    api.put("/issue/:key", async (c) => {
      const denied = denyWrite(c);
      if (denied) return denied;
      const i = issue(c);
      if (!i) return notFound(c, "Issue Does Not Exist");
      const body = (await c.req.json().catch(() => undefined)) as
        { fields?: Record<string, unknown>; update?: Record<string, { add?: unknown }[]> } | undefined;
      if (!body) return c.json({ errorMessages: ["Can not deserialize the body."], errors: {} }, 400);
      const type = this.issueTypes.get(i.projectKey)!.find((t) => t.id === i.issueTypeId)!;
      const errors = validate(type.fields, body.fields ?? {}, false, "dc");
      if (Object.keys(errors).length) return c.json({ errorMessages: [], errors }, 400);
      Object.assign(i.fields, body.fields ?? {});
      for (const [name, ops] of Object.entries(body.update ?? {})) {
        const current = Array.isArray(i.fields[name]) ? [...(i.fields[name] as unknown[])] : [];
        for (const op of ops) if (op.add !== undefined && !current.includes(op.add)) current.push(op.add);
        i.fields[name] = current;
      }
      return c.body(null, 204);
    });
    api.post("/issue/:key/comment", async (c) => {
      const i = issue(c);
      if (!i) return notFound(c, "Issue Does Not Exist");
      const body = (await c.req.json().catch(() => undefined)) as { body?: unknown } | undefined;
      if (typeof body?.body !== "string" || !body.body.trim()) return c.json({ errorMessages: [], errors: { comment: "Comment body can not be empty!" } }, 400);
      i.comments.push(body.body);
      return c.json({ id: String(i.comments.length), body: body.body, created: new Date().toISOString() }, 201);
    });
    api.get("/issue/:key/editmeta", (c) => {
      const i = issue(c);
      if (!i) return notFound(c, "Issue Does Not Exist");
      const type = this.issueTypes.get(i.projectKey)!.find((t) => t.id === i.issueTypeId)!;
      return c.json({
        fields: Object.fromEntries(
          type.fields
            .filter((f) => !["project", "issuetype", "reporter"].includes(f.fieldId))
            .map((f) => [
              f.fieldId,
              { required: f.required, schema: f.schema, name: f.name, operations: f.schema.type === "array" ? ["add", "set", "remove"] : ["set"] },
            ]),
        ),
      });
    });
    api.get("/issue/:key/transitions", (c) => {
      const i = issue(c);
      if (!i) return notFound(c, "Issue Does Not Exist");
      const fields = /transitions\.fields/.test(c.req.query("expand") ?? "");
      return c.json({
        expand: "transitions",
        transitions: STATUSES.filter((s) => s.id !== i.statusId).map((s) => ({
          id: String(11 + Number(s.id.slice(-1)) * 10),
          name: `Move to ${s.name}`,
          to: { id: s.id, name: s.name },
          hasScreen: this.transitionScreens.has(s.id),
          ...(fields ? { fields: screenFields(this.transitionScreens.get(s.id), `${base()}/rest/api/2`) } : {}),
        })),
      });
    });
    api.post("/issue/:key/transitions", async (c) => {
      const i = issue(c);
      if (!i) return notFound(c, "Issue Does Not Exist");
      const body = (await c.req.json().catch(() => undefined)) as { transition?: { id?: string }; fields?: Record<string, unknown> } | undefined;
      const target = STATUSES.find((s) => String(11 + Number(s.id.slice(-1)) * 10) === body?.transition?.id);
      if (!target || target.id === i.statusId)
        return c.json(
          {
            errorMessages: [
              `It seems that you have tried to perform a workflow operation (${body?.transition?.id}) that is not valid for the current state of this issue.`,
            ],
            errors: {},
          },
          400,
        );
      const errors = screenErrors(screenFields(this.transitionScreens.get(target.id), `${base()}/rest/api/2`), body?.fields ?? {});
      if (Object.keys(errors).length) return c.json({ errorMessages: [], errors }, 400);
      const chosen = body?.fields?.resolution as { id?: string; name?: string } | undefined;
      const resolution = chosen ? RESOLUTIONS.find((r) => r.id === chosen.id || r.name === chosen.name) : undefined;
      i.statusId = target.id;
      if (resolution) i.fields.resolution = { id: resolution.id, name: resolution.name };
      return c.body(null, 204);
    });
    api.post("/search", async (c) => {
      const body = (await c.req.json().catch(() => undefined)) as { jql?: string; startAt?: number; maxResults?: number; fields?: string[] } | undefined;
      const jql = body?.jql ?? "";
      const clauses = [...jql.matchAll(/(\w+)\s*(=|~)\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!.toLowerCase() + (m[2] === "~" ? "~" : ""), m[3]!] as const);
      const keys = /^key in \((.*)\)$/i.exec(jql.trim())?.[1];
      if (!clauses.length && keys === undefined) return c.json({ errorMessages: [`Error in the JQL Query: '${jql}'`], errors: {} }, 400);
      const named = keys === undefined ? undefined : jqlKeys(this.issues, this.movedKeys, keys);
      if (named && "missing" in named)
        return c.json({ errorMessages: [`An issue with key '${named.missing}' does not exist for field 'key'.`], errors: {} }, 400);
      const wanted = named ? new Set(named.ids) : undefined;
      const matches = this.issues.filter((i) =>
        wanted
          ? wanted.has(i.id)
          : clauses.every(([f, v]) =>
              f === "project"
                ? i.projectKey === v
                : f === "labels"
                  ? ((i.fields.labels as string[]) ?? []).includes(v)
                  : f === "summary~"
                    ? String(i.fields.summary ?? "")
                        .toLowerCase()
                        .includes(v.toLowerCase())
                    : false,
            ),
      );
      const startAt = body?.startAt ?? 0;
      const max = Math.min(1000, body?.maxResults ?? 50);
      const fieldsOf = (i: SimIssue) => {
        const status = STATUSES.find((s) => s.id === i.statusId)!;
        return Object.fromEntries((body?.fields ?? ["summary"]).map((f) => [f, f === "status" ? { id: status.id, name: status.name } : i.fields[f]]));
      };
      return c.json({
        expand: "schema,names",
        startAt,
        maxResults: max,
        total: matches.length,
        issues: matches.slice(startAt, startAt + max).map((i) => ({ id: i.id, key: i.key, self: `${base()}/rest/api/2/issue/${i.id}`, fields: fieldsOf(i) })),
      });
    });
    return api;
  }
}
