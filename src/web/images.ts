// Container images: what registries list (and what scanners report on images), each with its
// registry, tags, source repository and open findings by severity.
import { Hono } from "hono";
import { SEVERITIES } from "../findings/normalize.js";
import { listImages, openFindingCounts } from "../findings/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { render } from "./render.js";

const PAGE_SIZE = 100;

export function imageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/images", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 100);
    const showGone = c.req.query("gone") === "1";
    const after = c.req.query("after") ?? "";
    const rows = await listImages(deps.db, { q, showGone, after, limit: PAGE_SIZE + 1 });
    const more = rows.length > PAGE_SIZE;
    if (more) rows.pop();
    const counts = await openFindingCounts(
      deps.db,
      "asset",
      rows.map((r) => r.id),
    );
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
