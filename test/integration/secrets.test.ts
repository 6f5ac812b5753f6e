// Secrets never leave the vault: after connecting integrations of every kind of credential,
// running their jobs, and making them fail (refused tokens, failed pushes, failed scans), no
// secret appears in any page, log line, error table, job record — or anywhere in the database
// files on disk, where only their ciphertext may be.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { type Browser, type TestApp, createToken, tableNames, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { OciRegistrySim } from "../sim/oci.js";
import { NpmRegistrySim } from "../sim/packages.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { SlackSim } from "../sim/slack.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const SECRETS = {
  github: "github_pat_11SECRETgithubTOKENvalue0001",
  webhook: "webhook-secret-VALUE-never-shown-01",
  jira: "ATATT3xFfGF0SECRETjiraTOKEN0001",
  slackPath: "T0SECRET/B0SECRET/slackWEBHOOKsecret01",
  registry: "registry-PASSWORD-secret-0001",
  npm: "npm_SECRETnpmTOKENvalue00000001",
  wiz: WIZ_CLIENT.secret,
  metrics: "metrics-SCRAPE-token-secret-0001",
  oidc: "oidc-CLIENT-secret-value-0001",
};

let wiz: WizFixture;
let servers: RunningSim[] = [];
let app: TestApp;
let admin: Browser;
const logs: string[] = [];
let apiToken = "";
const pages: string[] = [];

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/api"), { name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.20", fixedVersion: "4.17.21", severity: "CRITICAL" }),
  );
  const github = new GitHubSim();
  github.addToken(SECRETS.github);
  github.repos.push({ id: 1, full_name: "acme/api", private: true, visibility: "private", archived: false, default_branch: "main" });
  const jira = new JiraSim();
  jira.addToken(SECRETS.jira, "svc@acme.example");
  jira.addProject("SEC", "Security");
  const slack = new SlackSim();
  slack.webhooks.set(SECRETS.slackPath, { channel: "#security" });
  const oci = new OciRegistrySim();
  oci.users.set("reader", { password: SECRETS.registry, catalog: true, repositories: "*" });
  oci.addImage("acme/api", "1.0", {});
  const npm = new NpmRegistrySim();
  npm.tokens.add(SECRETS.npm);
  npm.packages.set("@acme/ui", { versions: ["1.0.0"], latest: "1.0.0", private: true });
  servers = await Promise.all([github, jira, slack, oci, npm].map((s) => startSim(s.app())));
  const [gh, ji, sl, oc, np] = servers as RunningSim[];
  app = await testApp({
    logger: createLogger("debug", (line) => logs.push(line)),
    env: {
      PATCHBAY_METRICS_TOKEN: SECRETS.metrics,
      PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://api.github.com=${gh!.url},${jira.siteOrigin}=${ji!.url},https://api.atlassian.com=${ji!.url},https://hooks.slack.com=${sl!.url},https://registry.example.com=${oc!.url},https://registry.npmjs.org=${np!.url}`,
    },
  });
  admin = await setUpAdmin(app);
  await seedRepositories(app, []);
  const post = async (url: string, form: Record<string, string>) => {
    const res = await admin.post(url, form);
    expect(res.status, `${url}: ${text(await res.clone().text()).slice(0, 300)}`).toBeLessThan(400);
    return res;
  };
  await post("/integrations/github", { githubUrl: "https://github.com", token: SECRETS.github, webhookSecret: SECRETS.webhook });
  await post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: SECRETS.wiz, scanSca: "on", scanContainerImages: "on" });
  await post("/integrations/jira", { apiToken: SECRETS.jira, cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: jira.siteOrigin });
  await post("/integrations/slack", {
    webhookUrl: `https://hooks.slack.com/services/${SECRETS.slackPath}`,
    notifyIntegrationFailed: "on",
    notifyScanFailed: "on",
    notifyPushFailed: "on",
  });
  await post("/integrations/oci-registry", { registryUrl: "https://registry.example.com", username: "reader", password: SECRETS.registry });
  await post("/integrations/npm-registry", { scope: "@acme", token: SECRETS.npm });
  await post("/integrations/ci-upload", {});
  await post("/settings/sign-in", { part: "sso", issuer: "https://login.example.com", clientId: "patchbay", clientSecret: SECRETS.oidc, name: "Acme SSO" });
  const created = await (await admin.post("/settings/tokens", { name: "ci", scopes: "upload" })).text();
  apiToken = /pbt_[a-z2-7]{32}/.exec(created)![0];
  await runJobs(app, 5_000);
  const jiraId = (await app.runtime.database.db.selectFrom("integrations").select("id").where("kind", "=", "jira").executeTakeFirstOrThrow()).id;
  await post(`/trackers/${jiraId}/mappings`, securityBugMapping());
  await post("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "info", groupBy: "finding", pushMode: "link_and_update" });
  await runJobs(app, 5_000);

  // Now everything fails: refused credentials everywhere, a push and a scan that error out.
  jira.revoke(SECRETS.jira);
  github.tokens.get(SECRETS.github)!.revoked = true;
  oci.users.get("reader")!.password = "changed";
  npm.tokens.clear();
  wiz.sim.clients.clear();
  wiz.sim.findings.push(wizFinding(2, repoAsset("acme/api"), { name: "CVE-2022-24999", detailedName: "qs", version: "6.7.0", severity: "HIGH" }));
  for (const integration of await app.runtime.database.db.selectFrom("integrations").select(["id", "kind"]).execute()) {
    await admin.post(`/integrations/${integration.kind}/${integration.id}/sync`, {});
  }
  await admin.post("/vulnerabilities/push", { query: "", confirm: "yes" });
  for (let i = 0; i < 4; i++) await runJobs(app, 300_000);
  // An upload with the API token (its new finding is pushed to Jira, which refuses), a bad one, and one with a wrong token.
  const report = {
    SchemaVersion: 2,
    ArtifactName: "acme/api",
    ArtifactType: "repository",
    Results: [
      {
        Target: "package-lock.json",
        Type: "npm",
        Vulnerabilities: [{ VulnerabilityID: "CVE-2020-8203", PkgName: "lodash", InstalledVersion: "4.17.15", Severity: "HIGH" }],
      },
    ],
  };
  const uploaded = await app.runtime.app.request("http://localhost:8080/api/v1/scans?asset=acme/api", {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken}` },
    body: JSON.stringify(report),
  });
  expect(uploaded.status).toBe(201);
  for (let i = 0; i < 4; i++) await runJobs(app, 300_000);
  await app.runtime.app.request("http://localhost:8080/api/v1/scans?asset=acme/api", {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken}` },
    body: "{",
  });
  await app.runtime.app.request("http://localhost:8080/api/v1/scans", {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken.slice(0, -1)}x` },
    body: "{}",
  });

  // Every page a person can open, including each integration's dialog and card.
  const integrations = await app.runtime.database.db.selectFrom("integrations").select(["id", "kind"]).execute();
  const urls = [
    "/integrations",
    "/repositories",
    "/images",
    "/packages",
    "/vulnerabilities",
    "/vulnerabilities/1",
    "/trackers",
    `/trackers/${jiraId}`,
    "/trackers/mappings/1",
    "/trackers/mappings/1/edit",
    "/trackers/mappings/1/errors",
    "/remediations",
    "/jobs",
    "/uploads",
    "/settings/tokens",
    "/settings/users",
    "/settings/audit",
    "/settings/sign-in",
    "/settings/audit?action=integration",
    "/account",
  ];
  for (const i of integrations)
    urls.push(
      `/integrations/${i.kind}/${i.id}`,
      `/integrations/${i.kind}/${i.id}?tab=configuration`,
      `/integrations/card/${i.kind}`,
      `/integrations/${i.kind}/${i.id}/disconnect`,
    );
  for (const url of urls) {
    const res = await admin.get(url, { htmx: url.includes("/card/") });
    pages.push(`${url}\n${await res.text()}`);
  }
  // What the API answers an admin token (the audit log records every connection and change).
  const adminToken = await createToken(admin, ["admin"], { name: "automation", lifetime: "30" });
  for (const path of [
    "/audit?limit=500",
    "/integrations",
    "/jobs?limit=500",
    "/uploads",
    "/tickets",
    "/findings?status=all",
    "/findings/1",
    "/findings/export",
  ]) {
    const res = await app.runtime.app.request(`http://localhost:8080/api/v1${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status, path).toBe(200);
    pages.push(`/api/v1${path}\n${await res.text()}`);
  }
  // What Prometheus sees, and what a wrong scrape is told.
  for (const authorization of [`Bearer ${SECRETS.metrics}`, "Bearer wrong-token-0000000000"]) {
    const res = await app.client().request("/metrics", { headers: { authorization } });
    pages.push(`/metrics\n${await res.text()}`);
  }
});
afterAll(async () => {
  await app?.close();
  await wiz?.close();
  await Promise.all(servers.map((s) => s.close()));
});

