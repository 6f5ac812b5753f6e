// Repositories: what source control lists, with search, a filter by integration, and each
// repository's open findings by severity.
import { Hono } from "hono";
import { sql } from "kysely";
import { SEVERITIES } from "../findings/normalize.js";
import { openFindingCounts } from "../findings/store.js";
import { type Codeowners, ownersOf } from "../routing/codeowners.js";
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
    let query = deps.db
      .selectFrom("repositories")
      .leftJoin("integrations", "integrations.id", "repositories.integration_id")
      .selectAll("repositories")
      .select("integrations.name as integration_name")
      .orderBy("repositories.full_name")
      .limit(PAGE_SIZE + 1);
    if (q) query = query.where(sql<boolean>`repositories.full_name like ${`%${q.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%`} escape '\\'`);
    if (integrationId) query = query.where("repositories.integration_id", "=", integrationId);
    if (!showGone) query = query.where("repositories.accessible", "=", 1);
    if (after) query = query.where("repositories.full_name", ">", after);
    const rows = await query.execute();
    const more = rows.length > PAGE_SIZE;
    if (more) rows.pop();

    const counts = await openFindingCounts(deps.db, "repository", rows.map((r) => r.id));
    const integrations = await deps.db
      .selectFrom("integrations")
      .select(["integrations.id", "integrations.name"])
      .where((eb) => eb.exists(eb.selectFrom("repositories").select("repositories.id").whereRef("repositories.integration_id", "=", "integrations.id")))
      .orderBy("integrations.name")
      .execute();
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
      nextQuery: (name: string) => new URLSearchParams({ ...(q ? { q } : {}), ...(integrationId ? { integration: String(integrationId) } : {}), ...(showGone ? { inaccessible: "1" } : {}), after: name }).toString(),
    };
    return render(c, deps, isHtmx(c) && c.req.header("hx-target") === "repositories-results" ? "./repositories/results" : "./repositories/index", data);
  });

  return app;
}
