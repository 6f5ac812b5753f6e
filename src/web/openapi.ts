// The API's description: OpenAPI 3.1, served at /api/v1/openapi.json. The API tests validate
// every answer they receive against it, so the description and the code cannot drift apart.
import { AUDIT_ACTIONS } from "../audit/store.js";
import { SEVERITIES, STATUSES } from "../findings/normalize.js";
import { SORTS } from "../findings/query.js";
import { FORMAT_LABELS } from "../uploads/formats.js";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, "null"], ...extra });
const time = { type: "string", format: "date-time" };
const nullableTime = { type: ["string", "null"], format: "date-time" };
const json = (schema: unknown, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ref("Error"), description);
const page = (item: string) => ({
  type: "object",
  required: ["items", "next_cursor"],
  additionalProperties: false,
  properties: {
    items: { type: "array", items: ref(item) },
    next_cursor: { type: ["string", "null"], description: "Pass as cursor for the next page; null on the last." },
  },
});
const cursorParams = [
  { name: "cursor", in: "query", schema: { type: "string" }, description: "The previous page's next_cursor." },
  { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 100 } },
];
const idParam = (what: string) => ({ name: "id", in: "path", required: true, schema: { type: "integer", minimum: 1 }, description: `The ${what}'s id.` });
const common = {
  "401": error("No token, or a token that is unknown, revoked or expired."),
  "403": error("The token lacks the scope (or its owner the role) this needs."),
};
/** GET of one object by id (read scope): it, or 404. */
const getOne = (operationId: string, what: string, schema: string) => ({
  get: {
    operationId,
    "x-scope": "read",
    parameters: [idParam(what)],
    responses: { "200": json(ref(schema), `The ${what}.`), "404": error(`No such ${what}.`), ...common },
  },
});
const findingFilters = [
  { name: "severity", in: "query", schema: { type: "array", items: { type: "string", enum: SEVERITIES } }, style: "form", explode: true },
  {
    name: "status",
    in: "query",
    schema: { type: "array", items: { type: "string", enum: [...STATUSES, "all"] } },
    style: "form",
    explode: true,
    description: "Default: open and in_remediation; all for every status.",
  },
  { name: "scanner", in: "query", schema: { type: "integer", minimum: 1 }, description: "Findings reported by this integration." },
  { name: "asset", in: "query", schema: { type: "integer", minimum: 1 } },
  { name: "q", in: "query", schema: { type: "string", maxLength: 100 }, description: "A CVE id or package name prefix." },
  { name: "due", in: "query", schema: { type: "string", enum: ["overdue", "soon"] } },
  { name: "sort", in: "query", schema: { type: "string", enum: Object.keys(SORTS), default: "severity" } },
  { name: "dir", in: "query", schema: { type: "string", enum: ["asc", "desc"] } },
];

const FINDING_REQUIRED = ["id", "cve", "title", "severity", "status", "package", "asset", "sources", "first_detected_at", "last_seen_at", "url"];
const FINDING_PROPERTIES = {
  id: { type: "integer" },
  cve: { type: "string" },
  title: { type: "string" },
  severity: ref("Severity"),
  cvss: nullable("number"),
  status: ref("Status"),
  status_reason: nullable("string"),
  status_expires_at: nullableTime,
  package: { type: "string" },
  ecosystem: nullable("string"),
  installed_version: { type: "string" },
  fixed_version: nullable("string"),
  asset: {
    type: "object",
    required: ["id", "name", "kind"],
    additionalProperties: false,
    properties: { id: { type: "integer" }, name: { type: "string" }, kind: { type: "string" } },
  },
  sources: { type: "array", items: { type: "string" }, description: "Names of the integrations that report it." },
  first_detected_at: time,
  last_seen_at: time,
  resolved_at: nullableTime,
  due_at: nullableTime,
  url: { type: "string", format: "uri" },
};

