// The Vulnerabilities section: the findings table with filters, sorting and keyset
// pagination (all in the URL), counts by severity, and each finding's detail page with
// its sources, history and the status changes people make.
import { Hono } from "hono";
import type { Context } from "hono";
import { type FindingDetail, findingDetail, findFinding } from "../findings/store.js";
import { SEVERITIES, STATUSES, STATUS_LABEL } from "../findings/normalize.js";
import { SORTS, type FindingFilter, type SortKey, PAGE_SIZE, filterQuery, findingsOverview, listFindings, parseFilter } from "../findings/query.js";
import { changeFindingStatus, parseStatusChange } from "../findings/status.js";
import { isOverdue } from "../findings/sla.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { htmlBytes, isHtmx, render, renderAround } from "./render.js";
import { assignmentsExist, linkedTickets, type TicketView, ticketViews } from "../tickets/store.js";
import { type FindingTrackers, coverageOf, coveringMappings, findingTrackers, readTrackers } from "../tickets/coverage.js";
import { enqueuePush } from "../tickets/push.js";
import { planBatch, startBatch } from "../tickets/batch.js";
import { exportResponse } from "./export.js";
import { proposeFixes, unifiedDiff } from "../remediation/proposals.js";
import { OPEN_FIX_JOB } from "../remediation/open-fix.js";
import { riskOfFinding, riskScore } from "../exploitation/risk.js";
import { enqueue } from "../jobs/queue.js";
import { linkByHand } from "../tickets/link.js";
import { requireAdmin } from "./users.js";
import { ExternalError } from "../http.js";
import { redactText } from "../log.js";
import { audit } from "./audit.js";
import { ViewCache } from "./view-cache.js";

/** A filter's results as the page shows them, and what the page around them needs of the same reading. */
interface ResultsView {
  /** The results' markup, UTF-8. */
  bytes: Uint8Array<ArrayBuffer>;
  scanners: { id: number; name: string }[];
  empty: boolean;
}

/** Filters whose results are kept at once (each 10–120 KB of markup). */
const RESULTS_KEPT = 64;

const utf8 = new TextEncoder();

const sortChoices = Object.entries(SORTS).map(([key, s]) => ({ key: key as SortKey, ...s }));

