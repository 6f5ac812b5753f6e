// Crash soak (npm run test:soak): Patchbay is killed with SIGKILL at random moments — during
// scans that import findings and during pushes of tickets to Jira — and restarted, many times
// over. At the end: every finding the scanner reports is present once, every due ticket exists
// exactly once in the tracker, no job was lost or failed, and the database passes
// integrity_check. SOAK_KILLS sets the number of kills (default 60).
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, seedRepositoriesIn, type ServerProcess, freePort, startServer } from "../process.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { DEFAULT_REPOSITORIES, repoAsset, wizFinding, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const KILLS = Number(process.env.SOAK_KILLS ?? 60);
const INITIAL = 4000;
const ADDED_PER_ROUND = 150;

let wiz: WizFixture | undefined;
let jiraServer: RunningSim | undefined;
let server: ServerProcess | undefined;
const dir = tempDir("patchbay-soak-");
afterAll(async () => {
  await server?.kill("SIGKILL");
  await wiz?.close();
  await jiraServer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(`loses nothing and duplicates nothing across ${KILLS} kills during imports and pushes`, { timeout: 1_800_000 }, async () => {
  wiz = await startWiz();
  const repos = DEFAULT_REPOSITORIES.slice(0, 2);
  wiz.sim.findings.push(...wizTenant({ importable: INITIAL, repositories: repos, images: 8 }));
  // Pages that take a little while, so kills land inside scans as well as between them.
  wiz.sim.faults.add({ path: /graphql/, latencyMs: 250 });
  const jira = new JiraSim();
  jira.addToken("ATATT-soak", "svc@acme.example");
  jira.addProject("SEC", "Security");
  jiraServer = await startSim(jira.app());
  const port = await freePort();
  const env = {
    PORT: String(port),
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_JOB_LEASE_SECONDS: "2",
    PATCHBAY_ORIGIN_MAP: `${wiz.originMap},${jira.siteOrigin}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url}`,
  };
  server = await startServer(env);
  await server.ready();
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  seedRepositoriesIn(dir, repos);
  await session.send("/integrations/jira", { apiToken: "ATATT-soak", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: jira.siteOrigin });
  await session.send("/trackers/1/mappings", securityBugMapping());
  // Every new finding becomes its own issue, pushed automatically after each scan.
  await session.send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "info", groupBy: "finding", pushMode: "link_and_update" });
  await session.send("/integrations/wiz", WIZ_FORM);

  let added = 0;
  const during = { scan: 0, push: 0, idle: 0 };
  const probe = new SQLite(path.join(dir, "patchbay.db"), { readonly: true, timeout: 10_000 });
  for (let kill = 1; kill <= KILLS; kill++) {
    await sleep(300 + Math.floor(Math.random() * 2200));
    // What the kill interrupts.
    const running = probe.prepare("select type from jobs where status = 'running'").all() as { type: string }[];
    // A kill can land in both: scans and pushes run side by side (scans in a thread of their own).
    const scanning = running.some((j) => j.type === "scanner.sync");
    const pushing = running.some((j) => j.type === "ticket.push" || j.type === "tickets.sweep");
    if (scanning) during.scan++;
    if (pushing) during.push++;
    if (!scanning && !pushing) during.idle++;
    // SOAK_TRACE=1: what each kill interrupted, and how far the scans had got.
    if (process.env.SOAK_TRACE)
      console.log(
        JSON.stringify({
          kill,
          running: running.map((j) => j.type).filter((t, n, all) => all.indexOf(t) === n),
          findings: (probe.prepare("select count(*) as n from findings").get() as { n: number }).n,
          runs: probe.prepare("select id, status, pages from sync_runs order by id desc limit 2").all(),
        }),
      );
    await server.kill("SIGKILL");
    if (kill % 6 === 0) {
      // The scanner finds more: the next scan imports them and the sweep pushes them.
      for (let n = 0; n < ADDED_PER_ROUND; n++, added++) wiz.sim.findings.push(wizFinding(500_000 + added, repoAsset(repos[added % repos.length]!)));
    }
    server = await startServer(env);
    await server.ready(30_000);
    if (kill % 3 === 0) await session.send("/integrations/wiz/2/sync", {});
  }

  probe.close();
  // With enough kills, some must have landed inside both kinds of work.
  if (KILLS >= 30) {
    expect(during.scan, JSON.stringify(during)).toBeGreaterThan(0);
    expect(during.push, JSON.stringify(during)).toBeGreaterThan(0);
  }

  // Let it settle: the last scan finished, nothing queued or running, every finding ticketed.
  const expected = INITIAL + added;
  const db = new SQLite(path.join(dir, "patchbay.db"), { readonly: true, timeout: 10_000 });
  const value = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const busy = value(
      "select count(*) as n from jobs where status in ('running') or (status = 'queued' and run_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now') and type in ('scanner.sync', 'ticket.push', 'tickets.sweep'))",
    );
    const linked = value("select count(*) as n from tickets where linked_at is not null");
    if (busy === 0 && value("select count(*) as n from findings") === expected && linked === expected) break;
    if (Date.now() > deadline) {
      // What is left undone, and the jobs that were to do it.
      const left = db
        .prepare(
          "select f.id, t.id as ticket, t.lock_by, t.lock_until, t.notes, j.id as job, j.status, j.attempts, j.run_at, j.last_error from findings f left join tickets t on t.subject_key = 'finding:' || f.id left join jobs j on j.type = 'ticket.push' and j.payload like '%\"finding:' || f.id || '\"%' where t.linked_at is null limit 5",
        )
        .all();
      console.log(JSON.stringify({ left }, null, 1));
      throw new Error(`did not settle: ${value("select count(*) as n from findings")} findings of ${expected}, ${linked} tickets linked, ${busy} jobs busy`);
    }
    await sleep(500);
  }

  expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
  // Every reported finding present once.
  expect(value("select count(*) as n from findings")).toBe(expected);
  expect(value("select count(distinct fingerprint) as n from findings")).toBe(expected);
  expect(value("select count(*) as n from findings f where not exists (select 1 from finding_sources s where s.finding_id = f.id)")).toBe(0);
  // Every due ticket exactly once in Jira.
  const markers = jira.issues.map((i) => (i.fields.labels as string[]).find((l) => l.startsWith("patchbay-")));
  expect(new Set(markers).size).toBe(markers.length);
  expect(jira.issues.length).toBe(expected);
  expect(value("select count(*) as n from tickets")).toBe(expected);
  // No job lost: none failed, none left running.
  const failed = db.prepare("select id, type, last_error from jobs where status = 'failed'").all() as { id: number }[];
  if (failed.length)
    console.log(
      JSON.stringify(
        {
          jobs: db
            .prepare("select id, type, status, attempts, progress, claimed_progress, created_at, finished_at from jobs where type = 'scanner.sync'")
            .all(),
          runs: db.prepare("select id, job_id, status, pages, cursor, error from sync_runs").all(),
        },
        null,
        1,
      ),
    );
  expect(failed.map(({ id: _id, ...rest }) => rest)).toEqual([]);
  db.close();
  process.stdout.write(
    `\ncrash soak: ${KILLS} kills (${during.scan} during scans, ${during.push} during pushes, ${during.idle} between), ${expected} findings, ${jira.issues.length} Jira issues, 0 duplicates, 0 lost, 0 failed jobs\n`,
  );
});
