// Ownership routing pages: Settings → Ownership (the owner/topic table, admins only) and each
// repository's Ownership page (what CODEOWNERS and topics say, the route that results, and the
// repository's own override).
import { type Context, Hono } from "hono";
import { type Codeowners, ownersOf } from "../routing/codeowners.js";
import {
  criticalityOf,
  CRITICALITIES,
  loadRouting,
  MAX_RULES,
  overrideIsEmpty,
  parseLabels,
  parseOverride,
  type RouteOverride,
  type RouteRule,
  routeForRepository,
  type RoutingSettings,
  routingStats,
  saveOverride,
  saveRepositoryCriticality,
  saveRouting,
  validateRule,
} from "../routing/ownership.js";
import type { Criticality } from "../db/schema.js";
import { enqueue } from "../jobs/queue.js";
import { RESCORE_JOB } from "../jobs/events.js";
import { enqueueOwnershipSync } from "../routing/sync.js";
import { listIntegrations } from "../integrations/store.js";
import { findRepository } from "../scm/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { readForm } from "./forms.js";
import { redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

/** The table's criticality rows in a comparable form. */
const criticalityRules = (s: RoutingSettings) =>
  JSON.stringify([s.useTopics, s.useCodeowners, s.rules.filter((r) => r.criticality).map((r) => [r.match.toLowerCase(), r.criticality])]);

/** Blank rows the table offers for new entries. */
const NEW_ROWS = 3;

export function ownershipRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const channelProblem = (channel: string) => deps.catalogue.channelProblem(channel);
  app.use("/settings/ownership", requireAdmin(deps));
  app.use("/settings/ownership/*", requireAdmin(deps));

  const settingsPage = async (c: Context<AppEnv>, extra: { settings?: RoutingSettings; errors?: Record<number, string> } = {}, status: 200 | 422 = 200) => {
    const settings = extra.settings ?? (await loadRouting(deps.db));
    const stats = await routingStats(deps.db);
    const blank: RouteRule = { match: "", assignee: "", component: "", labels: [], channel: "" };
    return render(
      c,
      deps,
      "./ownership/settings",
      {
        settings,
        rows: [...settings.rules, ...Array.from({ length: NEW_ROWS }, () => blank)],
        errors: extra.errors ?? {},
        stats,
        criticalities: CRITICALITIES,
        saved: c.req.query("saved") === "1",
        refreshing: c.req.query("refresh") === "1",
      },
      status,
    );
  };

  app.get("/settings/ownership", (c) => settingsPage(c));

  app.post("/settings/ownership", async (c) => {
    const form = await readForm(c);
    const count = Math.min(Number(form.rows) || 0, MAX_RULES + NEW_ROWS);
    const rules: RouteRule[] = [];
    const errors: Record<number, string> = {};
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const rule: RouteRule = {
        match: (form[`match_${i}`] ?? "").trim(),
        assignee: (form[`assignee_${i}`] ?? "").trim(),
        component: (form[`component_${i}`] ?? "").trim(),
        labels: parseLabels(form[`labels_${i}`] ?? ""),
        channel: (form[`channel_${i}`] ?? "").trim(),
        criticality: (form[`criticality_${i}`] ?? "").trim() as RouteRule["criticality"],
      };
      // A row left blank (or emptied to remove it) is not a rule.
      if (!rule.match && !rule.assignee && !rule.component && !rule.channel && !rule.labels.length && !rule.criticality) continue;
      if (form[`remove_${i}`]) continue;
      const error = validateRule(rule, channelProblem) ?? (seen.has(rule.match.toLowerCase()) ? `${rule.match} has a row already: keep one.` : undefined);
      if (error) errors[rules.length] = error;
      seen.add(rule.match.toLowerCase());
      rules.push(rule);
    }
    const settings: RoutingSettings = { useCodeowners: Boolean(form.useCodeowners), useTopics: Boolean(form.useTopics), rules };
    if (rules.length > MAX_RULES) errors[MAX_RULES] = `At most ${MAX_RULES} rows.`;
    if (Object.keys(errors).length) return settingsPage(c, { settings, errors }, 422);
    const before = await loadRouting(deps.db);
    await saveRouting(deps.db, settings);
    // Criticality by topic or owner changed: every finding's score may move.
    if (criticalityRules(before) !== criticalityRules(settings)) await enqueue(deps.db, RESCORE_JOB, { all: true }, deps.now());
    deps.logger.info("ownership routing saved", { by: c.get("user")!.username, rules: rules.length });
    await audit(c, deps, "ownership.changed", "routing rules", { rules: rules.length });
    return redirect(c, "/settings/ownership?saved=1");
  });

  app.post("/settings/ownership/refresh", async (c) => {
    const scms = (await listIntegrations(deps.db)).filter((i) => deps.catalogue.get(i.kind)?.scm);
    for (const i of scms) await enqueueOwnershipSync(deps.db, i.id, deps.now());
    deps.notifyWorker();
    return redirect(c, "/settings/ownership?refresh=1");
  });

  const repositoryPage = async (
    c: Context<AppEnv>,
    extra: { override?: RouteOverride; errors?: Record<string, string> } = {},
    status: 200 | 404 | 422 = 200,
  ) => {
    const id = Number(c.req.param("id"));
    const repo = Number.isSafeInteger(id) ? await findRepository(deps.db, id) : undefined;
    if (!repo)
      return render(c, deps, "./error", { title: "Repository not found", message: "This repository is not known to Patchbay. Go back to Repositories." }, 404);
    const codeowners = repo.codeowners ? (JSON.parse(repo.codeowners) as Codeowners) : null;
    const route = await routeForRepository(deps.db, repo.id);
    const settings = await loadRouting(deps.db);
    const fromTable = criticalityOf(settings, { ...repo, criticality: null });
    return render(
      c,
      deps,
      "./ownership/repository",
      {
        repo,
        topics: repo.topics ? (JSON.parse(repo.topics) as string[]) : [],
        codeowners,
        rootOwners: codeowners ? ownersOf(codeowners, null) : [],
        route,
        override: extra.override ?? parseOverride(repo.routing) ?? { assignee: "", component: "", labels: [], channel: "" },
        errors: extra.errors ?? {},
        isAdmin: c.get("user")?.role === "admin",
        saved: c.req.query("saved") === "1",
        criticalitySaved: c.req.query("criticality") === "saved",
        criticalities: CRITICALITIES,
        criticality: { own: repo.criticality, fromTable },
      },
      status,
    );
  };

  app.get("/repositories/:id/ownership", (c) => repositoryPage(c));

  app.post("/repositories/:id/ownership", requireAdmin(deps), async (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isSafeInteger(id) || !(await findRepository(deps.db, id))) return repositoryPage(c, {}, 404);
    const form = await readForm(c);
    const override: RouteOverride = {
      assignee: (form.assignee ?? "").trim(),
      component: (form.component ?? "").trim(),
      labels: parseLabels(form.labels ?? ""),
      channel: (form.channel ?? "").trim(),
    };
    const cleared = Boolean(form.clear);
    if (!cleared && !overrideIsEmpty(override)) {
      // The same checks as a table row, under the repository's own name.
      const error = validateRule({ match: "@override", ...override }, channelProblem);
      if (error) return repositoryPage(c, { override, errors: { form: error } }, 422);
    }
    await saveOverride(deps.db, id, cleared ? null : override);
    deps.logger.info("repository routing override saved", { by: c.get("user")!.username, repositoryId: id, cleared: cleared || overrideIsEmpty(override) });
    await audit(c, deps, "ownership.changed", `repository ${id}`, { cleared: cleared || overrideIsEmpty(override) });
    return redirect(c, `/repositories/${id}/ownership?saved=1`);
  });

  // The repository's own criticality for the risk score (empty: from the ownership table, else normal).
  app.post("/repositories/:id/criticality", requireAdmin(deps), async (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isSafeInteger(id) || !(await findRepository(deps.db, id))) return repositoryPage(c, {}, 404);
    const value = ((await readForm(c)).criticality ?? "").trim();
    if (value && !CRITICALITIES.includes(value as Criticality))
      return repositoryPage(c, { errors: { criticality: "Choose high, normal or low, or the ownership table's." } }, 422);
    await saveRepositoryCriticality(deps.db, id, (value || null) as Criticality | null);
    await enqueue(deps.db, RESCORE_JOB, { repository: id }, deps.now());
    await audit(c, deps, "ownership.changed", `repository ${id}`, { criticality: value || "ownership table's" });
    return redirect(c, `/repositories/${id}/ownership?criticality=saved`);
  });

  return app;
}
