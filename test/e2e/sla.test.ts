// SLAs and Trends in Chromium: the SLA form previews a change (and explains a bad value beside its field), applies it,
// the Vulnerabilities table shows each deadline and filters by it through htmx, and the Trends
// page computes its history, then draws the chart as an accessible image with its numbers.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ServerProcess } from "../process.js";
import { BrowserSuite } from "./browser.js";

let server: ServerProcess;
let page: Page;
const suite = new BrowserSuite();

beforeAll(async () => {
  await suite.start();
  server = suite.server;
  const session = suite.session;
  await session.send("/integrations/ci-upload", {});
  const token = /pbt_[a-z2-7]{32}/.exec(await (await session.send("/settings/tokens", { name: "ci", scopes: "upload" })).text())![0];
  const report = {
    SchemaVersion: 2,
    ArtifactName: "registry.example.com/acme/api:1",
    ArtifactType: "container_image",
    Metadata: { RepoDigests: [`registry.example.com/acme/api@sha256:${"d".repeat(64)}`] },
    Results: [
      {
        Target: "app",
        Type: "npm",
        Vulnerabilities: [
          {
            VulnerabilityID: "CVE-2021-23337",
            PkgName: "lodash",
            InstalledVersion: "4.17.20",
            FixedVersion: "4.17.21",
            Title: "Command injection in lodash",
            Severity: "HIGH",
          },
        ],
      },
    ],
  };
  expect(
    (await fetch(`${server.url}/api/v1/scans`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(report) })).status,
  ).toBe(201);
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
});

it("edits the SLAs, shows deadlines on Vulnerabilities and filters by them, and draws the trend", async () => {
  await page.goto(server.url + "/settings/sla");
  await page.getByLabel("High severity (days)").fill("ten");
  await page.getByRole("button", { name: "Preview the change" }).click();
  await expect.poll(() => page.locator("#sla-err-high").textContent()).toContain("whole number of days");
  expect(await page.getByLabel("High severity (days)").getAttribute("aria-invalid")).toBe("true");
  await page.getByLabel("High severity (days)").fill("10");
  await page.getByRole("button", { name: "Preview the change" }).click();
  // The count runs as a job; the page shows it when it is in (htmx polls the preview).
  await expect.poll(() => page.locator("#preview").textContent(), { timeout: 15_000 }).toContain("1 deadline of 1 finding would change");
  await page.getByRole("button", { name: "Apply to every finding" }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Applied");

  const due = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
  await expect
    .poll(async () => {
      await page.goto(server.url + "/vulnerabilities");
      return page.locator("#findings-results").textContent();
    })
    .toContain(due);
  await page.getByLabel("Deadline").selectOption("overdue");
  await expect.poll(() => page.locator("#findings-results").textContent()).not.toContain("CVE-2021-23337");
  expect(page.url()).toContain("due=overdue");

  await page.goto(server.url + "/trends");
  const chart = page.getByRole("img", { name: /Open findings by severity/ });
  await chart.waitFor({ timeout: 15_000 });
  expect(await page.locator("#trend-desc").textContent()).toContain("1 high");
  await page.getByText("The numbers").click();
  expect(await page.getByRole("table", { name: "Open findings by severity per day" }).isVisible()).toBe(true);
});
