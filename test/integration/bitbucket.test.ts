// Bitbucket Cloud as source control against the Bitbucket simulator.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bitbucket } from "../../src/connectors/bitbucket/index.js";
import { connectorContext } from "../../src/connectors/context.js";
import { silentLogger } from "../../src/log.js";
import { type Browser, type TestApp, setUpAdmin, testApp, text, runJobs } from "../helpers.js";
import { BitbucketSim } from "../sim/bitbucket.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const TOKEN = "ATCTT3xFfGN0-workspace-token";
const SECRET = "bitbucket-hook-secret-01";
let sim: BitbucketSim;
let server: RunningSim;
let wiz: WizFixture;
let app: TestApp;
let patchbay: RunningSim;
let admin: Browser;

beforeAll(async () => {
  sim = new BitbucketSim();
  sim.addAccessToken(TOKEN);
  sim.addUserToken("alice", "ATBB-app-password");
  sim.addRepos("acme", 120);
  sim.consumers.set("bb-key", { secret: "bb-secret", callback: "http://localhost:8080/integrations/oauth/callback" });
  server = await startSim(sim.app());
  wiz = await startWiz();
});
afterAll(async () => {
  await server.close();
  await wiz.close();
});
beforeEach(async () => {
  sim.faults.clear();
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.bitbucket.org=${server.url},https://bitbucket.org=${server.url},${wiz.originMap}` } });
  patchbay = await startSim(app.runtime.app);
  admin = await setUpAdmin(app);
});
afterEach(async () => {
  await patchbay.close();
  await app.close();
});

const db = () => app.runtime.database.db;
const drain = (advanceMs = 0) => runJobs(app, advanceMs);

