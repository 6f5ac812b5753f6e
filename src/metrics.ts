// Prometheus metrics, kept by prom-client (the maintained client): what Patchbay's own code
// observes as it runs (HTTP latency by route, outbound requests by service and status, job
// and sync durations) and what is read from the database when /metrics is scraped (jobs by
// type and state, unresolved push errors, findings by severity and status).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "patchbay_" });

export const httpDuration = new Histogram({
  name: "patchbay_http_request_duration_seconds",
  help: "Time to answer an HTTP request, by method, route pattern and status.",
  labelNames: ["method", "route", "status"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const outboundRequests = new Counter({
  name: "patchbay_outbound_requests_total",
  help: "Requests Patchbay sent to other services, by service and HTTP status (or 'network' when none came back), retries included.",
  labelNames: ["service", "status"] as const,
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: "patchbay_job_duration_seconds",
  help: "Time a background job attempt ran, by job type and outcome (succeeded, retrying, failed).",
  labelNames: ["type", "outcome"] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  registers: [registry],
});

export const syncDuration = new Histogram({
  name: "patchbay_sync_duration_seconds",
  help: "Time a sync run of an integration took (a scan, a repository or image listing), by outcome.",
  labelNames: ["outcome"] as const,
  buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
  registers: [registry],
});

/** Read from the database at each scrape. */
export const jobsGauge = new Gauge({
  name: "patchbay_jobs",
  help: "Background jobs kept in the queue, by type and state.",
  labelNames: ["type", "state"] as const,
  registers: [registry],
});
export const pushErrorsGauge = new Gauge({
  name: "patchbay_push_errors",
  help: "Unresolved ticket push errors, by tracker integration.",
  labelNames: ["integration"] as const,
  registers: [registry],
});
export const findingsGauge = new Gauge({
  name: "patchbay_findings",
  help: "Findings by severity and status.",
  labelNames: ["severity", "status"] as const,
  registers: [registry],
});
