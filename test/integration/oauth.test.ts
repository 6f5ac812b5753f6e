// Connecting source control by OAuth: Connect → the provider's consent page → back with the
// integration connected; and every way back that must fail with the seed's advice.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { enqueueJob } from "../../src/jobs/queue.js";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const CALLBACK = "http://localhost:8080/integrations/oauth/callback";
let github: GitHubSim;
let gitlab: GitLabSim;
let githubServer: RunningSim;
let gitlabServer: RunningSim;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  github = new GitHubSim();
  github.oauthApps.set("Iv1.patchbay", { secret: "gh-oauth-secret", callback: CALLBACK });
  github.addRepos("acme", 5);
  githubServer = await startSim(github.app());
  gitlab = new GitLabSim();
  gitlab.webOrigin = "https://gitlab.example.com";
  gitlab.oauthApps.set("gl-app-id", { secret: "gl-app-secret", callback: CALLBACK });
  gitlab.addProjects("team", 3);
  gitlabServer = await startSim(gitlab.app());
});
afterAll(async () => {
  await githubServer.close();
  await gitlabServer.close();
});
beforeEach(async () => {
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `https://github.com=${githubServer.url},https://api.github.com=${githubServer.url},https://gitlab.example.com=${gitlabServer.url}`,
    },
  });
  admin = await setUpAdmin(app);
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;

/** Plays the person on the provider's consent page: follows Authorize (or Cancel). */
async function consent(authorizeUrl: string, simUrl: string, choice: "authorize" | "cancel" = "authorize"): Promise<string> {
  const url = new URL(authorizeUrl);
  const page = await (await fetch(simUrl + url.pathname + url.search)).text();
  const href = new RegExp(`id="${choice}" href="([^"]+)"`).exec(page)![1]!.replace(/&amp;/g, "&");
  return new URL(href).pathname + new URL(href).search;
}

describe("OAuth with GitHub", () => {
  it("goes to GitHub's authorization page with state and PKCE, and comes back connected", async () => {
    const start = await admin.post("/integrations/github/oauth/start", {
      githubUrl: "https://github.com",
      clientId: "Iv1.patchbay",
      clientSecret: "gh-oauth-secret",
    });
    expect(start.status).toBe(303);
    const location = new URL(start.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://github.com/login/oauth/authorize");
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: "Iv1.patchbay",
      redirect_uri: CALLBACK,
      response_type: "code",
      scope: "repo read:org security_events",
      code_challenge_method: "S256",
    });
    expect(location.searchParams.get("state")!.length).toBeGreaterThanOrEqual(40);

    const back = await admin.get(await consent(location.toString(), githubServer.url));
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe("/integrations/github/1?tab=configuration&saved=1");
    const row = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    const secrets = app.runtime.vault.openSecrets(row.secrets);
    expect(secrets.token).toMatch(/^gho_/);
    expect(secrets.clientSecret).toBe("gh-oauth-secret");
    expect(JSON.parse(row.settings)).toMatchObject({ authMethod: "oauth", clientId: "Iv1.patchbay" });
    await runJobs(app);
    expect(await db().selectFrom("repositories").select("id").execute()).toHaveLength(5);
    const dialog = text(await (await admin.get(back.headers.get("location")!)).text());
    expect(dialog).toContain("Connected. GitHub is ready.");
    expect(dialog).not.toContain(secrets.token!);
  });

  it("answers a declined authorization, an unknown or reused state, and an expired code with the seed's advice", async () => {
    const start = async () =>
      new URL(
        (
          await admin.post("/integrations/github/oauth/start", { githubUrl: "https://github.com", clientId: "Iv1.patchbay", clientSecret: "gh-oauth-secret" })
        ).headers.get("location")!,
      );

    const declined = await admin.get(await consent((await start()).toString(), githubServer.url, "cancel"));
    expect(declined.status).toBe(422);
    const declinedText = text(await declined.text());
    expect(declinedText).toContain("The authorization was declined on the provider's page");
    expect(declinedText).toContain("Clear your browser cache and cookies.");
    expect(declinedText).toContain("Check that your account has admin rights in the external service.");

    const forged = text(await (await admin.get("/integrations/oauth/callback?code=abc&state=forged-state")).text());
    expect(forged).toContain("state mismatch");

    const callback = await consent((await start()).toString(), githubServer.url);
    github.expireCodes();
    const expired = text(await (await admin.get(callback)).text());
    expect(expired).toContain("GitHub did not accept the authorization code: it expired or was already used");
    const reused = text(await (await admin.get(callback)).text());
    expect(reused).toContain("state mismatch");
    expect(await db().selectFrom("integrations").select("id").execute()).toHaveLength(0);
  });

  it("refuses a callback from a different signed-in user than the one who started", async () => {
    const start = new URL(
      (
        await admin.post("/integrations/github/oauth/start", { githubUrl: "https://github.com", clientId: "Iv1.patchbay", clientSecret: "gh-oauth-secret" })
      ).headers.get("location")!,
    );
    await admin.post("/settings/users", { username: "other", role: "admin", password: "orchard-lantern-three", confirm: "orchard-lantern-three" });
    const other = app.client();
    await other.post("/login", { username: "other", password: "orchard-lantern-three" });
    const res = text(await (await other.get(await consent(start.toString(), githubServer.url))).text());
    expect(res).toContain("state mismatch");
  });

  it("asks for the OAuth application's client ID and secret, or a token", async () => {
    const start = await admin.post(
      "/integrations/github/oauth/start",
      { githubUrl: "https://github.com" },
      { htmx: true, target: "integration-dialog-content" },
    );
    expect(start.status).toBe(422);
    const html = text(await start.text());
    expect(html).toContain("Enter your OAuth application's client ID to connect with GitHub.");
    const save = await admin.post("/integrations/github", { githubUrl: "https://github.com" }, { htmx: true, target: "integration-dialog-content" });
    expect(text(await save.text())).toContain("Enter the Personal access token, or use Connect with GitHub to authorize by OAuth.");
    const dialog = text(await (await admin.get("/integrations/github/new?tab=configuration")).text());
    expect(dialog).toContain(`callback URL: ${CALLBACK}`);
  });
});

