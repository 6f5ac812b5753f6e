// Settings → Jobs: recent background jobs with status, attempts, progress and errors.
import { Hono } from "hono";
import type { Context } from "hono";
import type { JobStatus } from "../db/schema.js";
import { countJobsByStatus, listJobs, retryFailedJob } from "../jobs/queue.js";
import type { AppDeps, AppEnv } from "./context.js";
import { isHtmx, render } from "./render.js";
import { requireAdmin } from "./users.js";

const STATUSES: JobStatus[] = ["queued", "running", "succeeded", "failed"];

export function jobRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (c: Context<AppEnv>, notice?: string) => {
    const raw = c.req.query("status");
    const status = STATUSES.find((s) => s === raw);
    const jobs = (await listJobs(deps.db, { status, limit: 200 })).map((job) => ({
      ...job,
      progress: job.progress ? (JSON.parse(job.progress) as { done: number; total: number; message?: string }) : undefined,
    }));
    const data = { jobs, status, statuses: STATUSES, counts: await countJobsByStatus(deps.db), notice };
    return render(c, deps, isHtmx(c) && c.req.header("hx-target") === "jobs-table" ? "./jobs-table" : "./jobs", data);
  };

  app.get("/jobs", (c) => page(c));

  app.post("/jobs/:id/retry", requireAdmin(deps), async (c) => {
    const ok = await retryFailedJob(deps.db, Number(c.req.param("id")), deps.now());
    if (ok) deps.notifyWorker();
    return page(c, ok ? `Job ${c.req.param("id")} was queued again.` : "Only a failed job can be retried.");
  });

  return app;
}
