// GitLab as source control against the GitLab simulator: token, projects across pages,
// webhook secret tokens, merge request transitions, and annotation.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { gitlab } from "../../src/connectors/gitlab/index.js";
import { connectorContext } from "../../src/connectors/context.js";
import { silentLogger } from "../../src/log.js";
import { type Browser, type TestApp, setUpAdmin, testApp, text, runJobs } from "../helpers.js";
import { GitLabSim } from "../sim/gitlab.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const TOKEN = "glpat-0123456789abcdefghij";
const SECRET = "gitlab-hook-secret-0001";
let sim: GitLabSim;
let server: RunningSim;
let wiz: WizFixture;
let app: TestApp;
let patchbay: RunningSim;
let admin: Browser;

beforeAll(async () => {
  sim = new GitLabSim();
  sim.webOrigin = "https://gitlab.example.com";
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
  sim.projects.length = 0;
  sim.addToken(TOKEN);
  sim.addProjects("platform/backend", 130);
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://gitlab.example.com=${server.url},${wiz.originMap}` } });
  patchbay = await startSim(app.runtime.app);
  admin = await setUpAdmin(app);
});
afterEach(async () => {
  await patchbay.close();
  await app.close();
});

const db = () => app.runtime.database.db;

const drain = (advanceMs = 0) => runJobs(app, advanceMs);

async function connect(): Promise<void> {
  const res = await admin.post("/integrations/gitlab", { gitlabUrl: "https://gitlab.example.com", token: TOKEN, webhookSecret: SECRET });
  expect(res.status, await res.clone().text()).toBe(303);
  await drain();
}

