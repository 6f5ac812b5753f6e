// Bulk push soak (npm run test:soak): Push to Integrators of 1,000 new findings to a Jira limited
// to 10 requests a second, which takes them 50 to a request (POST /issue/bulk), while Patchbay is
// killed with SIGKILL five times during the push — some kills land while a bulk request's issues
// are made and its answer not yet read, the answer lost. At the end: every finding has its issue exactly once, nothing is recorded as
// failed, and the push's job finished.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, seedRepositoriesIn, type ServerProcess, freePort, startServer } from "../process.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const COUNT = 1000;
const KILLS = 5;

let wiz: WizFixture | undefined;
let jiraServer: RunningSim | undefined;
let server: ServerProcess | undefined;
const dir = tempDir("patchbay-soak-bulk-");
afterAll(async () => {
  await server?.kill("SIGKILL");
  await wiz?.close();
  await jiraServer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(`pushes ${COUNT} findings to Jira in bulk once each across ${KILLS} kills during the push`, { timeout: 1_200_000 }, async () => {
  wiz = await startWiz();
  const repos = DEFAULT_REPOSITORIES.slice(0, 1);
  wiz.sim.findings.push(...wizTenant({ importable: COUNT, repositories: repos, images: 0 }));
  const jira = new JiraSim();
  jira.addToken("ATATT-soak", "svc@acme.example");
  jira.addProject("SEC", "Security");
  jira.rateLimitPerSecond = 10;
  // A bulk create's answer takes a moment to leave Jira after its issues are made: a kill often lands then, the answer lost.
  jira.bulkAnswerDelayMs = 400;
  jiraServer = await startSim(jira.app());
  const env = {
    PORT: String(await freePort()),
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_JOB_LEASE_SECONDS: "2",
    PATCHBAY_ORIGIN_MAP: `${wiz.originMap},${jira.siteOrigin}=${jiraServer.url}`,
  };
  server = await startServer(env);
  await server.ready();
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  seedRepositoriesIn(dir, repos);
  const db = new SQLite(path.join(dir, "patchbay.db"), { readonly: true, timeout: 10_000 });
  const value = (query: string) => (db.prepare(query).get() as { n: number }).n;
  await session.send("/integrations/wiz", WIZ_FORM);
  for (const deadline = Date.now() + 300_000; value("select count(*) as n from sync_runs where status = 'succeeded'") < 1;) {
    if (Date.now() > deadline) throw new Error("the scan did not finish");
    await sleep(200);
  }
  expect(value("select count(*) as n from findings where status = 'open'")).toBe(COUNT);
  await session.send("/integrations/jira", { apiToken: "ATATT-soak", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: jira.siteOrigin });
  await session.send("/trackers/2/mappings", securityBugMapping());
  await session.send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "info", groupBy: "finding", pushMode: "explicit" });
  await session.send("/vulnerabilities/push", { query: "", confirm: "yes" });

  let inFlight = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    // Wait for the push to be under way again, then kill at a random moment of it.
    for (const deadline = Date.now() + 120_000; value("select count(*) as n from jobs where type = 'tickets.batch' and status = 'running'") === 0;) {
      if (Date.now() > deadline) throw new Error(`the push was not running before kill ${kill}`);
      await sleep(50);
    }
    await sleep(100 + Math.floor(Math.random() * 900));
    if (jira.bulkInFlight > 0) inFlight++;
    await server.kill("SIGKILL");
    server = await startServer(env);
    await server.ready(30_000);
  }

  // Settles: the push's job finished, every finding linked to its issue.
  for (const deadline = Date.now() + 900_000; ;) {
    const finished = value("select count(*) as n from push_batch_parts where finished_at is not null");
    const linked = value("select count(*) as n from tickets where linked_at is not null");
    if (finished === 1 && linked === COUNT) break;
    if (Date.now() > deadline) throw new Error(`did not settle: ${linked} tickets linked, push finished: ${finished === 1}`);
    await sleep(500);
  }
  const markers = jira.issues.map((i) => (i.fields.labels as string[]).find((l) => l.startsWith("patchbay-")));
  expect(new Set(markers).size).toBe(markers.length);
  expect(jira.issues).toHaveLength(COUNT);
  expect(value("select count(*) as n from tickets")).toBe(COUNT);
  expect(value("select count(*) as n from push_errors where resolved_at is null")).toBe(0);
  expect(value("select count(*) as n from jobs where status = 'failed'")).toBe(0);
  expect(jira.bulkCreates.length).toBeGreaterThanOrEqual(COUNT / 50);
  db.close();
  process.stdout.write(
    `\nbulk push soak: ${KILLS} kills (${inFlight} with a bulk create in flight), ${jira.bulkCreates.length} bulk creates, ${jira.issues.length} Jira issues, 0 duplicates, 0 lost\n`,
  );
});