export function openApiDocument(baseUrl: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Patchbay API",
      version: "1",
      description:
        'Findings, tickets, integrations, jobs, uploads and the audit log. Authenticate with an API token from Settings → API tokens (Authorization: Bearer pbt_…). A token acts as the person who created it, within its scopes: read, write (what a member can change), upload (scan reports) and admin. Errors are {"error": "…"} with what to do.',
    },
    servers: [{ url: `${baseUrl}/api/v1` }],
    security: [{ token: [] }],
    paths: {
      "/findings": {
        get: {
          operationId: "listFindings",
          summary: "Findings, filtered like the Vulnerabilities page, a page at a time",
          "x-scope": "read",
          parameters: [...findingFilters, ...cursorParams],
          responses: { "200": json(page("Finding"), "A page of findings."), "400": error("A parameter is unknown or has a value it cannot take."), ...common },
        },
      },
      "/findings/export": {
        get: {
          operationId: "exportFindings",
          summary: "Every finding matching the filter, as one streamed CSV or JSON file",
          "x-scope": "read",
          parameters: [{ name: "format", in: "query", schema: { type: "string", enum: ["json", "csv"], default: "json" } }, ...findingFilters],
          responses: {
            "200": {
              description: "The findings.",
              content: { "application/json": { schema: { type: "array", items: ref("ExportRow") } }, "text/csv": { schema: { type: "string" } } },
            },
            "400": error("A parameter is unknown or has a value it cannot take."),
            ...common,
          },
        },
      },
      "/findings/{id}": {
        get: {
          operationId: "getFinding",
          summary: "One finding with its sources, tickets and history",
          "x-scope": "read",
          parameters: [idParam("finding")],
          responses: { "200": json(ref("FindingDetail"), "The finding."), "404": error("No such finding."), ...common },
        },
      },
      "/findings/{id}/status": {
        post: {
          operationId: "changeFindingStatus",
          summary: "Accept the risk (with a reason and an end date), mark a false positive (with a reason) or reopen",
          "x-scope": "write",
          parameters: [idParam("finding")],
          requestBody: { required: true, content: { "application/json": { schema: ref("StatusChange") } } },
          responses: {
            "200": json(ref("Finding"), "The finding as it is now."),
            "400": error("The body is not a JSON object."),
            "404": error("No such finding."),
            "413": error("The body is larger than 64 KB."),
            "415": error("The body is not sent as JSON."),
            "422": json(ref("FieldErrors"), "The change cannot be made as asked: each field says why."),
            ...common,
          },
        },
      },
      "/tickets": {
        get: {
          operationId: "listTickets",
          summary: "Tickets Patchbay created or linked, newest first",
          "x-scope": "read",
          parameters: cursorParams,
          responses: { "200": json(page("Ticket"), "A page of tickets."), "400": error("A bad cursor or limit."), ...common },
        },
      },
      "/integrations": {
        get: {
          operationId: "listIntegrations",
          summary: "Connected integrations with their status and last sync",
          "x-scope": "read",
          responses: {
            "200": json({ type: "object", required: ["items"], properties: { items: { type: "array", items: ref("Integration") } } }, "Every connection."),
            ...common,
          },
        },
      },
      "/integrations/{id}": getOne("getIntegration", "integration", "Integration"),
      "/integrations/{id}/sync": {
        post: {
          operationId: "syncIntegration",
          summary: "Start a sync now (unless one is queued or running: then that job is returned)",
          "x-scope": "admin",
          parameters: [idParam("integration")],
          responses: {
            "202": json(
              {
                type: "object",
                required: ["job", "status_url"],
                additionalProperties: false,
                properties: { job: { type: "integer" }, status_url: { type: "string", format: "uri" } },
              },
              "The sync job.",
            ),
            "404": error("No such integration."),
            "409": error("This kind of connection has nothing to sync."),
            ...common,
          },
        },
      },
      "/jobs": {
        get: {
          operationId: "listJobs",
          summary: "Background jobs, newest first",
          "x-scope": "read",
          parameters: [
            { name: "status", in: "query", schema: { type: "string", enum: ["queued", "running", "succeeded", "failed"] } },
            { name: "type", in: "query", schema: { type: "string" }, description: "A job type, like scanner.sync." },
            ...cursorParams,
          ],
          responses: { "200": json(page("Job"), "A page of jobs."), "400": error("A bad status, cursor or limit."), ...common },
        },
      },
      "/jobs/{id}": getOne("getJob", "job", "Job"),
      "/uploads": {
        get: {
          operationId: "listUploads",
          summary: "Scan reports received, newest first",
          "x-scope": "read",
          parameters: cursorParams,
          responses: { "200": json(page("Upload"), "A page of uploads."), "400": error("A bad cursor or limit."), ...common },
        },
      },
      "/scans": {
        post: {
          operationId: "uploadScan",
          summary: "Upload a scanner report (the raw body, or a multipart part named file); the format is recognised on its own",
          "x-scope": "upload",
          parameters: [
            { name: "format", in: "query", schema: { type: "string", enum: ["auto", ...Object.keys(FORMAT_LABELS)] } },
            {
              name: "asset",
              in: "query",
              schema: { type: "string", maxLength: 500 },
              description: "The asset the report is about, when the report does not say.",
            },
            {
              name: "full",
              in: "query",
              schema: { type: "boolean" },
              description: "The report is the asset's whole result: findings it leaves out are resolved.",
            },
          ],
          requestBody: {
            required: true,
            content: {
              "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } },
              "multipart/form-data": { schema: { type: "object", properties: { file: { type: "string", contentMediaType: "application/octet-stream" } } } },
            },
          },
          responses: {
            "201": json(ref("UploadResult"), "The report was imported."),
            "400": error("The request or its options cannot be read."),
            "409": error("Uploads are not connected."),
            "413": error("The report is too large."),
            "422": error("The report cannot be read fully."),
            "429": error("Too many reports are being read: send it again after Retry-After seconds."),
            ...common,
          },
        },
      },
      "/audit": {
        get: {
          operationId: "listAudit",
          summary: "The audit log, newest first",
          "x-scope": "admin",
          parameters: [
            { name: "actor", in: "query", schema: { type: "string" } },
            {
              name: "action",
              in: "query",
              schema: { type: "string" },
              description: `An action (${Object.keys(AUDIT_ACTIONS).join(", ")}) or its family (the part before the dot).`,
            },
            { name: "from", in: "query", schema: { type: "string", format: "date" } },
            { name: "to", in: "query", schema: { type: "string", format: "date" } },
            ...cursorParams,
          ],
          responses: { "200": json(page("AuditEntry"), "A page of entries."), "400": error("A bad filter, cursor or limit."), ...common },
        },
      },
    },
    components: {
      securitySchemes: { token: { type: "http", scheme: "bearer", description: "An API token: pbt_ and 32 characters." } },
      schemas: {
        Error: { type: "object", required: ["error"], properties: { error: { type: "string" }, requestId: { type: "string" } } },
        FieldErrors: {
          type: "object",
          required: ["error", "fields"],
          properties: { error: { type: "string" }, fields: { type: "object", additionalProperties: { type: "string" } } },
        },
        Severity: { type: "string", enum: SEVERITIES },
        Status: { type: "string", enum: STATUSES },
        Finding: { type: "object", additionalProperties: false, required: FINDING_REQUIRED, properties: FINDING_PROPERTIES },
        FindingDetail: {
          type: "object",
          additionalProperties: false,
          required: [...FINDING_REQUIRED, "description", "tickets", "history"],
          properties: {
            ...FINDING_PROPERTIES,
            description: nullable("string"),
            sources: {
              type: "array",
              items: {
                type: "object",
                additionalProperties: false,
                required: ["integration", "external_id", "status", "url", "first_seen_at", "updated_at"],
                properties: {
                  integration: ref("IntegrationRef"),
                  external_id: { type: "string" },
                  status: { type: "string", enum: ["open", "resolved"] },
                  url: nullable("string"),
                  first_seen_at: time,
                  updated_at: time,
                },
              },
            },
            tickets: {
              type: "array",
              items: {
                type: "object",
                additionalProperties: false,
                required: ["id", "key", "url", "tracker", "kind", "mapping", "linked_at"],
                properties: {
                  id: { type: "integer" },
                  key: { type: "string" },
                  url: { type: "string" },
                  tracker: { type: "string" },
                  kind: { type: "string" },
                  mapping: { type: "string" },
                  linked_at: time,
                },
              },
            },
            history: {
              type: "array",
              items: {
                type: "object",
                additionalProperties: false,
                required: ["at", "actor", "from", "to", "note"],
                properties: {
                  at: time,
                  actor: { type: "string" },
                  from: { oneOf: [ref("Status"), { type: "null" }] },
                  to: ref("Status"),
                  note: nullable("string"),
                },
              },
            },
          },
        },
        StatusChange: {
          type: "object",
          required: ["status"],
          properties: {
            status: { type: "string", enum: ["risk_accepted", "false_positive", "open"] },
            reason: { type: "string", maxLength: 1000, description: "Required for risk_accepted and false_positive." },
            expires: { type: "string", format: "date", description: "risk_accepted only: the last day of the acceptance (at most a year ahead)." },
          },
        },
        ExportRow: {
          type: "object",
          required: ["id", "cve", "title", "severity", "status", "asset", "url"],
          properties: {
            id: { type: "integer" },
            cve: { type: "string" },
            title: { type: "string" },
            severity: ref("Severity"),
            cvss: nullable("number"),
            status: ref("Status"),
            package: nullable("string"),
            ecosystem: nullable("string"),
            installed_version: nullable("string"),
            fixed_version: nullable("string"),
            asset: { type: "string" },
            asset_kind: { type: "string" },
            sources: { type: "string" },
            first_detected_at: time,
            last_seen_at: time,
            due_at: nullableTime,
            url: { type: "string", format: "uri" },
          },
        },
        IntegrationRef: {
          type: "object",
          required: ["id", "name", "kind"],
          additionalProperties: false,
          properties: { id: { type: "integer" }, name: { type: "string" }, kind: { type: "string" } },
        },
        Ticket: {
          type: "object",
          additionalProperties: false,
          required: ["id", "key", "url", "state", "origin", "subject", "tracker", "mapping", "findings"],
          properties: {
            id: { type: "integer" },
            key: nullable("string"),
            url: nullable("string"),
            state: nullable("string"),
            origin: { type: "string", enum: ["created", "linked"] },
            subject: { type: "string", description: "What the ticket is for: finding:<id>, package:…, cve:…, asset:<id>." },
            tracker: ref("IntegrationRef"),
            mapping: {
              type: "object",
              required: ["id", "name"],
              additionalProperties: false,
              properties: { id: { type: "integer" }, name: { type: "string" } },
            },
            findings: { type: "integer", description: "How many findings it covers." },
            linked_at: nullableTime,
            synced_at: nullableTime,
          },
        },
        Integration: {
          type: "object",
          additionalProperties: false,
          required: ["id", "kind", "name", "category", "status", "last_sync_at", "can_sync", "last_run"],
          properties: {
            id: { type: "integer" },
            kind: { type: "string" },
            name: { type: "string" },
            category: nullable("string"),
            status: { type: "string" },
            last_error: nullable("string"),
            last_sync_at: nullableTime,
            can_sync: { type: "boolean" },
            last_run: {
              oneOf: [
                { type: "null" },
                {
                  type: "object",
                  required: ["status", "started_at"],
                  properties: {
                    status: { type: "string", enum: ["running", "interrupted", "succeeded", "failed"] },
                    started_at: time,
                    finished_at: nullableTime,
                    error: nullable("string"),
                    counts: { type: "object" },
                  },
                },
              ],
            },
            created_at: time,
          },
        },
        Job: {
          type: "object",
          additionalProperties: false,
          required: ["id", "type", "label", "status", "attempts", "max_attempts", "run_at", "created_at"],
          properties: {
            id: { type: "integer" },
            type: { type: "string" },
            label: { type: "string" },
            status: { type: "string", enum: ["queued", "running", "succeeded", "failed"] },
            attempts: { type: "integer" },
            max_attempts: { type: "integer" },
            last_error: nullable("string"),
            progress: {
              oneOf: [
                { type: "null" },
                {
                  type: "object",
                  required: ["done", "total"],
                  properties: { done: { type: "number" }, total: { type: "number" }, message: { type: "string" } },
                },
              ],
            },
            run_at: time,
            created_at: time,
            finished_at: nullableTime,
          },
        },
        Upload: {
          type: "object",
          additionalProperties: false,
          required: ["id", "by", "status", "created_at"],
          properties: {
            id: { type: "integer" },
            by: { type: "string" },
            format: nullable("string"),
            tool: nullable("string"),
            asset: nullable("string"),
            full: { type: "boolean" },
            bytes: { type: "integer" },
            status: { type: "string", enum: ["running", "succeeded", "rejected", "failed", "interrupted"] },
            counts: { type: "object" },
            error: nullable("string"),
            created_at: { type: "string" },
            finished_at: nullable("string"),
          },
        },
        UploadResult: {
          type: "object",
          additionalProperties: false,
          required: ["upload", "format", "tool", "asset", "created", "updated", "unchanged", "resolved", "skipped", "reasons"],
          properties: {
            upload: { type: "integer" },
            format: { type: "string", enum: Object.keys(FORMAT_LABELS) },
            tool: { type: "string" },
            asset: {
              type: "object",
              required: ["kind", "name"],
              additionalProperties: false,
              properties: { kind: { type: "string", enum: ["repository", "container_image", "kubernetes_cluster"] }, name: { type: "string" } },
            },
            images: { type: "integer", description: "A Kubernetes report: the images its records were imported to." },
            created: { type: "integer" },
            updated: { type: "integer" },
            unchanged: { type: "integer" },
            resolved: { type: "integer" },
            skipped: { type: "integer" },
            reasons: { type: "object", additionalProperties: { type: "integer" }, description: "Records skipped, by reason." },
          },
        },
        AuditEntry: {
          type: "object",
          additionalProperties: false,
          required: ["id", "at", "actor", "via", "action", "target", "detail", "ip"],
          properties: {
            id: { type: "integer" },
            at: time,
            actor: nullable("string"),
            via: nullable("string"),
            action: { type: "string", enum: Object.keys(AUDIT_ACTIONS) },
            target: nullable("string"),
            detail: nullable("object"),
            ip: nullable("string"),
          },
        },
      },
    },
  };
}
