// Credential and permission health: the daily check notes a GitHub token about to expire and a
// scope it lacks, and a Jira mapping whose workflow status or field is gone; the notes show on
// the cards and reach the notifiers once, before pushes start failing.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { enqueueHealthChecks } from "../../src/health/integrations.js";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { SlackSim } from "../sim/slack.js";

let github: GitHubSim;
let jira: JiraSim;
let slack: SlackSim;
let servers: RunningSim[];
let app: TestApp;
let admin: Browser;

beforeEach(async () => {
  github = new GitHubSim();
  jira = new JiraSim();
  jira.addToken("ATATT-health", "svc@acme.example");
  jira.addProject("SEC", "Security");
  slack = new SlackSim();
  slack.webhooks.set("T0001/B0001/healthhealth", { channel: "C0SECURITY" });
  servers = await Promise.all([startSim(github.app()), startSim(jira.app()), startSim(slack.app())]);
  const [gh, ji, sl] = servers as [RunningSim, RunningSim, RunningSim];
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `https://api.github.com=${gh.url},https://acme.atlassian.net=${ji.url},https://api.atlassian.com=${ji.url},https://hooks.slack.com=${sl.url}`,
    },
  });
  admin = await setUpAdmin(app);
  expect(
    (await admin.post("/integrations/slack", { webhookUrl: "https://hooks.slack.com/services/T0001/B0001/healthhealth", notifyIntegrationFailed: "on" }))
      .status,
  ).toBe(303);
});
afterEach(async () => {
  await app.close();
  for (const s of servers) await s.close();
});

async function check(): Promise<string> {
  await enqueueHealthChecks(app.runtime.database.db, app.clock.now());
  await runJobs(app, 61_000);
  return text(await (await admin.get("/integrations")).text());
}

describe("integration health", () => {
  it("warns of a GitHub token that expires soon and a scope it lacks, once", async () => {
    github.addToken("ghp_expiring_0001", "octocat", ["repo", "read:org"]);
    github.tokens.get("ghp_expiring_0001")!.expires = new Date(app.clock.time + 5 * 86_400_000 + 3_600_000);
    expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: "ghp_expiring_0001" })).status).toBe(303);
    await runJobs(app);
    slack.messages.length = 0;
    const hub = await check();
    expect(hub).toMatch(/The GitHub token expires on \d{4}-\d{2}-\d{2} \(in 5 days\)/);
    expect(hub).toContain("The classic GitHub token lacks security_events: Dependabot and code scanning alerts cannot be read.");
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toContain("GitHub: 2 problems found by the daily health check");
    await check();
    expect(slack.messages).toHaveLength(1);
  });

  it("notices Patchbay's webhook removed from a repository, and the next sync adds it back", async () => {
    await app.close();
    app = await testApp({ env: { PATCHBAY_BASE_URL: "https://patchbay.example.com", PATCHBAY_ORIGIN_MAP: `https://api.github.com=${servers[0]!.url}` } });
    admin = await setUpAdmin(app);
    github.addToken("ghp_hooks_0001", "octocat", ["repo", "read:org", "security_events", "admin:repo_hook"]);
    github.addRepos("acme", 2);
    expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: "ghp_hooks_0001" })).status).toBe(303);
    await runJobs(app);
    expect(github.hooks.get("acme/service-001")).toHaveLength(1);
    expect(await check()).not.toContain("Health check");
    github.hooks.set("acme/service-001", []);
    expect(await check()).toContain(
      "Patchbay's webhook is gone from acme/service-001: pull request events stop arriving. The next repository sync adds it back.",
    );
    await admin.post(`/integrations/github/1/sync`, {});
    await runJobs(app);
    expect(github.hooks.get("acme/service-001")).toHaveLength(1);
    expect(await check()).not.toContain("webhook is gone");
  });

  it("notices Jira's webhook deleted by an administrator", async () => {
    jira.admins.add("svc@acme.example");
    const connected = await admin.post("/integrations/jira", {
      apiToken: "ATATT-health",
      cloudId: jira.cloudId,
      email: "svc@acme.example",
      siteUrl: "https://acme.atlassian.net",
    });
    const jiraId = /\/integrations\/jira\/(\d+)/.exec(connected.headers.get("location")!)![1]!;
    expect(text(await (await admin.post(`/trackers/${jiraId}/webhook`, {})).text())).toContain("The webhook was created");
    expect(await check()).not.toContain("Health check");
    jira.webhooks.splice(0);
    expect(await check()).toContain("The tracker no longer has Patchbay's webhook");
  });

  it("finds a Jira mapping whose status left the workflow and whose field left the screen", async () => {
    const connected = await admin.post("/integrations/jira", {
      apiToken: "ATATT-health",
      cloudId: jira.cloudId,
      email: "svc@acme.example",
      siteUrl: "https://acme.atlassian.net",
    });
    const jiraId = /\/integrations\/jira\/(\d+)/.exec(connected.headers.get("location")!)![1]!;
    expect((await admin.post(`/trackers/${jiraId}/mappings`, securityBugMapping())).status).toBe(303);
    expect(await check()).not.toContain("Health check");
    jira.removedStatuses.add("10003");
    const bug = jira.issueTypes.get("SEC")!.find((t) => t.name === "Bug")!;
    bug.fields.splice(
      bug.fields.findIndex((f) => f.fieldId === "labels"),
      1,
    );
    const hub = await check();
    expect(hub).toContain(`Security bugs: the workflow no longer has the status "Won't Do" that tickets move to when accepted`);
    expect(hub).toMatch(/Security bugs: .*Labels/);
  });
});
