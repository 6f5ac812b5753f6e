// Azure DevOps Services simulator (https://dev.azure.com/<org>), REST api-version 7.1, from
// Microsoft's documentation: Basic auth with a PAT (a bad one gets the 203 sign-in page),
// projects with x-ms-continuationtoken paging, work item types, their fields ($expand=
// allowedValues) and states, field definitions, classification nodes (areas, iterations),
// work items created and patched with application/json-patch+json (rules enforced: required
// fields, allowed values, tree paths, states), WIQL by tag, comments (7.1-preview.4), and
// Azure DevOps' error body {$id, innerException, message, typeName, typeKey, errorCode}, and
// the work item batch (POST /_apis/wit/$batch: ≤ 200, each answered alone, bodies as strings).
import crypto from "node:crypto";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";

/** The identity every personal access token here belongs to (connectionData, revisedBy). */
export const ADO_SERVICE_IDENTITY = { id: "d6245f20-2af8-44f4-9451-8107cb2767db", displayName: "Patchbay Service", uniqueName: "patchbay@fabrikam.example" };

interface SimType {
  name: string;
  states: string[];
  fields: { referenceName: string; name: string; alwaysRequired: boolean; allowedValues?: AllowedValue[]; defaultValue?: string | number | null }[];
}

/** An identity as Azure DevOps lists it among an identity field's allowed values: an object, not a string. */
export interface AdoIdentity {
  displayName: string;
  uniqueName: string;
  id: string;
  descriptor: string;
}
type AllowedValue = string | number | AdoIdentity;

/** An identity field accepts its unique name, or "Display Name <unique name>", as Azure DevOps does. */
function identityMatches(a: AllowedValue, value: unknown): boolean {
  if (typeof a !== "object") return a === value;
  return value === a.uniqueName || value === `${a.displayName} <${a.uniqueName}>`;
}

export interface AdoSimWorkItem {
  id: number;
  project: string;
  type: string;
  fields: Record<string, unknown>;
  comments: string[];
  rev: number;
}

const DEFINITIONS: Record<string, string> = {
  "System.Id": "integer",
  "System.Title": "string",
  "System.Description": "html",
  "System.State": "string",
  "System.Reason": "string",
  "System.AreaPath": "treePath",
  "System.IterationPath": "treePath",
  "System.Tags": "plainText",
  "System.AssignedTo": "identity",
  "System.CreatedDate": "dateTime",
  "System.History": "history",
  "Microsoft.VSTS.Common.Severity": "string",
  "Microsoft.VSTS.Common.Priority": "integer",
  "Microsoft.VSTS.Common.StateChangeDate": "dateTime",
  "Microsoft.VSTS.TCM.ReproSteps": "html",
  "Microsoft.VSTS.Scheduling.DueDate": "dateTime",
  "Custom.Team": "string",
};

