// GET /healthz: unauthenticated liveness for Docker's HEALTHCHECK and load balancers. A
// database that cannot be written (a full disk) is said in the body; the status stays 200,
// for the process is alive. GET /readyz: readiness for a load balancer or Kubernetes — 200
// only when the database answers, can be written and has every migration applied; 503 with
// the reason otherwise (send no traffic here until then).
import { Hono } from "hono";
import { pendingMigrations, pingDatabase } from "../db/database.js";
import { countJobsByStatus } from "../jobs/queue.js";
import type { AppDeps, AppEnv } from "./context.js";

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", async (c) => {
    try {
      await pingDatabase(deps.db);
      const jobs = await countJobsByStatus(deps.db);
      const storage = deps.storageProblem();
      return c.json({
        status: "ok",
        database: storage ? `not writable: ${storage}` : "ok",
        queue: { queued: jobs.queued, running: jobs.running, failed: jobs.failed },
      });
    } catch (err) {
      deps.logger.error("health check failed", { error: err });
      return c.json({ status: "error", database: "unreachable", error: (err as Error).message }, 503);
    }
  });
  app.get("/readyz", async (c) => {
    const problems: string[] = [];
    try {
      await pingDatabase(deps.db);
      const storage = deps.storageProblem();
      if (storage) problems.push(`the database cannot be written: ${storage}`);
      const pending = await pendingMigrations(deps.db);
      if (pending.length) problems.push(`${pending.length} migration(s) not applied yet (${pending.join(", ")})`);
    } catch (err) {
      problems.push(`the database does not answer: ${(err as Error).message}`);
    }
    if (problems.length) {
      deps.logger.warn("not ready", { problems });
      return c.json({ status: "not ready", problems }, 503);
    }
    return c.json({ status: "ready" });
  });
  return app;
}
