// /metrics: Prometheus's view of a running Patchbay, behind its scrape token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp } from "../helpers.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";

const TOKEN = "metrics-token-0123456789abcdef";
let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 5, repositories: DEFAULT_REPOSITORIES.slice(0, 1) }));
  app = await testApp({ env: { PATCHBAY_METRICS_TOKEN: TOKEN, PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, DEFAULT_REPOSITORIES.slice(0, 1));
});
afterAll(async () => {
  await app?.close();
  await wiz?.close();
});

const scrape = (authorization?: string) => app.client().request("/metrics", authorization ? { headers: { authorization } } : {});

describe("Prometheus metrics", () => {
  it("answers only with the scrape token, compared whole", async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape(`Bearer ${TOKEN.slice(0, -1)}`)).status).toBe(401);
    expect((await scrape(`Bearer ${TOKEN}x`)).status).toBe(401);
    const ok = await scrape(`Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("text/plain");
  });

  it("counts requests by route pattern, outbound calls by service, jobs, syncs and findings", async () => {
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await runJobs(app, 5_000);
    await admin.get("/vulnerabilities");
    await admin.get("/vulnerabilities/1");
    const body = await (await scrape(`Bearer ${TOKEN}`)).text();
    expect(body).toMatch(/patchbay_http_request_duration_seconds_count\{method="GET",route="\/vulnerabilities",status="200"\} \d+/);
    // A finding's page counts under its pattern, not its id.
    expect(body).toMatch(/route="\/vulnerabilities\/:id\{\[0-9\]\+\}"/);
    expect(body).not.toMatch(/route="\/vulnerabilities\/1"/);
    expect(body).toMatch(/patchbay_outbound_requests_total\{service="Wiz",status="200"\} [1-9]/);
    expect(body).toMatch(/patchbay_job_duration_seconds_count\{type="scanner\.sync",outcome="succeeded"\} [1-9]/);
    expect(body).toMatch(/patchbay_sync_duration_seconds_count\{outcome="succeeded"\} [1-9]/);
    expect(body).toMatch(/patchbay_jobs\{type="scanner\.sync",state="succeeded"\} [1-9]/);
    expect(body).toMatch(/patchbay_findings\{severity="(critical|high|medium|low|info)",status="open"\} [1-9]/);
    expect(body).toContain("patchbay_process_resident_memory_bytes");
    expect(body).not.toContain(WIZ_CLIENT.secret);
  });

  it("is off without a token, saying how to turn it on; a short token is refused at start", async () => {
    const off = await testApp();
    try {
      const res = await off.client().get("/metrics");
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("Set PATCHBAY_METRICS_TOKEN");
    } finally {
      await off.close();
    }
    expect(() => loadConfig({ PATCHBAY_METRICS_TOKEN: "short" })).toThrow("PATCHBAY_METRICS_TOKEN must be at least 16 characters");
  });
});
