// End to end in Chromium: a finding's Propose fix shows the diff, Open pull request opens it on
// GitHub (the simulator, through the built server's own worker), the linked GitHub issue is
// commented, and merging the pull request (GitHub's signed webhook) resolves the finding and
// comments the issue again.
import path from "node:path";
import SQLite from "better-sqlite3";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BrowserSuite } from "./browser.js";
import { GitHubSim } from "../sim/github.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { trivyFilesystemReport } from "../bench/reports.js";

const TOKEN = "github_pat_e2e_fixes_0001";
const SECRET = "e2e-fixes-webhook-secret";
const POM = `<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>payments</artifactId>
  <version>1.0.0</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>2.14.1</version>
    </dependency>
  </dependencies>
</project>
`;

const suite = new BrowserSuite();
let github: GitHubSim;
let sim: RunningSim;
let page: Page;
let sqlite: SQLite.Database;
let githubId: string;

async function until<T>(what: string, value: () => T | undefined | false, ms = 30_000): Promise<T> {
  for (const deadline = Date.now() + ms; ;) {
    const v = value();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  github = new GitHubSim();
  github.addToken(TOKEN);
  github.repos.push({ id: 7101, full_name: "acme/payments", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.repos.push({ id: 7102, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/payments", { "pom.xml": POM });
  sim = await startSim(github.app());
  suite.onClose(() => sim.close());
  await suite.start({ PATCHBAY_ORIGIN_MAP: `https://api.github.com=${sim.url}` });
  sqlite = new SQLite(path.join(suite.dataDir, "patchbay.db"), { timeout: 10_000 });
  suite.onClose(() => sqlite.close());
  const count = (query: string) => (sqlite.prepare(query).get() as { n: number }).n;
  const session = suite.session;

  // GitHub as source control, its repositories synced; a CI upload of a Trivy report of acme/payments.
  const connected = await session.send("/integrations/github", { githubUrl: "https://github.com", token: TOKEN, webhookSecret: SECRET });
  githubId = /\/integrations\/github\/(\d+)/.exec(connected.headers.get("location") ?? "")![1]!;
  await until("the repository sync", () => count("select count(*) as n from repositories where full_name = 'acme/payments'") === 1);
  await session.send("/integrations/ci-upload", {});
  const token = /pbt_[a-z2-7]{32}/.exec(await (await session.send("/settings/tokens", { name: "ci", scopes: "upload" })).text())![0];
  const uploaded = await fetch(`${suite.server.url}/api/v1/scans?asset=acme/payments`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: trivyFilesystemReport([
      { id: "CVE-2021-44228", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.15.0", severity: "CRITICAL" },
    ]),
  });
  expect(uploaded.status).toBe(201);

  // GitHub Issues (the same connection) linking every finding to an issue in acme/security and keeping it up to date.
  const tracker = await session.send("/integrations/github-issues", { source: githubId });
  const trackerId = /\/integrations\/github-issues\/(\d+)/.exec(tracker.headers.get("location") ?? "")![1]!;
  const mapping = await session.send(`/trackers/${trackerId}/mappings`, {
    project: "acme/security",
    ticketType: "issue",
    "source.title": "patchbay",
    "value.title.patchbay": "title",
    "status.done": "closed:completed",
  });
  const mappingId = /\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location") ?? "")![1]!;
  await session.send(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "link_and_update" });
  await session.send("/vulnerabilities/push", { query: "", confirm: "yes" });
  await until("the issue", () => github.issues.length === 1);

  await suite.openBrowser();
  page = suite.page;
}, 120_000);

afterAll(() => suite.close());

it("proposes the fix, shows its diff, opens it, and follows it to merged: the finding resolved and the issue commented", async () => {
  const findingId = (sqlite.prepare("select id from findings").get() as { id: number }).id;
  await page.goto(`${suite.server.url}/vulnerabilities/${findingId}`);
  await page.getByRole("link", { name: "Propose fix" }).click();
  await page.getByRole("heading", { name: "Propose fix", level: 1 }).waitFor();
  await page.getByRole("heading", { name: "Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.15.0" }).waitFor();
  const diff = await page.getByLabel("Changes to pom.xml").textContent();
  expect(diff).toContain("-      <version>2.14.1</version>");
  expect(diff).toContain("+      <version>2.15.0</version>");
  // Nothing is sent by looking.
  expect(github.pulls).toEqual([]);

  await page.getByRole("button", { name: /^Open pull request/ }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Queued");
  const pull = await until("the pull request", () => github.pulls[0]);
  expect(pull).toMatchObject({ repo: "acme/payments", base: "main", state: "open" });
  expect(github.branchFiles("acme/payments", pull.head)!["pom.xml"]).toContain("<version>2.15.0</version>");
  await until("the issue's comment on the opened pull request", () => github.issues[0]!.comments.some((c) => c.includes("Remediation pull request opened")));

  // Merged on GitHub: its signed webhook reaches Patchbay.
  github.mergePull("acme/payments", pull.number);
  const delivered = await fetch(`${suite.server.url}/webhooks/github/${githubId}`, {
    method: "POST",
    ...github.pullRequestDelivery(pull.number, "closed", SECRET),
  });
  expect(delivered.status).toBe(202);
  await until("the issue's comment on the merged pull request", () => github.issues[0]!.comments.some((c) => c.includes("Remediation pull request merged")));
  await until("the finding resolved", () => (sqlite.prepare("select status from findings").get() as { status: string }).status === "resolved");
  await page.goto(`${suite.server.url}/vulnerabilities/${findingId}`);
  // The facts list's Status: resolved by the merged pull request.
  expect(await page.locator("dt:text-is('Status') + dd").textContent()).toMatch(/^Resolved/);
  await page.goto(`${suite.server.url}/remediations`);
  await expect.poll(async () => (await page.locator("main").textContent()) ?? "").toContain("Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.15.0");
}, 120_000);
