// End to end in Debian's Chromium: first-run setup, sign-in, the Integration Hub, the
// Wiz dialog's tabs (mouse and keyboard), a failing Test Connection, then Connect.
import type { Page } from "playwright-core";
import { BrowserSuite, settled } from "./browser.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN } from "../helpers.js";
import type { ServerProcess } from "../process.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { BitbucketSim } from "../sim/bitbucket.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let github: GitHubSim;
let githubServer: RunningSim;
let gitlab: GitLabSim;
let gitlabServer: RunningSim;
let bitbucket: BitbucketSim;
let bitbucketServer: RunningSim;
const GITHUB_TOKEN = "github_pat_e2e_000000000000";
const WEBHOOK_SECRET = "e2e-webhook-secret-000001";
let server: ServerProcess;
let page: Page;
const suite = new BrowserSuite();

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 90, repositories: DEFAULT_REPOSITORIES.slice(0, 3) }));
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  DEFAULT_REPOSITORIES.slice(0, 3).forEach((name, i) =>
    github.repos.push({ id: 700 + i, full_name: name, private: true, visibility: "private", archived: false, default_branch: "main" }),
  );
  githubServer = await startSim(github.app());
  gitlab = new GitLabSim();
  gitlab.addProjects("platform", 4);
  gitlabServer = await startSim(gitlab.app());
  gitlab.webOrigin = gitlabServer.url;
  bitbucket = new BitbucketSim();
  bitbucket.addRepos("acme-bb", 3);
  bitbucketServer = await startSim(bitbucket.app());
  // The simulator doubles as a GitHub Enterprise Server the browser can reach for OAuth.
  github.oauthApps.set("Iv1.e2e", { secret: "e2e-oauth-secret", callback: "" });
  await suite.start(
    {
      PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://api.github.com=${githubServer.url},https://bitbucket.org=${bitbucketServer.url},https://api.bitbucket.org=${bitbucketServer.url}`,
    },
    false,
  );
  server = suite.server;
  github.oauthApps.get("Iv1.e2e")!.callback = `${server.url}/integrations/oauth/callback`;
  gitlab.oauthApps.set("gl-e2e", { secret: "gl-e2e-secret", callback: `${server.url}/integrations/oauth/callback` });
  bitbucket.consumers.set("bb-e2e", { secret: "bb-e2e-secret", callback: `${server.url}/integrations/oauth/callback` });
  await suite.openBrowser(false);
  page = suite.page;
  page.setDefaultTimeout(5000);
});

afterAll(async () => {
  await suite.close();
  await wiz?.close();
  await githubServer?.close();
  await gitlabServer?.close();
  await bitbucketServer?.close();
});