export class AzureDevOpsSim {
  readonly faults = new FaultKnobs();
  readonly tokens = new Set<string>();
  /**
   * As Azure DevOps does, "add" on System.Tags adds the tags sent to the work item's own (only
   * "replace" sets the list); false makes "add" replace, as on any other field.
   */
  tagsAddAppends = true;
  organization = "fabrikam";
  readonly projects: { id: string; name: string; areas: string[]; iterations: string[] }[] = [];
  readonly types: SimType[] = [
    {
      name: "Bug",
      states: ["New", "Active", "Resolved", "Closed", "Removed"],
      fields: [
        { referenceName: "System.Id", name: "ID", alwaysRequired: false },
        { referenceName: "System.Title", name: "Title", alwaysRequired: true },
        { referenceName: "System.State", name: "State", alwaysRequired: true, defaultValue: "New" },
        { referenceName: "System.Reason", name: "Reason", alwaysRequired: false },
        { referenceName: "System.AreaPath", name: "Area Path", alwaysRequired: true, defaultValue: null },
        { referenceName: "System.IterationPath", name: "Iteration Path", alwaysRequired: true, defaultValue: null },
        { referenceName: "System.Tags", name: "Tags", alwaysRequired: false },
        // A process that limits who may be assigned: Azure DevOps lists those people as identity objects.
        {
          referenceName: "System.AssignedTo",
          name: "Assigned To",
          alwaysRequired: false,
          allowedValues: [
            {
              displayName: "Jamal Hartnett",
              uniqueName: "jamal@fabrikam.example",
              id: "6f7c4d1e-0a1b-4c2d-9e3f-111111111111",
              descriptor: "aad.MmY3YzRkMWUtMGExYi00YzJkLTllM2YtMTExMTExMTExMTEx",
            },
            {
              displayName: "Chuck Reinhart",
              uniqueName: "chuck@fabrikam.example",
              id: "6f7c4d1e-0a1b-4c2d-9e3f-222222222222",
              descriptor: "aad.MmY3YzRkMWUtMGExYi00YzJkLTllM2YtMjIyMjIyMjIyMjIy",
            },
          ],
        },
        { referenceName: "System.CreatedDate", name: "Created Date", alwaysRequired: false },
        { referenceName: "System.History", name: "History", alwaysRequired: false },
        { referenceName: "Microsoft.VSTS.TCM.ReproSteps", name: "Repro Steps", alwaysRequired: false },
        {
          referenceName: "Microsoft.VSTS.Common.Severity",
          name: "Severity",
          alwaysRequired: false,
          allowedValues: ["1 - Critical", "2 - High", "3 - Medium", "4 - Low"],
          defaultValue: "3 - Medium",
        },
        { referenceName: "Microsoft.VSTS.Common.Priority", name: "Priority", alwaysRequired: false, allowedValues: [1, 2, 3, 4], defaultValue: 2 },
        { referenceName: "Microsoft.VSTS.Common.StateChangeDate", name: "State Change Date", alwaysRequired: false },
        { referenceName: "Custom.Team", name: "Team", alwaysRequired: true, allowedValues: ["Payments", "Platform"] },
      ],
    },
    {
      name: "Task",
      states: ["To Do", "Doing", "Done"],
      fields: [
        { referenceName: "System.Title", name: "Title", alwaysRequired: true },
        { referenceName: "System.Description", name: "Description", alwaysRequired: false },
        { referenceName: "System.State", name: "State", alwaysRequired: true, defaultValue: "To Do" },
        { referenceName: "System.AreaPath", name: "Area Path", alwaysRequired: true, defaultValue: null },
        { referenceName: "System.IterationPath", name: "Iteration Path", alwaysRequired: true, defaultValue: null },
        { referenceName: "System.Tags", name: "Tags", alwaysRequired: false },
        { referenceName: "Microsoft.VSTS.Scheduling.DueDate", name: "Due Date", alwaysRequired: false },
      ],
    },
  ];
  readonly workItems: AdoSimWorkItem[] = [];
  /** The size of each $batch request served. */
  readonly batches: number[] = [];
  /** A process rule refusing some creates: its message (TF401320), or undefined to create. */
  refuse: ((fields: Record<string, unknown>) => string | undefined) | undefined;
  /** Called after a work item is created, before the answer goes (a test can drop the connection here). */
  onCreate: ((item: AdoSimWorkItem) => void) | undefined;
  #nextId = 101;

  /**
   * A person changes a work item's state or adds a discussion comment: the "workitem.updated"
   * service hook event as Azure DevOps posts it (resource: the revision's changed fields).
   */
  serviceHookEvent(
    item: AdoSimWorkItem,
    change: { state?: string; comment?: string; by: { id: string; displayName: string; uniqueName: string } },
  ): Record<string, unknown> {
    const fields: Record<string, { oldValue?: unknown; newValue: unknown }> = {};
    const revisedDate = new Date().toISOString();
    item.rev++;
    if (change.state !== undefined) {
      fields["System.State"] = { oldValue: item.fields["System.State"], newValue: change.state };
      item.fields["System.State"] = change.state;
    }
    if (change.comment !== undefined) {
      fields["System.History"] = { newValue: `<div>${change.comment}</div>` };
      item.comments.push(change.comment);
    }
    fields["System.Rev"] = { oldValue: item.rev - 1, newValue: item.rev };
    return {
      subscriptionId: "00ca946b-2fe9-4f2a-ae2f-40d5c48001bc",
      notificationId: item.rev,
      id: crypto.randomUUID(),
      eventType: "workitem.updated",
      publisherId: "tfs",
      message: { text: `${item.type} #${item.id} updated by ${change.by.displayName}` },
      resource: {
        id: item.rev,
        workItemId: item.id,
        rev: item.rev,
        revisedBy: { ...change.by, descriptor: `aad.${change.by.id}` },
        revisedDate,
        fields,
        revision: { id: item.id, rev: item.rev, fields: { "System.State": item.fields["System.State"], "System.Title": item.fields["System.Title"] } },
        url: `https://dev.azure.com/fabrikam/_apis/wit/workItems/${item.id}/updates/${item.rev}`,
      },
      resourceVersion: "1.0",
      resourceContainers: { project: { id: this.projects.find((p) => p.name === item.project)?.id } },
      createdDate: revisedDate,
    };
  }

