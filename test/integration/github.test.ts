// GitHub as source control against the GitHub simulator: connect by token, repository
// sync with Link pagination, inaccessible repositories, faults, and the Repositories page.
import crypto from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { github } from "../../src/connectors/github/index.js";
import { connectorContext } from "../../src/connectors/context.js";
import { listJobs } from "../../src/jobs/queue.js";
import { silentLogger } from "../../src/log.js";
import { type Browser, type TestApp, setUpAdmin, testApp, text, runJobs } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const TOKEN = "github_pat_11AAAAAAA0123456789abcdef";
let sim: GitHubSim;
let server: RunningSim;
let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  sim = new GitHubSim();
  server = await startSim(sim.app());
  wiz = await startWiz();
});
afterAll(async () => {
  await server.close();
  await wiz.close();
});
beforeEach(async () => {
  sim.faults.clear();
  sim.tokens.clear();
  sim.repos.length = 0;
  sim.rateLimitRemaining = 5000;
  sim.writes.clear();
  sim.addToken(TOKEN);
  sim.addRepos("acme", 250);
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url},https://github.example.com=${server.url},${wiz.originMap}` } });
  admin = await setUpAdmin(app);
  // GitHub's secondary limits count on the app's clock, which Patchbay's pacing moves on.
  sim.now = () => app.clock.time;
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;

async function connect(form: Record<string, string> = {}): Promise<number> {
  const res = await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN, ...form });
  expect(res.status, await res.clone().text()).toBe(303);
  return Number(/\/integrations\/github\/(\d+)/.exec(res.headers.get("location")!)![1]);
}

const drain = (advanceMs = 0) => runJobs(app, advanceMs);

