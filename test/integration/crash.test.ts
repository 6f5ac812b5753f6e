// A real crash: the Patchbay process is killed (SIGKILL) the moment Jira has created the
// issue, before Patchbay could record it. Started again on the same data, the push job is
// claimed again, waits out Jira Cloud's search lag (a minute, as the simulator lags too), and
// finds the issue by its label: one issue, linked, no duplicate.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import Database from "better-sqlite3";
import { type TestApp, TEST_KEY, runJobs, seedRepositories, setUpAdmin, tempDir, testApp } from "../helpers.js";
import { type ServerProcess, startServer } from "../process.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, startWiz } from "../sim/wiz-fixture.js";

const SITE = "https://acme.atlassian.net";
const EMAIL = "patchbay-svc@acme.example";
const TOKEN = "ATATT-classic-token-crash";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it("creates no duplicate issue when the process dies between Jira's create and Patchbay's commit", { timeout: 180_000 }, async () => {
  const jira = new JiraSim();
  // Jira Cloud's search shows a new issue only after up to a minute.
  jira.searchLagMs = 60_000;
  jira.addToken(TOKEN, EMAIL);
  jira.addProject("SEC", "Security");
  const jiraServer: RunningSim = await startSim(jira.app());
  cleanups.push(() => jiraServer.close());
  const wiz = await startWiz();
  cleanups.push(() => wiz.close());
  wiz.sim.findings.push(
    wizFinding(0, repoAsset("acme/payments-api"), {
      name: "CVE-2021-3749",
      detailedName: "axios",
      version: "0.21.1",
      fixedVersion: "0.21.2",
      severity: "CRITICAL",
    }),
  );
  const dataDir = tempDir();
  const originMap = `${SITE}=${jiraServer.url},${wiz.originMap}`;

  // Prepare the data in-process: findings, the Jira connection, a mapping and a queued push.
  const app: TestApp = await testApp({ env: { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_ORIGIN_MAP: originMap } });
  const admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/payments-api"]);
  await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(app, 5_000);
  expect((await admin.post("/integrations/jira", { apiToken: TOKEN, cloudId: jira.cloudId, email: EMAIL, siteUrl: SITE })).status).toBe(303);
  const mapping = await admin.post("/trackers/2/mappings", securityBugMapping());
  expect(mapping.status).toBe(303);
  await admin.post("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
  await runJobs(app);
  // runJobs moved the test clock ahead; the push is due now, in real time.
  app.clock.time = Date.now();
  await admin.post("/vulnerabilities/1/push", {});
  await app.runtime.close();

  let server: ServerProcess | undefined;
  const env = { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_ORIGIN_MAP: originMap, PATCHBAY_JOB_LEASE_SECONDS: "2" };
  // The first process dies the instant Jira has made the issue; its answer never arrives.
  jira.onCreate = async () => {
    jira.onCreate = undefined;
    await server!.kill("SIGKILL");
  };
  server = await startServer(env);
  cleanups.push(() => server!.kill());
  expect(await server.exited).toBe("SIGKILL");
  expect(jira.issues).toHaveLength(1);
  const ticketRow = () => {
    const sqlite = new Database(path.join(dataDir, "patchbay.db"), { readonly: true, fileMustExist: true });
    try {
      return sqlite.prepare("select external_key, linked_at from tickets").get() as { external_key: string | null; linked_at: string | null } | undefined;
    } finally {
      sqlite.close();
    }
  };
  expect(ticketRow()).toMatchObject({ external_key: null, linked_at: null });

  server = await startServer(env);
  await server.ready();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !ticketRow()?.linked_at) await new Promise((r) => setTimeout(r, 200));
  expect(ticketRow()).toMatchObject({ external_key: "SEC-1" });
  expect(jira.issues).toHaveLength(1);
  expect(jira.faults.requests.filter((r) => r.method === "POST" && r.path === "/rest/api/3/search/jql")).toHaveLength(1);
  expect(fs.existsSync(path.join(dataDir, "patchbay.db"))).toBe(true);
});