describe("in a real browser", () => {
  it("sets up the admin account on first visit and lands on the Hub", async () => {
    await page.goto(server.url + "/");
    await expect.poll(() => page.url()).toBe(server.url + "/setup");
    await page.getByLabel("Username").fill(ADMIN.username);
    await page.getByLabel("Password", { exact: false }).first().fill(ADMIN.password);
    await page.getByLabel("Repeat password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.waitForURL(server.url + "/integrations");
    await expect.poll(() => page.getByRole("heading", { name: "Integration Hub" }).isVisible()).toBe(true);
  });

  it("signs out and back in", async () => {
    // The account menu, opened from the keyboard, holds the way out.
    await page.getByText(`Account: ${ADMIN.username}`).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/login$/);
    await page.getByLabel("Username").fill(ADMIN.username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Wrong username or password.");
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(server.url + "/integrations");
  });

  it("shows the Hub's categories and filters cards as you type", async () => {
    for (const name of ["Source Control", "Security Scanners", "Container Registries", "Package Registries", "Collaboration & Ticketing"]) {
      expect(await page.getByRole("heading", { name, exact: true }).isVisible()).toBe(true);
    }
    await page.getByLabel("Search integrations").fill("servicenow");
    await expect.poll(() => page.locator("article.card").count()).toBe(1);
    await page.getByLabel("Search integrations").fill("");
    await expect.poll(() => page.locator("article.card").count()).toBeGreaterThan(10);
    await settled(page);
  });

  it("connects GitHub by token and lists its repositories", async () => {
    await page.goto(server.url + "/integrations");
    await settled(page);
    await page.getByRole("link", { name: "Connect GitHub", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await settled(page);
    await dialog.getByRole("tab", { name: "Configuration" }).click();
    await settled(page);
    await dialog.getByLabel("GitHub URL").fill("https://github.com");
    await dialog.getByLabel("Personal access token").fill(GITHUB_TOKEN);
    await dialog.getByLabel("Webhook secret").fill(WEBHOOK_SECRET);
    await dialog.getByRole("button", { name: "Connect", exact: true }).click();
    await expect.poll(() => dialog.getByRole("status").first().textContent()).toContain("Connected. GitHub is ready.");
    expect(await dialog.textContent()).toContain(`${server.url}/webhooks/github/1`);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.locator('article[data-kind="github"]').textContent(), { timeout: 10_000 }).toContain("3 repositories, 3 new");
  });

  it("opens the Wiz dialog, switches tabs, and shows a failing Test Connection's advice", async () => {
    await page.getByRole("link", { name: "Connect Wiz" }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await settled(page);
    expect(await dialog.getByRole("tab", { name: "Overview" }).getAttribute("aria-selected")).toBe("true");
    expect(await dialog.getByText("Read vulnerabilities scope").isVisible()).toBe(true);

    await dialog.getByRole("tab", { name: "Configuration" }).click();
    await expect.poll(() => dialog.getByRole("tab", { name: "Configuration" }).getAttribute("aria-selected")).toBe("true");
    await settled(page);
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => dialog.getByRole("tab", { name: "Overview" }).getAttribute("aria-selected")).toBe("true");
    await settled(page);
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => dialog.getByRole("tab", { name: "Configuration" }).getAttribute("aria-selected")).toBe("true");
    await settled(page);

    expect(await dialog.getByLabel("Scan SCA Vulnerabilities").isChecked()).toBe(true);
    expect(await dialog.getByLabel("Scan Container Image Vulnerabilities").isChecked()).toBe(true);
    await dialog.getByLabel("API Endpoint URL").fill(WIZ_ENDPOINT);
    await dialog.getByLabel("Client ID").fill(WIZ_CLIENT.id);
    await dialog.getByLabel("Client Secret").fill("a-wrong-secret");
    await dialog.getByRole("button", { name: "Test Connection" }).click();
    const result = dialog.locator("#test-result");
    await expect.poll(() => result.textContent()).toContain("Connection Failed — Authentication Error");
    expect(await result.textContent()).toContain("Verify your Client ID and Client Secret are correct.");
    expect(await dialog.getByLabel("Client ID").inputValue()).toBe(WIZ_CLIENT.id);
  });

  it("connects with the right secret, and the card turns Connected without a reload", async () => {
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Client Secret").fill(WIZ_CLIENT.secret);
    await dialog.getByRole("button", { name: "Connect", exact: true }).click();
    await expect.poll(() => dialog.getByRole("status").first().textContent()).toContain("Connected. Wiz us1 is ready.");
    await page.keyboard.press("Escape");
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
    const card = page.locator('article[data-kind="wiz"]');
    await expect.poll(() => card.locator(".status").textContent()).toBe("Connected");
    expect(await card.textContent()).toContain("Last Sync");
  });

  it("imports findings on the first scan and filters them in place", async () => {
    const card = page.locator('article[data-kind="wiz"]');
    // The first scan starts a few seconds after connecting; the card refreshes itself.
    await expect.poll(() => card.textContent(), { timeout: 20_000 }).toContain("90 fetched, 90 new");
    await page.getByRole("navigation", { name: "Main" }).getByText("Findings").click();
    await page.getByRole("link", { name: "Vulnerabilities", exact: true }).click();
    await page.waitForURL(server.url + "/vulnerabilities");
    const rows = page.locator("table.findings tbody tr");
    await expect.poll(() => rows.count()).toBe(50);
    await page.getByRole("checkbox", { name: "critical" }).check();
    await expect.poll(() => page.url()).toContain("severity=critical");
    await settled(page);
    const severities = await page.locator("table.findings tbody tr td:first-child .sev-badge").allTextContents();
    expect(severities.length).toBeGreaterThan(0);
    expect(new Set(severities)).toEqual(new Set(["critical"]));
    await rows.first().locator('td[data-label="CVE"] a').first().click();
    await expect.poll(() => page.getByRole("heading", { level: 2, name: "Sources" }).isVisible()).toBe(true);
  });

  it("follows a pull request from open to merged", async () => {
    // A pull request naming the CVE of an imported finding moves it along.    // GitHub was connected); a pull request naming one of their CVEs moves it along.
    const cve = wiz.sim.findings[0]!.name;
    const repo = github.repos[0]!;
    const send = (action: string, merged = false) =>
      github.deliver(`${server.url}/webhooks/github/1`, "pull_request", github.pullRequestPayload({ action, repo, number: 5, title: `Fix ${cve}`, merged }), {
        secret: WEBHOOK_SECRET,
      });
    expect((await send("opened")).status).toBe(202);
    await page.goto(`${server.url}/remediations`);
    await expect.poll(async () => (await page.reload(), await page.locator("table").textContent()), { timeout: 10_000 }).toContain("in remediation");
    expect((await send("closed", true)).status).toBe(202);
    await expect.poll(async () => (await page.reload(), await page.locator("table").textContent()), { timeout: 10_000 }).toContain("merged");
    await page.getByRole("link", { name: cve, exact: true }).first().click();
    await expect.poll(() => page.locator(".facts").textContent()).toContain("Resolved");
  });

  it("connects GitHub Enterprise Server by OAuth: Connect → the provider's consent page → back connected", async () => {
    await page.goto(server.url + "/integrations");
    await settled(page);
    await page.getByRole("link", { name: "Add another GitHub connection" }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await settled(page);
    expect(await dialog.textContent()).toContain(`${server.url}/integrations/oauth/callback`);
    await dialog.getByLabel("GitHub URL").fill(githubServer.url);
    await dialog.getByLabel("OAuth App client ID").fill("Iv1.e2e");
    await dialog.getByLabel("OAuth App client secret").fill("e2e-oauth-secret");
    await dialog.getByRole("button", { name: "Connect with GitHub" }).click();
    await page.waitForURL((url) => url.pathname === "/login/oauth/authorize");
    expect(await page.getByRole("heading").textContent()).toContain("Authorize Iv1.e2e");
    await page.getByRole("link", { name: "Authorize" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/integrations/github/"));
    expect(await page.getByRole("status").first().textContent()).toContain("Connected. GitHub 127.0.0.1 is ready.");
  });

  it("connects a self-managed GitLab by OAuth with PKCE in the browser", async () => {
    await page.goto(server.url + "/integrations");
    await settled(page);
    await page.getByRole("link", { name: "Connect GitLab", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await settled(page);
    await dialog.getByRole("tab", { name: "Configuration" }).click();
    await settled(page);
    await dialog.getByLabel("GitLab URL").fill(gitlabServer.url);
    await dialog.getByLabel("OAuth application ID").fill("gl-e2e");
    await dialog.getByLabel("OAuth application secret").fill("gl-e2e-secret");
    await dialog.getByRole("button", { name: "Connect with GitLab" }).click();
    await page.waitForURL((url) => url.pathname === "/oauth/authorize");
    expect(new URL(page.url()).searchParams.get("code_challenge_method")).toBe("S256");
    await page.getByRole("link", { name: "Authorize" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/integrations/gitlab/"));
    expect(await page.getByRole("status").first().textContent()).toContain("is ready.");
    await page.goto(server.url + "/repositories?q=platform");
    await expect.poll(async () => (await page.reload(), await page.locator("table").count()), { timeout: 10_000 }).toBe(1);
    expect(await page.locator("table").textContent()).toContain("platform/project-001");
  });

  it("connects a Bitbucket workspace by OAuth in the browser", async () => {
    // bitbucket.org is fixed: the browser's requests to it are served by the simulator.
    await page.route("https://bitbucket.org/site/oauth2/**", async (route) => {
      const url = new URL(route.request().url());
      const res = await fetch(bitbucketServer.url + url.pathname + url.search);
      await route.fulfill({ status: res.status, contentType: res.headers.get("content-type") ?? "text/html", body: await res.text() });
    });
    await page.goto(server.url + "/integrations");
    await settled(page);
    await page.getByRole("link", { name: "Connect Bitbucket" }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await settled(page);
    await dialog.getByRole("tab", { name: "Configuration" }).click();
    await settled(page);
    await dialog.getByLabel("Workspace ID").fill("acme-bb");
    await dialog.getByLabel("OAuth consumer key").fill("bb-e2e");
    await dialog.getByLabel("OAuth consumer secret").fill("bb-e2e-secret");
    await dialog.getByRole("button", { name: "Connect with Bitbucket" }).click();
    await page.waitForURL((url) => url.hostname === "bitbucket.org");
    await page.getByRole("link", { name: "Grant access" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/integrations/bitbucket/"));
    expect(await page.getByRole("status").first().textContent()).toContain("Connected. Bitbucket acme-bb is ready.");
  });
});
