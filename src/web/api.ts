// The REST API under /api/v1 for what people automate: findings (filtered like the
// Vulnerabilities page, cursor pages, one finding in full, status changes), tickets,
// integrations (status, last sync, trigger a sync), jobs, uploads and the audit log. Every
// request carries an API token (Authorization: Bearer pbt_…) and acts as the token's owner
// within its scopes; the description is /api/v1/openapi.json (public). Answers are JSON; an
// error is {"error": "what to do"}.
import { Hono, type Context, type Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type TokenScope, authenticateApiToken } from "../auth/api-tokens.js";
import { listAudit } from "../audit/store.js";
import type { Finding, JobStatus } from "../db/schema.js";
import { findingDetail, findFinding } from "../findings/store.js";
import { SEVERITIES, STATUSES } from "../findings/normalize.js";
import { type FindingFilter, type FindingRow, SORTS, listFindings, parseFilter } from "../findings/query.js";
import { changeFindingStatus, parseStatusChange } from "../findings/status.js";
import { latestRuns } from "../findings/sync.js";
import { findIntegration, integrationOfKind, listIntegrations, loadConnected } from "../integrations/store.js";
import { jobLabel, listJobs, findJob } from "../jobs/queue.js";
import { syncKind } from "../sync-kinds.js";
import { listTickets, ticketsForFindings } from "../tickets/store.js";
import { recentUploads } from "../uploads/import.js";
import { withoutTrailingSlash } from "../text.js";
import { audit, auditFilter } from "./audit.js";
import type { AppDeps, AppEnv } from "./context.js";
import { exportResponse } from "./export.js";
import { openApiDocument } from "./openapi.js";

export const API_PREFIX = "/api/v1";
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
const MAX_JSON_BYTES = 64 * 1024;
const JOB_STATUSES: JobStatus[] = ["queued", "running", "succeeded", "failed"];

type Ctx = Context<AppEnv>;
type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422;

export function apiError(c: Ctx, status: ErrorStatus, error: string, extra: Record<string, unknown> = {}) {
  return c.json({ error, ...extra }, status);
}

/** Signs a request in by its API token: the owner as the user, the token's rights as the grant. */
export function apiAuthentication(deps: AppDeps) {
  return async (c: Ctx, next: Next) => {
    const header = c.req.header("authorization") ?? "";
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const grant = token ? await authenticateApiToken(deps.db, token, deps.now()) : undefined;
    if (!grant) {
      c.header("WWW-Authenticate", `Bearer realm="Patchbay"${token ? `, error="invalid_token"` : ""}`);
      return apiError(
        c,
        401,
        token
          ? "The API token is not valid: it is unknown, revoked or expired. Create a new one on Settings → API tokens."
          : "Send an API token: Authorization: Bearer pbt_…  (Settings → API tokens).",
      );
    }
    c.set("user", grant.user);
    c.set("grant", grant);
    c.set("via", `token ${grant.token.name}`);
    return next();
  };
}

/** Refuses a request whose token lacks the scope (or whose owner no longer has the role for it). */
export function need(scope: TokenScope) {
  return async (c: Ctx, next: Next) => {
    const grant = c.get("grant");
    if (!grant?.rights.has(scope)) {
      c.header("WWW-Authenticate", `Bearer realm="Patchbay", error="insufficient_scope", scope="${scope}"`);
      const owner = grant?.user;
      const why =
        scope === "admin" && grant?.token.scopes.split(",").includes("admin") && owner?.role !== "admin"
          ? `The token's owner, ${owner?.username ?? "a removed user"}, is no longer an administrator.`
          : `The token lacks the ${scope} scope.`;
      return apiError(
        c,
        403,
        `${why} Create a token with the ${scope} scope on Settings → API tokens${scope === "write" || scope === "admin" ? " (an administrator can)" : ""}.`,
      );
    }
    return next();
  };
}

/** A page size from ?limit: 1 to 500, 100 when absent; or the problem. */
function pageSize(c: Ctx): number | string {
  const raw = c.req.query("limit");
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  return n >= 1 && n <= MAX_LIMIT ? n : `limit is a whole number from 1 to ${MAX_LIMIT}, not "${raw.slice(0, 20)}".`;
}

/** A cursor for lists ordered by id: the last id of the previous page; or the problem. */
function idCursor(c: Ctx): number | undefined | string {
  const raw = c.req.query("cursor");
  if (raw === undefined || raw === "") return undefined;
  return /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : `cursor is the next_cursor of the previous page, not "${raw.slice(0, 40)}".`;
}

const FINDING_PARAMS = new Set(["severity", "status", "scanner", "asset", "q", "due", "sort", "dir", "cursor", "limit"]);

