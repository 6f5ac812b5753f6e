// GET /healthz: unauthenticated liveness for Docker's HEALTHCHECK and load balancers. A
// database that cannot be written (a full disk) is said in the body; the status stays 200,
// for the process is alive (readiness is another question).
import { Hono } from "hono";
import { pingDatabase } from "../db/database.js";
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
  return app;
}
