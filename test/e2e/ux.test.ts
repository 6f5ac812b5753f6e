// What a newcomer notices, in Chromium: the navigation (sections, the current place, the
// keyboard, a phone), the themes, the Hub's first-run checklist, errors shown where they were
// caused, tables that fit the window, and every page checked by axe-core (no serious or
// critical violation, one <h1>). With PATCHBAY_UPDATE_SCREENSHOT=1 it also refreshes the
// README's screenshots of the Hub and the Vulnerabilities page from this run's data.
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type ServerProcess } from "../process.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { auditPages, axeViolations, BrowserSuite, connectInHub, importFindings, settled, signedInPage } from "./browser.js";

const SCREENSHOTS = path.join(ROOT, "test", "e2e");

let wiz: WizFixture;
let server: ServerProcess;
let page: Page;
const suite = new BrowserSuite();

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 60, repositories: DEFAULT_REPOSITORIES.slice(0, 1) }));
  await suite.start({ PATCHBAY_ORIGIN_MAP: wiz.originMap });
  server = suite.server;
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
  await wiz?.close();
});

/** The page is no wider than the window: nothing to scroll sideways. */
async function overflow(p: Page): Promise<number> {
  return p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

describe("a newcomer's first steps", () => {
  it("shows a checklist on the Hub in the recommended order, ticking what is done", async () => {
    await page.goto(server.url + "/integrations");
    const checklist = page.getByRole("region", { name: "Getting started" });
    expect(await checklist.getByRole("listitem").allTextContents()).toEqual([
      expect.stringContaining("Connect source control (to do)"),
      expect.stringContaining("Add scanners (to do)"),
      expect.stringContaining("Connect an issue tracker (to do)"),
      expect.stringContaining("Connect a messaging tool (to do)"),
    ]);
    expect(await checklist.textContent()).toContain("0 of 4 done");
    await importFindings(suite.session, suite.dataDir, DEFAULT_REPOSITORIES[0]!, 10);
    await page.reload();
    expect(await checklist.textContent()).toContain("1 of 4 done");
    expect(await checklist.getByRole("listitem").nth(1).textContent()).toContain("Add scanners (done)");
  });

  it("groups the pages into four sections, marks the current place, and works from the keyboard", async () => {
    await page.goto(server.url + "/vulnerabilities");
    const nav = page.getByRole("navigation", { name: "Main" });
    expect((await nav.locator("summary").allTextContents()).map((s) => s.trim())).toEqual(["Findings", "Assets", "Integrations", "Settings"]);
    expect(await nav.locator('summary[aria-current="true"]').textContent()).toBe("Findings");
    expect(await nav.locator('a[aria-current="page"]').textContent()).toBe("Vulnerabilities");
    // Tab to a section, open it with Enter, follow a link; Escape closes a menu and returns focus.
    await nav.getByText("Assets").focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => nav.getByRole("link", { name: "Repositories" }).isVisible()).toBe(true);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Repositories");
    await page.keyboard.press("Escape");
    await expect.poll(() => nav.getByRole("link", { name: "Repositories" }).isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Assets");
    // One menu open at a time.
    await nav.getByText("Findings").click();
    await nav.getByText("Settings").click();
    await expect.poll(() => nav.locator("details[open]").count()).toBe(1);
    await nav.getByRole("link", { name: "Jobs" }).click();
    await page.waitForURL(/\/jobs$/);
    expect(await nav.locator('summary[aria-current="true"]').textContent()).toBe("Settings");
  });

  it("follows the system's light or dark setting", async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const luminance = (rgb: string) => {
      const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
      return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
    };
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(server.url + "/vulnerabilities");
    expect(luminance(await background())).toBeLessThan(0.2);
    // Dark pages keep their contrast.
    const checker = await signedInPage(suite.browser, server.url, { bypassCSP: true });
    await checker.emulateMedia({ colorScheme: "dark" });
    for (const url of ["/vulnerabilities", "/integrations", "/jobs"]) {
      await checker.goto(server.url + url);
      expect(await axeViolations(checker), url).toEqual([]);
    }
    await checker.close();
    await page.emulateMedia({ colorScheme: "light" });
    await page.reload();
    expect(luminance(await background())).toBeGreaterThan(0.9);
  });

  it("fits the Vulnerabilities table in a 1366-pixel window, a 1024-pixel one and a phone", async () => {
    for (const width of [1366, 1024, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(server.url + "/vulnerabilities");
      expect(await overflow(page), `at ${width} px`).toBe(0);
    }
    // On a phone each finding is a card of labelled lines.
    const cell = page.locator('table.findings td[data-label="Package"]').first();
    expect(await cell.evaluate((td) => getComputedStyle(td, "::before").content)).toBe('"Package"');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});

describe("feedback where it was caused", () => {
  it("shows why an upload was refused, and clears the last outcome when the form is sent again", async () => {
    await connectInHub(page, server.url, "CI uploads", async () => {});
    await page.goto(server.url + "/uploads");
    await page.getByLabel("Asset", { exact: true }).fill(`https://github.com/${DEFAULT_REPOSITORIES[0]}`);
    const file = page.getByLabel("Report file (up to 200 MB)");
    await file.setInputFiles({
      name: "osv-scanner.json",
      mimeType: "application/json",
      buffer: fs.readFileSync(path.join(ROOT, "test/fixtures/reports/osv-scanner.json")),
    });
    await page.getByRole("button", { name: "Upload" }).click();
    await expect.poll(() => page.locator("#upload-result").textContent()).toContain("report imported");
    await file.setInputFiles({ name: "notes.json", mimeType: "application/json", buffer: Buffer.from('{"what": "not a scanner report"}') });
    await page.getByRole("button", { name: "Upload" }).click();
    await settled(page);
    const result = page.locator("#upload-result");
    await expect.poll(() => result.getByRole("alert").count()).toBe(1);
    expect(await result.textContent()).not.toContain("report imported");
    expect((await result.getByRole("alert").textContent())!.length).toBeGreaterThan(20);
  });

  it("names jobs in words and shows no half-filled bar for a finished job", async () => {
    await page.goto(server.url + "/jobs");
    const rows = await page.locator("#jobs-table tbody tr").allTextContents();
    expect(rows.some((r) => r.includes("Scan") && r.includes("succeeded"))).toBe(true);
    expect(rows.join("\n")).not.toContain("scanner.sync");
    expect(await page.locator("#jobs-table tr:has(.badge-succeeded) progress").count()).toBe(0);
  });
});

describe("accessibility", () => {
  const PAGES = [
    "/integrations",
    "/integrations/wiz/1?tab=configuration",
    "/integrations/jira/new",
    "/vulnerabilities",
    "/vulnerabilities/1",
    "/repositories",
    "/images",
    "/packages",
    "/uploads",
    "/trackers",
    "/remediations",
    "/trends",
    "/jobs",
    "/settings/users",
    "/settings/tokens",
    "/settings/sla",
    "/settings/policy",
    "/settings/ownership",
    "/settings/configuration",
    "/settings/audit",
    "/settings/sign-in",
    "/account",
    "/account/two-step",
  ];

  it("lays every page out within a phone's width (wide tables scroll inside themselves)", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    const wide: string[] = [];
    for (const url of PAGES) {
      await page.goto(server.url + url);
      const by = await overflow(page);
      if (by > 0) wide.push(`${url} by ${by} px`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(wide).toEqual([]);
  }, 60_000);

  it("has no serious or critical axe-core violation and one <h1> on every page and dialog URL", async () => {
    const found = await auditPages(suite.browser, server.url, PAGES);
    // And a signed-out visitor's page.
    const visitor = await suite.browser.newPage({ bypassCSP: true });
    await visitor.goto(server.url + "/login");
    const login = await axeViolations(visitor);
    if (login.length) found["/login"] = login;
    await visitor.close();
    expect(found).toEqual({});
  }, 180_000);

  it("takes the README's screenshots from this run's data when asked", async () => {
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 1366, height: 900 });
    for (const [url, name] of [
      ["/integrations", "hub.png"],
      ["/vulnerabilities", "vulnerabilities.png"],
    ] as const) {
      await page.goto(server.url + url);
      const file = path.join(suite.dataDir, name);
      await page.screenshot({ path: file });
      expect(fs.statSync(file).size).toBeGreaterThan(20_000);
      if (process.env.PATCHBAY_UPDATE_SCREENSHOT) fs.copyFileSync(file, path.join(SCREENSHOTS, name));
    }
  });
});
