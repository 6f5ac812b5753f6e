// End to end in Chromium: connect Jira from the Hub dialog, add a project through the
// mapping form (htmx loads issue types and fields from the tracker as choices are made),
// add an assignment, push a finding, and follow the ticket link and changelog.
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { auditPages, BrowserSuite, importFindings, settled } from "./browser.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT, type ServerProcess } from "../process.js";
import { JiraSim } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const SITE = "https://acme.atlassian.net";
const EMAIL = "patchbay-svc@acme.example";
const TOKEN = "ATATT-e2e-token-0001";
let wiz: WizFixture;
let jira: JiraSim;
let jiraServer: RunningSim;
let server: ServerProcess;
let page: Page;
const suite = new BrowserSuite();
const dataDir = suite.dataDir;

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(
    wizFinding(0, repoAsset("acme/payments-api"), {
      name: "CVE-2021-3749",
      detailedName: "axios",
      version: "0.21.1",
      fixedVersion: "0.21.2",
      severity: "CRITICAL",
    }),
  );
  jira = new JiraSim();
  jira.addToken(TOKEN, EMAIL);
  jira.addProject("SEC", "Security");
  jiraServer = await startSim(jira.app());
  await suite.start({ PATCHBAY_ORIGIN_MAP: `${wiz.originMap},${SITE}=${jiraServer.url}` });
  server = suite.server;
  // Findings first, through the pages: the admin, a repository, and a Wiz scan.
  const session = suite.session;
  await importFindings(session, dataDir, "acme/payments-api");
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
  await wiz?.close();
  await jiraServer?.close();
});

it("connects Jira, adds a project with its field mapping, and pushes a finding to it", async () => {
  await page.goto(server.url + "/integrations");

  await page.getByRole("link", { name: "Connect Jira", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("tab", { name: "Configuration" }).click();
  await settled(page);
  await dialog.getByLabel("API Token").fill(TOKEN);
  await dialog.getByLabel("Cloud ID").fill(jira.cloudId);
  await dialog.getByLabel("Email Address").fill(EMAIL);
  await dialog.getByLabel("Site URL").fill(SITE);
  await dialog.getByRole("button", { name: "Connect", exact: true }).click();
  await expect.poll(() => dialog.getByRole("status").first().textContent()).toContain("Connected.");
  await dialog.getByRole("link", { name: "Add Project" }).click();

  await expect.poll(() => page.getByRole("heading", { name: "Add Project" }).isVisible()).toBe(true);
  await page.getByLabel("1. Project").selectOption({ label: "Security (SEC)" });
  await settled(page);
  await page.getByLabel("2. Issue type").selectOption({ label: "Bug" });
  await settled(page);
  await expect.poll(() => page.getByRole("heading", { name: "3. Map fields" }).isVisible()).toBe(true);
  // Suggested from the field names: Summary ← Title, Priority ← Severity with the priority per severity.
  expect(await page.getByLabel("Source for Summary").inputValue()).toBe("patchbay");
  expect(await page.getByLabel("critical", { exact: true }).first().inputValue()).toBe("1");
  await page.getByLabel("Source for Due date").selectOption("patchbay");
  // A title template, tried on a finding before saving.
  await page.getByLabel("Title template").fill("[<%= it.severity %>] <%= it.cve %> (<%= it.package %>)");
  await page.getByRole("button", { name: "Test render" }).click();
  await expect.poll(() => page.getByRole("region", { name: "Rendered ticket" }).textContent()).toMatch(/\[critical\] CVE-2021-3749 \(axios\)/);
  // Test render works every time, not once per page load; a title that can render empty is refused by it.
  await page.getByLabel("Title template").fill("<% if (it.fixedVersion) { %>Fix <%= it.cve %><% } %>");
  await page.getByRole("button", { name: "Test render" }).click();
  await expect.poll(() => page.locator("#template-preview").textContent()).toContain("renders an empty title for a finding without a fixed version");
  await page.getByLabel("Title template").fill("[<%= it.severity %>] <%= it.cve %> (<%= it.package %>)");
  await page.getByRole("button", { name: "Test render" }).click();
  await expect.poll(() => page.getByRole("region", { name: "Rendered ticket" }).textContent()).toMatch(/\[critical\] CVE-2021-3749 \(axios\)/);
  await page.getByRole("button", { name: "Save Configuration" }).click();
  await expect.poll(() => page.getByRole("heading", { name: "Security (SEC) · Bug" }).isVisible()).toBe(true);

  await page.getByRole("button", { name: "Add assignment" }).click();
  await expect.poll(() => page.getByText("Explicitly Publish Changes —").first().isVisible()).toBe(true);
  // The README's screenshot of a tracker mapping, from this run.
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(dataDir, "mapping.png") });
  if (process.env.PATCHBAY_UPDATE_SCREENSHOT) fs.copyFileSync(path.join(dataDir, "mapping.png"), path.join(ROOT, "test", "e2e", "mapping.png"));

  await page.goto(server.url + "/vulnerabilities");
  await page.getByRole("link", { name: "CVE-2021-3749", exact: true }).click();
  await page.getByRole("button", { name: "Push to Integrators" }).click();
  await expect
    .poll(
      async () => {
        await page.reload();
        return page.getByRole("link", { name: /SEC-1/ }).count();
      },
      { timeout: 15_000 },
    )
    .toBe(1);
  // The link opens the issue's page; here the origin map routes Jira's site to its simulator, which shows it.
  const issueUrl = await page.getByRole("link", { name: /SEC-1/ }).getAttribute("href");
  expect(issueUrl).toBe(`${jiraServer.url}/browse/SEC-1`);
  const issuePage = await suite.browser.newPage();
  await issuePage.goto(issueUrl!);
  expect(await issuePage.locator("h1").textContent()).toBe("SEC-1: [critical] CVE-2021-3749 (axios)");
  await issuePage.close();
  await page.locator("details.changelog summary", { hasText: "Changelog of SEC-1" }).click();
  expect(await page.getByText("Created SEC-1 in Security (SEC)").isVisible()).toBe(true);
  expect(jira.issues[0]!.fields.duedate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  expect(jira.issues[0]!.fields.summary).toBe("[critical] CVE-2021-3749 (axios)");

  // A dry run before switching the assignment to automatic: SEC-1 is up to date, nothing would go.
  await page.goto(server.url + "/trackers/mappings/1");
  await page.getByText("Edit assignment").click();
  await page
    .locator("details[open]")
    .getByLabel(/Automatically Link New and Update Existing Link/)
    .check();
  await page.locator("details[open]").getByRole("button", { name: "Preview what it would push" }).click();
  await expect.poll(() => page.getByRole("region", { name: "Dry run" }).textContent()).toContain("Nothing would be sent");
  expect(jira.issues).toHaveLength(1);
});

it("has no serious or critical axe-core violation and one <h1> on the tracker pages", async () => {
  const found = await auditPages(suite.browser, server.url, [
    "/trackers",
    "/trackers/2",
    "/trackers/2/mappings/new",
    "/trackers/mappings/1",
    "/trackers/mappings/1/edit",
    "/trackers/mappings/1/errors",
    "/trackers/mappings/1/reconcile",
    "/integrations/jira/2?tab=configuration",
    "/vulnerabilities/1",
  ]);
  expect(found).toEqual({});
}, 120_000);
