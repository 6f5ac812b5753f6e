// Wiz import end to end: a real Patchbay runtime scanning the Wiz simulator through the
// job queue, checked against the seed's import rules and the findings store's promises.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultCatalogue } from "../../src/connectors/catalogue.js";
import { NOT_ACCESSIBLE } from "../../src/findings/import.js";
import { SCAN_JOB, enqueueScan } from "../../src/findings/sync.js";
import { enqueueDueSyncs } from "../../src/schedules.js";
import { listJobs } from "../../src/jobs/queue.js";
import { type Browser, type TestApp, seedRepositories, setUpAdmin, testApp, text, runJobs } from "../helpers.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());
beforeEach(async () => {
  wiz.sim.faults.clear();
  wiz.sim.pageFaults.length = 0;
  wiz.sim.queries.length = 0;
  wiz.sim.findings.length = 0;
  app = await testApp({
    env: { PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://api.eu1.app.wiz.io=${wiz.api.url}` },
  });
  admin = await setUpAdmin(app);
  // Source control gives access to three of the four repositories the tenant scans.
  await seedRepositories(app, DEFAULT_REPOSITORIES.slice(0, 3));
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;

async function connect(form: Record<string, string> = {}): Promise<number> {
  const res = await admin.post("/integrations/wiz", {
    apiEndpoint: WIZ_ENDPOINT,
    clientId: WIZ_CLIENT.id,
    clientSecret: WIZ_CLIENT.secret,
    scanSca: "on",
    scanContainerImages: "on",
    ...form,
  });
  expect(res.status).toBe(303);
  return Number(/\/integrations\/wiz\/(\d+)/.exec(res.headers.get("location")!)![1]);
}

const drain = (opts: { advanceMs?: number } = {}) => runJobs(app, opts.advanceMs);

async function scan(integrationId: number): Promise<void> {
  await enqueueScan(db(), integrationId, app.clock.now());
  await drain();
}

async function lastRun(integrationId: number) {
  const run = await db().selectFrom("sync_runs").selectAll().where("integration_id", "=", integrationId).orderBy("id", "desc").executeTakeFirstOrThrow();
  return { ...run, counts: JSON.parse(run.counts) };
}

async function snapshot(): Promise<string> {
  const tables = ["findings", "finding_sources", "assets", "finding_events"] as const;
  const parts = await Promise.all(tables.map((t) => db().selectFrom(t).selectAll().execute()));
  return JSON.stringify(parts);
}

describe("Wiz import", () => {
  it("starts the first scan shortly after connecting and imports by the seed's rules", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 120, noise: 4 }));
    const id = await connect();
    expect(await app.runtime.worker.runOnce()).toBe(false); // "shortly after": not at once
    app.clock.advance(5_000);
    await drain();

    const run = await lastRun(id);
    expect(run.status).toBe("succeeded");
    // 120 importable minus those on the repository source control cannot reach (every 4th repo finding).
    const unreachable = wizTenant({ importable: 120 }).filter((f) => f.vulnerableAsset.repositoryName === DEFAULT_REPOSITORIES[3]).length;
    expect(run.counts).toMatchObject({ new: 120 - unreachable, updated: 0, resolved: 0 });
    expect(run.counts.skipped).toEqual({ "no CVE identifier": 4, [NOT_ACCESSIBLE]: unreachable + 4 });
    // Closed, accepted (REJECTED) and virtual-machine findings are never even fetched.
    expect(run.counts.fetched).toBe(120 + 4 * 2);
    expect(wiz.sim.queries.at(-1)!.filterBy).toEqual({ status: ["OPEN"], assetType: ["REPOSITORY_BRANCH", "CONTAINER_IMAGE"] });

    const findings = await db().selectFrom("findings").selectAll().execute();
    expect(findings).toHaveLength(120 - unreachable);
    const source = wizTenant({ importable: 120 })[0]!;
    const first = findings.find((f) => f.cve === source.name)!;
    expect(first.first_detected_at).toBe(source.firstDetectedAt);
    expect(first).toMatchObject({ package: "lodash", ecosystem: "npm", status: "open", installed_version: source.version, fixed_version: source.fixedVersion });
    const assets = await db().selectFrom("assets").selectAll().execute();
    expect(
      assets
        .filter((a) => a.kind === "repository")
        .map((a) => a.name)
        .sort(),
    ).toEqual(DEFAULT_REPOSITORIES.slice(0, 3).sort());
    expect(assets.filter((a) => a.kind === "container_image")).toHaveLength(5);

    const integration = await db().selectFrom("integrations").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    expect(integration.last_sync_at).toBe(app.clock.now().toISOString());
    const card = text(await (await admin.get("/integrations")).text());
    expect(card).toMatch(/Last scan finished .*: 128 fetched, \d+ new, 0 updated, 0 resolved, \d+ skipped:/);
    expect(card).toContain(`4 — no CVE identifier`);
  });

  it("writes nothing when the same data is imported again", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 700 }));
    const id = await connect();
    app.clock.advance(5_000);
    await drain();
    const before = await snapshot();
    app.clock.advance(60_000);
    await scan(id);
    const run = await lastRun(id);
    expect(run.counts).toMatchObject({ new: 0, updated: 0, resolved: 0 });
    expect(run.counts.unchanged).toBe((await db().selectFrom("findings").select("id").execute()).length);
    expect(await snapshot()).toBe(before);
  });

  it("resolves what Wiz stops reporting, reopens what comes back, and keeps history", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 12 }));
    const id = await connect();
    app.clock.advance(5_000);
    await drain();
    const gone = wiz.sim.findings.splice(0, 1)[0]!;
    await scan(id);
    expect((await lastRun(id)).counts.resolved).toBe(1);
    const finding = await db().selectFrom("findings").selectAll().where("cve", "=", gone.name).executeTakeFirstOrThrow();
    expect(finding.status).toBe("resolved");
    expect(finding.resolved_at).not.toBeNull();

    wiz.sim.findings.push(gone);
    await scan(id);
    const back = await db().selectFrom("findings").selectAll().where("id", "=", finding.id).executeTakeFirstOrThrow();
    expect(back.status).toBe("open");
    const page = text(await (await admin.get(`/vulnerabilities/${finding.id}`)).text());
    expect(page).toMatch(/scanner: Wiz us1: Resolved → Open — Reported again by the scanner/);
    expect(page).toMatch(/scanner: Wiz us1: Open → Resolved — No longer reported by the scanner/);
    expect(page).toMatch(/scanner: Wiz us1: Open — Imported/);
  });

  it("keeps a person's risk acceptance and false positive through re-imports", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 6 }));
    const id = await connect();
    app.clock.advance(5_000);
    await drain();
    const [a, b] = await db().selectFrom("findings").selectAll().orderBy("id").limit(2).execute();
    const until = new Date(app.clock.time + 30 * 24 * 3600_000).toISOString().slice(0, 10);
    expect(
      (await admin.post(`/vulnerabilities/${a!.id}/status`, { status: "risk_accepted", reason: "Not reachable from the internet", expires: until })).status,
    ).toBe(303);
    expect((await admin.post(`/vulnerabilities/${b!.id}/status`, { status: "false_positive", reason: "Dev dependency only" })).status).toBe(303);
    wiz.sim.findings.forEach((f) => (f.severity = "CRITICAL"));
    await scan(id);
    const after = await db().selectFrom("findings").selectAll().where("id", "in", [a!.id, b!.id]).orderBy("id").execute();
    expect(after.map((f) => [f.status, f.severity])).toEqual([
      ["risk_accepted", "critical"],
      ["false_positive", "critical"],
    ]);
    expect(after[0]!.status_reason).toBe("Not reachable from the internet");
  });

  it("makes one finding with two sources when two scanners report the same vulnerability", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 9 }));
    const us = await connect();
    const eu = await connect({ apiEndpoint: "https://api.eu1.app.wiz.io/" });
    app.clock.advance(5_000);
    await drain();
    expect((await lastRun(us)).status).toBe("succeeded");
    expect((await lastRun(eu)).counts).toMatchObject({ new: 0, updated: (await lastRun(us)).counts.new });
    const findings = await db().selectFrom("findings").select("id").execute();
    const sources = await db().selectFrom("finding_sources").select(["finding_id", "integration_id"]).execute();
    expect(sources).toHaveLength(findings.length * 2);
    const detail = text(await (await admin.get(`/vulnerabilities/${findings[0]!.id}`)).text());
    expect(detail).toContain("Wiz us1 — reports it open");
    expect(detail).toContain("Wiz eu1 — reports it open");
  });

  it("on disconnect removes the findings only that scanner reports and keeps shared ones", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 9 }));
    const us = await connect();
    app.clock.advance(5_000);
    await drain();
    wiz.sim.findings.push(...wizTenant({ importable: 12 }).slice(9));
    const eu = await connect({ apiEndpoint: "https://api.eu1.app.wiz.io/" });
    app.clock.advance(5_000);
    await drain();
    const before = (await db().selectFrom("findings").select("id").execute()).length;
    const confirm = text(await (await admin.get(`/integrations/wiz/${eu}/disconnect`)).text());
    const onlyEu = before - (await lastRun(us)).counts.new;
    expect(confirm).toContain(`${onlyEu} findings that only Wiz eu1 reports will be removed with it`);
    expect((await admin.post(`/integrations/wiz/${eu}/disconnect`, {})).status).toBe(303);
    expect((await db().selectFrom("findings").select("id").execute()).length).toBe(before - onlyEu);
    const sources = await db().selectFrom("finding_sources").select("integration_id").distinct().execute();
    expect(sources).toEqual([{ integration_id: us }]);
  });

  it("imports only container images when SCA scanning is off", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 30 }));
    const id = await connect({ scanSca: "" });
    app.clock.advance(5_000);
    await drain();
    expect(wiz.sim.queries.at(-1)!.filterBy).toEqual({ status: ["OPEN"], assetType: ["CONTAINER_IMAGE"] });
    const assets = await db().selectFrom("assets").select("kind").distinct().execute();
    expect(assets).toEqual([{ kind: "container_image" }]);
    expect((await lastRun(id)).counts.new).toBe(10);
  });
});