describe("OAuth with GitLab", () => {
  it("connects, then refreshes the two-hour token before it expires, and flips to Error when the grant is revoked", async () => {
    const start = await admin.post("/integrations/gitlab/oauth/start", {
      gitlabUrl: "https://gitlab.example.com",
      clientId: "gl-app-id",
      clientSecret: "gl-app-secret",
    });
    const location = new URL(start.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://gitlab.example.com/oauth/authorize");
    const back = await admin.get(await consent(location.toString(), gitlabServer.url));
    expect(back.status).toBe(303);
    await runJobs(app);
    const before = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    const firstToken = app.runtime.vault.openSecrets(before.secrets).token;
    expect(JSON.parse(before.settings).tokenExpiresAt).toBe(new Date(app.clock.time + 7200_000).toISOString());

    app.clock.advance(7000_000);
    // Two jobs wanting the token at once share one refresh (GitLab rotates refresh tokens).
    await enqueueJob(db(), "scm.sync", { integrationId: before.id }, app.clock.now());
    await enqueueJob(db(), "integration.check", { integrationId: before.id }, app.clock.now());
    gitlab.tokenRequests.length = 0;
    gitlab.tokenLatencyMs = 300;
    await Promise.all([app.runtime.worker.runOnce(), app.runtime.worker.runOnce()]);
    gitlab.tokenLatencyMs = 0;
    expect(gitlab.tokenRequests).toEqual(["refresh_token"]);
    await runJobs(app);
    const after = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    expect(app.runtime.vault.openSecrets(after.secrets).token).not.toBe(firstToken);
    expect(after.status).toBe("connected");

    // Two Patchbay processes on the same database, both needing the token as it is about to expire:
    // one refreshes, the other waits for the new token (a second refresh with the rotated token would be refused).
    const originMap = [...app.config.originMap].map(([from, to]) => `${from}=${to}`).join(",");
    const replica = await testApp({ env: { PATCHBAY_ORIGIN_MAP: originMap, PATCHBAY_DATA_DIR: app.config.dataDir }, clock: app.clock });
    try {
      app.clock.advance(7000_000);
      await enqueueJob(db(), "scm.sync", { integrationId: before.id }, app.clock.now());
      await enqueueJob(db(), "integration.check", { integrationId: before.id }, app.clock.now());
      gitlab.tokenRequests.length = 0;
      gitlab.tokenLatencyMs = 300;
      await Promise.all([app.runtime.worker.runOnce(), replica.runtime.worker.runOnce()]);
      gitlab.tokenLatencyMs = 0;
      expect(gitlab.tokenRequests).toEqual(["refresh_token"]);
      const jobs = await db()
        .selectFrom("jobs")
        .select(["type", "status", "last_error"])
        .where("type", "in", ["scm.sync", "integration.check"])
        .orderBy("id", "desc")
        .limit(2)
        .execute();
      expect(jobs.map((j) => j.status)).toEqual(["succeeded", "succeeded"]);
      expect(await db().selectFrom("integrations").select(["status", "refresh_lock_until"]).executeTakeFirstOrThrow()).toEqual({
        status: "connected",
        refresh_lock_until: null,
      });
    } finally {
      await replica.runtime.close();
    }

    gitlab.revokeRefreshTokens();
    app.clock.advance(7000_000);
    await enqueueJob(db(), "integration.check", { integrationId: before.id }, app.clock.now());
    await runJobs(app);
    const card = text(await (await admin.get("/integrations/card/gitlab", { htmx: true })).text());
    expect(card).toMatch(/GitLab Error/);
    expect(card).toContain("GitLab no longer accepts Patchbay's authorization: it was revoked or has expired");
    expect(card).toContain("Choose Connect with GitLab again in the integration's Configuration tab.");
  });

  it("retries, without flagging GitLab, a sync whose token another job refreshed meanwhile (GitLab revokes the old token as it issues the new)", async () => {
    const start = await admin.post("/integrations/gitlab/oauth/start", {
      gitlabUrl: "https://gitlab.example.com",
      clientId: "gl-app-id",
      clientSecret: "gl-app-secret",
    });
    await admin.get(await consent(start.headers.get("location")!, gitlabServer.url));
    await runJobs(app);
    const { id } = await db().selectFrom("integrations").select("id").executeTakeFirstOrThrow();
    gitlab.addProjects("big", 250); // three pages: the sync is still reading when the other job refreshes
    try {
      gitlab.faults.add({ path: /\/projects$/, latencyMs: 150 });
      // 310 s left on the token: the sync uses it as it is, without refreshing.
      app.clock.advance(6890_000);
      await enqueueJob(db(), "scm.sync", { integrationId: id }, app.clock.now());
      const sync = app.runtime.worker.runOnce();
      await new Promise((r) => setTimeout(r, 50));
      // Now under the five-minute margin: a connection check refreshes, and GitLab revokes the token the sync holds.
      app.clock.advance(20_000);
      await enqueueJob(db(), "integration.check", { integrationId: id }, app.clock.now());
      const revokedBefore = gitlab.rejected.revoked;
      await app.runtime.worker.runOnce();
      await sync;
      expect(gitlab.rejected.revoked).toBeGreaterThan(revokedBefore);
      const during = await db().selectFrom("integrations").select(["status", "last_error"]).where("id", "=", id).executeTakeFirstOrThrow();
      expect(during).toEqual({ status: "connected", last_error: null });
      const run = await db().selectFrom("sync_runs").select(["status", "error"]).orderBy("id", "desc").executeTakeFirstOrThrow();
      expect(run.status).toBe("interrupted");
      expect(run.error).toContain("credentials were replaced while it ran");
      // The retry reads every project with the new token.
      await runJobs(app, 120_000);
      expect(await db().selectFrom("sync_runs").select("status").orderBy("id", "desc").executeTakeFirstOrThrow()).toEqual({ status: "succeeded" });
      expect((await db().selectFrom("repositories").select("id").where("integration_id", "=", id).where("full_name", "like", "big/%").execute()).length).toBe(
        250,
      );
    } finally {
      gitlab.faults.clear();
      gitlab.projects.splice(3);
    }
  });
});
