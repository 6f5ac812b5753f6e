// End to end in Chromium for the other trackers: GitHub Issues through a connected GitHub
// integration (the dialog's integration choice), Azure DevOps (tree paths chosen in the
// mapping form), ServiceNow (a table, impact and urgency from severity) and GitLab Issues
// (a confidential flag from the tracker's values): connect, add a
// project, add an assignment that links new findings, and watch the next scan's finding
// arrive in the tracker on its own.
import path from "node:path";
import type { Page } from "playwright-core";
import SQLite from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HttpSession, type ServerProcess } from "../process.js";
import { AzureDevOpsSim } from "../sim/azure-devops.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { ServiceNowSim } from "../sim/servicenow.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { BrowserSuite, importFindings, settled } from "./browser.js";

let wiz: WizFixture;
let github: GitHubSim;
let ado: AzureDevOpsSim;
let snow: ServiceNowSim;
let gitlab: GitLabSim;
const sims: RunningSim[] = [];
let server: ServerProcess;
let session: HttpSession;
let page: Page;
let sqlite: SQLite.Database;
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
      severity: "HIGH",
    }),
  );
  github = new GitHubSim();
  github.addToken("github_pat_e2e_trackers");
  github.repos.push({ id: 77, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
  ado = new AzureDevOpsSim();
  ado.tokens.add("ado-pat-e2e");
  ado.addProject("Fabrikam Fiber");
  snow = new ServiceNowSim();
  snow.users.set("svc.patchbay", { password: "sn-e2e-password", roles: ["itil", "personalize_dictionary"] });
  gitlab = new GitLabSim();
  gitlab.addToken("glpat-e2e-trackers");
  gitlab.addProjects("platform", 1);
  for (const sim of [github, ado, snow, gitlab]) sims.push(await startSim(sim.app()));
  const [gh, az, sn, gl] = sims;
  await suite.start({
    PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://api.github.com=${gh!.url},https://dev.azure.com=${az!.url},https://acme.service-now.com=${sn!.url},https://gitlab.com=${gl!.url}`,
  });
  server = suite.server;
  session = suite.session;
  await session.send("/integrations/github", { githubUrl: "https://github.com", token: "github_pat_e2e_trackers", webhookSecret: "e2e-trackers-webhook-01" });
  await importFindings(session, dataDir, "acme/payments-api");
  sqlite = new SQLite(path.join(dataDir, "patchbay.db"), { timeout: 10_000 });
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  sqlite?.close();
  await suite.close();
  await wiz?.close();
  for (const s of sims) await s.close();
});

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Connect from the Hub's dialog, then Add Project with the given choices, then an assignment. */
async function connectAndMap(
  card: string,
  fill: (dialog: ReturnType<Page["getByRole"]>) => Promise<void>,
  project: { step1: string; project: string; step2: string; type: string },
  adjust: () => Promise<void> = async () => {},
): Promise<void> {
  await page.goto(server.url + "/integrations");
  await page.getByRole("link", { name: `Connect ${card}`, exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("tab", { name: "Configuration" }).click();
  await settled(page);
  await fill(dialog);
  await dialog.getByRole("button", { name: "Connect", exact: true }).click();
  await expect.poll(() => dialog.getByRole("status").first().textContent()).toContain("Connected.");
  await dialog.getByRole("link", { name: "Add Project" }).click();
  await page.getByLabel(project.step1).selectOption({ label: project.project });
  await settled(page);
  await page.getByLabel(project.step2).selectOption({ label: project.type });
  await settled(page);
  await adjust();
  await page.getByRole("button", { name: "Save Configuration" }).click();
  await expect.poll(() => page.getByRole("heading", { name: "Assignments" }).isVisible()).toBe(true);
  await page.getByLabel("Automatically Link New and Update Existing Link").check();
  await page.getByRole("button", { name: "Add assignment" }).click();
  await expect.poll(() => page.getByText("Automatically Link New and Update Existing Link —").first().isVisible()).toBe(true);
}

async function chooseTrackerValue(field: string, value: string): Promise<void> {
  await page.locator(`[id="src-${field}"]`).selectOption("tracker");
  await page.locator(`[id="tv-${field}"]`).selectOption({ label: value });
}

it("pushes a new finding automatically to GitHub Issues, Azure DevOps, ServiceNow and GitLab Issues, each set up in the browser", async () => {
  await connectAndMap(
    "GitHub Issues",
    async (dialog) => {
      await dialog.getByLabel("GitHub integration").selectOption({ label: "GitHub" });
    },
    { step1: "1. Repository", project: "acme/security", step2: "2. Issue type", type: "Issue" },
  );
  await connectAndMap(
    "Azure DevOps Boards",
    async (dialog) => {
      await dialog.getByLabel("Organization URL").fill("https://dev.azure.com/fabrikam");
      await dialog.getByLabel("Personal access token").fill("ado-pat-e2e");
    },
    { step1: "1. Project", project: "Fabrikam Fiber", step2: "2. Work item type", type: "Task" },
    async () => {
      await chooseTrackerValue("System.AreaPath", "Fabrikam Fiber\\Platform");
      await chooseTrackerValue("System.IterationPath", "Fabrikam Fiber\\Sprint 1");
    },
  );
  await connectAndMap(
    "ServiceNow",
    async (dialog) => {
      await dialog.getByLabel("Instance URL").fill("https://acme.service-now.com");
      await dialog.getByLabel("User name").fill("svc.patchbay");
      await dialog.getByLabel("Password", { exact: true }).fill("sn-e2e-password");
    },
    { step1: "1. Table", project: "Incident (incident)", step2: "2. Record type", type: "Record" },
    async () => {
      await chooseTrackerValue("assignment_group", "Security Operations");
    },
  );

  await connectAndMap(
    "GitLab Issues",
    async (dialog) => {
      await dialog.getByLabel("GitLab URL").fill("https://gitlab.com");
      await dialog.getByLabel("Access token").fill("glpat-e2e-trackers");
    },
    { step1: "1. Project", project: "platform/project-001", step2: "2. Issue type", type: "Issue" },
    async () => {
      await chooseTrackerValue("confidential", "Confidential");
    },
  );

  // The next scan brings a new finding: all four link it on their own.
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/payments-api"), {
      name: "CVE-2022-24999",
      detailedName: "qs",
      version: "6.5.2",
      fixedVersion: "6.5.3",
      severity: "CRITICAL",
    }),
  );
  await session.send("/integrations/wiz/2/sync", {});
  await until(() => github.issues.length === 1 && ado.workItems.length === 1 && snow.records().length === 1 && gitlab.issues.length === 1, 20_000);
  expect(gitlab.issues[0]).toMatchObject({ title: "CVE-2022-24999 in qs 6.5.2 (acme/payments-api)", confidential: true });
  expect(github.issues[0]!.title).toBe("CVE-2022-24999 in qs 6.5.2 (acme/payments-api)");
  expect(ado.workItems[0]!.fields["System.AreaPath"]).toBe("Fabrikam Fiber\\Platform");
  expect(snow.records()[0]).toMatchObject({ impact: "1", assignment_group: "8a5055c9c61122780043563ef53438e3" });

  const id = (sqlite.prepare("select id from findings where cve = 'CVE-2022-24999'").get() as { id: number }).id;
  await page.goto(`${server.url}/vulnerabilities/${id}`);
  expect(await page.getByRole("link", { name: /acme\/security#1/ }).count()).toBe(1);
  expect(await page.getByRole("link", { name: /^#101/ }).count()).toBe(1);
  expect(await page.getByRole("link", { name: new RegExp(snow.records()[0]!.number) }).count()).toBe(1);
  expect(await page.getByRole("link", { name: /platform\/project-001#1/ }).count()).toBe(1);
  expect(await page.getByRole("img", { name: "ServiceNow ticket" }).count()).toBe(1);
});