describe("GitHub connection", () => {
  it("tests a token and reports who it signs in as and its scopes", async () => {
    const body = text(await (await admin.post("/integrations/github/test", { githubUrl: "https://github.com", token: TOKEN }, { htmx: true })).text());
    expect(body).toContain("Connected to GitHub: the token was accepted.");
    expect(body).toContain("Signed in as octocat");
    expect(body).toContain("Scopes: repo, read:org, security_events");
    const request = sim.faults.requests.find((r) => r.path === "/user")!;
    expect(request.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("names missing scopes of a classic token, and accepts a fine-grained one", async () => {
    sim.addToken("ghp_classicMissing", "dev", ["repo"]);
    sim.addToken("github_pat_fine", "dev", null);
    const classic = text(
      await (await admin.post("/integrations/github/test", { githubUrl: "https://github.com", token: "ghp_classicMissing" }, { htmx: true })).text(),
    );
    expect(classic).toContain("Classic token without read:org, security_events");
    const fine = text(
      await (await admin.post("/integrations/github/test", { githubUrl: "https://github.com", token: "github_pat_fine" }, { htmx: true })).text(),
    );
    expect(fine).toContain("Fine-grained token");
  });

  it("explains a rejected token", async () => {
    const body = text(
      await (await admin.post("/integrations/github/test", { githubUrl: "https://github.com", token: "nope-nope-nope" }, { htmx: true })).text(),
    );
    expect(body).toContain("Connection Failed — GitHub rejected the token");
    expect(body).toContain('GitHub said: "Bad credentials"');
  });

  it("works with GitHub Enterprise Server through /api/v3", async () => {
    const body = text(await (await admin.post("/integrations/github/test", { githubUrl: "https://github.example.com", token: TOKEN }, { htmx: true })).text());
    expect(body).toContain("Signed in as octocat");
    expect(sim.faults.requests.at(-1)!.path).toBe("/api/v3/user");
  });

  it("rejects a GitHub URL with a path", async () => {
    const res = await admin.post(
      "/integrations/github",
      { githubUrl: "https://github.com/acme", token: TOKEN },
      { htmx: true, target: "integration-dialog-content" },
    );
    expect(res.status).toBe(422);
    expect(text(await res.text())).toContain("Enter https://github.com or your GitHub Enterprise Server's address");
  });
});

describe("repository sync", () => {
  it("lists every repository on connect, page by page to the end", async () => {
    const id = await connect();
    await drain();
    const repos = await db().selectFrom("repositories").selectAll().orderBy("full_name").execute();
    expect(repos).toHaveLength(250);
    expect(repos[0]).toMatchObject({
      integration_id: id,
      provider: "github",
      full_name: "acme/service-001",
      url: "https://github.com/acme/service-001",
      url_key: "github.com/acme/service-001",
      default_branch: "main",
      visibility: "public",
      archived: 0,
      accessible: 1,
      external_id: "1001",
    });
    expect(sim.faults.requests.filter((r) => r.path === "/user/repos")).toHaveLength(3);
    const card = text(await (await admin.get("/integrations/card/github", { htmx: true })).text());
    expect(card).toMatch(/Last repository sync finished .*: 250 repositories, 250 new, 0 updated, 0 no longer accessible/);
  });

  it("marks a repository that disappears as no longer accessible, keeps it, and stops importing its findings", async () => {
    await connect();
    await drain();
    const removed = sim.repos.splice(0, 1)[0]!;
    sim.repos[0]!.archived = true;
    await admin.post("/integrations/github/1/sync", {});
    await drain();
    const row = await db().selectFrom("repositories").selectAll().where("full_name", "=", removed.full_name).executeTakeFirstOrThrow();
    expect(row.accessible).toBe(0);
    const card = text(await (await admin.get("/integrations/card/github", { htmx: true })).text());
    expect(card).toContain("249 repositories, 0 new, 1 updated, 1 no longer accessible");

    // Wiz reports findings on both: only the accessible repository's is imported.
    wiz.sim.findings.length = 0;
    const asset = (name: string) => ({
      __typename: "VulnerableAssetRepositoryBranch",
      id: `a-${name}`,
      type: "REPOSITORY_BRANCH",
      name: "main",
      repositoryName: name,
      providerUniqueId: `https://github.com/${name}`,
    });
    wiz.sim.findings.push(wizFinding(1, asset(removed.full_name)), wizFinding(2, asset(sim.repos[1]!.full_name)));
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await drain(5_000);
    const findings = await db().selectFrom("findings").innerJoin("assets", "assets.id", "findings.asset_id").select("assets.name").execute();
    expect(findings).toEqual([{ name: sim.repos[1]!.full_name }]);
  });

  it("flips the card to Error when the token is revoked", async () => {
    await connect();
    await drain();
    sim.tokens.get(TOKEN)!.revoked = true;
    await admin.post("/integrations/github/1/sync", {});
    await drain(60 * 60_000);
    const card = text(await (await admin.get("/integrations/card/github", { htmx: true })).text());
    expect(card).toMatch(/GitHub Error/);
    expect(card).toContain('Repository sync stopped on page 1: GitHub rejected the credentials (HTTP 401). GitHub said: "Bad credentials"');
    // One notification event for the failure, not one per retry.
    const events = await app.runtime.database.db.selectFrom("domain_events").select(["type", "payload"]).where("type", "=", "integration.failed").execute();
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.payload)).toMatchObject({ integrationId: 1, kind: "github" });
  });

  it("waits for GitHub's rate limit to reset instead of failing", async () => {
    const id = await connect();
    sim.rateLimitRemaining = 1;
    await app.runtime.worker.runOnce();
    const [job] = await listJobs(db(), { status: "queued" });
    expect(job!.last_error).toContain("rate-limiting");
    expect(Date.parse(job!.run_at) - app.clock.time).toBeGreaterThanOrEqual(55_000);
    sim.rateLimitRemaining = 5000;
    await drain(2 * 60_000);
    expect((await db().selectFrom("repositories").select("id").where("integration_id", "=", id).execute()).length).toBe(250);
  });

  it("retries a GitHub outage and fills in the repositories", async () => {
    await connect();
    sim.faults.add({ path: /user\/repos/, status: 502, times: 2 });
    await drain();
    expect(await db().selectFrom("repositories").select("id").execute()).toHaveLength(250);
  });
});

describe("GitHub App installation", () => {
  it("connects with an App's private key and lists the repositories granted to the installation", async () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    sim.apps.set("123456", publicKey.export({ type: "spki", format: "pem" }).toString());
    sim.installations.set(42, { appId: "123456", repositories: sim.repos.slice(0, 120).map((r) => r.full_name) });

    const badKey = await admin.post(
      "/integrations/github",
      { githubUrl: "https://github.com", appId: "123456", installationId: "42", appPrivateKey: "not a key" },
      { htmx: true, target: "integration-dialog-content" },
    );
    expect(badKey.status).toBe(422);
    expect(text(await badKey.text())).toContain("Paste the whole private key file GitHub gave you");

    const test = text(
      await (
        await admin.post(
          "/integrations/github/test",
          { githubUrl: "https://github.com", appId: "123456", installationId: "42", appPrivateKey: pem },
          { htmx: true },
        )
      ).text(),
    );
    expect(test).toContain("Connected to GitHub as an App installation");
    expect(test).toContain("Repositories granted to the installation: 120");
    expect(test).not.toContain("PRIVATE KEY");

    const res = await admin.post("/integrations/github", {
      githubUrl: "https://github.com",
      appId: "123456",
      installationId: "42",
      appPrivateKey: pem,
      webhookSecret: "app-webhook-secret-0001",
    });
    expect(res.status).toBe(303);
    await drain();
    expect(await db().selectFrom("repositories").select("id").execute()).toHaveLength(120);
    // Nothing calls what an installation token cannot (GET /user answers it 403): the App's
    // own identity, "<slug>[bot]", comes from GET /app — for Dependabot's test and the issues' "whoami".
    const gh = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
    const dependabot = text(await (await admin.post("/integrations/github-dependabot/test", { integration: String(gh.id) }, { htmx: true })).text());
    expect(dependabot).toContain("Connected through GitHub as app-123456[bot]");
    const issues = await admin.post("/integrations/github-issues", { source: String(gh.id) });
    expect(issues.status).toBe(303);
    expect(sim.faults.requests.filter((r) => r.path === "/user")).toEqual([]);
    const wrongApp = text(
      await (
        await admin.post(
          "/integrations/github/test",
          { githubUrl: "https://github.com", appId: "999", installationId: "42", appPrivateKey: pem },
          { htmx: true },
        )
      ).text(),
    );
    expect(wrongApp).toContain("Connection Failed — GitHub rejected the token");
  });
});

