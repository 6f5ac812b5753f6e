// Container images: what registries list (and what scanners report on images), each with its
// registry, tags, source repository and open findings by severity.
import { Hono } from "hono";
import { SEVERITIES } from "../findings/normalize.js";
import { listImages, openFindingCounts, saveImageCriticality } from "../findings/store.js";
import { enqueue } from "../jobs/queue.js";
import { RESCORE_JOB } from "../jobs/events.js";
import { CRITICALITIES } from "../routing/ownership.js";
import type { Criticality } from "../db/schema.js";
import type { AppDeps, AppEnv } from "./context.js";
import { audit } from "./audit.js";
import { readForm } from "./forms.js";
import { redirect, render } from "./render.js";
import { requireAdmin } from "./users.js";

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
      criticalities: CRITICALITIES,
      isAdmin: c.get("user")?.role === "admin",
      saved: c.req.query("saved") === "1",
      returnTo: c.req.url.slice(c.req.url.indexOf("/images")),
      q,
      showGone,
      nextQuery: next ? new URLSearchParams({ ...(q ? { q } : {}), ...(showGone ? { gone: "1" } : {}), after: next }).toString() : undefined,
    });
  });

  // An image's own criticality for the risk score (empty: its repository's, else normal).
  app.post("/images/:id/criticality", requireAdmin(deps), async (c) => {
    const id = Number(c.req.param("id"));
    const form = await readForm(c);
    const value = (form.criticality ?? "").trim();
    if (value && !CRITICALITIES.includes(value as Criticality))
      return render(
        c,
        deps,
        "./error",
        { title: "Unknown criticality", message: "Choose high, normal or low, or the repository's. Go back to Container images." },
        422,
      );
    const criticality = (value || null) as Criticality | null;
    if (!Number.isSafeInteger(id) || !(await saveImageCriticality(deps.db, id, criticality, deps.now().toISOString())))
      return render(c, deps, "./error", { title: "Image not found", message: "This image is not known to Patchbay. Go back to Container images." }, 404);
    await enqueue(deps.db, RESCORE_JOB, { asset: id }, deps.now());
    await audit(c, deps, "ownership.changed", `image ${id}`, { criticality: criticality ?? "repository's" });
    const back = form.return_to ?? "";
    return redirect(c, back.startsWith("/images") ? `${back}${back.includes("?") ? "&" : "?"}saved=1` : "/images?saved=1");
  });

  return app;
}
