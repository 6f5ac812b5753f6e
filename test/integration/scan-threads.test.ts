// Scans in threads of their own, as the server runs them (src/findings/scan-threads.ts): the same
// import as on the main thread; the job's outcome, retry and lease kept by the main thread; the
// thread's log lines and failures carried back, redacted. Runs the built thread (npm test builds).
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { SCAN_THREAD_SCRIPT } from "../../src/findings/scan-threads.js";
import { createLogger } from "../../src/log.js";
import { type TestApp, seedRepositories, setUpAdmin, testApp } from "../helpers.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
const apps: TestApp[] = [];
beforeAll(async () => {
  wiz = await startWiz();
  for (const f of wizTenant({ importable: 1_300, repositories: DEFAULT_REPOSITORIES.slice(0, 3), images: 7, noise: 40 })) wiz.sim.findings.push(f);
});
afterAll(() => wiz.close());
afterEach(async () => {
  wiz.sim.faults.clear();
  wiz.sim.pageFaults.length = 0;
  for (const app of apps.splice(0)) await app.close();
});

/** A Patchbay with Wiz connected (its first scan queued, not run), scanning in threads or not; its log lines. */
async function connected(threads: boolean) {
  const lines: Record<string, unknown>[] = [];
  const app = await testApp({
    env: { PATCHBAY_ORIGIN_MAP: wiz.originMap },
    logger: createLogger("info", (line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
    runtime: threads ? { scanThreads: { script: SCAN_THREAD_SCRIPT } } : {},
  });
  apps.push(app);
  const admin = await setUpAdmin(app);
  await seedRepositories(app, DEFAULT_REPOSITORIES.slice(0, 3));
  expect((await admin.post("/integrations/wiz", WIZ_FORM)).status).toBe(303);
  const db = app.runtime.database.db;
  const integration = await db.selectFrom("integrations").select("id").where("kind", "=", "wiz").executeTakeFirstOrThrow();
  // The first scan is queued to start shortly after the connection.
  app.clock.advance(5_000);
  return { app, db, lines, integrationId: integration.id };
}

const scanJob = (app: TestApp) => app.runtime.database.db.selectFrom("jobs").selectAll().where("type", "=", "scanner.sync").executeTakeFirstOrThrow();
const findingCount = async (app: TestApp) =>
  Number(
    (
      await app.runtime.database.db
        .selectFrom("findings")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );
const run = (app: TestApp) => app.runtime.database.db.selectFrom("sync_runs").selectAll().orderBy("id", "desc").executeTakeFirstOrThrow();

it("imports exactly what a scan on the main thread imports, and the job, its progress and its log line are the main thread's", async () => {
  const here = await connected(false);
  const threaded = await connected(true);
  for (const { app } of [here, threaded]) expect(await app.runtime.worker.runOnce()).toBe(true);

  const findings = (app: TestApp) =>
    app.runtime.database.db
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select(["findings.fingerprint", "findings.cve", "findings.severity", "findings.status", "findings.package", "findings.installed_version", "assets.name"])
      .orderBy("findings.fingerprint")
      .execute();
  const imported = await findings(threaded.app);
  expect(imported).toHaveLength(1_300);
  expect(imported).toEqual(await findings(here.app));
  const threadRun = await run(threaded.app);
  expect(threadRun.status).toBe("succeeded");
  const counts = JSON.parse(threadRun.counts) as { fetched: number };
  expect(counts).toMatchObject({ new: 1_300 });
  expect(counts).toEqual(JSON.parse((await run(here.app)).counts));
  const job = await scanJob(threaded.app);
  expect(job.status).toBe("succeeded");
  expect(JSON.parse(job.progress!)).toMatchObject({ done: counts.fetched, total: counts.fetched });
  // The thread's log line, with the job's fields, through the app's logger.
  const finished = threaded.lines.find((l) => l.msg === "scan finished");
  expect(finished).toMatchObject({ jobId: job.id, jobType: "scanner.sync", fetched: counts.fetched, new: 1_300 });
  expect(threaded.lines.some((l) => l.msg === "job succeeded" && l.jobId === job.id)).toBe(true);
});

it("a failure in the thread keeps the pages before it, fails the attempt with the service's message (redacted), and the job is retried", async () => {
  const { app, lines, db, integrationId } = await connected(true);
  wiz.sim.faults.add({
    path: /graphql/,
    status: 403,
    skip: 1,
    body: JSON.stringify({ errors: [{ message: `Forbidden for client secret ${WIZ_CLIENT.secret}`, extensions: { code: "FORBIDDEN" } }] }),
  });
  await app.runtime.worker.runOnce();
  const failed = await run(app);
  // Interrupted: to be resumed from page 2 by the job's next attempt.
  expect(failed.status).toBe("interrupted");
  expect(failed.pages).toBe(1);
  expect(failed.error).toContain("Forbidden for client secret [redacted]");
  const integration = await db.selectFrom("integrations").select(["status", "last_error"]).where("id", "=", integrationId).executeTakeFirstOrThrow();
  expect(integration.status).toBe("error");
  expect(integration.last_error).toContain("Scan stopped on page 2: ");
  expect(integration.last_error).toContain("It will be retried and resume where it stopped.");
  const job = await scanJob(app);
  expect(job.status).toBe("queued");
  expect(job.last_error).toContain("Forbidden for client secret");
  expect(job.last_error).not.toContain(WIZ_CLIENT.secret);
  expect(JSON.stringify(lines)).not.toContain(WIZ_CLIENT.secret);
  expect(await findingCount(app)).toBe(500);
});

it("a rate limit met in the thread retries the job when the scanner said to", async () => {
  const { app } = await connected(true);
  wiz.sim.pageFaults.push({ page: 2, status: 429, retryAfter: 900 });
  await app.runtime.worker.runOnce();
  const job = await scanJob(app);
  expect(job.status).toBe("queued");
  expect(job.last_error).toContain("HTTP 429");
  expect(Date.parse(job.run_at) - app.clock.time).toBe(900_000);
});

it("an attempt whose lease was taken over writes nothing more from its thread, and leaves the job to the attempt holding it", async () => {
  const { app, db } = await connected(true);
  wiz.sim.pageFaults.push({ page: 2, latencyMs: 1_500 });
  const attempt = app.runtime.worker.runOnce();
  while ((await run(app).catch(() => undefined))?.pages !== 1) await new Promise((r) => setTimeout(r, 20));
  // Another process took the job over (this attempt's lease ran out).
  await db.updateTable("jobs").set({ locked_by: "another-process" }).where("type", "=", "scanner.sync").execute();
  await attempt;
  expect((await run(app)).pages).toBe(1);
  const job = await scanJob(app);
  expect(job).toMatchObject({ status: "running", locked_by: "another-process" });
  expect(await findingCount(app)).toBe(500);
});