const all = () => ({ ...SECRETS, apiToken });

describe("secrets", () => {
  it("made the integrations fail, so there was something to leak", async () => {
    const db = app.runtime.database.db;
    const errored = await db.selectFrom("integrations").select(["kind", "last_error"]).where("status", "=", "error").execute();
    expect(errored.map((i) => i.kind).sort()).toEqual(expect.arrayContaining(["github", "jira", "npm-registry", "oci-registry", "wiz"]));
    expect((await db.selectFrom("push_errors").select("id").execute()).length).toBeGreaterThan(0);
    expect(logs.length).toBeGreaterThan(50);
    expect(pages.length).toBeGreaterThan(40);
  });

  it("appear in no page", () => {
    for (const [name, secret] of Object.entries(all())) {
      for (const page of pages) expect(page.includes(secret), `${name} in ${page.split("\n")[0]}`).toBe(false);
    }
  });

  it("appear in no log line", () => {
    for (const [name, secret] of Object.entries(all())) {
      const line = logs.find((l) => l.includes(secret));
      expect(line, `${name} logged`).toBeUndefined();
    }
  });

  it("appear in no table, job record or error — and nowhere in the database files", async () => {
    const db = app.runtime.database.db;
    for (const name of await tableNames(app)) {
      const rows = (await db
        .selectFrom(name as never)
        .selectAll()
        .execute()) as Record<string, unknown>[];
      const dump = JSON.stringify(rows);
      for (const [secretName, secret] of Object.entries(all())) expect(dump.includes(secret), `${secretName} in table ${name}`).toBe(false);
    }
    // SQLite's files (PostgreSQL's are the server's own).
    const dir = app.config.dataDir;
    for (const file of app.runtime.database.sqlite ? fs.readdirSync(dir).filter((f) => f.startsWith("patchbay.db")) : []) {
      const bytes = fs.readFileSync(path.join(dir, file));
      for (const [secretName, secret] of Object.entries(all())) expect(bytes.includes(Buffer.from(secret)), `${secretName} in ${file}`).toBe(false);
    }
  });
});
