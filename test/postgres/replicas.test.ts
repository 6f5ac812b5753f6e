// Three Patchbay processes (the built bundle, as `npm start` runs it) on one PostgreSQL database,
// behind no proxy: pages go to any of them, every one works jobs and fires schedules. A Wiz scan
// of 101,000 findings and the automatic push of its 1,000 critical ones to a rate-limited Jira
// run while one replica is SIGKILLed twice (the one holding the scan, then one holding a push) and
// started again; GitLab, connected by OAuth with a token that must be refreshed every 20 s (and
// that GitLab revokes as it issues the next), is synced from random replicas all along.
// At the end: every finding once, every ticket once, no job failed or run twice, every schedule
// tick run once, and never a refresh token presented twice.
import { sql } from "kysely";
import { afterAll, expect, it } from "vitest";
import { type OpenPostgres, openPostgres } from "../../src/db/postgres.js";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, type ServerProcess, freePort, startServer } from "../process.js";
import { GitLabSim } from "../sim/gitlab.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { freshDatabase } from "./database.js";

const FINDINGS = 101_000;
const CRITICAL = 1_000;
const JIRA_RATE = 20;
const TOKEN_TTL_S = 320; // refreshed once under five minutes left: every 20 s

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

interface Replica {
  env: Record<string, string>;
  server: ServerProcess;
}

