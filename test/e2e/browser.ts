// Debian's Chromium for the browser tests, launched the way this machine allows, and the
// steps every browser test starts with.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { ADMIN } from "../helpers.js";
import type { HttpSession } from "../process.js";
import { WIZ_CLIENT, WIZ_ENDPOINT } from "../sim/wiz-fixture.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is needed for the browser tests: apt-get install -y chromium (looked for ${CHROMIUM}).`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}

/** Waits until htmx has no request, swap or settle in progress. */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"));
}

/** A page signed in as the admin, on the Integration Hub. */
export async function signedInPage(browser: Browser, baseUrl: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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
    sqlite.prepare("insert into repositories (integration_id, provider, full_name, created_at, updated_at) values (null, 'github', ?, ?, ?)").run(repository, stamp, stamp);
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