  /** Posts a service hook event with the subscription's HTTP headers. */
  deliver(url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(url, { method: "POST", headers: { "content-type": "application/json; charset=utf-8", ...headers }, body: JSON.stringify(payload) });
  }

  addProject(name: string): void {
    this.projects.push({
      id: `6ce954b1-ce1f-45d1-b94d-e6bf2464ba2${this.projects.length}`,
      name,
      areas: [name, `${name}\\Payments`, `${name}\\Platform`],
      iterations: [name, `${name}\\Sprint 1`, `${name}\\Sprint 2`],
    });
  }

  app(): Hono {
    const root = new Hono();
    const org = new Hono();
    org.use(
      "*",
      this.faults.middleware((status) => errorBody(`VS${status}: Simulated error.`, "SimulatedException")),
    );
    org.use("*", async (c, next) => {
      const auth = /^Basic (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const token = auth ? Buffer.from(auth, "base64").toString().split(":").slice(1).join(":") : "";
      // Without valid credentials Azure DevOps serves its sign-in page with 203.
      if (!this.tokens.has(token)) return c.html("<html><head><title>Azure DevOps Services | Sign In</title></head><body></body></html>", 203);
      if (!c.req.query("api-version"))
        return c.json(JSON.parse(errorBody("No api-version was supplied for the request.", "VssVersionNotSpecifiedException")), 400);
      await next();
    });
    const project = (c: Context) =>
      this.projects.find((p) => p.name.toLowerCase() === decodeURIComponent(c.req.param("project") ?? "").toLowerCase() || p.id === c.req.param("project"));
    const type = (c: Context) =>
      this.types.find(
        (t) =>
          t.name.toLowerCase() ===
          decodeURIComponent(c.req.param("type") ?? "")
            .replace(/^\$/, "")
            .toLowerCase(),
      );
    const notFound = (c: Context, message: string, key: string) => c.json(JSON.parse(errorBody(message, key)), 404);

    org.get("/_apis/connectionData", (c) =>
      c.json({
        authenticatedUser: { id: ADO_SERVICE_IDENTITY.id, descriptor: `aad.${ADO_SERVICE_IDENTITY.id}`, providerDisplayName: ADO_SERVICE_IDENTITY.displayName },
        instanceId: "3b4c5d6e-0000-4000-8000-000000000001",
      }),
    );
    org.get("/_apis/projects", (c) => {
      const top = Number(c.req.query("$top") ?? 100);
      const skip = Number(c.req.query("continuationToken") ?? 0);
      const page = this.projects.slice(skip, skip + top);
      if (skip + top < this.projects.length) c.header("x-ms-continuationtoken", String(skip + top));
      return c.json({ count: page.length, value: page.map((p) => ({ id: p.id, name: p.name, state: "wellFormed", visibility: "private" })) });
    });
    org.get("/:project/_apis/wit/workitemtypes", (c) => {
      if (!project(c)) return notFound(c, `TF200016: The following project does not exist: ${c.req.param("project")}.`, "ProjectDoesNotExistWithNameException");
      return c.json({
        count: this.types.length,
        value: this.types.map((t) => ({
          name: t.name,
          referenceName: `Microsoft.VSTS.WorkItemTypes.${t.name}`,
          isDisabled: false,
          states: t.states.map((s) => ({ name: s })),
        })),
      });
    });
    org.get("/:project/_apis/wit/workitemtypes/:type/fields", (c) => {
      const t = type(c);
      if (!project(c) || !t) return notFound(c, `TF51535: Cannot find field or work item type.`, "WorkItemTypeNotFoundException");
      const expand = c.req.query("$expand") === "allowedValues" || c.req.query("$expand") === "All";
      return c.json({
        count: t.fields.length,
        value: t.fields.map((f) => ({
          referenceName: f.referenceName,
          name: f.name,
          alwaysRequired: f.alwaysRequired,
          ...(expand ? { allowedValues: f.allowedValues ?? [], defaultValue: f.defaultValue ?? null } : {}),
          url: `https://dev.azure.com/${this.organization}/_apis/wit/fields/${f.referenceName}`,
        })),
      });
    });
    org.get("/:project/_apis/wit/workitemtypes/:type/states", (c) => {
      const t = type(c);
      if (!project(c) || !t) return notFound(c, `TF51535: Cannot find work item type.`, "WorkItemTypeNotFoundException");
      return c.json({
        count: t.states.length,
        value: t.states.map((s) => ({
          name: s,
          color: "b2b2b2",
          category: s === "Closed" || s === "Done" ? "Completed" : s === "Removed" ? "Removed" : s === "New" || s === "To Do" ? "Proposed" : "InProgress",
        })),
      });
    });
    org.get("/:project/_apis/wit/fields", (c) =>
      c.json({
        count: Object.keys(DEFINITIONS).length,
        value: Object.entries(DEFINITIONS).map(([referenceName, type]) => ({
          referenceName,
          name: referenceName.split(".").at(-1),
          type,
          readOnly: ["System.Id", "System.CreatedDate", "System.Reason"].includes(referenceName),
        })),
      }),
    );
    org.get("/:project/_apis/wit/classificationnodes", (c) => {
      const p = project(c);
      if (!p) return notFound(c, `TF200016: The following project does not exist.`, "ProjectDoesNotExistWithNameException");
      const tree = (list: string[], structureType: string) => ({
        name: p.name,
        structureType,
        hasChildren: list.length > 1,
        children: list.slice(1).map((path) => ({ name: path.split("\\").at(-1), structureType, hasChildren: false })),
      });
      return c.json({ count: 2, value: [tree(p.areas, "area"), tree(p.iterations, "iteration")] });
    });
    org.post("/:project/_apis/wit/workitems/:type", async (c) => {
      const p = project(c);
      const t = type(c);
      if (!p) return notFound(c, `TF200016: The following project does not exist: ${c.req.param("project")}.`, "ProjectDoesNotExistWithNameException");
      if (!t) return notFound(c, `TF401326: Invalid work item type.`, "WorkItemTypeNotFoundException");
      if (!(c.req.header("content-type") ?? "").includes("application/json-patch+json"))
        return c.json(
          JSON.parse(
            errorBody(
              'The request indicated a Content-Type of "application/json" for method type "POST" which is not supported. Valid content types for this method are: application/json-patch+json.',
              "VssRequestContentTypeNotSupportedException",
            ),
          ),
          415,
        );
      const ops = (await c.req.json().catch(() => null)) as { op: string; path: string; value: unknown }[] | null;
      if (!Array.isArray(ops))
        return c.json(JSON.parse(errorBody("You must pass a valid patch document in the body of the request.", "VssPropertyValidationException")), 400);
      const fields: Record<string, unknown> = { "System.State": t.states[0], "System.AreaPath": p.name, "System.IterationPath": p.name };
      for (const f of t.fields) if (f.defaultValue !== undefined && f.defaultValue !== null) fields[f.referenceName] = f.defaultValue;
      const problem = this.apply(p, t, fields, ops) ?? this.refuse?.(fields);
      if (problem) return c.json(JSON.parse(errorBody(problem, "RuleValidationException")), 400);
      const item: AdoSimWorkItem = {
        id: this.#nextId++,
        project: p.name,
        type: t.name,
        fields: { ...fields, "System.WorkItemType": t.name, "System.TeamProject": p.name },
        comments: [],
        rev: 1,
      };
      this.workItems.push(item);
      this.onCreate?.(item);
      return c.json(this.view(item));
    });
    // Work item batch: up to 200 create or update requests (PATCH with a JSON Patch body), each run
    // as if sent alone, one failing without stopping the rest. The answer lists each one's code,
    // headers and body — the body as a string of JSON, as Azure DevOps sends it.
    org.post("/_apis/wit/$batch", async (c) => {
      const requests = (await c.req.json().catch(() => null)) as { method?: string; uri?: string; headers?: Record<string, string>; body?: unknown }[] | null;
      if (!Array.isArray(requests) || requests.length === 0)
        return c.json(JSON.parse(errorBody("You must pass a valid list of requests in the body of the request.", "VssPropertyValidationException")), 400);
      if (requests.length > 200)
        return c.json(JSON.parse(errorBody("The number of requests in a batch cannot exceed 200.", "VssPropertyValidationException")), 400);
      this.batches.push(requests.length);
      const value: { code: number; headers: Record<string, string>; body: string }[] = [];
      for (const r of requests) {
        if (r.method !== "PATCH" || typeof r.uri !== "string" || !r.uri.startsWith("/")) {
          value.push({
            code: 400,
            headers: {},
            body: errorBody("Only PATCH requests to work items are supported in a batch.", "VssPropertyValidationException"),
          });
          continue;
        }
        const method = /\/_apis\/wit\/workitems\/\$/i.test(r.uri) ? "POST" : "PATCH";
        const answer = await root.request(`/${c.req.param("org")}${r.uri}`, {
          method,
          headers: { ...r.headers, authorization: c.req.header("authorization") ?? "" },
          body: JSON.stringify(r.body),
        });
        value.push({ code: answer.status, headers: { "Content-Type": "application/json; charset=utf-8" }, body: await answer.text() });
      }
      return c.json({ count: value.length, value });
    });
    const item = (c: Context) => this.workItems.find((w) => w.id === Number(c.req.param("id")));
    const getItem = (c: Context) => {
      const w = item(c);
      if (!w)
        return notFound(
          c,
          `TF401232: Work item ${c.req.param("id")} does not exist, or you do not have permissions to read it.`,
          "WorkItemUnauthorizedAccessException",
        );
      return c.json(this.view(w, c.req.query("fields")?.split(",")));
    };
    org.get("/:project/_apis/wit/workitems/:id", getItem);
    org.get("/_apis/wit/workitems/:id", getItem);
    const patchItem = async (c: Context) => {
      const w = item(c);
      if (!w)
        return notFound(
          c,
          `TF401232: Work item ${c.req.param("id")} does not exist, or you do not have permissions to read it.`,
          "WorkItemUnauthorizedAccessException",
        );
      const ops = (await c.req.json().catch(() => null)) as { op: string; path: string; value: unknown }[] | null;
      if (!Array.isArray(ops))
        return c.json(JSON.parse(errorBody("You must pass a valid patch document in the body of the request.", "VssPropertyValidationException")), 400);
      const p = this.projects.find((x) => x.name === w.project)!;
      const t = this.types.find((x) => x.name === w.type)!;
      const fields = { ...w.fields };
      const problem = this.apply(p, t, fields, ops);
      if (problem) return c.json(JSON.parse(errorBody(problem, "RuleValidationException")), 400);
      w.fields = fields;
      w.rev++;
      return c.json(this.view(w));
    };
    org.patch("/:project/_apis/wit/workitems/:id", patchItem);
    org.patch("/_apis/wit/workitems/:id", patchItem);
    org.post("/:project/_apis/wit/wiql", async (c) => {
      const p = project(c);
      if (!p) return notFound(c, `TF200016: The following project does not exist.`, "ProjectDoesNotExistWithNameException");
      const body = (await c.req.json().catch(() => ({}))) as { query?: string };
      const tag = /\[System\.Tags\]\s+CONTAINS\s+'([^']*)'/i.exec(body.query ?? "")?.[1];
      if (!body.query || !/^\s*select/i.test(body.query))
        return c.json(JSON.parse(errorBody("TF51005: The query references a field that does not exist.", "WorkItemTrackingQueryException")), 400);
      const top = Number(c.req.query("$top") ?? 20000);
      const title = /\[System\.Title\]\s+CONTAINS\s+'([^']*)'/i.exec(body.query ?? "")?.[1];
      const hits = this.workItems
        .filter(
          (w) =>
            w.project === p.name &&
            (!tag ||
              String(w.fields["System.Tags"] ?? "")
                .split(";")
                .map((x) => x.trim())
                .includes(tag)) &&
            (!title ||
              String(w.fields["System.Title"] ?? "")
                .toLowerCase()
                .includes(title.toLowerCase())),
        )
        .slice(0, top);
      return c.json({
        queryType: "flat",
        asOf: new Date().toISOString(),
        columns: [{ referenceName: "System.Id", name: "ID" }],
        workItems: hits.map((w) => ({ id: w.id, url: `https://dev.azure.com/${this.organization}/_apis/wit/workItems/${w.id}` })),
      });
    });
    org.post("/:project/_apis/wit/workItems/:id/comments", async (c) => {
      if (c.req.query("api-version") !== "7.1-preview.4")
        return c.json(
          JSON.parse(errorBody("The requested REST API version of 7.1 is out of range for this server. Use 7.1-preview.", "VssVersionOutOfRangeException")),
          400,
        );
      const w = item(c);
      if (!w) return notFound(c, `TF401232: Work item ${c.req.param("id")} does not exist.`, "WorkItemUnauthorizedAccessException");
      const body = (await c.req.json().catch(() => ({}))) as { text?: string };
      if (!body.text) return c.json(JSON.parse(errorBody("The comment text is required.", "ArgumentNullException")), 400);
      w.comments.push(body.text);
      return c.json({ workItemId: w.id, id: w.comments.length, text: body.text }, 200);
    });
    root.route(`/:org`, org);
    return root;
  }

  /** Applies a JSON Patch document with Azure DevOps' rules; returns the rule that failed. */
  private apply(
    p: { areas: string[]; iterations: string[] },
    t: SimType,
    fields: Record<string, unknown>,
    ops: { op: string; path: string; value: unknown }[],
  ): string | undefined {
    for (const op of ops) {
      const ref = /^\/fields\/(.+)$/.exec(op.path)?.[1];
      if (!ref || !["add", "replace", "remove"].includes(op.op)) return `The path ${op.path} is not a valid field path.`;
      const def = t.fields.find((f) => f.referenceName === ref);
      if (!def) return `TF51535: Cannot find field ${ref}.`;
      if (op.op === "remove") delete fields[ref];
      else if (op.op === "add" && ref === "System.Tags" && this.tagsAddAppends) {
        const tags = (v: unknown) =>
          String(v ?? "")
            .split(";")
            .map((t) => t.trim())
            .filter(Boolean);
        const merged = [...tags(fields[ref])];
        for (const tag of tags(op.value)) if (!merged.some((m) => m.toLowerCase() === tag.toLowerCase())) merged.push(tag);
        fields[ref] = merged.join("; ");
      } else fields[ref] = op.value;
    }
    for (const def of t.fields) {
      const value = fields[def.referenceName];
      if (def.alwaysRequired && (value === undefined || value === null || value === ""))
        return `TF401320: Rule Error for field ${def.name}. Error code: Required, HasValues, LimitedToValues, AllowsOldValue, InvalidEmpty.`;
      if (value === undefined || value === null) continue;
      if (def.allowedValues && !def.allowedValues.some((a) => identityMatches(a, value)))
        return `TF401320: Rule Error for field ${def.name}. Error code: Required, HasValues, LimitedToValues, AllowsOldValue, InvalidNotInList.`;
      if (def.referenceName === "System.AreaPath" && !p.areas.includes(String(value)))
        return `TF401347: Invalid tree name given for work item -1, field 'System.AreaPath'.`;
      if (def.referenceName === "System.IterationPath" && !p.iterations.includes(String(value)))
        return `TF401347: Invalid tree name given for work item -1, field 'System.IterationPath'.`;
      if (def.referenceName === "System.State" && !t.states.includes(String(value)))
        return `TF401320: Rule Error for field State. Error code: Required, HasValues, LimitedToValues, AllowsOldValue, InvalidNotInList.`;
      if (def.referenceName === "System.Title" && String(value).length > 255) return "TF401320: Rule Error for field Title. Error code: MaxLength.";
    }
    return undefined;
  }

  private view(w: AdoSimWorkItem, only?: string[]) {
    const fields = only ? Object.fromEntries(only.filter((f) => f in w.fields).map((f) => [f, w.fields[f]])) : w.fields;
    return {
      id: w.id,
      rev: w.rev,
      fields,
      _links: { html: { href: `https://dev.azure.com/${this.organization}/${encodeURIComponent(w.project)}/_workitems/edit/${w.id}` } },
      url: `https://dev.azure.com/${this.organization}/_apis/wit/workItems/${w.id}`,
    };
  }
}

function errorBody(message: string, typeKey: string): string {
  return JSON.stringify({
    $id: "1",
    innerException: null,
    message,
    typeName: `Microsoft.TeamFoundation.WorkItemTracking.Server.${typeKey}, Microsoft.TeamFoundation.WorkItemTracking.Server`,
    typeKey,
    errorCode: 0,
    eventId: 3200,
  });
}
