// Container images: what registries list (and what scanners report on images), each with its
// registry, tags, source repository and open findings by severity.
import { Hono } from "hono";
import { sql } from "kysely";
import { SEVERITIES } from "../findings/normalize.js";
import { openFindingCounts } from "../findings/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const PAGE_SIZE = 100;

export function imageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/images", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 100);
    const showGone = c.req.query("gone") === "1";
    const after = c.req.query("after") ?? "";
    let query = deps.db
      .selectFrom("assets")
      .leftJoin("repositories", "repositories.id", "assets.repository_id")
      .leftJoin("integrations", "integrations.id", "assets.integration_id")
      .select(["assets.id", "assets.name", "assets.details", "assets.gone_at", "assets.updated_at", "repositories.full_name as repository", "repositories.url as repository_url", "integrations.name as integration_name"])
      .where("assets.kind", "=", "container_image")
      .orderBy("assets.name")
      .limit(PAGE_SIZE + 1);
    if (q) query = query.where(sql<boolean>`assets.name like ${`%${q.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%`} escape '\\'`);
    if (!showGone) query = query.where("assets.gone_at", "is", null);
    if (after) query = query.where("assets.name", ">", after);
    const rows = await query.execute();
    const more = rows.length > PAGE_SIZE;
    if (more) rows.pop();
    const counts = await openFindingCounts(deps.db, "asset", rows.map((r) => r.id));
    const images = rows.map((r) => {
      const details = JSON.parse(r.details) as { tags?: string[]; digest?: string; registry?: string; imageId?: string };
      return { ...r, tags: details.tags ?? [], digest: details.digest ?? details.imageId ?? "", counts: counts.get(r.id) };
    });
    const next = more ? rows.at(-1)!.name : undefined;
    return render(c, deps, "./images", {
      images,
      severities: SEVERITIES,
      q,
      showGone,
      nextQuery: next ? new URLSearchParams({ ...(q ? { q } : {}), ...(showGone ? { gone: "1" } : {}), after: next }).toString() : undefined,
    });
  });

  return app;
}
