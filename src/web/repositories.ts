// Repositories: what source control lists, with search, a filter by integration, and each
// repository's open findings by severity.
import { Hono } from "hono";
import { SEVERITIES } from "../findings/normalize.js";
import { openFindingCounts } from "../findings/store.js";
import { type Codeowners, ownersOf } from "../routing/codeowners.js";
import { integrationsWithRepositories, listRepositories } from "../scm/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { isHtmx, render } from "./render.js";

const PAGE_SIZE = 100;

export function repositoryRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/repositories", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 100);
    const integrationId = Number(c.req.query("integration")) || undefined;
    const after = c.req.query("after") ?? "";
    const showGone = c.req.query("inaccessible") === "1";
    const rows = await listRepositories(deps.db, { q, integrationId, showGone, after, limit: PAGE_SIZE + 1 });
    const more = rows.length > PAGE_SIZE;
    if (more) rows.pop();

    const counts = await openFindingCounts(
      deps.db,
      "repository",
      rows.map((r) => r.id),
    );
    const integrations = await integrationsWithRepositories(deps.db);
    const data = {
      rows: rows.map((r) => ({
        ...r,
        counts: counts.get(r.id),
        owners: r.codeowners ? ownersOf(JSON.parse(r.codeowners) as Codeowners, null) : [],
        topics: r.topics ? (JSON.parse(r.topics) as string[]) : [],
      })),
      severities: SEVERITIES,
      integrations,
      q,
      integrationId,
      showGone,
      next: more ? rows.at(-1)!.full_name : undefined,
      nextQuery: (name: string) =>
        new URLSearchParams({
          ...(q ? { q } : {}),
          ...(integrationId ? { integration: String(integrationId) } : {}),
          ...(showGone ? { inaccessible: "1" } : {}),
          after: name,
        }).toString(),
    };
    return render(c, deps, isHtmx(c) && c.req.header("hx-target") === "repositories-results" ? "./repositories/results" : "./repositories/index", data);
  });

  return app;
}