describe("GitLab", () => {
  it("tests a token, naming its user, scopes and expiry", async () => {
    const body = text(await (await admin.post("/integrations/gitlab/test", { gitlabUrl: "https://gitlab.example.com", token: TOKEN }, { htmx: true })).text());
    expect(body).toContain("Connected to GitLab: the token was accepted.");
    expect(body).toContain("Signed in as project_bot");
    expect(body).toContain("Scopes: api");
    expect(body).toContain("Token expires on 2027-06-30");
    expect(sim.faults.requests.find((r) => r.path === "/api/v4/user")!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const bad = text(
      await (await admin.post("/integrations/gitlab/test", { gitlabUrl: "https://gitlab.example.com", token: "glpat-wrong" }, { htmx: true })).text(),
    );
    expect(bad).toContain("Connection Failed — GitLab rejected the token");
    expect(bad).toContain('GitLab said: "401 Unauthorized"');
  });

  it("lists every project across pages by X-Next-Page", async () => {
    await connect();
    const repos = await db().selectFrom("repositories").selectAll().orderBy("full_name").execute();
    expect(repos).toHaveLength(130);
    expect(repos[0]).toMatchObject({
      provider: "gitlab",
      full_name: "platform/backend/project-001",
      url_key: "gitlab.example.com/platform/backend/project-001",
      external_id: "2001",
    });
    expect(sim.faults.requests.filter((r) => r.path === "/api/v4/projects")).toHaveLength(2);
  });

  it("verifies the webhook secret token and moves findings through a merge request's life", async () => {
    await connect();
    const project = sim.projects[0]!;
    wiz.sim.findings.length = 0;
    const asset = {
      __typename: "VulnerableAssetRepositoryBranch",
      id: "g1",
      type: "REPOSITORY_BRANCH",
      name: "main",
      repositoryName: project.path_with_namespace,
      providerUniqueId: `https://gitlab.example.com/${project.path_with_namespace}`,
    };
    wiz.sim.findings.push(
      wizFinding(0, asset, { name: "CVE-2022-24999", detailedName: "qs", version: "6.5.2", fixedVersion: "6.5.3", locationPath: "package-lock.json" }),
    );
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await drain(5_000);
    const status = async () => (await db().selectFrom("findings").select("status").executeTakeFirstOrThrow()).status;
    expect(await status()).toBe("open");

    const url = `${patchbay.url}/webhooks/gitlab/1`;
    const opened = sim.mergeRequestPayload({ action: "open", project, iid: 3, title: "fix(deps): update dependency qs to v6.5.3" });
    expect((await sim.deliver(url, "Merge Request Hook", opened)).status).toBe(401);
    expect((await sim.deliver(url, "Merge Request Hook", opened, { token: "not-the-secret" })).status).toBe(401);
    expect((await sim.deliver(url, "Merge Request Hook", opened, { token: SECRET, uuid: "u-1" })).status).toBe(202);
    // GitLab retrying the same delivery: acknowledged, not processed again.
    const again = await sim.deliver(url, "Merge Request Hook", opened, { token: SECRET, uuid: "u-1" });
    expect(again.status).toBe(202);
    expect((await again.json()).status).toBe("already processed");
    await drain();
    expect(await status()).toBe("in_remediation");
    const merged = sim.mergeRequestPayload({ action: "merge", project, iid: 3, title: "fix(deps): update dependency qs to v6.5.3" });
    expect((await sim.deliver(url, "Merge Request Hook", merged, { token: SECRET })).status).toBe(202);
    await drain();
    expect(await status()).toBe("resolved");
    const remediation = await db().selectFrom("remediations").selectAll().executeTakeFirstOrThrow();
    expect(remediation).toMatchObject({
      number: 3,
      state: "merged",
      url: `https://gitlab.example.com/${project.path_with_namespace}/-/merge_requests/3`,
      author: "renovate-bot",
    });
  });

  it("annotates a merge request description once, in place", async () => {
    sim.mergeRequests.set("platform/backend/project-001!9", "Update qs.");
    const ctx = connectorContext({ logger: silentLogger, originMap: new Map([["https://gitlab.example.com", server.url]]) });
    const connection = { settings: { gitlabUrl: "https://gitlab.example.com" }, secrets: { token: TOKEN } };
    await gitlab.scm!.annotatePullRequest(connection, ctx, { repository: "platform/backend/project-001", number: 9 }, "Tickets: SEC-4");
    await gitlab.scm!.annotatePullRequest(connection, ctx, { repository: "platform/backend/project-001", number: 9 }, "Tickets: SEC-4, SEC-5");
    expect(sim.mergeRequests.get("platform/backend/project-001!9")).toBe("Update qs.\n\n<!-- patchbay:start -->\nTickets: SEC-4, SEC-5\n<!-- patchbay:end -->");
  });

  it("opens a fix merge request on a branch of its own, once however often it runs, asking CODEOWNERS' users to review", async () => {
    const ctx = connectorContext({ logger: silentLogger, originMap: new Map([["https://gitlab.example.com", server.url]]), http: { sleep: async () => {} } });
    const connection = { settings: { gitlabUrl: "https://gitlab.example.com" }, secrets: { token: TOKEN } };
    const project = "platform/backend/project-002";
    sim.files.set(project, { "requirements.txt": "requests==2.25.1\n", "README.md": "# Backend\n" });
    const repository = { fullName: project, defaultBranch: "main" };
    const fix = (version: string) => ({
      branch: "patchbay/fix-pypi-requests-0a1b2c3d",
      files: [{ path: "requirements.txt", content: `requests==${version}\n` }],
      message: `Bump requests to ${version}`,
      title: `Bump requests from 2.25.1 to ${version}`,
      body: "Fixes CVE-2023-32681.",
      draft: false,
      reviewers: ["@alice", "@platform/security", "sec@example.com", "@project_bot"],
    });
    const fixes = gitlab.scm!.fixes!;
    const first = await fixes.open(connection, ctx, repository, fix("2.31.0"));
    expect(first).toMatchObject({ number: 1, existed: false, reviewers: ["@alice"] });
    expect(first.url).toBe(`https://gitlab.example.com/${project}/-/merge_requests/1`);
    expect(first.unrequested).toEqual([
      "@platform/security (a group: GitLab asks users to review)",
      "sec@example.com (GitLab asks users, not e-mail addresses)",
      "@project_bot (the merge request's author)",
    ]);
    expect(sim.branchFiles(project, "patchbay/fix-pypi-requests-0a1b2c3d")).toEqual({ "requirements.txt": "requests==2.31.0\n", "README.md": "# Backend\n" });
    expect(sim.files.get(project)!["requirements.txt"]).toBe("requests==2.25.1\n");
    expect(sim.mrs[0]!.reviewers).toEqual([11]);

    // The default branch moved meanwhile: the rerun starts the branch again from it, and updates the same merge request.
    sim.files.set(project, { ...sim.files.get(project)!, "CHANGELOG.md": "1.1\n" });
    expect(await fixes.open(connection, ctx, repository, fix("2.32.0"))).toMatchObject({ number: 1, existed: true });
    expect(sim.branchFiles(project, "patchbay/fix-pypi-requests-0a1b2c3d")).toEqual({
      "requirements.txt": "requests==2.32.0\n",
      "README.md": "# Backend\n",
      "CHANGELOG.md": "1.1\n",
    });
    // The answer to the merge request's creation lost: GitLab refuses a second one (409) and the rerun finds it.
    sim.mrs.length = 0;
    sim.faults.add({ path: /\/merge_requests$/, method: "POST", status: 502, afterHandler: true, times: 1 });
    await expect(fixes.open(connection, ctx, repository, fix("2.32.0"))).rejects.toThrow();
    expect((await fixes.open(connection, ctx, repository, fix("2.32.0"))).existed).toBe(true);
    expect(sim.mrs).toHaveLength(1);
    expect(sim.defaultBranchWrites).toEqual([]);
    sim.mergeMr(project, sim.mrs[0]!.iid);
    expect(sim.files.get(project)!["requirements.txt"]).toBe("requests==2.32.0\n");

    // A token without the api scope cannot write: GitLab's answer, and no merge request.
    sim.addToken("glpat-readonly-000000000", "reader", ["read_api"]);
    const reader = { settings: { gitlabUrl: "https://gitlab.example.com" }, secrets: { token: "glpat-readonly-000000000" } };
    await expect(fixes.open(reader, ctx, repository, fix("2.32.1"))).rejects.toThrow(/403|scope|permission|privileges/i);
    await expect(fixes.open(connection, ctx, repository, { ...fix("2.32.1"), branch: "main" })).rejects.toThrow('refusing to write a fix to the branch "main"');
  });

  it("adds its merge request webhook to every project itself when no secret token is given", async () => {
    await patchbay.close();
    await app.close();
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.example.com", PATCHBAY_ORIGIN_MAP: `https://gitlab.example.com=${server.url}` } });
    patchbay = await startSim(app.runtime.app);
    admin = await setUpAdmin(app);
    sim.hooks.clear();
    const res = await admin.post("/integrations/gitlab", { gitlabUrl: "https://gitlab.example.com", token: TOKEN });
    expect(res.status).toBe(303);
    await drain();
    expect(sim.hooks.size).toBe(130);
    const hook = sim.hooks.get("platform/backend/project-001")![0]!;
    expect(hook).toMatchObject({ url: "https://patchbay.example.com/webhooks/gitlab/1", merge_requests_events: true });
    const secret = app.runtime.vault.openSecrets((await db().selectFrom("integrations").select("secrets").executeTakeFirstOrThrow()).secrets).webhookSecret;
    expect(hook.token).toBe(secret);
    // A delivery signed with that token is accepted.
    const project = sim.projects[0]!;
    const payload = sim.mergeRequestPayload({ action: "open", project, iid: 1, title: "Update" });
    expect((await sim.deliver(`${patchbay.url}/webhooks/gitlab/1`, "Merge Request Hook", payload, { token: secret })).status).toBe(202);
  });
});