it("three replicas lose nothing, duplicate nothing and run each job and tick once while one is killed twice", { timeout: 1_200_000 }, async () => {
  const database = await freshDatabase();
  cleanup.push(() => database.drop());
  const pg: OpenPostgres = await openPostgres(database.url);
  cleanup.push(() => pg.close());
  const value = async (query: string) => Number((await sql.raw<{ n: number }>(query).execute(pg.db)).rows[0]!.n);

  // The scanner: 101,000 findings, of which the first 1,000 are critical (the push's share).
  const wiz: WizFixture = await startWiz();
  cleanup.push(() => wiz.close());
  const repositories = DEFAULT_REPOSITORIES.slice(0, 3);
  const tenant = wizTenant({ importable: FINDINGS, repositories, images: 20 });
  tenant.forEach((f, i) => {
    const severity = i < CRITICAL ? "CRITICAL" : "LOW";
    Object.assign(f, { severity, vendorSeverity: severity, nvdSeverity: severity, CVSSSeverity: severity, score: i < CRITICAL ? 9.8 : 2.1 });
  });
  wiz.sim.findings.push(...tenant);
  const jira = new JiraSim();
  jira.addToken("ATATT-replicas", "svc@acme.example");
  jira.addProject("SEC", "Security");
  jira.rateLimitPerSecond = JIRA_RATE;
  const jiraServer: RunningSim = await startSim(jira.app());
  cleanup.push(() => jiraServer.close());
  const gitlab = new GitLabSim();
  gitlab.webOrigin = "https://gitlab.example.com";
  gitlab.accessTokenTtl = TOKEN_TTL_S;
  gitlab.addProjects("team", 120);
  // Each page a moment: syncs overlap with refreshes made by other replicas.
  gitlab.faults.add({ path: /\/projects$/, latencyMs: 400 });
  const gitlabServer: RunningSim = await startSim(gitlab.app());
  cleanup.push(() => gitlabServer.close());

  const originMap = `${wiz.originMap},${jira.siteOrigin}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url},https://gitlab.example.com=${gitlabServer.url}`;
  const replicas: Replica[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const env = {
      PORT: String(port),
      DATABASE_URL: database.url,
      PATCHBAY_SECRET_KEY: TEST_KEY,
      PATCHBAY_DATA_DIR: tempDir(`patchbay-replica-${i}-`),
      PATCHBAY_JOB_LEASE_SECONDS: "5",
      PATCHBAY_ORIGIN_MAP: originMap,
    };
    const server = await startServer(env);
    replicas.push({ env, server });
    await server.ready(30_000);
  }
  cleanup.push(async () => Promise.all(replicas.map((r) => r.server.kill("SIGKILL"))));
  const startedAt = new Date();

  // One signed-in person, whose session any replica honours.
  const admin = new HttpSession(replicas[0]!.server.url);
  expect((await admin.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password })).status).toBe(303);
  const on = (i: number) => {
    const session = new HttpSession(replicas[i]!.server.url);
    for (const [k, v] of admin.cookies) session.cookies.set(k, v);
    return session;
  };
  const stamp = new Date().toISOString();
  for (const name of repositories)
    await pg.db
      .insertInto("repositories")
      .values({ integration_id: null, provider: "github", full_name: name, created_at: stamp, updated_at: stamp })
      .execute();

  expect(
    (await on(1).send("/integrations/jira", { apiToken: "ATATT-replicas", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: jira.siteOrigin })).status,
  ).toBe(303);
  expect((await on(2).send("/trackers/1/mappings", securityBugMapping())).status).toBe(303);
  await on(0).send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "critical", groupBy: "finding", pushMode: "link_and_update" });

  // GitLab by OAuth: Connect on one replica, GitLab's consent page, back to the same replica.
  gitlab.oauthApps.set("gl-replicas", { secret: "gl-replicas-secret", callback: `${replicas[0]!.server.url}/integrations/oauth/callback` });
  const start = await admin.send("/integrations/gitlab/oauth/start", {
    gitlabUrl: "https://gitlab.example.com",
    clientId: "gl-replicas",
    clientSecret: "gl-replicas-secret",
  });
  const authorize = new URL(start.headers.get("location")!);
  const consent = await (await fetch(gitlabServer.url + authorize.pathname + authorize.search)).text();
  const back = new URL(/id="authorize" href="([^"]+)"/.exec(consent)![1]!.replace(/&amp;/g, "&"));
  expect((await admin.send(back.pathname + back.search)).status).toBe(303);
  const gitlabId = await value("select id as n from integrations where kind = 'gitlab'");

  expect((await on(1).send("/integrations/wiz", WIZ_FORM)).status).toBe(303);

  // All along: someone asks for a GitLab sync on whichever replica their browser reaches.
  let poking = true;
  const poker = (async () => {
    while (poking) {
      const i = Math.floor(Math.random() * replicas.length);
      await on(i)
        .send(`/integrations/gitlab/${gitlabId}/sync`, {})
        .catch(() => undefined); // that replica may be down this moment
      await sleep(2500);
    }
  })();

  /** SIGKILLs the replica whose worker holds a running job of this type, waits, and starts it again. */
  const kills: string[] = [];
  async function killHolder(type: string, ready: () => Promise<boolean>): Promise<void> {
    for (const deadline = Date.now() + 400_000; ;) {
      if (Date.now() > deadline) throw new Error(`no running ${type} job to interrupt`);
      const holder = (
        await sql<{ locked_by: string }>`select locked_by from jobs where type = ${type} and status = 'running' and locked_by is not null`.execute(pg.db)
      ).rows[0]?.locked_by;
      if (holder && (await ready())) {
        const pid = Number(holder.split(":")[1]);
        const replica = replicas.find((r) => r.server.proc.pid === pid);
        if (replica) {
          expect(await replica.server.kill("SIGKILL")).toBe("SIGKILL");
          kills.push(`${type} on pid ${pid}`);
          await sleep(1500);
          replica.server = await startServer(replica.env);
          await replica.server.ready(30_000);
          return;
        }
      }
      await sleep(200);
    }
  }
  await killHolder("scanner.sync", async () => (await value("select count(*) as n from findings")) >= 25_000);
  await killHolder("ticket.push", async () => (await value("select count(*) as n from tickets where linked_at is not null")) >= 300);
  expect(kills).toHaveLength(2);

  // Settles: the scan done, every critical finding ticketed, nothing running.
  for (const deadline = Date.now() + 600_000; ;) {
    const findings = await value("select count(*) as n from findings");
    const linked = await value("select count(*) as n from tickets where linked_at is not null");
    const busy = await value("select count(*) as n from jobs where status = 'running' and type in ('scanner.sync', 'ticket.push', 'tickets.sweep')");
    if (findings === FINDINGS && linked === CRITICAL && busy === 0) break;
    if (Date.now() > deadline) throw new Error(`did not settle: ${findings} findings, ${linked} tickets linked, ${busy} jobs running`);
    await sleep(1000);
  }
  // Long enough for three of the every-minute schedule's ticks, with the GitLab syncs going on.
  while (Date.now() < startedAt.getTime() + 200_000) await sleep(1000);
  poking = false;
  await poker;
  for (const deadline = Date.now() + 60_000; (await value("select count(*) as n from jobs where status = 'running'")) > 0;) {
    if (Date.now() > deadline) throw new Error("jobs still running a minute after the work settled");
    await sleep(500);
  }
  const endedAt = new Date();

  // Every finding once, each with its scanner record.
  expect(await value("select count(*) as n from findings")).toBe(FINDINGS);
  expect(await value("select count(distinct fingerprint) as n from findings")).toBe(FINDINGS);
  expect(await value("select count(*) as n from findings f where not exists (select 1 from finding_sources s where s.finding_id = f.id)")).toBe(0);
  // Every ticket once in Jira, and Jira never pushed past its limit by the replicas together.
  const markers = jira.issues.map((issue) => (issue.fields.labels as string[]).find((l) => l.startsWith("patchbay-")));
  expect(new Set(markers).size).toBe(markers.length);
  expect(jira.issues).toHaveLength(CRITICAL);
  expect(await value("select count(*) as n from tickets")).toBe(CRITICAL);
  // No job failed; none ran to success twice (a scan's run succeeded once per job).
  const failed = (await sql<{ type: string; last_error: string }>`select type, last_error from jobs where status = 'failed'`.execute(pg.db)).rows;
  expect(failed).toEqual([]);
  expect(await value("select count(*) as n from (select job_id from sync_runs where status = 'succeeded' group by job_id having count(*) > 1) twice")).toBe(0);
  expect(
    await value("select count(*) as n from sync_runs r join integrations i on i.id = r.integration_id where r.status = 'succeeded' and i.kind = 'wiz'"),
  ).toBeGreaterThanOrEqual(1);
  // Each minute's tick of the every-minute schedule claimed once, none missed while a replica was down.
  const ticks = (
    await sql<{ tick: string }>`select tick from schedule_ticks where schedule = 'notifications' and tick > ${startedAt.toISOString()} order by tick`.execute(
      pg.db,
    )
  ).rows.map((r) => r.tick);
  const minutes: string[] = [];
  for (let m = Math.ceil(startedAt.getTime() / 60_000) * 60_000; m + 5_000 < endedAt.getTime(); m += 60_000) minutes.push(new Date(m).toISOString());
  expect(minutes.length).toBeGreaterThanOrEqual(3);
  expect(ticks.slice(0, minutes.length)).toEqual(minutes);
  // GitLab: refreshed about every 20 s across the replicas, never twice with one refresh token, never an expired token used; still connected.
  const refreshes = gitlab.tokenRequests.filter((g) => g === "refresh_token").length;
  const seconds = (endedAt.getTime() - startedAt.getTime()) / 1000;
  expect(refreshes).toBeGreaterThanOrEqual(2);
  expect(refreshes).toBeLessThanOrEqual(Math.ceil(seconds / (TOKEN_TTL_S - 300)) + 1);
  expect(gitlab.rejected.reusedRefreshTokens).toBe(0);
  expect(gitlab.rejected.expired).toBe(0);
  const card = (await sql<{ status: string; last_error: string | null }>`select status, last_error from integrations where kind = 'gitlab'`.execute(pg.db))
    .rows[0];
  expect(card).toEqual({ status: "connected", last_error: null });
  process.stdout.write(
    `\nreplicas: 3 processes, kills: ${kills.join(", ")}; ${FINDINGS} findings, ${jira.issues.length} Jira issues (${jira.rateLimited.length} answered 429), ` +
      `${refreshes} GitLab refreshes in ${Math.round(seconds)} s (${gitlab.rejected.revoked} requests with a token another replica's refresh revoked, retried), ${ticks.length} ticks\n`,
  );
});
