// Sign-in flows and the audit log in Chromium: turning on two-step sign-in by the QR code's key,
// signing in with a code from the app, reading what happened on the audit page with its filters,
// and single sign-on through a real OpenID provider; each page free of serious accessibility problems.
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN } from "../helpers.js";
import { freePort } from "../process.js";
import { OIDC_CLIENT, OidcSim } from "../sim/oidc.js";
import { BrowserSuite, axeViolations, signedInPage } from "./browser.js";

const suite = new BrowserSuite();
let page: Page;
const appCode = (key: Uint8Array, offsetSteps = 0) => generateHOTP(key, BigInt(Math.floor(Date.now() / 30_000) + offsetSteps), 6);

beforeAll(async () => {
  await suite.start();
  await suite.openBrowser();
  // axe-core is injected as a script: the page lets it past the CSP.
  page = await signedInPage(suite.browser, suite.server.url, { bypassCSP: true });
});
afterAll(async () => {
  await suite.close();
});

it("turns on two-step sign-in from the account page and signs in with the app's code", async () => {
  await page.goto(suite.server.url + "/account");
  await page.getByRole("link", { name: "Turn on two-step sign-in" }).click();
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await page.getByRole("img", { name: /QR code for your authenticator app/ }).waitFor();
  expect(await axeViolations(page)).toEqual([]);
  const typed = (await page.locator("figcaption code").textContent())!;
  const key = decodeBase32IgnorePadding(typed.replace(/ /g, ""));
  await page.getByLabel("The code the app shows").fill(appCode(key));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Two-step sign-in is on.");
  expect(await page.locator(".recovery-codes li").count()).toBe(10);

  await page.getByText(`Account: ${ADMIN.username}`).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login$/);
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Enter your sign-in code" }).waitFor();
  expect(await axeViolations(page)).toEqual([]);
  await page.getByLabel("Code").fill("000000");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect.poll(() => page.getByRole("alert").textContent()).toContain("4 tries left");
  expect(await page.getByLabel("Code").getAttribute("aria-invalid")).toBe("true");
  // The code used to turn it on was this step's (or the last one's): the next step's is new.
  await page.getByLabel("Code").fill(appCode(key, 1));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Integration Hub" }).waitFor();
}, 60_000);

it("shows the audit log with filters that keep their choices", async () => {
  await page.goto(suite.server.url + "/settings/audit");
  const rows = page.locator("tbody tr");
  await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(4);
  await page.getByLabel("What").selectOption("auth.sign_in_failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/action=auth.sign_in_failed/);
  expect(await rows.count()).toBe(1);
  expect(await rows.first().textContent()).toContain("reason: wrong code");
  expect(await page.getByLabel("What").inputValue()).toBe("auth.sign_in_failed");
  await page.getByLabel("Who").selectOption(ADMIN.username);
  await page.getByLabel("What").selectOption("auth");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/actor=admin/);
  const texts = await rows.allTextContents();
  expect(texts.some((t) => t.includes("Turned on two-step sign-in"))).toBe(true);
  expect(texts.some((t) => t.includes("Signed in") && t.includes("second: authenticator code"))).toBe(true);
  expect(await axeViolations(page)).toEqual([]);
}, 60_000);

describe("single sign-on in the browser", () => {
  const sso = new BrowserSuite();
  const sim = new OidcSim();
  afterAll(async () => {
    await sso.close();
    await sim.close();
  });

  it("signs in through the provider with one click, and shows a refusal with what to do", async () => {
    const port = await freePort();
    await sim.start(`http://127.0.0.1:${port}/login/oidc/callback`);
    sim.accounts.set("sub-alice", { preferred_username: "alice", email: "alice@acme.example", name: "Alice", groups: ["patchbay-admins"] });
    sim.accounts.set("sub-eve", { preferred_username: "eve", email: "eve@acme.example", name: "Eve", groups: ["marketing"] });
    await sso.start({
      PORT: String(port),
      PATCHBAY_OIDC_ISSUER: sim.issuer,
      PATCHBAY_OIDC_CLIENT_ID: OIDC_CLIENT.id,
      PATCHBAY_OIDC_CLIENT_SECRET: OIDC_CLIENT.secret,
      PATCHBAY_OIDC_NAME: "Acme SSO",
      PATCHBAY_OIDC_ADMIN_GROUP: "patchbay-admins",
      PATCHBAY_OIDC_MEMBER_GROUP: "patchbay-users",
    });
    await sso.openBrowser(false);
    const visitor = await sso.browser.newPage({ bypassCSP: true });
    sim.signInAs = "sub-eve";
    await visitor.goto(sso.server.url + "/integrations");
    await visitor.getByRole("link", { name: "Sign in with Acme SSO" }).click();
    await expect.poll(() => visitor.getByRole("alert").textContent()).toContain('Your account is not in the group "patchbay-users"');
    expect(await axeViolations(visitor)).toEqual([]);
    // Another browser (the provider remembers Eve in this one).
    const alice = await sso.browser.newPage();
    sim.signInAs = "sub-alice";
    await alice.goto(sso.server.url + "/vulnerabilities");
    await alice.getByRole("link", { name: "Sign in with Acme SSO" }).click();
    await alice.getByRole("heading", { name: "Vulnerabilities" }).waitFor();
    expect(await alice.getByText("Account: alice").count()).toBe(1);
  }, 60_000);
});