describe("Bitbucket", () => {
  it("tests an access token and an API token with its username, and explains failures", async () => {
    const bearer = text(await (await admin.post("/integrations/bitbucket/test", { workspace: "acme", token: TOKEN }, { htmx: true })).text());
    expect(bearer).toContain("Connected to Bitbucket: the token was accepted.");
    expect(bearer).toContain("Repositories visible: 120");
    const basic = text(
      await (await admin.post("/integrations/bitbucket/test", { workspace: "acme", username: "alice", token: "ATBB-app-password" }, { htmx: true })).text(),
    );
    expect(basic).toContain("Workspace: ACME");
    const wrong = text(await (await admin.post("/integrations/bitbucket/test", { workspace: "acme", token: "nope" }, { htmx: true })).text());
    expect(wrong).toContain("Connection Failed — Bitbucket rejected the token");
    const missing = text(await (await admin.post("/integrations/bitbucket/test", { workspace: "nobody", token: TOKEN }, { htmx: true })).text());
    expect(missing).toContain("Connection Failed — workspace not found");
  });

  it("lists the workspace's repositories by following `next`, and follows a pull request to merged", async () => {
    expect((await admin.post("/integrations/bitbucket", { workspace: "acme", token: TOKEN, webhookSecret: SECRET })).status).toBe(303);
    await drain();
    const repos = await db().selectFrom("repositories").selectAll().orderBy("full_name").execute();
    expect(repos).toHaveLength(120);
    const repo = sim.workspaces.get("acme")![0]!;
    expect(repos[0]).toMatchObject({
      provider: "bitbucket",
      full_name: repo.full_name,
      external_id: repo.uuid,
      url_key: `bitbucket.org/${repo.full_name}`,
      default_branch: "main",
      visibility: "private",
    });

    wiz.sim.findings.length = 0;
    const asset = {
      __typename: "VulnerableAssetRepositoryBranch",
      id: "b1",
      type: "REPOSITORY_BRANCH",
      name: "main",
      repositoryName: repo.full_name,
      providerUniqueId: `https://bitbucket.org/${repo.full_name}`,
    };
    wiz.sim.findings.push(
      wizFinding(0, asset, {
        name: "CVE-2023-26136",
        detailedName: "tough-cookie",
        version: "4.1.2",
        fixedVersion: "4.1.3",
        locationPath: "package-lock.json",
      }),
    );
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await drain(5_000);
    const status = async () => (await db().selectFrom("findings").select("status").executeTakeFirstOrThrow()).status;

    const url = `${patchbay.url}/webhooks/bitbucket/1`;
    const payload = sim.pullRequestPayload({ repo, id: 12, title: "Fix CVE-2023-26136" });
    expect((await sim.deliver(url, "pullrequest:created", payload)).status).toBe(401);
    expect((await sim.deliver(url, "pullrequest:created", payload, { secret: "wrong-secret-value" })).status).toBe(401);
    expect((await sim.deliver(url, "pullrequest:created", payload, { secret: SECRET })).status).toBe(202);
    await drain();
    expect(await status()).toBe("in_remediation");
    expect((await sim.deliver(url, "pullrequest:fulfilled", payload, { secret: SECRET })).status).toBe(202);
    await drain();
    expect(await status()).toBe("resolved");
  });

  it("annotates a pull request description, sending the title Bitbucket requires", async () => {
    const repo = sim.workspaces.get("acme")![1]!;
    sim.pullRequests.set(`${repo.full_name}#4`, { title: "Bump tough-cookie", description: "" });
    const ctx = connectorContext({ logger: silentLogger, originMap: new Map([["https://api.bitbucket.org", server.url]]) });
    const connection = { settings: { workspace: "acme" }, secrets: { token: TOKEN } };
    await bitbucket.scm!.annotatePullRequest(connection, ctx, { repository: repo.full_name, number: 4 }, "Tickets: SEC-9");
    await bitbucket.scm!.annotatePullRequest(connection, ctx, { repository: repo.full_name, number: 4 }, "Tickets: SEC-9");
    expect(sim.pullRequests.get(`${repo.full_name}#4`)).toEqual({
      title: "Bump tough-cookie",
      description: "<!-- patchbay:start -->\nTickets: SEC-9\n<!-- patchbay:end -->",
    });
  });

  it("connects by OAuth with the consumer's key and secret sent as HTTP Basic", async () => {
    const start = await admin.post("/integrations/bitbucket/oauth/start", { workspace: "acme", clientId: "bb-key", clientSecret: "bb-secret" });
    const location = new URL(start.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://bitbucket.org/site/oauth2/authorize");
    expect(location.searchParams.has("code_challenge")).toBe(false);
    const consentPage = await (await fetch(server.url + location.pathname + location.search)).text();
    const back = new URL(/href="([^"]+)"/.exec(consentPage)![1]!.replace(/&amp;/g, "&"));
    const res = await admin.get(back.pathname + back.search);
    expect(res.status).toBe(303);
    const row = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    expect(row.name).toBe("Bitbucket acme");
    expect(JSON.parse(row.settings)).toMatchObject({ authMethod: "oauth", workspace: "acme" });
    await runJobs(app);
    expect(await db().selectFrom("repositories").select("id").execute()).toHaveLength(120);
  });

  it("adds its pull request webhook to every repository itself when no secret is given", async () => {
    await patchbay.close();
    await app.close();
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.example.com", PATCHBAY_ORIGIN_MAP: `https://api.bitbucket.org=${server.url}` } });
    patchbay = await startSim(app.runtime.app);
    admin = await setUpAdmin(app);
    sim.hooks.clear();
    expect((await admin.post("/integrations/bitbucket", { workspace: "acme", token: TOKEN })).status).toBe(303);
    await runJobs(app);
    expect(sim.hooks.size).toBe(120);
    const repo = sim.workspaces.get("acme")![0]!;
    const hook = sim.hooks.get(repo.full_name)![0]!;
    expect(hook.url).toBe("https://patchbay.example.com/webhooks/bitbucket/1");
    expect(hook.events).toContain("pullrequest:fulfilled");
    const payload = sim.pullRequestPayload({ repo, id: 3, title: "Update" });
    expect((await sim.deliver(`${patchbay.url}/webhooks/bitbucket/1`, "pullrequest:created", payload, { secret: hook.secret! })).status).toBe(202);
  });
});
