// Configuration as code: one Patchbay's setup exported as YAML (no secret in it, valid against
// the published schema), imported into a fresh Patchbay — changes shown first, secrets asked
// for, each integration tested — until both export the same document; bad documents are
// refused with their line numbers and change nothing.
import { Ajv } from "ajv";
import { parse } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { applySla, type Browser, type TestApp, runJobs, setUpAdmin, signIn, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { SlackSim } from "../sim/slack.js";

const GH_TOKEN = "github_pat_configuration_secret_0001";
const JIRA_TOKEN = "ATATT-configuration-secret";
const SLACK_HOOK = "https://hooks.slack.com/services/T0001/B0001/configsecretpath";
const SITE = "https://acme.atlassian.net";

let github: GitHubSim;
let jira: JiraSim;
let slack: SlackSim;
let servers: RunningSim[] = [];
let originMap = "";
const apps: TestApp[] = [];

beforeAll(async () => {
  github = new GitHubSim();
  github.addToken(GH_TOKEN);
  github.addRepos("acme", 3);
  jira = new JiraSim();
  jira.addToken(JIRA_TOKEN, "admin@acme.example");
  jira.addProject("SEC", "Security");
  slack = new SlackSim();
  slack.webhooks.set("T0001/B0001/configsecretpath", { channel: "C0SECURITY" });
  servers = await Promise.all([startSim(github.app()), startSim(jira.app()), startSim(slack.app())]);
  originMap = `https://api.github.com=${servers[0]!.url},${SITE}=${servers[1]!.url},https://api.atlassian.com=${servers[1]!.url},https://hooks.slack.com=${servers[2]!.url}`;
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

async function patchbay(): Promise<{ app: TestApp; admin: Browser }> {
  const app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: originMap } });
  apps.push(app);
  return { app, admin: await setUpAdmin(app) };
}

/** The first Patchbay, set up by hand through its pages. */
async function configured(): Promise<{ app: TestApp; admin: Browser }> {
  const { app, admin } = await patchbay();
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GH_TOKEN, webhookSecret: "" })).status).toBe(303);
  const res = await admin.post("/integrations/jira", { apiToken: JIRA_TOKEN, cloudId: jira.cloudId, email: "admin@acme.example", siteUrl: SITE });
  expect(res.status).toBe(303);
  const jiraId = Number(/\/integrations\/jira\/(\d+)/.exec(res.headers.get("location")!)![1]);
  await runJobs(app);
  const mapping = await admin.post(
    `/trackers/${jiraId}/mappings`,
    securityBugMapping({ titleTemplate: "[<%= it.severity %>] <%= it.cve %> in <%= it.package %>" }),
  );
  expect(mapping.status, text(await mapping.clone().text())).toBe(303);
  const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]);
  const repo = await app.runtime.database.db.selectFrom("repositories").select("id").where("full_name", "=", "acme/service-002").executeTakeFirstOrThrow();
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, {
    scope: "some",
    repositories: String(repo.id),
    minSeverity: "high",
    groupBy: "package",
    pushMode: "link_new",
  });
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "critical", groupBy: "finding", pushMode: "explicit" });
  expect(
    (await admin.post("/integrations/slack", { webhookUrl: SLACK_HOOK, notifyNewFindings: "on", minSeverity: "critical", onlyIntegrations: String(jiraId) }))
      .status,
  ).toBe(303);
  await applySla(app, admin, { critical: "2", high: "10", medium: "30", low: "", info: "" });
  await admin.post("/settings/ownership", {
    useCodeowners: "1",
    rows: "1",
    match_0: "@acme/platform",
    assignee_0: "712020:platform-lead",
    component_0: "Platform",
    labels_0: "team-platform",
    channel_0: "",
  });
  await admin.post(`/repositories/${repo.id}/ownership`, { assignee: "712020:on-call", component: "", labels: "pci", channel: "" });
  return { app, admin };
}

async function exported(admin: Browser): Promise<string> {
  const res = await admin.get("/settings/configuration/export.yaml");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="patchbay-configuration-\d{4}-\d{2}-\d{2}\.yaml"/);
  return res.text();
}

