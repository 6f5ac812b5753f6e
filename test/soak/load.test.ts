// Load (npm run test:soak): 50 signed-in users browsing and filtering from a second process
// while a 100,000-finding import and then a 1,000-ticket push to a rate-limited Jira run. No
// request may fail and no SQLITE_BUSY may escape; the latency percentiles are reported.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, seedRepositoriesIn, ROOT, type ServerProcess, startServer } from "../process.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const USERS = 50;
const FINDINGS = 100_000;
let wiz: WizFixture | undefined;
let jiraServer: RunningSim | undefined;
let server: ServerProcess | undefined;
const dir = tempDir("patchbay-load-");
afterAll(async () => {
  await server?.kill("SIGTERM");
  await wiz?.close();
  await jiraServer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function load(url: string, ms: number): Promise<{ requests: number; p50: number; p95: number; p99: number; max: number; failures: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "test/soak/load-client.mjs"), url, String(ms), String(USERS), ADMIN.username, ADMIN.password], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`load client failed: ${err}`))));
  });
}

it(
  `serves ${USERS} users without a failed request while a ${FINDINGS.toLocaleString("en")}-finding import and a 1,000-ticket push run`,
  { timeout: 1_200_000 },
  async () => {
    wiz = await startWiz();
    wiz.sim.findings.push(...wizTenant({ importable: FINDINGS, repositories: DEFAULT_REPOSITORIES.slice(0, 3), images: 50 }));
    const jira = new JiraSim();
    jira.addToken("ATATT-load", "svc@acme.example");
    jira.addProject("SEC", "Security");
    jira.rateLimitPerSecond = 10;
    jiraServer = await startSim(jira.app());
    server = await startServer(
      {
        PATCHBAY_DATA_DIR: dir,
        PATCHBAY_SECRET_KEY: TEST_KEY,
        PATCHBAY_LOG_LEVEL: "info",
        PATCHBAY_ORIGIN_MAP: `${wiz.originMap},${jira.siteOrigin}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url}`,
      },
      { nodeArgs: process.env.LOAD_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.LOAD_CPU_PROFILE}`] : [] },
    );
    await server.ready();
    const session = new HttpSession(server.url);
    await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
    seedRepositoriesIn(dir, DEFAULT_REPOSITORIES.slice(0, 3));
    const db = new SQLite(path.join(dir, "patchbay.db"), { readonly: true, timeout: 10_000 });
    const value = (sql: string) => (db.prepare(sql).get() as { n: number }).n;

    // Phase 1: browsing while the import runs.
    await session.send("/integrations/wiz", WIZ_FORM);
    const importing = load(server.url, 40_000);
    const during = await importing;
    const imported = value("select count(*) as n from findings");
    for (let i = 0; i < 600 && value("select count(*) as n from sync_runs where status = 'succeeded'") === 0; i++) await new Promise((r) => setTimeout(r, 500));
    expect(value("select count(*) as n from findings")).toBe(FINDINGS);

    // Phase 2: browsing while 1,000 critical findings are pushed to Jira at its 10 requests/s.
    await session.send("/integrations/jira", { apiToken: "ATATT-load", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: jira.siteOrigin });
    await session.send("/trackers/2/mappings", securityBugMapping());
    await session.send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "info", groupBy: "finding", pushMode: "explicit" });
    const ids = (db.prepare("select id from findings order by id limit 1000").all() as { id: number }[]).map((r) => r.id);
    const pushing = load(server.url, 40_000);
    for (const id of ids) await session.send(`/vulnerabilities/${id}/push`, {});
    const whilePushing = await pushing;
    const pushed = value("select count(*) as n from tickets where linked_at is not null");
    db.close();

    const busy = server
      .output()
      .split("\n")
      .filter((l) => /SQLITE_BUSY|database is locked/i.test(l));
    process.stdout.write(
      `\nload: ${USERS} users; during import (${imported.toLocaleString("en")} of ${FINDINGS.toLocaleString("en")} findings imported by its end): ${during.requests} requests, p50 ${during.p50.toFixed(0)} ms, p95 ${during.p95.toFixed(0)} ms, p99 ${during.p99.toFixed(0)} ms; ` +
        `during push (${pushed} tickets linked by its end): ${whilePushing.requests} requests, p50 ${whilePushing.p50.toFixed(0)} ms, p95 ${whilePushing.p95.toFixed(0)} ms, p99 ${whilePushing.p99.toFixed(0)} ms\n`,
    );
    fs.mkdirSync(path.join(ROOT, "test-results"), { recursive: true });
    fs.writeFileSync(
      path.join(ROOT, "test-results", "load.json"),
      JSON.stringify({ users: USERS, duringImport: during, duringPush: whilePushing, imported, pushed }, null, 2),
    );
    fs.writeFileSync(path.join(ROOT, "test-results", "load-server.log"), server.output());
    expect(during.failures).toEqual({});
    expect(whilePushing.failures).toEqual({});
    expect(busy).toEqual([]);
    expect(during.requests).toBeGreaterThan(500);
    expect(pushed).toBeGreaterThan(0);
  },
);
