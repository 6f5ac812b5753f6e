// Ownership routing end to end: GitHub lists the repositories with their topics, Patchbay reads
// their CODEOWNERS after the sync, the team's table turns owners and topics into an assignee,
// a component, labels and a Slack channel, and Jira receives them on the tickets pushed; a
// repository's override wins; a push failure about a routed repository goes to its channel.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { SlackSim } from "../sim/slack.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const GH_TOKEN = "github_pat_ownership_0001";
const JIRA_TOKEN = "ATATT-ownership";
const SITE = "https://acme.atlassian.net";
const CODEOWNERS = ["# Platform owns everything unless a rule below says otherwise", "*  @acme/platform", "/services/payments/  @acme/payments"].join("\n");

let github: GitHubSim;
let jira: JiraSim;
let slack: SlackSim;
let wiz: WizFixture;
let servers: RunningSim[] = [];
let app: TestApp;
let admin: Browser;
let mappingId = 0;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());

beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(GH_TOKEN);
  github.addRepos("acme", 3);
  // service-001 has CODEOWNERS, service-002 only topics, service-003 neither.
  github.files.set("acme/service-001", { ".github/CODEOWNERS": CODEOWNERS, "package-lock.json": "{}" });
  github.files.set("acme/service-002", { "go.sum": "" });
  github.repos.find((r) => r.full_name === "acme/service-002")!.topics = ["pci", "go"];
  jira = new JiraSim();
  jira.addToken(JIRA_TOKEN, "admin@acme.example");
  jira.addProject("SEC", "Security");
  slack = new SlackSim();
  slack.tokens.set("xoxb-routing", { scopes: ["chat:write"] });
  slack.channels.set("security", { id: "C0SECURITY", member: true });
  slack.channels.set("payments-sec", { id: "C0PAYMENTS", member: true });
  slack.channels.set("pci-alerts", { id: "C0PCI", member: true });
  const [gh, jr, sl] = await Promise.all([startSim(github.app()), startSim(jira.app()), startSim(slack.app())]);
  servers = [gh!, jr!, sl!];
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `https://api.github.com=${gh!.url},${SITE}=${jr!.url},https://api.atlassian.com=${jr!.url},https://slack.com=${sl!.url},${wiz.originMap}`,
    },
  });
  admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GH_TOKEN, webhookSecret: "ownership-secret" })).status).toBe(303);
  await runJobs(app);
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/service-001"), {
      name: "CVE-2021-23337",
      detailedName: "lodash",
      version: "4.17.20",
      fixedVersion: "4.17.21",
      severity: "HIGH",
    }),
    wizFinding(2, repoAsset("acme/service-002"), {
      name: "CVE-2022-32149",
      detailedName: "golang.org/x/text",
      version: "0.3.7",
      fixedVersion: "0.3.8",
      severity: "HIGH",
    }),
  );
  expect(
    (await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" })).status,
  ).toBe(303);
  await runJobs(app, 5_000);
  const res = await admin.post("/integrations/jira", { apiToken: JIRA_TOKEN, cloudId: jira.cloudId, email: "admin@acme.example", siteUrl: SITE });
  expect(res.status, text(await res.clone().text())).toBe(303);
  const jiraId = Number(/\/integrations\/jira\/(\d+)/.exec(res.headers.get("location")!)![1]);
  const mapping = await admin.post(
    `/trackers/${jiraId}/mappings`,
    securityBugMapping({
      "source.assignee": "patchbay",
      "value.assignee.patchbay": "assignee",
      "source.components": "patchbay",
      "value.components.patchbay": "component",
    }),
  );
  expect(mapping.status, text(await mapping.clone().text())).toBe(303);
  mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]);
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
});
afterEach(async () => {
  await app.close();
  await Promise.all(servers.map((s) => s.close()));
});

const db = () => app.runtime.database.db;