export function vulnerabilityRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // The results (counts, rows, pager) of each filter, reused a moment between writes (view-cache.ts).
  // What they show is the same for everyone who may see the page: no one's name or rights in them.
  const results = new ViewCache<ResultsView>({ max: RESULTS_KEPT, reuseMs: deps.viewReuseMs });
  const resultsView = async (filter: FindingFilter): Promise<ResultsView> => {
    // Two statements at once: the rows with their tickets, and what the page shows around them.
    const [page, overview] = await Promise.all([
      listFindings(deps.db, filter, PAGE_SIZE, linkedTickets(deps.db)),
      findingsOverview(deps.db, filter, assignmentsExist()),
    ]);
    const { counts, capped, total, scanners } = overview;
    const tickets = Object.fromEntries(withTrackerNames(deps, new Map(page.rows.map((r) => [r.id, ticketViews(r.id, r.beside)]))));
    const html = deps.views.render("./vulnerabilities/results", {
      filter,
      page,
      tickets,
      canPush: Boolean(overview.beside),
      counts,
      capped,
      severities: SEVERITIES,
      statusLabel: STATUS_LABEL,
      sorts: sortChoices,
      query: (change: Parameters<typeof filterQuery>[1]) => filterQuery(filter, change),
      overdue: (f: Parameters<typeof isOverdue>[0]) => isOverdue(f, deps.now()),
    });
    // Encoded once, here: each page that reuses it sends these bytes as they are (render.ts: renderAround).
    return { bytes: utf8.encode(html), scanners, empty: total === 0 };
  };

  app.get("/vulnerabilities", async (c) => {
    const now = deps.now();
    const filter = parseFilter(new URL(c.req.url).searchParams, now);
    // By the filter and the second (what is overdue, how long ago a ticket changed); a deadline
    // filter reads the moment itself and is never reused.
    const view = filter.due
      ? await resultsView(filter)
      : await results.get(deps.db, `${Math.floor(now.getTime() / 1000)} ${JSON.stringify(filter)}`, () => resultsView(filter));
    if (isHtmx(c) && c.req.header("hx-target") === "findings-results") return htmlBytes(c, view.bytes);
    return renderAround(
      c,
      deps,
      "./vulnerabilities/index",
      { filter, scanners: view.scanners, empty: view.empty, severities: SEVERITIES, statuses: STATUSES, statusLabel: STATUS_LABEL },
      { name: "results", bytes: view.bytes },
    );
  });

  app.post("/vulnerabilities/push", async (c) => {
    const form = await readForm(c);
    const params = new URLSearchParams((form.query ?? "").replace(/^\?/, ""));
    const filter = parseFilter(params, deps.now());
    const shown = [...params].map(([k, v]) => `${k}=${v}`).join(", ");
    const description = `Findings matching ${shown || "the default filters (open and in remediation)"}, requested by ${c.get("user")!.username}.`;
    // First the count and the time it takes; the push starts only when confirmed.
    if (form.confirm !== "yes") {
      const plan = await planBatch(deps.db, deps.catalogue, filter);
      return render(c, deps, "./vulnerabilities/push-confirm", {
        plan,
        query: form.query ?? "",
        shown: shown || "the default filters (open and in remediation)",
      });
    }
    const id = await startBatch(deps.db, filter, description, c.get("user")!.username, deps.now());
    deps.notifyWorker();
    deps.logger.info("bulk push requested", { batchId: id, by: c.get("user")!.username });
    await audit(c, deps, "push.requested", `bulk push ${id}`, { filter: shown || "default" });
    return c.redirect(`/trackers/batches/${id}`, 303);
  });

  const exportFindings = (c: Context<AppEnv>, format: "csv" | "json") => {
    deps.logger.info("findings exported", { format, by: c.get("user")!.username });
    return exportResponse(deps, parseFilter(new URL(c.req.url).searchParams, deps.now()), format);
  };
  app.get("/vulnerabilities/export.csv", (c) => exportFindings(c, "csv"));
  app.get("/vulnerabilities/export.json", (c) => exportFindings(c, "json"));

  app.get("/vulnerabilities/:id{[0-9]+}", async (c) => {
    const id = Number(c.req.param("id"));
    // Its tickets and the tracker assignments come with the finding: one statement.
    // Beside it, its risk facts and what the exploitation feeds say of its CVE (one statement by the finding's id, at once).
    const [detail, risk] = await Promise.all([findingDetail(deps.db, id, findingTrackers(deps.db)), riskOfFinding(deps.db, id, deps.now())]);
    if (!detail) return notFound(c, deps);
    const pushed = c.req.query("pushed");
    return render(c, deps, "./vulnerabilities/detail", {
      ...detail,
      exploitation: risk?.exploitation,
      risk: risk ? riskScore(risk.facts) : undefined,
      ...detailExtras(deps, detail),
      statusLabel: STATUS_LABEL,
      errors: {},
      values: {},
      pushed: pushed === undefined ? undefined : Number(pushed),
    });
  });

  // What a fix pull request would change, read from the repository now; nothing is sent.
  app.get("/vulnerabilities/:id{[0-9]+}/fix", async (c) => {
    const finding = await findFinding(deps.db, Number(c.req.param("id")));
    if (!finding) return notFound(c, deps);
    let result: Awaited<ReturnType<typeof proposeFixes>>;
    try {
      result = await proposeFixes(deps, finding.id);
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      result = { proposals: [], reasons: [`The repository could not be read: ${redactText(err.message)}`] };
    }
    const queued = c.req.query("queued");
    return render(c, deps, "./vulnerabilities/fix", { finding, ...result, diffs: result.proposals.map((p) => p.changes.map(unifiedDiff)), queued });
  });

  // Opening a fix pull request writes to the repository: an admin's decision.
  app.post("/vulnerabilities/:id{[0-9]+}/fix", requireAdmin(deps), async (c) => {
    const finding = await findFinding(deps.db, Number(c.req.param("id")));
    if (!finding) return notFound(c, deps);
    const form = await readForm(c);
    const path = (form.path ?? "").slice(0, 1000);
    const by = c.get("user")!.username;
    await enqueue(deps.db, OPEN_FIX_JOB, { findingId: finding.id, path, by }, deps.now());
    deps.notifyWorker();
    deps.logger.info("fix pull request requested", { findingId: finding.id, path, by });
    await audit(c, deps, "fix.requested", `finding ${finding.id}`, { path });
    return c.redirect(`/vulnerabilities/${finding.id}/fix?queued=${encodeURIComponent(path)}`, 303);
  });

  app.post("/vulnerabilities/:id{[0-9]+}/push", async (c) => {
    const finding = await findFinding(deps.db, Number(c.req.param("id")));
    if (!finding) return notFound(c, deps);
    const coverage = await coveringMappings(deps.db, finding);
    for (const target of coverage) await enqueuePush(deps.db, target.mappingId, target.subjectKey, deps.now(), true);
    deps.notifyWorker();
    deps.logger.info("push requested", { findingId: finding.id, mappings: coverage.length, by: c.get("user")!.username });
    await audit(c, deps, "push.requested", `finding ${finding.id}`, { mappings: coverage.length });
    return c.redirect(`/vulnerabilities/${finding.id}?pushed=${coverage.length}`, 303);
  });

  // Linking names an unrelated ticket as this finding's: an admin's decision, not a member's.
  app.post("/vulnerabilities/:id{[0-9]+}/link", requireAdmin(deps), async (c) => {
    const finding = await findFinding(deps.db, Number(c.req.param("id")));
    if (!finding) return notFound(c, deps);
    const form = await readForm(c);
    const by = c.get("user")!.username;
    let result: Awaited<ReturnType<typeof linkByHand>>;
    try {
      result = await linkByHand(deps, finding, Number(form.mapping), form.reference ?? "", by, deps.logger.child({ reqId: c.get("requestId") }));
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      result = { ok: false, message: redactText(err.message) };
    }
    if (!result.ok) {
      const detail = (await findingDetail(deps.db, finding.id, findingTrackers(deps.db)))!;
      return render(
        c,
        deps,
        "./vulnerabilities/detail",
        {
          ...detail,
          ...detailExtras(deps, detail),
          statusLabel: STATUS_LABEL,
          errors: {},
          values: { mapping: form.mapping, reference: (form.reference ?? "").slice(0, 500) },
          linkError: result.message,
        },
        422,
      );
    }
    deps.logger.info("ticket linked by hand", { findingId: finding.id, ticket: result.ticket.key, by });
    await audit(c, deps, "ticket.linked", `finding ${finding.id}`, { ticket: result.ticket.key });
    return c.redirect(`/vulnerabilities/${finding.id}`, 303);
  });

  app.post("/vulnerabilities/:id/status", async (c) => {
    const id = Number(c.req.param("id"));
    const finding = await findFinding(deps.db, id);
    if (!finding) return notFound(c, deps);
    const form = await readForm(c);
    const parsed = parseStatusChange(form, deps.now());
    if ("errors" in parsed) {
      const detail = (await findingDetail(deps.db, id, findingTrackers(deps.db)))!;
      return render(
        c,
        deps,
        "./vulnerabilities/detail",
        { ...detail, ...detailExtras(deps, detail), statusLabel: STATUS_LABEL, errors: parsed.errors, values: form },
        422,
      );
    }
    await changeFindingStatus(deps.db, finding, parsed, c.get("user")!.username, deps.now());
    await audit(c, deps, "finding.status_changed", `finding ${id}`, { from: finding.status, to: parsed.status, reason: parsed.reason });
    deps.logger.info("finding status changed", { findingId: id, status: parsed.status, by: c.get("user")!.username });
    return c.redirect(`/vulnerabilities/${id}`, 303);
  });

  return app;
}

