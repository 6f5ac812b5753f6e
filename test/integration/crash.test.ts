// Real crashes: the Patchbay process is killed (SIGKILL) the moment Jira has created the
// issue, before Patchbay could record it. Started again on the same data, the push job is
// claimed again, waits out Jira Cloud's search lag (a minute, as the simulator lags too), and
// finds the issue by its label: one issue, linked, no duplicate. And killed the moment GitHub
// has made a fix's branch, before its pull request: started again, the fix job completes the
// same branch's one pull request.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import Database from "better-sqlite3";
import { BASE, type TestApp, TEST_KEY, runJobs, seedRepositories, setUpAdmin, tempDir, testApp, text } from "../helpers.js";
import { type ServerProcess, startServer } from "../process.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { GitHubSim } from "../sim/github.js";
import { trivyFilesystemReport } from "../bench/reports.js";
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

/** The rows a query reads from the data directory's database, opened read-only beside the server for just this. */
function readRows<T>(dataDir: string, query: string): T[] {
  const sqlite = new Database(path.join(dataDir, "patchbay.db"), { readonly: true, fileMustExist: true });
  try {
    return sqlite.prepare(query).all() as T[];
  } finally {
    sqlite.close();
  }
}

/**
 * In-process, on a new data directory: these Wiz findings imported, a Jira Cloud connection and a
 * mapping whose pushes are explicit; the test clock set to real time so that pushes queued now are
 * due for the process started next.
 */
async function jiraWithFindings(findings: Parameters<typeof wizFinding>[2][]) {
  const jira = new JiraSim();
  jira.addToken(TOKEN, EMAIL);
  jira.addProject("SEC", "Security");
  const jiraServer: RunningSim = await startSim(jira.app());
  cleanups.push(() => jiraServer.close());
  const wiz = await startWiz();
  cleanups.push(() => wiz.close());
  findings.forEach((f, i) => wiz.sim.findings.push(wizFinding(i, repoAsset("acme/payments-api"), f)));
  const dataDir = tempDir();
  const originMap = `${SITE}=${jiraServer.url},${wiz.originMap}`;
  const app: TestApp = await testApp({ env: { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_ORIGIN_MAP: originMap } });
  const admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/payments-api"]);
  await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(app, 5_000);
  expect((await admin.post("/integrations/jira", { apiToken: TOKEN, cloudId: jira.cloudId, email: EMAIL, siteUrl: SITE })).status).toBe(303);
  expect((await admin.post("/trackers/2/mappings", securityBugMapping())).status).toBe(303);
  await admin.post("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
  await runJobs(app);
  // runJobs moved the test clock ahead; pushes are due now, in real time.
  app.clock.time = Date.now();
  return { jira, dataDir, originMap, admin, app };
}

it("creates no duplicate issue when the process dies between Jira's create and Patchbay's commit", { timeout: 180_000 }, async () => {
  const { jira, dataDir, originMap, admin, app } = await jiraWithFindings([
    { name: "CVE-2021-3749", detailedName: "axios", version: "0.21.1", fixedVersion: "0.21.2", severity: "CRITICAL" },
  ]);
  // Jira Cloud's search shows a new issue only after up to a minute.
  jira.searchLagMs = 60_000;
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
  const ticketRow = () => readRows<{ external_key: string | null; linked_at: string | null }>(dataDir, "select external_key, linked_at from tickets")[0];
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

it("opens one fix pull request when the process dies between the branch and the pull request", { timeout: 120_000 }, async () => {
  const github = new GitHubSim();
  github.addToken("github_pat_crash_00001");
  github.repos.push({ id: 950, full_name: "acme/payments", private: true, visibility: "private", archived: false, default_branch: "main" });
  const pom =
    "<project>\n  <dependencies>\n    <dependency>\n      <groupId>org.apache.logging.log4j</groupId>\n      <artifactId>log4j-core</artifactId>\n      <version>2.14.1</version>\n    </dependency>\n  </dependencies>\n</project>\n";
  github.files.set("acme/payments", { "pom.xml": pom });
  const githubServer = await startSim(github.app());
  cleanups.push(() => githubServer.close());
  const dataDir = tempDir();
  const originMap = `https://api.github.com=${githubServer.url}`;

  // In-process: the repository, a finding in it from CI, and an admin's request to open its fix (queued, not run).
  const app: TestApp = await testApp({ env: { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_ORIGIN_MAP: originMap } });
  const admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: "github_pat_crash_00001" })).status).toBe(303);
  await runJobs(app);
  await admin.post("/integrations/ci-upload", {});
  const token = /pbt_[a-z2-7]{32}/.exec(text(await (await admin.post("/settings/tokens", { name: "ci", scopes: "upload" })).text()))![0];
  const report = trivyFilesystemReport([
    { id: "CVE-2021-44228", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.15.0", severity: "CRITICAL" },
  ]);
  const uploaded = await app.runtime.app.request(`${BASE}/api/v1/scans?asset=acme/payments`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: report,
  });
  expect(uploaded.status).toBe(201);
  await runJobs(app);
  app.clock.time = Date.now();
  expect((await admin.post("/vulnerabilities/1/fix", { path: "pom.xml" })).status).toBe(303);
  await app.runtime.close();

  let server: ServerProcess | undefined;
  const env = { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_ORIGIN_MAP: originMap, PATCHBAY_JOB_LEASE_SECONDS: "2" };
  // The first process dies the instant GitHub has made the branch; the pull request is never asked for.
  github.onRefCreated = async () => {
    github.onRefCreated = undefined;
    await server!.kill("SIGKILL");
  };
  server = await startServer(env);
  cleanups.push(() => server!.kill());
  expect(await server.exited).toBe("SIGKILL");
  const branch = [...(github.branches.get("acme/payments")?.keys() ?? [])];
  expect(branch).toHaveLength(1);
  expect(github.pulls).toEqual([]);

  server = await startServer(env);
  await server.ready();
  const remediation = () =>
    readRows<{ number: number; source_branch: string; state: string }>(dataDir, "select number, source_branch, state from remediations");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && remediation().length === 0) await new Promise((r) => setTimeout(r, 200));
  expect(github.pulls).toHaveLength(1);
  expect(github.pulls[0]!.head).toBe(branch[0]);
  expect(github.branchFiles("acme/payments", branch[0]!)!["pom.xml"]).toContain("<version>2.15.0</version>");
  expect(github.files.get("acme/payments")!["pom.xml"]).toBe(pom);
  expect(remediation()).toEqual([{ number: github.pulls[0]!.number, source_branch: branch[0], state: "open" }]);
});

