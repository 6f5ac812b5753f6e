// Debian's Chromium for the browser tests, launched the way this machine allows, and the
// steps every browser test starts with.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import SQLite from "better-sqlite3";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, type ServerProcess, startServer } from "../process.js";
import { WIZ_CLIENT, WIZ_ENDPOINT } from "../sim/wiz-fixture.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is needed for the browser tests: apt-get install -y chromium (looked for ${CHROMIUM}).`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}

/**
 * What every browser test starts with and ends with: Patchbay (the built server, a process of
 * its own) on a data folder of its own with the admin set up, then Chromium with a page; on
 * close, everything it opened, and the folder.
 */
export class BrowserSuite {
  readonly dataDir = tempDir();
  server!: ServerProcess;
  /** The admin's session over plain HTTP, for setting things up through the pages. */
  session!: HttpSession;
  browser!: Browser;
  page!: Page;
  readonly #closers: (() => unknown)[] = [];

  /** Something to close with the suite (a simulator, a database handle), last opened first closed. */
  onClose(close: () => unknown): void {
    this.#closers.push(close);
  }

  /** Starts Patchbay with these settings besides its data folder and key, and sets up the admin (unless setUp is false: a first run). */
  async start(env: Record<string, string> = {}, setUp = true): Promise<void> {
    this.server = await startServer({ PATCHBAY_DATA_DIR: this.dataDir, PATCHBAY_SECRET_KEY: TEST_KEY, ...env });
    await this.server.ready();
    this.session = new HttpSession(this.server.url);
    if (setUp) await this.session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  }

  /** Chromium, with a page signed in as the admin (or, with signIn false, a fresh page). */
  async openBrowser(signIn = true): Promise<void> {
    this.browser = await launchChromium();
    this.page = signIn ? await signedInPage(this.browser, this.server.url) : await this.browser.newPage({ viewport: { width: 1280, height: 900 } });
  }

  async close(): Promise<void> {
    await this.browser?.close();
    await this.server?.kill("SIGTERM");
    for (const close of this.#closers.reverse()) await close();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Waits until htmx has no request, swap or settle in progress. */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"));
}

/** A page signed in as the admin, on the Integration Hub. */
export async function signedInPage(browser: Browser, baseUrl: string, options: Parameters<Browser["newPage"]>[0] = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, ...options });
  page.setDefaultTimeout(5000);
  await page.goto(baseUrl + "/login");
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Integration Hub" }).waitFor();
  return page;
}

/**
 * Findings through the pages of a running Patchbay: a reachable repository, a Wiz connection
 * and a scan, waited for until its findings are stored.
 */
export async function importFindings(session: HttpSession, dataDir: string, repository: string, count = 1): Promise<void> {
  const sqlite = new SQLite(path.join(dataDir, "patchbay.db"), { timeout: 10_000 });
  try {
    const stamp = new Date().toISOString();
    sqlite
      .prepare("insert into repositories (integration_id, provider, full_name, created_at, updated_at) values (null, 'github', ?, ?, ?)")
      .run(repository, stamp, stamp);
    const res = await session.send("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    const id = /\/integrations\/wiz\/(\d+)/.exec(res.headers.get("location") ?? "")?.[1];
    await session.send(`/integrations/wiz/${id}/sync`, {});
    const deadline = Date.now() + 20_000;
    while ((sqlite.prepare("select count(*) as n from findings").get() as { n: number }).n < count) {
      if (Date.now() > deadline) throw new Error("the first scan did not import the findings in time");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    sqlite.close();
  }
}

export type Dialog = ReturnType<Page["getByRole"]>;

/** Connects an integration from the Integration Hub's dialog: Configuration filled by `fill`, then Connect. */
export async function connectInHub(page: Page, baseUrl: string, card: string, fill: (dialog: Dialog) => Promise<void>): Promise<void> {
  await page.goto(baseUrl + "/integrations");
  await page.getByRole("link", { name: `Connect ${card}`, exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("tab", { name: "Configuration" }).click();
  await settled(page);
  await fill(dialog);
  await dialog.getByRole("button", { name: "Connect", exact: true }).click();
  await expect.poll(() => dialog.getByRole("status").first().textContent()).toContain("Connected.");
}

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** axe-core's serious and critical violations on the current page, as "rule: target" lines. */
export async function axeViolations(p: Page): Promise<string[]> {
  if (!(await p.evaluate(() => "axe" in window))) await p.addScriptTag({ path: AXE });
  const result = await p.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(ctx: Document, opts: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe;
    return axe.run(document, { resultTypes: ["violations"] });
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.slice(0, 3).map((n) => `${v.id}: ${n.target.join(" ")}`));
}

/**
 * Each page, as the admin sees it: axe-core's serious and critical violations, and a count of
 * <h1> other than one; only the pages with a problem are listed. axe-core is injected as a
 * script, which Patchbay's Content Security Policy rightly forbids: only this page bypasses it.
 */
export async function auditPages(browser: Browser, baseUrl: string, urls: string[]): Promise<Record<string, string[]>> {
  const checker = await signedInPage(browser, baseUrl, { bypassCSP: true });
  const found: Record<string, string[]> = {};
  try {
    for (const url of urls) {
      const res = await checker.goto(baseUrl + url);
      if (res?.status() !== 200) found[url] = [`HTTP ${res?.status()}`];
      const problems = await axeViolations(checker);
      const h1 = await checker.locator("h1").count();
      if (h1 !== 1) problems.push(`${h1} <h1> elements`);
      if (problems.length) found[url] = [...(found[url] ?? []), ...problems];
    }
  } finally {
    await checker.close();
  }
  return found;
}
