// Ownership routing and configuration as code in Chromium: the owner table explains a bad row
// beside it and saves a good one, a repository's Ownership page takes an override and shows
// the route, and Settings → Configuration downloads the setup (no secret in it), previews an
// edited document's changes and applies them.
import fs from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ServerProcess } from "../process.js";
import { WIZ_CLIENT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { BrowserSuite, importFindings } from "./browser.js";

let wiz: WizFixture;
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
  await suite.start({ PATCHBAY_ORIGIN_MAP: wiz.originMap });
  server = suite.server;
  const session = suite.session;
  await importFindings(session, dataDir, "acme/payments-api");
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
  await wiz?.close();
});

it("routes by owner and topic, with a repository override", async () => {
  await page.goto(server.url + "/settings/ownership");
  await page.getByLabel("Owner or topic, row 1").fill("@acme/payments");
  await page.getByLabel("Assignee, row 1").fill("712020:payments-lead");
  await page.getByLabel("Labels, row 1").fill("team-payments");
  await page.getByLabel("Owner or topic, row 2").fill("topic:pci");
  await page.getByLabel("Slack channel, row 2").fill("pci alerts");
  await page.getByRole("button", { name: "Save routing" }).click();
  await expect.poll(() => page.locator("#rule-err-1").textContent()).toContain("not a Slack channel name");
  expect(await page.getByLabel("Owner or topic, row 2").getAttribute("aria-invalid")).toBe("true");
  await page.getByLabel("Slack channel, row 2").fill("#pci-alerts");
  await page.getByRole("button", { name: "Save routing" }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Saved");
  expect(await page.getByLabel("Owner or topic, row 1").inputValue()).toBe("@acme/payments");

  await page.goto(server.url + "/repositories");
  await page.getByRole("link", { name: "Ownership of acme/payments-api" }).click();
  await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Ownership of acme/payments-api");
  await page.getByLabel("Assignee").fill("712020:on-call");
  await page.getByLabel("Labels (comma separated)").fill("payments, pci");
  await page.getByRole("button", { name: "Save override" }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Saved");
  const route = await page.locator("main").textContent();
  expect(route).toContain("712020:on-call");
  expect(route).toContain("acme/payments-api override");
});

it("downloads the configuration, previews an edited one and applies it", async () => {
  await page.goto(server.url + "/settings/configuration");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download configuration (YAML)" }).click()]);
  const yaml = fs.readFileSync((await download.path())!, "utf8");
  expect(yaml).toContain("kind: wiz");
  expect(yaml).toContain('match: "@acme/payments"');
  expect(yaml).not.toContain(WIZ_CLIENT.secret);

  await page.getByLabel("Or paste the document").fill(yaml.replace(/critical: 3\n/, "critical: 5\n").replace("712020:payments-lead", "712020:new-lead"));
  await page.getByRole("button", { name: "Show changes" }).click();
  await expect.poll(() => page.getByRole("table", { name: "What importing would do" }).textContent()).toContain("critical: 3 days → 5 days");
  const table = await page.getByRole("table", { name: "What importing would do" }).textContent();
  expect(table).toContain("@acme/payments changed");
  expect(table).toMatch(/No change\s*Integration Wiz/);
  await page.getByRole("button", { name: "Apply these changes" }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("The configuration was imported");
  await page.goto(server.url + "/settings/sla");
  expect(await page.getByLabel("Critical severity (days)").inputValue()).toBe("5");

  // A broken document is refused with its line, and nothing changes.
  await page.goto(server.url + "/settings/configuration");
  await page.getByLabel("Or paste the document").fill("version: 1\nintegrations:\n  - kind: wiz\n    nmae: typo\n");
  await page.getByRole("button", { name: "Show changes" }).click();
  await expect.poll(() => page.getByRole("alert").textContent()).toContain('has "nmae", which Patchbay does not know');
  expect(await page.getByRole("alert").textContent()).toMatch(/Line 3/);
});
