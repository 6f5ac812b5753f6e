// Trends: open findings by severity over 90 days (server-side SVG, its numbers in a table) and
// how fast findings are fixed. A fresh install computes its history first (a job, with the page
// polling until it is there).
import { Hono } from "hono";
import { loadTrend, SNAPSHOT_JOB, TREND_DAYS, trendSvg } from "../findings/trends.js";
import { enqueue } from "../jobs/queue.js";
import type { AppDeps, AppEnv } from "./context.js";
import { isHtmx, render } from "./render.js";

export function trendRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/trends", async (c) => {
    const trend = await loadTrend(deps.db, deps.now());
    if (!trend) {
      await enqueue(deps.db, SNAPSHOT_JOB, null, deps.now());
      deps.notifyWorker();
    }
    const view = { trend, svg: trend ? trendSvg(trend) : "", days: TREND_DAYS };
    return render(c, deps, isHtmx(c) && c.req.header("hx-target") === "trends" ? "./trends-body" : "./trends", view);
  });
  return app;
}