describe("scan faults", () => {
  it("keeps what it committed when page 2 fails, shows the error, and resumes at page 2", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 1200, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
    // A server error that outlasts the client's in-line retries.
    wiz.sim.pageFaults.push({ page: 2, status: 500, times: 4 });
    const id = await connect();
    app.clock.advance(5_000);
    await app.runtime.worker.runOnce();
    const run = await lastRun(id);
    const cursorAfterPage1 = run.cursor;
    expect(run).toMatchObject({ status: "interrupted", pages: 1 });
    expect(run.error).toContain("Wiz had a server error (HTTP 500)");
    expect(await db().selectFrom("findings").select("id").execute()).toHaveLength(500);
    const card = text(await (await admin.get("/integrations")).text());
    expect(card).toContain("Scan stopped on page 2: Wiz had a server error (HTTP 500)");
    expect(card).toContain("It will be retried and resume where it stopped.");
    const [job] = await listJobs(db(), { status: "queued" });
    expect(job!.last_error).toContain("HTTP 500");

    wiz.sim.queries.length = 0;
    await drain({ advanceMs: 10 * 60_000 });
    const resumed = await lastRun(id);
    expect(resumed).toMatchObject({ id: run.id, status: "succeeded", pages: 3 });
    expect(resumed.counts).toMatchObject({ fetched: 1200, new: 1200 });
    // The retry asked for page 2 first, with the cursor saved after page 1.
    expect(wiz.sim.queries.map((q) => q.after)).toEqual([cursorAfterPage1, expect.any(String)]);
    expect(await db().selectFrom("findings").select("id").execute()).toHaveLength(1200);
    expect(await db().selectFrom("integrations").select(["status", "last_error"]).where("id", "=", id).executeTakeFirstOrThrow()).toEqual({
      status: "connected",
      last_error: null,
    });
  });

  it("renews an expired token in the middle of a scan", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 1100, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
    wiz.sim.pageFaults.push({ page: 2, expireToken: true });
    const id = await connect();
    app.clock.advance(5_000);
    await app.runtime.worker.runOnce();
    expect(await lastRun(id)).toMatchObject({ status: "succeeded", pages: 3 });
    expect(wiz.sim.faults.requests.filter((r) => r.path === "/oauth/token").length).toBeGreaterThanOrEqual(2);
  });

  it("waits out a 429 with Retry-After", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 600, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
    wiz.sim.pageFaults.push({ page: 2, status: 429, retryAfter: 3, times: 2 });
    const id = await connect();
    app.clock.advance(5_000);
    await app.runtime.worker.runOnce();
    expect(await lastRun(id)).toMatchObject({ status: "succeeded", pages: 2 });
  });

  it("starts over when Wiz no longer accepts the saved cursor", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 1200, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
    wiz.sim.pageFaults.push({ page: 3, status: 500, times: 4 });
    const id = await connect();
    app.clock.advance(5_000);
    await app.runtime.worker.runOnce();
    expect(await lastRun(id)).toMatchObject({ status: "interrupted", pages: 2 });
    wiz.sim.pageFaults.length = 0;
    wiz.sim.pageFaults.push({ page: 3, invalidCursor: true });
    await drain({ advanceMs: 10 * 60_000 });
    const run = await lastRun(id);
    expect(run).toMatchObject({ status: "succeeded", pages: 3 });
    expect(run.counts).toMatchObject({ fetched: 1200, new: 200, unchanged: 1000 });
    expect(await db().selectFrom("findings").select("id").execute()).toHaveLength(1200);
  });

  it("reports malformed JSON from Wiz and, after the last attempt, marks the run failed", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 10 }));
    const id = await connect();
    wiz.sim.faults.add({ path: /graphql/, malformed: true });
    app.clock.advance(5_000);
    await drain({ advanceMs: 60 * 60_000 });
    const run = await lastRun(id);
    expect(run.status).toBe("failed");
    expect(run.error).toContain("malformed response");
    expect((await listJobs(db(), { status: "failed" }))[0]!.attempts).toBe(3);
    expect(text(await (await admin.get("/integrations")).text())).toContain("Last scan failed");
  });

  it("stops an attempt whose lease ran out once another took the scan over: the scan is imported once and succeeds", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 1800, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
    // Page 2 long enough in coming that page 1 is committed well before it, however slow the machine.
    wiz.sim.pageFaults.push({ page: 2, latencyMs: 2_500 });
    const id = await connect();
    app.clock.advance(5_000);
    // The first attempt commits page 1, then stalls past its lease (a blocked process, a hung call)...
    const stalled = app.runtime.worker.runOnce();
    // Page 1's commit (on PostgreSQL with its statistics refreshed) took more than a second on a
    // starved machine: the clock must not move before it, or the attempt's progress renews its lease.
    for (let i = 0; i < 4_000 && (await lastRun(id).catch(() => undefined))?.pages !== 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect((await lastRun(id)).pages).toBe(1);
    app.clock.advance(61_000);
    // ...and another attempt takes the job over, resumes at page 2 and finishes the scan. (On
    // PostgreSQL a claim skips a job row locked at that moment — the stalled attempt's own progress
    // update after page 1 — and a worker claims it at its next poll: so does this one.)
    let claimed = await app.runtime.worker.runOnce();
    for (let poll = 0; poll < 100 && !claimed; poll++) {
      await new Promise((r) => setTimeout(r, 20));
      claimed = await app.runtime.worker.runOnce();
    }
    expect(claimed).toBe(true);
    expect(await lastRun(id)).toMatchObject({ status: "succeeded", pages: 4, counts: { fetched: 1800, new: 1800 } });
    // The stalled attempt's pages then arrive: it writes nothing, and changes neither the run nor the job.
    await stalled;
    expect(await lastRun(id)).toMatchObject({ status: "succeeded", pages: 4, counts: { fetched: 1800, new: 1800 }, error: null });
    expect(await db().selectFrom("findings").select("id").execute()).toHaveLength(1800);
    expect(await db().selectFrom("sync_pages").select("page").execute()).toEqual([]);
    // One scan, one announcement of its new findings.
    expect(await db().selectFrom("domain_events").select("type").where("type", "=", "findings.new").execute()).toHaveLength(1);
    const [job] = (await listJobs(db())).filter((j) => j.type === SCAN_JOB.type);
    expect(job).toMatchObject({ status: "succeeded", last_error: null });
    expect(await db().selectFrom("integrations").select(["status", "last_error"]).where("id", "=", id).executeTakeFirstOrThrow()).toEqual({
      status: "connected",
      last_error: null,
    });
  });

  it("never runs two scans of one integration at once", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 10 }));
    const id = await connect();
    const again = await enqueueScan(db(), id, app.clock.now());
    const sync = await admin.post(`/integrations/wiz/${id}/sync`, {});
    expect(sync.status).toBe(303);
    const jobs = (await listJobs(db())).filter((j) => j.type === SCAN_JOB.type);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.id).toBe(again);
  });

  it("shows a running scan's progress on the card, which refreshes itself", async () => {
    wiz.sim.findings.push(...wizTenant({ importable: 1200, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
    wiz.sim.pageFaults.push({ page: 2, latencyMs: 1500 });
    await connect();
    app.clock.advance(5_000);
    const running = app.runtime.worker.runOnce();
    let card = "";
    for (let i = 0; i < 100 && !card.includes("findings read, page 1"); i++) {
      await new Promise((r) => setTimeout(r, 10));
      card = await (await admin.get("/integrations/card/wiz", { htmx: true })).text();
    }
    await running;
    expect(text(card)).toMatch(/Scanning: 500 of 1,200 findings read, page 1\./);
    expect(card).toMatch(/hx-trigger="every 2s"/);
    const done = await (await admin.get("/integrations/card/wiz", { htmx: true })).text();
    expect(done).not.toMatch(/hx-trigger="every 2s"/);
    expect(text(done)).toContain("1,200 fetched, 1,200 new");
  });
});

describe("schedule", () => {
  it("queues a scan for a scanner never scanned, then again only after six hours", async () => {
    const id = await connect();
    await drain({ advanceMs: 5_000 });
    expect(await enqueueDueSyncs(db(), defaultCatalogue(), app.clock.now())).toBe(0);
    app.clock.advance(6 * 3600_000);
    expect(await enqueueDueSyncs(db(), defaultCatalogue(), app.clock.now())).toBe(1);
    const queued = await listJobs(db(), { status: "queued" });
    expect(queued.map((j) => [j.type, JSON.parse(j.payload).integrationId])).toEqual([[SCAN_JOB.type, id]]);
  });
});