/** The Vulnerabilities filter from the query string, strictly: an unknown name or value is an error, not ignored. */
export function findingFilter(params: URLSearchParams, now: Date): FindingFilter | string {
  for (const key of params.keys()) if (!FINDING_PARAMS.has(key)) return `Unknown parameter "${key.slice(0, 40)}": use ${[...FINDING_PARAMS].join(", ")}.`;
  for (const s of params.getAll("severity"))
    if (!(SEVERITIES as string[]).includes(s)) return `severity is one of ${SEVERITIES.join(", ")}, not "${s.slice(0, 40)}".`;
  for (const s of params.getAll("status"))
    if (s !== "all" && !(STATUSES as string[]).includes(s)) return `status is one of ${STATUSES.join(", ")} or all, not "${s.slice(0, 40)}".`;
  for (const name of ["scanner", "asset"]) {
    const v = params.get(name);
    if (v !== null && !/^[1-9]\d{0,15}$/.test(v)) return `${name} is an integration or asset id, not "${v.slice(0, 40)}".`;
  }
  const due = params.get("due");
  if (due !== null && due !== "overdue" && due !== "soon") return `due is overdue or soon, not "${due.slice(0, 40)}".`;
  const sort = params.get("sort");
  if (sort !== null && !(sort in SORTS)) return `sort is one of ${Object.keys(SORTS).join(", ")}, not "${sort.slice(0, 40)}".`;
  const dir = params.get("dir");
  if (dir !== null && dir !== "asc" && dir !== "desc") return `dir is asc or desc, not "${dir.slice(0, 40)}".`;
  if ((params.get("q") ?? "").length > 100) return "q is at most 100 characters.";
  const forPage = new URLSearchParams(params);
  forPage.delete("cursor");
  forPage.delete("limit");
  const cursor = params.get("cursor");
  if (cursor) forPage.set("after", cursor);
  const filter = parseFilter(forPage, now);
  if (cursor && !filter.after) return "cursor is the next_cursor of the previous page, unchanged.";
  return filter;
}

export function findingJson(row: Finding & { asset_name: string; asset_kind: string; sources: string | null }, base: string) {
  return {
    id: row.id,
    cve: row.cve,
    title: row.title,
    severity: row.severity,
    cvss: row.cvss,
    status: row.status,
    status_reason: row.status_reason,
    status_expires_at: row.status_expires_at,
    package: row.package,
    ecosystem: row.ecosystem,
    installed_version: row.installed_version,
    fixed_version: row.fixed_version,
    asset: { id: row.asset_id, name: row.asset_name, kind: row.asset_kind },
    sources: (row.sources ?? "").split(",").filter(Boolean),
    first_detected_at: row.first_detected_at,
    last_seen_at: row.last_seen_at,
    resolved_at: row.resolved_at,
    due_at: row.due_at,
    url: `${base}/vulnerabilities/${row.id}`,
  };
}

/** A finding with its asset's name and kind and its sources' names, as the list gives them. */
function withAsset(detail: NonNullable<Awaited<ReturnType<typeof findingDetail>>>) {
  return { ...detail.finding, asset_name: detail.asset.name, asset_kind: detail.asset.kind, sources: detail.sources.map((s) => s.integration_name).join(",") };
}

/**
 * A list ordered by id, newest first, a page at a time: ?limit and ?cursor read (or a 400 saying
 * what is wrong), one row more than the page asked for to know whether another page follows.
 */
async function idPage<T extends { id: number }>(c: Ctx, load: (before: number | undefined, limit: number) => Promise<T[]>, json: (row: T) => unknown) {
  const size = pageSize(c);
  const before = idCursor(c);
  if (typeof size === "string") return apiError(c, 400, size);
  if (typeof before === "string") return apiError(c, 400, before);
  const rows = await load(before, size + 1);
  const more = rows.length > size;
  if (more) rows.pop();
  return c.json({ items: rows.map(json), next_cursor: more ? String(rows.at(-1)!.id) : null });
}

/** A JSON request body (at most 64 KB): the object, or the problem. */
async function jsonBody(c: Ctx): Promise<Record<string, unknown> | string> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) return "Send the body as JSON (Content-Type: application/json).";
  let value: unknown;
  try {
    value = JSON.parse(await c.req.text());
  } catch {
    return "The body is not valid JSON.";
  }
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : "The body is a JSON object.";
}

