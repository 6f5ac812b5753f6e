// GET /metrics: Prometheus's scrape, with a bearer token (PATCHBAY_METRICS_TOKEN) compared in
// constant time; off (404, saying how to turn it on) while no token is set. The gauges read
// from the database are refreshed at each scrape from stores, never by scanning findings.
import { constantTimeEqual } from "@oslojs/crypto/subtle";
import { Hono } from "hono";
import { SEVERITIES, SEVERITY_RANK } from "../findings/normalize.js";
import { findingCountsByStatus } from "../findings/query.js";
import { countJobsByTypeAndStatus } from "../jobs/queue.js";
import { findingsGauge, jobsGauge, pushErrorsGauge, registry } from "../metrics.js";
import { pushErrorTotals } from "../tickets/store.js";
import type { AppDeps, AppEnv } from "./context.js";

export function metricsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    if (!deps.metricsToken) return c.text("Metrics are off. Set PATCHBAY_METRICS_TOKEN and scrape /metrics with it as a bearer token.\n", 404);
    const given = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
    const encoder = new TextEncoder();
    const a = encoder.encode(given);
    const b = encoder.encode(deps.metricsToken);
    if (a.length !== b.length || !constantTimeEqual(a, b)) {
      c.header("WWW-Authenticate", 'Bearer realm="patchbay-metrics"');
      return c.text("Scrape /metrics with PATCHBAY_METRICS_TOKEN as a bearer token.\n", 401);
    }
    jobsGauge.reset();
    for (const row of await countJobsByTypeAndStatus(deps.db)) jobsGauge.set({ type: row.type, state: row.status }, Number(row.n));
    pushErrorsGauge.reset();
    for (const { name, total } of (await pushErrorTotals(deps.db)).values()) pushErrorsGauge.set({ integration: name }, total);
    findingsGauge.reset();
    for (const row of await findingCountsByStatus(deps.db)) {
      const severity = SEVERITIES.find((s) => SEVERITY_RANK[s] === row.severity_rank) ?? String(row.severity_rank);
      findingsGauge.set({ severity, status: row.status }, Number(row.n));
    }
    c.header("Content-Type", registry.contentType);
    return c.body(await registry.metrics());
  });
  return app;
}
