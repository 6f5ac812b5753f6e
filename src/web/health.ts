// GET /healthz: unauthenticated liveness for Docker's HEALTHCHECK and load balancers.
import { sql } from "kysely";
import { Hono } from "hono";
import { countJobsByStatus } from "../jobs/queue.js";
import type { AppDeps, AppEnv } from "./context.js";

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", async (c) => {
    try {
      await sql`select 1`.execute(deps.db);
      const jobs = await countJobsByStatus(deps.db);
      return c.json({ status: "ok", database: "ok", queue: { queued: jobs.queued, running: jobs.running, failed: jobs.failed } });
    } catch (err) {
      deps.logger.error("health check failed", { error: err });
      return c.json({ status: "error", database: "unreachable", error: (err as Error).message }, 503);
    }
  });
  return app;
}