export function apiRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const base = withoutTrailingSlash(deps.baseUrl);
  const limitJson = bodyLimit({ maxSize: MAX_JSON_BYTES, onError: (c) => apiError(c as Ctx, 413, `The body is larger than ${MAX_JSON_BYTES / 1024} KB.`) });

  app.get(`${API_PREFIX}/openapi.json`, (c) => {
    c.header("cache-control", "no-cache");
    return c.json(openApiDocument(base));
  });

  // --- findings --------------------------------------------------------------------------
  app.get(`${API_PREFIX}/findings`, need("read"), async (c) => {
    const params = new URL(c.req.url).searchParams;
    const size = pageSize(c);
    if (typeof size === "string") return apiError(c, 400, size);
    const filter = findingFilter(params, deps.now());
    if (typeof filter === "string") return apiError(c, 400, filter);
    const page = await listFindings(deps.db, filter, size);
    return c.json({ items: page.rows.map((r: FindingRow) => findingJson(r, base)), next_cursor: page.nextCursor ?? null });
  });

  app.get(`${API_PREFIX}/findings/export`, need("read"), (c) => {
    const params = new URL(c.req.url).searchParams;
    const format = params.get("format") ?? "json";
    if (format !== "csv" && format !== "json") return apiError(c, 400, `format is csv or json, not "${format.slice(0, 20)}".`);
    params.delete("format");
    if (params.has("cursor") || params.has("limit")) return apiError(c, 400, "The export has every matching finding: leave out cursor and limit.");
    const filter = findingFilter(params, deps.now());
    if (typeof filter === "string") return apiError(c, 400, filter);
    deps.logger.info("findings exported", { format, by: c.get("via") });
    return exportResponse(deps, filter, format);
  });

  app.get(`${API_PREFIX}/findings/:id{[0-9]+}`, need("read"), async (c) => {
    const detail = await findingDetail(deps.db, Number(c.req.param("id")));
    if (!detail) return apiError(c, 404, `There is no finding ${c.req.param("id")}.`);
    const tickets = (await ticketsForFindings(deps.db, [detail.finding.id])).get(detail.finding.id) ?? [];
    return c.json({
      ...findingJson(withAsset(detail), base),
      description: detail.finding.description,
      sources: detail.sources.map((s) => ({
        integration: { id: s.integration_id, name: s.integration_name, kind: s.integration_kind },
        external_id: s.external_id,
        status: s.status,
        url: s.url,
        first_seen_at: s.first_seen_at,
        updated_at: s.updated_at,
      })),
      tickets: tickets.map((t) => ({
        id: t.id,
        key: t.key,
        url: t.url,
        tracker: t.integrationName,
        kind: t.kind,
        mapping: t.mappingName,
        linked_at: t.linkedAt,
      })),
      history: detail.events.map((e) => ({ at: e.at, actor: e.actor, from: e.from_status, to: e.to_status, note: e.note })),
    });
  });

  app.post(`${API_PREFIX}/findings/:id{[0-9]+}/status`, need("write"), limitJson, async (c) => {
    const finding = await findFinding(deps.db, Number(c.req.param("id")));
    if (!finding) return apiError(c, 404, `There is no finding ${c.req.param("id")}.`);
    const body = await jsonBody(c);
    if (typeof body === "string") return apiError(c, body.startsWith("Send") ? 415 : 400, body);
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    const parsed = parseStatusChange({ status: text(body.status), reason: text(body.reason), expires: text(body.expires) }, deps.now());
    if ("errors" in parsed) return apiError(c, 422, Object.values(parsed.errors).join(" "), { fields: parsed.errors });
    const actor = c.get("user")!.username;
    await changeFindingStatus(deps.db, finding, parsed, actor, deps.now());
    await audit(c, deps, "finding.status_changed", `finding ${finding.id}`, { from: finding.status, to: parsed.status, reason: parsed.reason });
    const updated = (await findingDetail(deps.db, finding.id))!;
    return c.json(findingJson(withAsset(updated), base));
  });

  // --- tickets ---------------------------------------------------------------------------
  app.get(`${API_PREFIX}/tickets`, need("read"), (c) =>
    idPage(
      c,
      (before, limit) => listTickets(deps.db, { before, limit }),
      (t) => ({
        id: t.id,
        key: t.key,
        url: t.url,
        state: t.state,
        origin: t.origin,
        subject: t.subject_key,
        tracker: { id: t.integration_id, name: t.integration_name, kind: t.kind },
        mapping: { id: t.mapping_id, name: t.mapping_name },
        findings: Number(t.findings),
        linked_at: t.linked_at,
        synced_at: t.synced_at,
      }),
    ),
  );

  // --- integrations ----------------------------------------------------------------------
  const integrationJson = (i: Awaited<ReturnType<typeof listIntegrations>>[number], runs: Map<number, Awaited<ReturnType<typeof latestRuns>>[number]>) => {
    const connector = deps.catalogue.get(i.kind);
    const run = runs.get(i.id);
    return {
      id: i.id,
      kind: i.kind,
      name: i.name,
      category: connector?.card.category ?? null,
      status: i.status,
      last_error: i.last_error,
      last_sync_at: i.last_sync_at,
      can_sync: Boolean(syncKind(connector)),
      last_run: run
        ? { status: run.status, started_at: run.started_at, finished_at: run.finished_at, error: run.error, counts: JSON.parse(run.counts) as unknown }
        : null,
      created_at: i.created_at,
    };
  };
  app.get(`${API_PREFIX}/integrations`, need("read"), async (c) => {
    const [integrations, runs] = await Promise.all([listIntegrations(deps.db), latestRuns(deps.db)]);
    const byIntegration = new Map(runs.map((r) => [r.integration_id, r]));
    return c.json({ items: integrations.map((i) => integrationJson(i, byIntegration)) });
  });
  app.get(`${API_PREFIX}/integrations/:id{[0-9]+}`, need("read"), async (c) => {
    const id = Number(c.req.param("id"));
    const integration = await findIntegration(deps.db, id);
    if (!integration) return apiError(c, 404, `There is no integration ${id}.`);
    const runs = new Map((await latestRuns(deps.db)).map((r) => [r.integration_id, r]));
    return c.json(integrationJson(integration, runs));
  });
  app.post(`${API_PREFIX}/integrations/:id{[0-9]+}/sync`, need("admin"), async (c) => {
    const found = await loadConnected(deps.db, deps.catalogue, Number(c.req.param("id")));
    if (!found) return apiError(c, 404, `There is no integration ${c.req.param("id")}.`);
    const sync = syncKind(found.connector);
    if (!sync) return apiError(c, 409, `${found.integration.name} has nothing to sync: it is a ${found.connector.card.category} connection.`);
    const job = await sync.request(deps.db, found.integration.id, deps.now());
    deps.notifyWorker();
    await audit(c, deps, "integration.sync_requested", found.integration.name);
    return c.json({ job: job, status_url: `${base}${API_PREFIX}/jobs/${job}` }, 202);
  });

  // --- jobs ------------------------------------------------------------------------------
  const jobJson = (job: Awaited<ReturnType<typeof listJobs>>[number]) => ({
    id: job.id,
    type: job.type,
    label: jobLabel(job.type),
    status: job.status,
    attempts: job.attempts,
    max_attempts: job.max_attempts,
    last_error: job.last_error,
    progress: job.progress ? (JSON.parse(job.progress) as unknown) : null,
    run_at: job.run_at,
    created_at: job.created_at,
    finished_at: job.finished_at,
  });
  app.get(`${API_PREFIX}/jobs`, need("read"), async (c) => {
    const status = c.req.query("status");
    if (status !== undefined && !JOB_STATUSES.includes(status as JobStatus)) return apiError(c, 400, `status is one of ${JOB_STATUSES.join(", ")}.`);
    return idPage(c, (before, limit) => listJobs(deps.db, { status: status as JobStatus | undefined, type: c.req.query("type"), before, limit }), jobJson);
  });
  app.get(`${API_PREFIX}/jobs/:id{[0-9]+}`, need("read"), async (c) => {
    const job = await findJob(deps.db, Number(c.req.param("id")));
    return job ? c.json(jobJson(job)) : apiError(c, 404, `There is no job ${c.req.param("id")}.`);
  });

  // --- uploads ---------------------------------------------------------------------------
  app.get(`${API_PREFIX}/uploads`, need("read"), async (c) => {
    const integration = await integrationOfKind(deps.db, "ci-upload");
    return idPage(
      c,
      async (before, limit) => (integration ? recentUploads(deps.db, integration.id, limit, before) : []),
      (u) => ({
        id: u.id,
        by: u.by,
        format: u.format,
        tool: u.tool,
        asset: u.asset,
        full: u.full_result === 1,
        bytes: u.bytes,
        status: u.status,
        counts: JSON.parse(u.counts) as unknown,
        error: u.error,
        created_at: u.created_at,
        finished_at: u.finished_at,
      }),
    );
  });

  // --- audit log -------------------------------------------------------------------------
  app.get(`${API_PREFIX}/audit`, need("admin"), async (c) => {
    const filter = auditFilter(new URL(c.req.url).searchParams);
    if (typeof filter === "string") return apiError(c, 400, filter);
    return idPage(
      c,
      async (before, limit) => (await listAudit(deps.db, { ...filter, before, limit })).entries,
      (e) => ({ ...e, detail: e.detail ? (JSON.parse(e.detail) as unknown) : null }),
    );
  });

  app.all(`${API_PREFIX}/*`, (c) => apiError(c, 404, `There is no ${c.req.method} ${c.req.path} in the API: see ${base}${API_PREFIX}/openapi.json.`));
  return app;
}
