// Settings → Jobs: recent background jobs with status, attempts, progress and errors.
import { Hono } from "hono";
import type { Context } from "hono";
import type { JobStatus } from "../db/schema.js";
import { countJobsByStatus, type JobProgress, jobLabel, listJobs, retryFailedJob, retryWaitingJobNow } from "../jobs/queue.js";
import type { AppDeps, AppEnv } from "./context.js";
import { isHtmx, render } from "./render.js";
import { requireAdmin } from "./users.js";
import { audit } from "./audit.js";

const STATUSES: JobStatus[] = ["queued", "running", "succeeded", "failed"];

export function jobRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (c: Context<AppEnv>, notice?: string) => {
    const raw = c.req.query("status");
    const status = STATUSES.find((s) => s === raw);
    const jobs = (await listJobs(deps.db, { status, limit: 200 })).map((job) => ({
      ...job,
      label: jobLabel(job.type),
      // A bar only while the job runs (or waits to run again): a finished job's last count is history, not progress.
      progress: job.progress && (job.status === "running" || job.status === "queued") ? (JSON.parse(job.progress) as JobProgress) : undefined,
      lastProgress: job.progress && job.status !== "running" && job.status !== "queued" ? (JSON.parse(job.progress) as JobProgress) : undefined,
    }));
    const data = { jobs, status, statuses: STATUSES, counts: await countJobsByStatus(deps.db), notice };
    return render(c, deps, isHtmx(c) && c.req.header("hx-target") === "jobs-table" ? "./jobs-table" : "./jobs", data);
  };

  app.get("/jobs", (c) => page(c));

  app.post("/jobs/:id/retry", requireAdmin(deps), async (c) => {
    const id = Number(c.req.param("id"));
    const failed = await retryFailedJob(deps.db, id, deps.now());
    const waiting = !failed && (await retryWaitingJobNow(deps.db, id, deps.now()));
    if (failed || waiting) {
      deps.notifyWorker();
      await audit(c, deps, "job.retried", `job ${id}`, { how: failed ? "queued again" : "retried now" });
    }
    return page(
      c,
      failed
        ? `Job ${id} was queued again.`
        : waiting
          ? `Job ${id} is retried now instead of waiting.`
          : "Only a failed job, or one waiting to be retried, can be retried.",
    );
  });

  return app;
}