const body = (yaml: string) => yaml.replace(/^#.*\n/gm, "");

describe("configuration as code", () => {
  it("exports the setup without secrets, valid against the published schema", async () => {
    const { admin } = await configured();
    const yaml = await exported(admin);
    for (const secret of [GH_TOKEN, JIRA_TOKEN, SLACK_HOOK, "configsecretpath"]) expect(yaml).not.toContain(secret);
    const doc = parse(yaml);
    const schema = await (await admin.get("/settings/configuration/schema.json")).json();
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.sla).toEqual({
      critical: 2,
      high: 10,
      medium: 30,
      low: null,
      info: null,
      basis: "severity",
      bands: { critical: 7, high: 30, medium: 90, low: 180 },
      kevDays: null,
    });
    const byKind = Object.fromEntries(doc.integrations.map((i: { kind: string }) => [i.kind, i]));
    expect(byKind.github.secrets).toEqual(["token"]);
    expect(byKind.jira.secrets).toEqual(["apiToken"]);
    expect(byKind.slack.secrets).toEqual(["webhookUrl"]);
    // References are by name, not by this Patchbay's ids.
    expect(byKind.slack.settings.onlyIntegrations).toEqual([byKind.jira.name]);
    const mapping = byKind.jira.mappings[0];
    expect(mapping.templates.title).toBe("[<%= it.severity %>] <%= it.cve %> in <%= it.package %>");
    expect(mapping.assignments).toEqual([
      { repositories: "all", minSeverity: "critical", groupBy: "finding", pushMode: "explicit" },
      { repositories: ["acme/service-002"], minSeverity: "high", groupBy: "package", pushMode: "link_new" },
    ]);
    expect(doc.ownership.repositories).toEqual([{ repository: "acme/service-002", assignee: "712020:on-call", component: "", labels: ["pci"], channel: "" }]);
  });

  it("restores it into a fresh Patchbay: changes first, secrets asked for, then the same document", async () => {
    const { admin: first } = await configured();
    const yaml = await exported(first);
    const { app, admin } = await patchbay();
    const db = app.runtime.database.db;

    const preview = await admin.postMultipart("/settings/configuration/preview", { document: yaml });
    expect(preview.status, text(await preview.clone().text())).toBe(200);
    const shown = text(await preview.text());
    expect(shown).toMatch(/Add Integration Jira acme \(Jira\)/);
    expect(shown).toContain("Add Mapping Security bugs");
    expect(shown).toContain("critical: 3 days → 2 days");
    expect(shown).toContain("API Token (required)");
    expect(await db.selectFrom("integrations").select("id").execute()).toEqual([]);

    // Without the secrets nothing is applied.
    const refused = await admin.postMultipart("/settings/configuration/apply", { document: yaml });
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("Enter the secrets the new integrations need");
    expect(await db.selectFrom("integrations").select("id").execute()).toEqual([]);

    const doc = parse(yaml);
    const index = (kind: string) => doc.integrations.findIndex((i: { kind: string }) => i.kind === kind);
    const secrets = {
      [`secret.${index("github")}.token`]: GH_TOKEN,
      [`secret.${index("jira")}.apiToken`]: JIRA_TOKEN,
      [`secret.${index("slack")}.webhookUrl`]: SLACK_HOOK,
    };
    const applied = await admin.postMultipart("/settings/configuration/apply", { document: yaml, ...secrets });
    expect(applied.status, text(await applied.clone().text())).toBe(200);
    expect(text(await applied.text())).toContain("The configuration was imported");
    await runJobs(app);
    // The repositories are known once GitHub has synced: importing again adds what waited on them.
    const second = text(await (await admin.postMultipart("/settings/configuration/preview", { document: yaml })).text());
    expect(second).toContain("assignment added: acme/service-002, high and above, by package, link_new");
    expect((await admin.postMultipart("/settings/configuration/apply", { document: yaml })).status).toBe(200);
    expect(body(await exported(admin))).toBe(body(yaml));
    const third = text(await (await admin.postMultipart("/settings/configuration/preview", { document: yaml })).text());
    expect(third).not.toMatch(/\bAdd\b|\bChange\b/);
    // The restored Jira works: a mapping check against the tracker passed on import.
    expect(await db.selectFrom("tracker_mappings").select("name").execute()).toEqual([{ name: "Security bugs" }]);
  });

  it("tests each integration before saving it: a wrong secret leaves it and what depends on it out, the rest is applied", async () => {
    const { admin: first } = await configured();
    const yaml = await exported(first);
    const { app, admin } = await patchbay();
    const doc = parse(yaml);
    const index = (kind: string) => doc.integrations.findIndex((i: { kind: string }) => i.kind === kind);
    const res = await admin.postMultipart("/settings/configuration/apply", {
      document: yaml,
      [`secret.${index("github")}.token`]: GH_TOKEN,
      [`secret.${index("jira")}.apiToken`]: "ATATT-wrong",
      [`secret.${index("slack")}.webhookUrl`]: SLACK_HOOK,
    });
    expect(res.status).toBe(422);
    const page = text(await res.text());
    expect(page).toMatch(/Integration Jira acme \(Jira\): .*(token|credentials)/i);
    expect(page).toContain("Mapping Security bugs on Jira acme: Jira acme was not connected.");
    const kinds = (await app.runtime.database.db.selectFrom("integrations").select("kind").orderBy("kind").execute()).map((r) => r.kind);
    // Slack's rules name the Jira integration, so Slack waits for it too.
    expect(page).toContain('Integration Slack (Slack): It names "Jira acme", which could not be connected.');
    expect(kinds).toEqual(["github"]);
  });

  it("refuses a bad document with where and why, and changes nothing", async () => {
    const { app, admin } = await configured();
    const yaml = await exported(admin);
    const before = body(await exported(admin));
    const cases: [string, RegExp][] = [
      ["version: 1\nintegrations: [\n", /Line \d+:/],
      [yaml.replace("sla:\n", "slas:\n"), /has "slas", which Patchbay does not know/],
      [yaml.replace("kind: jira", "kind: jira-server-9"), /kind must be one of/],
      [
        yaml.replace(/pushMode: link_new/, "pushMode: sometimes"),
        /Line \d+: integrations\[\d\] \("[^"]+"\)\.mappings\[1\] \("Security bugs"\)\.assignments\[2\]\.pushMode must be one of/,
      ],
      [yaml.replace("<%= it.severity %>", "<%= it.urgency %>"), /title template/],
      [yaml.replace(/onlyIntegrations:\n\s+- .*\n/, "onlyIntegrations:\n      - Jira that never was\n"), /names the integration "Jira that never was"/],
      ["", /The document is empty/],
      [
        [
          "a: &a [x, x, x, x, x, x, x, x, x, x]",
          ..."bcdefghi".split("").map((k, i) => `${k}: &${k} [${Array(10).fill(`*${"abcdefghi"[i]}`).join(", ")}]`),
          "version: 1",
        ].join("\n"),
        /repeats YAML aliases/,
      ],
    ];
    for (const [doc, message] of cases) {
      const res = await admin.postMultipart("/settings/configuration/preview", { document: doc });
      expect(res.status, doc.slice(0, 80)).toBe(422);
      expect(text(await res.text()), doc.slice(0, 60)).toMatch(message);
      expect((await admin.postMultipart("/settings/configuration/apply", { document: doc })).status).toBe(422);
    }
    expect(body(await exported(admin))).toBe(before);
    // A member may not export, preview or import: each answers 403 and the setup stays as it was.
    await admin.post("/settings/users", { username: "dev", role: "member", password: "member password 1", confirm: "member password 1" });
    const member = await signIn(app, "dev", "member password 1");
    expect((await member.get("/settings/configuration")).status).toBe(403);
    expect((await member.get("/settings/configuration/export.yaml")).status).toBe(403);
    expect((await member.postMultipart("/settings/configuration/preview", { document: before })).status).toBe(403);
    const applied = await member.postMultipart("/settings/configuration/apply", { document: yaml.replace(/name: Security bugs/, "name: Member's bugs") });
    expect(applied.status).toBe(403);
    expect(text(await applied.text())).toContain("Only an administrator can do this");
    expect(body(await exported(admin))).toBe(before);
  });
});