describe("automatic webhooks", () => {
  it("adds Patchbay's webhook to every repository when no secret of the user's own is given, once", async () => {
    await app.close();
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.example.com", PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url}` } });
    admin = await setUpAdmin(app);
    sim.now = () => app.clock.time;
    sim.hooks.clear();
    sim.hooksForbidden = false;
    const res = await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN });
    expect(res.status).toBe(303);
    await drain();
    expect(sim.hooks.size).toBe(250);
    const hook = sim.hooks.get("acme/service-001")![0]!;
    expect(hook).toMatchObject({
      events: ["pull_request", "issues", "issue_comment"],
      config: { url: "https://patchbay.example.com/webhooks/github/1", content_type: "json" },
    });
    const row = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    expect(app.runtime.vault.openSecrets(row.secrets).webhookSecret).toBe(hook.config.secret);
    const dialog = text(await (await admin.get("/integrations/github/1?tab=configuration")).text());
    expect(dialog).toContain("Patchbay adds this webhook to each repository itself, with a secret it generated: 250 of 250 repositories so far.");
    expect(dialog).not.toContain(hook.config.secret!);

    // The next sync adds nothing twice; a new repository gets its webhook.
    sim.addRepos("acme", 1, 900);
    await admin.post("/integrations/github/1/sync", {});
    await drain();
    expect([...sim.hooks.values()].every((hooks) => hooks.length === 1)).toBe(true);
    expect(sim.hooks.size).toBe(251);
    sim.repos.pop();
  });

  it("says so when the token may not add webhooks, and never adds them for an unreachable base URL", async () => {
    sim.hooks.clear();
    sim.hooksForbidden = true;
    await app.close();
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.example.com", PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url}` } });
    admin = await setUpAdmin(app);
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN });
    await drain();
    const dialog = text(await (await admin.get("/integrations/github/1?tab=configuration")).text());
    expect(dialog).toContain("GitHub did not let the token add webhooks");
    expect(dialog).toContain("0 of 250 repositories so far");
    sim.hooksForbidden = false;

    // The default test app's base URL is http://localhost:8080: nothing is registered.
    await app.close();
    app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url}` } });
    admin = await setUpAdmin(app);
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN });
    await drain();
    expect(sim.hooks.size).toBe(0);
    expect(text(await (await admin.get("/integrations/github/1?tab=configuration")).text())).toContain(
      "Webhooks were not added automatically: PATCHBAY_BASE_URL is not https",
    );
  });

  it("uses the user's own secret and adds nothing when one is given", async () => {
    sim.hooks.clear();
    await app.close();
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.example.com", PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url}` } });
    admin = await setUpAdmin(app);
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN, webhookSecret: "a-secret-of-my-own-123" });
    await drain();
    expect(sim.hooks.size).toBe(0);
    expect(text(await (await admin.get("/integrations/github/1?tab=configuration")).text())).toContain("tick Pull requests");
  });
});