/** Each ticket with its tracker's name and badge, for the type icon. */
function withTrackerNames(deps: AppDeps, tickets: Map<number, TicketView[]>): Map<number, (TicketView & { trackerName: string; badge: string })[]> {
  const named = (t: TicketView) => {
    const card = deps.catalogue.get(t.kind)?.card;
    return { ...t, trackerName: card?.name ?? t.kind, badge: card?.badge ?? t.kind.slice(0, 2).toUpperCase() };
  };
  return new Map([...tickets].map(([id, list]) => [id, list.map(named)]));
}

/** The finding's tickets as the page shows them, the mappings that cover it, and whether it is overdue. */
function detailExtras(deps: AppDeps, detail: FindingDetail<FindingTrackers>) {
  const { finding } = detail;
  const { tickets, assignments, owner } = readTrackers(detail.beside);
  return {
    tickets: withTrackerNames(deps, new Map([[finding.id, ticketViews(finding.id, tickets)]])).get(finding.id)!,
    coverage: coverageOf(finding, detail.asset.repository_id, assignments, owner),
    overdue: isOverdue(finding, deps.now()),
  };
}

function notFound(c: Context<AppEnv>, deps: AppDeps) {
  return render(c, deps, "./error", { title: "Finding not found", message: "There is no finding with this number. Go back to Vulnerabilities." }, 404);
}