it("takes over at once, after the process dies in a bulk create, the pushes it had taken along", { timeout: 240_000 }, async () => {
  const { jira, dataDir, originMap, admin, app } = await jiraWithFindings(
    Array.from({ length: 5 }, (_, i) => ({ name: `CVE-2024-${10_000 + i}`, detailedName: `pkg-${i}`, version: "1.0.0", severity: "CRITICAL" })),
  );
  for (let id = 1; id <= 5; id++) expect((await admin.post(`/vulnerabilities/${id}/push`, {})).status).toBe(303);
  await app.runtime.close();

  // The first process takes the pushes along into a bulk create and dies once Jira has made the first issue of it.
  let server: ServerProcess | undefined;
  const env = { PATCHBAY_DATA_DIR: dataDir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_ORIGIN_MAP: originMap, PATCHBAY_JOB_LEASE_SECONDS: "2" };
  jira.onCreate = async () => {
    if (!jira.bulkInFlight) return;
    jira.onCreate = undefined;
    await server!.kill("SIGKILL");
  };
  server = await startServer(env);
  cleanups.push(() => server!.kill());
  expect(await server.exited).toBe("SIGKILL");
  expect(jira.faults.requests.filter((r) => r.path === "/rest/api/3/issue/bulk")).toHaveLength(1);

  // Started again, each push's own job takes its ticket row over at once: every one waits out Jira
  // Cloud's search lag (a minute) and is linked, none waits for a lock a dead process held.
  const started = Date.now();
  server = await startServer(env);
  await server.ready();
  const linked = () => readRows<{ n: number }>(dataDir, "select count(*) as n from tickets where linked_at is not null")[0]!.n;
  while (Date.now() - started < 150_000 && linked() < 5) await new Promise((r) => setTimeout(r, 250));
  expect(linked()).toBe(5);
  expect(Date.now() - started).toBeLessThan(100_000);
  expect(new Set(jira.issues.map((i) => (i.fields.labels as string[]).find((l) => l.startsWith("patchbay-")))).size).toBe(jira.issues.length);
  expect(jira.issues.length).toBe(5);
  expect(
    readRows<{ last_error: string | null }>(dataDir, "select last_error from jobs where type = 'ticket.push'").filter((j) =>
      /Another push/.test(j.last_error ?? ""),
    ),
  ).toEqual([]);
});