async function saveTable(
  rows: { match: string; assignee?: string; component?: string; labels?: string; channel?: string }[],
  sources = { useCodeowners: "1", useTopics: "1" },
) {
  const form: Record<string, string> = { ...sources, rows: String(rows.length) };
  rows.forEach((r, i) =>
    Object.assign(form, {
      [`match_${i}`]: r.match,
      [`assignee_${i}`]: r.assignee ?? "",
      [`component_${i}`]: r.component ?? "",
      [`labels_${i}`]: r.labels ?? "",
      [`channel_${i}`]: r.channel ?? "",
    }),
  );
  return admin.post("/settings/ownership", form);
}

async function push(cve: string) {
  const finding = await db().selectFrom("findings").select("id").where("cve", "=", cve).executeTakeFirstOrThrow();
  expect((await admin.post(`/vulnerabilities/${finding.id}/push`, {})).status).toBeLessThan(400);
  await runJobs(app);
}

describe("ownership routing", () => {
  it("reads CODEOWNERS and topics after the repository sync and shows them", async () => {
    const rows = await db().selectFrom("repositories").select(["full_name", "topics", "codeowners"]).orderBy("full_name").execute();
    expect(rows.map((r) => [r.full_name, r.topics, r.codeowners ? JSON.parse(r.codeowners).path : null])).toEqual([
      ["acme/service-001", null, ".github/CODEOWNERS"],
      ["acme/service-002", '["go","pci"]', null],
      ["acme/service-003", null, null],
    ]);
    const list = text(await (await admin.get("/repositories")).text());
    expect(list).toContain("@acme/platform");
    expect(list).toContain("topics: go, pci");
    const id = (await db().selectFrom("repositories").select("id").where("full_name", "=", "acme/service-001").executeTakeFirstOrThrow()).id;
    const page = text(await (await admin.get(`/repositories/${id}/ownership`)).text());
    expect(page).toContain(".github/CODEOWNERS, 2 rules");
    expect(page).toContain("Owners of the repository's root files @acme/platform");
    // An unchanged file is not read again on the next sync (its blob id is the same).
    const reads = () => github.faults.requests.filter((r) => r.path.includes("/contents/.github/CODEOWNERS")).length;
    const before = reads();
    await admin.post("/settings/ownership/refresh", {});
    await runJobs(app);
    expect(reads()).toBe(before);
    github.files.set("acme/service-001", { ".github/CODEOWNERS": CODEOWNERS + "\n*.lock @acme/deps\n" });
    await admin.post("/settings/ownership/refresh", {});
    await runJobs(app);
    expect(reads()).toBe(before + 1);
    expect(text(await (await admin.get(`/repositories/${id}/ownership`)).text())).toContain("3 rules");
  });

  it("puts the routed assignee, component and labels on the Jira issue, and the override wins", async () => {
    const saved = await saveTable([
      { match: "@acme/platform", assignee: "712020:platform-lead", component: "Platform", labels: "team-platform" },
      { match: "topic:pci", assignee: "712020:pci-lead", component: "Payments", labels: "pci, compliance", channel: "#pci-alerts" },
    ]);
    expect(saved.status).toBe(303);
    await push("CVE-2021-23337");
    await push("CVE-2022-32149");
    const [platform, pci] = jira.issues;
    expect(platform!.fields.assignee).toEqual({ accountId: "712020:platform-lead" });
    expect(platform!.fields.components).toEqual([{ id: "10101" }]);
    expect(platform!.fields.labels).toEqual(expect.arrayContaining(["team-platform", "security"]));
    expect(pci!.fields.assignee).toEqual({ accountId: "712020:pci-lead" });
    expect(pci!.fields.components).toEqual([{ id: "10100" }]);
    expect(pci!.fields.labels).toEqual(expect.arrayContaining(["pci", "compliance"]));

    // The repository's own override changes the assignee of its ticket on the next push.
    const id = (await db().selectFrom("repositories").select("id").where("full_name", "=", "acme/service-002").executeTakeFirstOrThrow()).id;
    expect((await admin.post(`/repositories/${id}/ownership`, { assignee: "712020:on-call", component: "", labels: "", channel: "" })).status).toBe(303);
    const page = text(await (await admin.get(`/repositories/${id}/ownership`)).text());
    expect(page).toContain("Assignee 712020:on-call");
    expect(page).toContain("acme/service-002 override: assignee 712020:on-call");
    await push("CVE-2022-32149");
    expect(jira.issues[1]!.fields.assignee).toEqual({ accountId: "712020:on-call" });
    expect(jira.issues[1]!.fields.components).toEqual([{ id: "10100" }]);
  });

  it("sends a push failure about a routed repository to its channel", async () => {
    expect((await admin.post("/integrations/slack", { botToken: "xoxb-routing", channel: "#security", notifyPushFailed: "on" })).status).toBe(303);
    await saveTable([{ match: "topic:pci", labels: "pci", channel: "#pci-alerts" }]);
    jira.revoke(JIRA_TOKEN);
    await push("CVE-2022-32149");
    await runJobs(app, 61_000);
    const channels = slack.messages.filter((m) => m.text.includes("Pushing")).map((m) => m.channel);
    expect(channels).toContain("C0PCI");
    expect(channels).not.toContain("C0SECURITY");
  });

  it("refuses a bad table and saves nothing", async () => {
    await saveTable([{ match: "@acme/platform", assignee: "712020:platform-lead" }]);
    const res = await saveTable([
      { match: "@acme/platform", assignee: "someone-else" },
      { match: "payments team", assignee: "x" },
      { match: "topic:pci", channel: "pci alerts" },
    ]);
    expect(res.status).toBe(422);
    const page = text(await res.text());
    expect(page).toContain("Nothing was saved");
    expect(page).toContain('"payments team" is not an owner');
    expect(page).toContain("is not a Slack channel name");
    const form = await (await admin.get("/settings/ownership")).text();
    expect(form).toContain('value="712020:platform-lead"');
    expect(form).not.toContain("someone-else");
  });
  it("groups tickets by owning team and package: one per team's package, the unowned apart", async () => {
    // Two lodash findings in Platform's service-001, one in service-003 (no CODEOWNERS).
    wiz.sim.findings.push(
      wizFinding(3, repoAsset("acme/service-001"), { name: "CVE-2020-8203", detailedName: "lodash", version: "4.17.20", severity: "MEDIUM" }),
      wizFinding(4, repoAsset("acme/service-003"), { name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.20", severity: "HIGH" }),
    );
    for (const f of wiz.sim.findings) if (f.detailedName === "lodash") f.locationPath = "package-lock.json";
    await admin.post("/integrations/wiz/2/sync", {});
    await runJobs(app, 5_000);
    expect((await db().selectFrom("repositories").select("owner").where("full_name", "=", "acme/service-001").executeTakeFirstOrThrow()).owner).toBe(
      "@acme/platform",
    );
    await db().deleteFrom("tracker_assignments").execute();
    const assigned = await admin.post(`/trackers/mappings/${mappingId}/assignments`, {
      scope: "all",
      minSeverity: "low",
      groupBy: "owner",
      pushMode: "explicit",
    });
    expect(assigned.status).toBe(303);
    // Push to Integrators on the whole table.
    expect(text(await (await admin.post("/vulnerabilities/push", {})).text())).toContain("3 tickets");
    expect((await admin.post("/vulnerabilities/push", { confirm: "yes" })).status).toBe(303);
    await runJobs(app);
    const summaries = jira.issues.map((i) => String(i.fields.summary)).sort();
    expect(summaries).toEqual([
      "@acme/platform — lodash: 2 vulnerabilities (1 high, 1 medium)",
      "Unowned — golang.org/x/text: 1 vulnerability (1 high)",
      "Unowned — lodash: 1 vulnerability (1 high)",
    ]);
    // The finding page names the group its ticket has.
    const finding = await db().selectFrom("findings").select("id").where("cve", "=", "CVE-2020-8203").executeTakeFirstOrThrow();
    expect(text(await (await admin.get(`/vulnerabilities/${finding.id}`)).text())).toContain("Security bugs");
  });
});