describe("pull request annotation", () => {
  it("appends Patchbay's block once and then updates it in place", async () => {
    sim.pullBodies.set("acme/service-001#5", "Fixes the lodash advisory.\n\nCo-authored-by: someone");
    const connector = github;
    const ctx = connectorContext({ logger: silentLogger, originMap: new Map([["https://api.github.com", server.url]]) });
    const connection = { settings: { githubUrl: "https://github.com" }, secrets: { token: TOKEN } };
    await connector.scm!.annotatePullRequest(connection, ctx, { repository: "acme/service-001", number: 5 }, "Tickets: SEC-1");
    await connector.scm!.annotatePullRequest(connection, ctx, { repository: "acme/service-001", number: 5 }, "Tickets: SEC-1, SEC-2");
    const body = sim.pullBodies.get("acme/service-001#5")!;
    expect(body).toBe("Fixes the lodash advisory.\n\nCo-authored-by: someone\n\n<!-- patchbay:start -->\nTickets: SEC-1, SEC-2\n<!-- patchbay:end -->");
    const patches = sim.faults.requests.filter((r) => r.method === "PATCH");
    await connector.scm!.annotatePullRequest(connection, ctx, { repository: "acme/service-001", number: 5 }, "Tickets: SEC-1, SEC-2");
    expect(sim.faults.requests.filter((r) => r.method === "PATCH")).toHaveLength(patches.length);
  });
});

describe("Repositories page", () => {
  it("lists repositories with search, an integration filter and open findings by severity", async () => {
    await connect();
    await drain();
    const page = text(await (await admin.get("/repositories")).text());
    expect(page).toContain("acme/service-001");
    expect(page).toContain("Next →");
    const search = await (await admin.get("/repositories?q=service-24", { htmx: true, target: "repositories-results" })).text();
    expect(search).not.toContain("<!doctype html>");
    expect([...search.matchAll(/>(acme\/service-\d+)</g)].map((m) => m[1])).toEqual([
      "acme/service-240",
      "acme/service-241",
      "acme/service-242",
      "acme/service-243",
      "acme/service-244",
      "acme/service-245",
      "acme/service-246",
      "acme/service-247",
      "acme/service-248",
      "acme/service-249",
    ]);
    expect(text(await (await admin.get("/repositories?q=%25")).text())).toContain("No repository matches these filters.");

    wiz.sim.findings.length = 0;
    const asset = {
      __typename: "VulnerableAssetRepositoryBranch",
      id: "a",
      type: "REPOSITORY_BRANCH",
      name: "main",
      repositoryName: "acme/service-007",
      providerUniqueId: "https://github.com/acme/service-007",
    };
    wiz.sim.findings.push(
      wizFinding(1, asset, { severity: "CRITICAL" }),
      wizFinding(2, asset, { severity: "CRITICAL" }),
      wizFinding(3, asset, { severity: "LOW" }),
    );
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await drain(5_000);
    const row = text(await (await admin.get("/repositories?q=service-007")).text());
    expect(row).toContain("2 critical");
    expect(row).toContain("1 low");
  });

  it("points to the Integration Hub when there are no repositories", async () => {
    const page = text(await (await admin.get("/repositories")).text());
    expect(page).toContain("No repositories yet.");
  });
});
