// Jira Cloud through the ticket push engine: connecting (classic and scoped tokens), the
// mapping form against live create metadata, the four push modes, finding groups, crash
// safety, push errors with Retry, and pull request events end to end with GitHub.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { CLASSIC_SCOPES, JiraSim, type SimField, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const SITE = "https://acme.atlassian.net";
const EMAIL = "patchbay-svc@acme.example";
const CLASSIC = "ATATT-classic-token-0001";
const SCOPED = "ATATT-scoped-token-0002";
const NARROW = "ATATT-scoped-narrow-0003";
const GH_TOKEN = "github_pat_jira_0001";
const GH_SECRET = "webhook-secret-jira-0001";
const REPO = "acme/payments-api";
const OTHER = "acme/web-frontend";

const SEVERITY_FIELD: SimField = {
  fieldId: "customfield_10050",
  name: "Severity",
  required: false,
  schema: { type: "option", custom: "com.atlassian.jira.plugin.system.customfieldtypes:select", customId: 10050 },
  allowedValues: [
    { id: "20001", value: "Critical" },
    { id: "20002", value: "High" },
    { id: "20003", value: "Medium" },
    { id: "20004", value: "Low" },
    { id: "20005", value: "Info" },
  ],
};
const TEAM_FIELD: SimField = {
  fieldId: "customfield_10060",
  name: "Team",
  required: true,
  schema: { type: "option", custom: "com.atlassian.jira.plugin.system.customfieldtypes:select", customId: 10060 },
  allowedValues: [
    { id: "30001", value: "Payments" },
    { id: "30002", value: "Platform" },
  ],
};

let jira: JiraSim;
let jiraServer: RunningSim;
let github: GitHubSim;
let githubServer: RunningSim;
let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
  github = new GitHubSim();
  github.addToken(GH_TOKEN);
  githubServer = await startSim(github.app());
});
afterAll(async () => {
  await wiz.close();
  await githubServer.close();
});
beforeEach(async () => {
  jira = new JiraSim();
  jira.addToken(CLASSIC, EMAIL);
  jira.addToken(SCOPED, EMAIL, "scoped", [...CLASSIC_SCOPES]);
  jira.addToken(NARROW, EMAIL, "scoped", ["read:jira-user", "read:jira-work"]);
  jira.addProject("SEC", "Security", [SEVERITY_FIELD]);
  jira.addProject("OPS", "Operations", [TEAM_FIELD]);
  jiraServer = await startSim(jira.app());
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `${SITE}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url},https://api.github.com=${githubServer.url},${wiz.originMap}`,
    },
  });
  admin = await setUpAdmin(app);
  wiz.sim.findings.length = 0;
  const main = repoAsset(REPO);
  wiz.sim.findings.push(
    wizFinding(0, main, {
      name: "CVE-2021-23337",
      detailedName: "lodash",
      version: "4.17.15",
      fixedVersion: "4.17.21",
      severity: "HIGH",
      locationPath: "package-lock.json",
    }),
    wizFinding(1, main, {
      name: "CVE-2020-28500",
      detailedName: "lodash",
      version: "4.17.15",
      fixedVersion: "4.17.21",
      severity: "MEDIUM",
      locationPath: "package-lock.json",
    }),
    wizFinding(2, main, {
      name: "CVE-2021-3749",
      detailedName: "axios",
      version: "0.21.1",
      fixedVersion: "0.21.2",
      severity: "CRITICAL",
      locationPath: "yarn.lock",
    }),
    wizFinding(3, repoAsset(OTHER), {
      name: "CVE-2022-24999",
      detailedName: "qs",
      version: "6.5.2",
      fixedVersion: "6.5.3",
      severity: "HIGH",
      locationPath: "package-lock.json",
    }),
  );
});
afterEach(async () => {
  await app.close();
  await jiraServer.close();
});

const db = () => app.runtime.database.db;
const drain = (advanceMs = 0) => runJobs(app, advanceMs);

async function importFindings(): Promise<void> {
  await seedRepositories(app, [REPO, OTHER]);
  const res = await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  expect(res.status).toBe(303);
  wizId = Number(/\/integrations\/wiz\/(\d+)/.exec(res.headers.get("location")!)![1]);
  await drain(5_000);
}

async function connectJira(form: Record<string, string> = {}): Promise<Response> {
  return admin.post("/integrations/jira", { apiToken: CLASSIC, cloudId: jira.cloudId, email: EMAIL, siteUrl: SITE, ...form });
}

/** The SEC Bug mapping as a person fills the form, with the Severity custom field too. */
function secBugForm(extra: Record<string, string> = {}): Record<string, string> {
  return securityBugMapping({
    "source.customfield_10050": "patchbay",
    "value.customfield_10050.patchbay": "severity",
    ...Object.fromEntries(["critical", "high", "medium", "low", "info"].map((s, i) => [`severity.customfield_10050.${s}`, String(20001 + i)])),
    ...extra,
  });
}

let jiraId = 0;
let wizId = 0;

async function setUpMapping(assignment: Record<string, string>): Promise<number> {
  const connected = await connectJira();
  expect(connected.status).toBe(303);
  jiraId = Number(/\/integrations\/jira\/(\d+)/.exec(connected.headers.get("location")!)![1]);
  const res = await admin.post(`/trackers/${jiraId}/mappings`, secBugForm());
  expect(res.status).toBe(303);
  const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(res.headers.get("location")!)![1]);
  const added = await admin.post(`/trackers/mappings/${mappingId}/assignments`, {
    scope: "all",
    minSeverity: "low",
    groupBy: "finding",
    pushMode: "explicit",
    ...assignment,
  });
  expect(added.status).toBe(303);
  await drain();
  return mappingId;
}

async function findingId(cve: string): Promise<number> {
  return (await db().selectFrom("findings").select("id").where("cve", "=", cve).executeTakeFirstOrThrow()).id;
}

describe("connecting Jira Cloud", () => {
  it("verifies a classic token on the site, then moves to the Configuration tab with Add Project", async () => {
    const res = await connectJira();
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/integrations/jira/1?tab=configuration&saved=1");
    const row = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    expect(JSON.parse(row.settings)).toMatchObject({ apiMode: "site", siteUrl: SITE, account: "Patchbay Service" });
    expect(row.secrets).not.toContain(CLASSIC);
    const dialog = await (await admin.get(res.headers.get("location")!)).text();
    expect(text(dialog)).toContain("Next, configure which projects Patchbay should use");
    expect(dialog).toContain('href="/trackers/1/mappings/new"');
    expect(dialog).not.toContain(CLASSIC);
    const hub = await (await admin.get("/integrations")).text();
    expect(hub).toContain('<a href="/trackers/1">Manage Project</a>');
  });

  it("uses a scoped token through the gateway and finds the site itself", async () => {
    const res = await connectJira({ apiToken: SCOPED, siteUrl: "" });
    expect(res.status).toBe(303);
    const row = await db().selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    expect(JSON.parse(row.settings)).toMatchObject({ apiMode: "gateway", siteUrl: SITE });
    expect(jira.faults.requests.some((r) => r.path === `/ex/jira/${jira.cloudId}/rest/api/3/myself`)).toBe(true);
  });

  it("says which scopes are missing, rejects a Cloud ID of another site, and stores nothing on failure", async () => {
    jira.tokens.get(NARROW)!.scopes = ["read:jira-work"];
    const scope = text(await (await connectJira({ apiToken: NARROW, siteUrl: "" })).text());
    expect(scope).toContain("Jira Cloud refused to read the service account (HTTP 401): the API token lacks a scope");
    expect(scope).toContain("Needed: read:jira-user (classic scopes) or read:user:jira (granular scopes)");
    // A classic token through the gateway (no Site URL) is refused everywhere: the Site URL is what is missing.
    const classic = text(await (await connectJira({ siteUrl: "" })).text());
    expect(classic).toContain("A classic token works only on your site: enter the Site URL");
    expect(classic).not.toContain("the API token lacks a scope");
    const other = text(await (await connectJira({ cloudId: "11111111-2222-3333-4444-555555555555" })).text());
    expect(other).toContain(`is not the Cloud ID of ${SITE} (which is ${jira.cloudId})`);
    const wrongEmail = text(await (await connectJira({ email: "someone@acme.example" })).text());
    expect(wrongEmail).toContain("Jira rejected the API token");
    expect(wrongEmail).toContain("it must be the service account's");
    const bad = await connectJira({ cloudId: "not-a-cloud-id" });
    expect(bad.status).toBe(422);
    expect(text(await bad.text())).toContain("A Cloud ID looks like");
    expect(await db().selectFrom("integrations").select("id").execute()).toHaveLength(0);
  });
});

describe("configuring projects", () => {
  it("loads projects, issue types and fields from Jira and refuses what Jira would refuse", async () => {
    await connectJira();
    const start = text(await (await admin.get("/trackers/1/mappings/new")).text());
    expect(start).toContain("Operations (OPS)");
    expect(start).toContain("Security (SEC)");
    const types = text(await (await admin.get("/trackers/1/mappings/new?project=10001", { htmx: true, target: "mapping-form" })).text());
    expect(types).toContain("Bug");
    expect(types).not.toContain("Sub-task");
    const fields = await (await admin.get("/trackers/1/mappings/new?project=10001&ticketType=10004")).text();
    expect(text(fields)).toContain("Team mandatory");
    expect(text(fields)).toContain("Priority special");
    expect(fields).toContain('name="value.customfield_10060.tracker"');

    const refused = await admin.post("/trackers/1/mappings", {
      ...secBugForm({ project: "10001", "source.customfield_10050": "none" }),
      "source.priority": "none",
      "source.customfield_10060": "none",
    });
    expect(refused.status).toBe(422);
    const page = text(await refused.text());
    expect(page).toContain("Team is mandatory in the tracker: map it.");
    expect(await db().selectFrom("tracker_mappings").select("id").execute()).toHaveLength(0);

    const saved = await admin.post("/trackers/1/mappings", {
      ...secBugForm({ project: "10001", "source.customfield_10050": "none" }),
      "source.customfield_10060": "tracker",
      "value.customfield_10060.tracker": "30001",
    });
    expect(saved.status).toBe(303);
    const mapping = text(await (await admin.get(saved.headers.get("location")!)).text());
    expect(mapping).toContain("Team Tracker value: Payments");
    expect(mapping).toContain("Priority Patchbay: Severity (critical → Highest, high → High");
  });

  it("requires Severity and Priority to be mapped to Patchbay fields", async () => {
    await connectJira();
    const res = await admin.post("/trackers/1/mappings", secBugForm({ "source.priority": "manual", "value.priority.manual": "High" }));
    expect(res.status).toBe(422);
    expect(text(await res.text())).toContain("Priority must be mapped to a Patchbay field.");
    const missing = await admin.post("/trackers/1/mappings", secBugForm({ "severity.customfield_10050.info": "" }));
    expect(text(await missing.text())).toContain("Choose the Severity value for each severity (missing: info)");
  });

  it("lists connected projects under Manage Project, edits and deletes them", async () => {
    const mappingId = await setUpMapping({});
    const list = text(await (await admin.get("/trackers/1")).text());
    expect(list).toContain("Security bugs");
    const confirm = text(await (await admin.get("/integrations/jira/1/disconnect")).text());
    expect(confirm).toContain("Its 1 project (mappings and assignments), the links to 0 tickets and their changelogs, and its error rows are removed too.");
    const edit = await admin.post(`/trackers/mappings/${mappingId}`, secBugForm({ name: "Security findings", ticketType: "10002", "source.duedate": "none" }));
    expect(edit.status).toBe(303);
    const row = await db().selectFrom("tracker_mappings").selectAll().executeTakeFirstOrThrow();
    expect(row.name).toBe("Security findings");
    expect(JSON.parse(row.target).ticketType).toEqual({ id: "10002", name: "Task" });
    expect(text(await (await admin.get(`/trackers/mappings/${mappingId}/delete`)).text())).toContain("Delete Security findings?");
    expect((await admin.post(`/trackers/mappings/${mappingId}/delete`, {})).status).toBe(303);
    expect(await db().selectFrom("tracker_assignments").select("id").execute()).toHaveLength(0);
  });
});

describe("push modes", () => {
  it("Explicitly Publish Changes: nothing automatic; Push to Integrators creates the issue", async () => {
    await importFindings();
    await setUpMapping({ pushMode: "explicit" });
    wiz.sim.findings.push(
      wizFinding(9, repoAsset(REPO), { name: "CVE-2023-0001", detailedName: "minimist", version: "1.2.5", fixedVersion: "1.2.6", severity: "HIGH" }),
    );
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues).toHaveLength(0);

    const id = await findingId("CVE-2021-3749");
    const pushed = await admin.post(`/vulnerabilities/${id}/push`, {});
    expect(pushed.headers.get("location")).toBe(`/vulnerabilities/${id}?pushed=1`);
    await drain();
    expect(jira.issues).toHaveLength(1);
    const issue = jira.issues[0]!;
    expect(issue.fields.summary).toBe(`CVE-2021-3749 in axios 0.21.1 (${REPO})`);
    expect(issue.fields.priority).toEqual({ id: "1" });
    expect(issue.fields.customfield_10050).toEqual({ id: "20001" });
    expect((issue.fields.labels as string[]).find((l) => l.startsWith("patchbay-"))).toMatch(/^patchbay-[0-9a-f]{16}$/);
    expect(JSON.stringify(issue.fields.description)).toContain(`https://localhost:8080/vulnerabilities/${id}`.replace("https", "http"));
    const detail = await (await admin.get(`/vulnerabilities/${id}`)).text();
    // The issue's link, shown through the origin map: the simulator's page of the issue.
    expect((await db().selectFrom("tickets").select("url").executeTakeFirstOrThrow()).url).toBe(`${SITE}/browse/SEC-1`);
    expect(detail).toContain(`href="${jiraServer.url}/browse/SEC-1"`);
    expect(text(detail)).toContain("Created SEC-1 in Security (SEC)");
    const list = await (await admin.get("/vulnerabilities")).text();
    expect(list).toContain(`href="${jiraServer.url}/browse/SEC-1"`);

    // Pushing again with nothing changed sends nothing.
    const before = jira.faults.requests.length;
    await admin.post(`/vulnerabilities/${id}/push`, {});
    await drain();
    expect(jira.faults.requests.slice(before).filter((r) => r.method !== "GET")).toHaveLength(0);
  });

  it("Automatically Link New Findings: new findings get issues, existing ones and later changes do not", async () => {
    await importFindings();
    await setUpMapping({ pushMode: "link_new" });
    expect(jira.issues).toHaveLength(0);
    wiz.sim.findings.push(
      wizFinding(9, repoAsset(REPO), { name: "CVE-2023-0001", detailedName: "minimist", version: "1.2.5", fixedVersion: "1.2.6", severity: "HIGH" }),
    );
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues.map((i) => i.fields.summary)).toEqual([`CVE-2023-0001 in minimist 1.2.5 (${REPO})`]);
    // A later change is not pushed in this mode.
    const id = await findingId("CVE-2023-0001");
    await admin.post(`/vulnerabilities/${id}/status`, { status: "false_positive", reason: "Test fixture only" });
    await drain();
    expect(jira.issues[0]!.statusId).toBe("10000");
  });

  it("Automatically Update Existing Link: linked issues follow their findings; nothing new is created", async () => {
    await importFindings();
    await setUpMapping({ pushMode: "update_existing" });
    const id = await findingId("CVE-2021-23337");
    await admin.post(`/vulnerabilities/${id}/push`, {});
    await drain();
    expect(jira.issues).toHaveLength(1);
    await admin.post(`/vulnerabilities/${id}/status`, { status: "false_positive", reason: "Not reachable" });
    await drain();
    expect(jira.issues[0]!.statusId).toBe("10003");
    const detail = text(await (await admin.get(`/vulnerabilities/${id}`)).text());
    expect(detail).toContain("Status → Won't Do (risk accepted)");
    wiz.sim.findings.push(
      wizFinding(9, repoAsset(REPO), { name: "CVE-2023-0001", detailedName: "minimist", version: "1.2.5", fixedVersion: "1.2.6", severity: "HIGH" }),
    );
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues).toHaveLength(1);
  });

  it("Automatically Link New and Update Existing Link, with the assignment's repositories and minimum severity", async () => {
    await importFindings();
    const repoId = (await db().selectFrom("repositories").select("id").where("full_name", "=", REPO).executeTakeFirstOrThrow()).id;
    await setUpMapping({ pushMode: "link_and_update", scope: "some", repositories: String(repoId), minSeverity: "high" });
    wiz.sim.findings.push(
      wizFinding(9, repoAsset(REPO), { name: "CVE-2023-0001", detailedName: "minimist", version: "1.2.5", fixedVersion: "1.2.6", severity: "HIGH" }),
      wizFinding(10, repoAsset(REPO), { name: "CVE-2023-0002", detailedName: "ms", version: "2.0.0", fixedVersion: "2.0.1", severity: "LOW" }),
      wizFinding(11, repoAsset(OTHER), { name: "CVE-2023-0003", detailedName: "debug", version: "2.6.8", fixedVersion: "2.6.9", severity: "CRITICAL" }),
    );
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues.map((i) => i.fields.summary)).toEqual([`CVE-2023-0001 in minimist 1.2.5 (${REPO})`]);
    // The scanner stops reporting it: the issue moves to Done.
    wiz.sim.findings.splice(
      wiz.sim.findings.findIndex((f) => f.name === "CVE-2023-0001"),
      1,
    );
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues[0]!.statusId).toBe("10002");
  });
});

describe("finding groups", () => {
  it("pushes one issue per package, listing its findings, and closes it when all are resolved", async () => {
    await importFindings();
    await setUpMapping({ pushMode: "link_and_update", groupBy: "package" });
    const id = await findingId("CVE-2021-23337");
    await admin.post(`/vulnerabilities/${id}/push`, {});
    await drain();
    expect(jira.issues).toHaveLength(1);
    const issue = jira.issues[0]!;
    expect(issue.fields.summary).toBe("lodash: 2 vulnerabilities (1 high, 1 medium)");
    expect(JSON.stringify(issue.fields.description)).toContain("CVE-2020-28500");
    expect(issue.fields.priority).toEqual({ id: "2" });
    const other = text(await (await admin.get(`/vulnerabilities/${await findingId("CVE-2020-28500")}`)).text());
    expect(other).toContain("SEC-1");

    wiz.sim.findings.splice(0, 2);
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues).toHaveLength(1);
    expect(issue.statusId).toBe("10002");
    expect(JSON.stringify(issue.fields.description)).toContain("Resolved");
  });
});

describe("no duplicates, and errors people can act on", () => {
  /** Findings, a mapping, and a Jira that creates the next issue but whose answer is lost. */
  async function loseNextCreateAnswer(): Promise<void> {
    await importFindings();
    await setUpMapping({});
    jira.onCreate = () => {
      jira.onCreate = undefined;
      throw new Error("connection dropped after the issue was created");
    };
  }

  it("finds the issue by its label when Jira created it but the answer was lost", async () => {
    await loseNextCreateAnswer();
    const id = await findingId("CVE-2021-3749");
    await admin.post(`/vulnerabilities/${id}/push`, {});
    await drain();
    expect(jira.issues).toHaveLength(1);
    const pending = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    expect(pending.linked_at).toBeNull();
    await drain(60_000);
    expect(jira.issues).toHaveLength(1);
    const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    expect(ticket.external_key).toBe("SEC-1");
    expect(text(await (await admin.get(`/vulnerabilities/${id}`)).text())).toContain(
      "Linked to SEC-1, found in the tracker by its marker after an interrupted push",
    );
  });

  it("waits out Jira Cloud's search lag before deciding, after a lost answer, that the issue was not created", async () => {
    await loseNextCreateAnswer();
    // Jira's search shows a new issue only a minute after it is written.
    jira.searchLagMs = 60_000;
    jira.clock = () => app.clock.time;
    const id = await findingId("CVE-2021-3749");
    await admin.post(`/vulnerabilities/${id}/push`, {});
    await drain();
    // The retries come sooner than the index catches up: none of them may create a second issue.
    for (let i = 0; i < 6; i++) await drain(60_000);
    expect(jira.issues).toHaveLength(1);
    const job = await db()
      .selectFrom("jobs")
      .select(["status", "last_error"])
      .where("type", "=", "ticket.push")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(job.status).toBe("succeeded");
    const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    expect(ticket.external_key).toBe("SEC-1");
    expect(await db().selectFrom("push_errors").select("id").execute()).toEqual([]);
  });

  it("records a field removed in Jira as a push error with Retry, and clears it once the push succeeds", async () => {
    await importFindings();
    const mappingId = await setUpMapping({});
    const bug = jira.issueTypes.get("SEC")!.find((t) => t.id === "10004")!;
    const severity = bug.fields.splice(
      bug.fields.findIndex((f) => f.fieldId === "customfield_10050"),
      1,
    )[0]!;
    app.clock.advance(120_000);
    const id = await findingId("CVE-2021-3749");
    await admin.post(`/vulnerabilities/${id}/push`, {});
    await drain();
    expect(jira.issues).toHaveLength(0);
    const table = text(await (await admin.get("/trackers")).text());
    expect(table).toContain("Security bugs 1 0 1 errors for Security bugs");
    // The Hub's Jira card shows the total and links to the error table.
    const hub = await (await admin.get("/integrations")).text();
    expect(text(hub)).toContain("Total Errors: 1 in Jira");
    expect(hub).toContain(`href="/trackers/mappings/${mappingId}/errors"`);
    const errors = text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text());
    expect(errors).toContain(`CVE-2021-3749 in axios 0.21.1 on ${REPO}`);
    expect(errors).toContain('The field "Severity" no longer exists for this target in the tracker.');
    const events = await db().selectFrom("domain_events").select("type").where("type", "=", "ticket.push_failed").execute();
    expect(events).toHaveLength(1);

    bug.fields.push(severity);
    app.clock.advance(120_000);
    const errorId = (await db().selectFrom("push_errors").select("id").executeTakeFirstOrThrow()).id;
    const retried = await admin.post(`/trackers/mappings/${mappingId}/errors/retry`, { error: String(errorId) });
    expect(retried.headers.get("location")).toBe(`/trackers/mappings/${mappingId}/errors?retried=1`);
    await drain();
    expect(jira.issues).toHaveLength(1);
    expect(text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text())).toContain("No errors.");
    expect(text(await (await admin.get("/integrations")).text())).not.toContain("Total Errors");
  });

  it("records Jira's own refusal with its HTTP status and message", async () => {
    await importFindings();
    const mappingId = await setUpMapping({});
    jira.faults.add({
      path: /\/rest\/api\/3\/issue$/,
      status: 400,
      times: 1,
      body: JSON.stringify({ errorMessages: [], errors: { duedate: "Due date is in the past." } }),
    });
    await admin.post(`/vulnerabilities/${await findingId("CVE-2021-3749")}/push`, {});
    await drain();
    const row = await db().selectFrom("push_errors").selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ mapping_id: mappingId, http_status: 400, tracker_message: "duedate: Due date is in the past." });

    jira.faults.add({
      path: /\/rest\/api\/3\/issue$/,
      status: 403,
      times: 1,
      body: JSON.stringify({ errorMessages: ["You do not have permission to create issues in this project."], errors: {} }),
    });
    await admin.post(`/vulnerabilities/${await findingId("CVE-2022-24999")}/push`, {});
    await drain();
    const errors = text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text());
    expect(errors).toContain("Jira Cloud refused to create and edit issues (HTTP 403)");
    expect(errors).toContain("Needed: write:jira-work (classic scopes) or write:issue:jira (granular scopes)");
    expect(errors).toContain("You do not have permission to create issues in this project.");
  });

  it("waits out a 429 and pushes once", async () => {
    await importFindings();
    await setUpMapping({});
    jira.faults.add({
      path: /\/rest\/api\/3\/issue$/,
      status: 429,
      times: 2,
      headers: { "retry-after": "1" },
      body: JSON.stringify({ errorMessages: ["Rate limit exceeded."] }),
    });
    await admin.post(`/vulnerabilities/${await findingId("CVE-2021-3749")}/push`, {});
    await drain();
    expect(jira.issues).toHaveLength(1);
    expect(await db().selectFrom("push_errors").select("id").execute()).toHaveLength(0);
  });

  it("flips the card to Error when Jira revokes the token", async () => {
    await importFindings();
    await setUpMapping({});
    jira.revoke(CLASSIC);
    await admin.post(`/vulnerabilities/${await findingId("CVE-2021-3749")}/push`, {});
    await drain();
    const hub = text(await (await admin.get("/integrations")).text());
    expect(hub).toContain("Pushing tickets failed: Jira Cloud rejected the credentials (HTTP 401).");
    expect(await db().selectFrom("domain_events").select("type").where("type", "=", "integration.failed").execute()).toHaveLength(1);
  });
});

describe("transition screens and the edit screen", () => {
  async function mapped(extra: Record<string, string>): Promise<number> {
    await importFindings();
    jiraId = Number(/\/integrations\/jira\/(\d+)/.exec((await connectJira()).headers.get("location")!)![1]);
    const res = await admin.post(`/trackers/${jiraId}/mappings`, secBugForm(extra));
    expect(res.status, text(await res.clone().text())).toBe(303);
    const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(res.headers.get("location")!)![1]);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "update_existing" });
    return mappingId;
  }

  it("closes through a screen that requires Resolution with the mapping's, and names a required field it cannot fill", async () => {
    // Won't Do goes through a screen that requires a Resolution; Done's screen offers one.
    jira.transitionScreens.set("10003", { resolution: "required" });
    jira.transitionScreens.set("10002", { resolution: "optional" });
    const mappingId = await mapped({ "resolution.accepted": "10003" });
    const form = await (await admin.get(`/trackers/mappings/${mappingId}/edit`)).text();
    expect(form).toContain('<label for="res-accepted">Resolution when risk is accepted</label>');
    const lodash = await findingId("CVE-2021-23337");
    await admin.post(`/vulnerabilities/${lodash}/push`, {});
    await drain();
    await admin.post(`/vulnerabilities/${lodash}/status`, { status: "false_positive", reason: "Not reachable" });
    await drain();
    expect(jira.issues[0]!.statusId).toBe("10003");
    expect(jira.issues[0]!.fields.resolution).toEqual({ id: "10003", name: "Cannot Reproduce" });
    expect(text(await (await admin.get(`/vulnerabilities/${lodash}`)).text())).toContain("Status → Won't Do (risk accepted)");

    // A screen that requires a field Patchbay has no value for: the push error says which and what to do.
    jira.transitionScreens.set("10003", { resolution: "required", required: ["fixVersions"] });
    const axios = await findingId("CVE-2021-3749");
    await admin.post(`/vulnerabilities/${axios}/push`, {});
    await drain();
    await admin.post(`/vulnerabilities/${axios}/status`, { status: "false_positive", reason: "Vendored, unused" });
    await drain();
    expect(jira.issues[1]!.statusId).toBe("10000");
    const errors = await db().selectFrom("push_errors").select("reason").where("mapping_id", "=", mappingId).execute();
    expect(errors.map((e) => e.reason)).toEqual([
      expect.stringContaining(
        `The transition "Move to Won't Do" to "Won't Do" requires "Fix versions" on its screen, which Patchbay cannot fill. Make it optional on the transition screen in the Jira workflow, give it a default, or map another status.`,
      ),
    ]);
  });

  it("edits only the fields on the issue's edit screen, and the changelog says what was left as it was", async () => {
    await mapped({});
    const lodash = await findingId("CVE-2021-23337");
    await admin.post(`/vulnerabilities/${lodash}/push`, {});
    await drain();
    expect(jira.issues[0]!.fields.priority).toMatchObject({ id: "2" });
    // Priority is not on the edit screen; the scanner raises the finding to critical.
    jira.notEditable.add("priority");
    wiz.sim.findings[0]!.severity = "CRITICAL";
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.issues[0]!.fields.priority).toMatchObject({ id: "2" });
    expect(jira.issues[0]!.fields.customfield_10050).toMatchObject({ id: "20001" });
    const history = await db().selectFrom("ticket_changes").select("detail").where("action", "=", "updated").execute();
    expect(history.map((h) => h.detail)).toEqual([
      expect.stringMatching(/^Updated .*Severity: High → Critical.*; Priority left as it was \(not on Jira's edit screen\)$/),
    ]);
    expect(history[0]!.detail).not.toMatch(/Priority: High → Highest/);

    // A closed issue Jira does not let anyone edit: nothing is sent, and the changelog says so.
    jira.issues[0]!.statusId = "10002";
    jira.lockedStatuses.add("10002");
    wiz.sim.findings[0]!.severity = "LOW";
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    const before = jira.issues[0]!.fields.customfield_10050;
    await drain(5_000);
    expect(jira.issues[0]!.fields.customfield_10050).toEqual(before);
    const last = await db().selectFrom("ticket_changes").select("detail").where("action", "=", "updated").orderBy("id", "desc").executeTakeFirstOrThrow();
    expect(last.detail).toMatch(/^Not updated: .*Severity.* left as they were \(Jira does not allow editing the issue in its status\)$/);
  });
});

describe("bulk push", () => {
  it("ends a push with failures on a link to why they failed", async () => {
    await importFindings();
    const mappingId = await setUpMapping({});
    const bug = jira.issueTypes.get("SEC")!.find((t) => t.id === "10004")!;
    bug.fields.splice(
      bug.fields.findIndex((f) => f.fieldId === "customfield_10050"),
      1,
    );
    app.clock.advance(120_000);
    const location = (await admin.post("/vulnerabilities/push", { query: "?severity=high&severity=critical", confirm: "yes" })).headers.get("location")!;
    await drain();
    const page = await (await admin.get(location)).text();
    expect(text(page)).toContain("3 of 3 tickets done: 0 pushed, 3 failed. Finished.");
    expect(text(page)).toContain("3 failures in Jira acme: see why");
    expect(page).toContain(`href="/trackers/mappings/${mappingId}/errors"`);
  });

  it("pushes every finding of a filtered selection as one job with progress", async () => {
    await importFindings();
    const mappingId = await setUpMapping({});
    // First the count and the time, nothing sent; then the push.
    const asked = await admin.post("/vulnerabilities/push", { query: "?severity=high&severity=critical" });
    expect(asked.status).toBe(200);
    const question = text(await asked.text());
    expect(question).toContain("This creates or updates 3 tickets: Jira acme: 3 tickets — as fast as the tracker answers");
    expect(question).toContain("Push 3 tickets");
    await drain();
    expect(jira.issues).toHaveLength(0);
    expect(await db().selectFrom("push_batches").select("id").execute()).toHaveLength(0);
    const res = await admin.post("/vulnerabilities/push", { query: "?severity=high&severity=critical", confirm: "yes" });
    const location = res.headers.get("location")!;
    expect(location).toMatch(/^\/trackers\/batches\/\d+$/);
    expect(text(await (await admin.get(location)).text())).toContain("Preparing");
    await drain();
    expect(jira.issues.map((i) => i.fields.summary).sort()).toEqual([
      `CVE-2021-23337 in lodash 4.17.15 (${REPO})`,
      `CVE-2021-3749 in axios 0.21.1 (${REPO})`,
      `CVE-2022-24999 in qs 6.5.2 (${OTHER})`,
    ]);
    expect(text(await (await admin.get(location)).text())).toContain("3 of 3 tickets pushed. Finished.");
    expect(await db().selectFrom("tickets").select("id").where("mapping_id", "=", mappingId).execute()).toHaveLength(3);
  });
});

describe("bulk create", () => {
  /** 120 more critical findings in Wiz, in the first repository (pkg-0 … pkg-119). */
  function addCriticalFindings(): void {
    const main = repoAsset(REPO);
    for (let i = 0; i < 120; i++)
      wiz.sim.findings.push(
        wizFinding(100 + i, main, {
          name: `CVE-2024-${String(10_000 + i)}`,
          detailedName: `pkg-${i}`,
          version: "1.0.0",
          fixedVersion: "1.0.1",
          severity: "CRITICAL",
          locationPath: "package-lock.json",
        }),
      );
  }
  /** Those 120 (123 high or critical in all), imported, with the SEC mapping. */
  async function manyFindings(): Promise<number> {
    addCriticalFindings();
    await importFindings();
    return setUpMapping({});
  }
  const markers = () => jira.issues.map((i) => (i.fields.labels as string[]).find((l) => l.startsWith("patchbay-")));

  it("makes new issues 50 to a request, and an issue Jira refuses is that finding's error alone", async () => {
    const mappingId = await manyFindings();
    // Jira's project refuses two of them (a validator on the summary); the rest are made.
    jira.refuse = (fields) => (/pkg-(7|77) /.test(String(fields.summary)) ? { summary: "Summary is refused by the project's validator." } : undefined);
    const location = (await admin.post("/vulnerabilities/push", { query: "?severity=high&severity=critical", confirm: "yes" })).headers.get("location")!;
    await drain();
    expect(jira.bulkCreates).toEqual([50, 50, 23]);
    expect(jira.faults.requests.filter((r) => r.method === "POST" && r.path === "/rest/api/3/issue")).toHaveLength(0);
    expect(jira.issues).toHaveLength(121);
    expect(new Set(markers()).size).toBe(121);
    expect(text(await (await admin.get(location)).text())).toContain("123 of 123 tickets done: 121 pushed, 2 failed. Finished.");
    // Each issue's key is on its own finding's ticket (matched by order, the refused ones left out).
    const tickets = await db()
      .selectFrom("tickets")
      .select(["external_key", "marker"])
      .where("mapping_id", "=", mappingId)
      .where("linked_at", "is not", null)
      .execute();
    expect(tickets).toHaveLength(121);
    for (const t of tickets) expect(jira.issueByKey(t.external_key!)!.fields.labels).toContain(t.marker);
    const errors = text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text());
    expect(errors).toContain("pkg-7 1.0.0");
    expect(errors).toContain("pkg-77 1.0.0");
    expect(errors).toContain(`Jira Cloud rejected the issue (HTTP 400). Jira Cloud said: "summary: Summary is refused by the project's validator."`);
    // Fixed in Jira, a retry makes just those two.
    jira.refuse = undefined;
    await admin.post(`/trackers/mappings/${mappingId}/errors/retry`, {});
    await drain();
    expect(jira.issues).toHaveLength(123);
    expect(new Set(markers()).size).toBe(123);
  });

  it("makes the issues of an import's new findings in bulk too, each push job ending on its own finding's outcome", async () => {
    await importFindings();
    const mappingId = await setUpMapping({ pushMode: "link_new" });
    addCriticalFindings();
    jira.refuse = (fields) => (/pkg-7 /.test(String(fields.summary)) ? { summary: "Summary is refused by the project's validator." } : undefined);
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    // The sweep queued one push per new finding; they went out 50 to a request.
    expect(jira.bulkCreates).toEqual([50, 50, 20]);
    expect(jira.faults.requests.filter((r) => r.method === "POST" && r.path === "/rest/api/3/issue")).toHaveLength(0);
    expect(jira.issues).toHaveLength(119);
    expect(new Set(markers()).size).toBe(119);
    const jobs = await db().selectFrom("jobs").select(["status", "attempts"]).where("type", "=", "ticket.push").execute();
    expect(jobs).toHaveLength(120);
    expect(jobs.every((j) => j.status === "succeeded" && j.attempts === 1)).toBe(true);
    const errors = await db().selectFrom("push_errors").select("subject_label").where("mapping_id", "=", mappingId).execute();
    expect(errors.map((e) => e.subject_label)).toEqual([expect.stringContaining("pkg-7 1.0.0")]);
    // Once more the same: nothing new to make, nothing sent.
    const requests = jira.faults.requests.length;
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    expect(jira.faults.requests.slice(requests).filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("creates only the rest after a bulk create whose answer was lost, finding what it made by label", async () => {
    const mappingId = await manyFindings();
    // The connection drops once Jira has made the first 30 issues of the first request.
    let made = 0;
    jira.onCreate = () => {
      if (++made < 30) return;
      jira.onCreate = undefined;
      throw new Error("connection dropped mid-request");
    };
    await admin.post("/vulnerabilities/push", { query: "?severity=high&severity=critical", confirm: "yes" });
    await drain();
    expect(jira.issues).toHaveLength(30 + 50 + 23);
    const pending = await db().selectFrom("tickets").select("id").where("mapping_id", "=", mappingId).where("linked_at", "is", null).execute();
    expect(pending).toHaveLength(50);
    // The retry waits out Jira Cloud's search lag, then links the 30 it finds and creates the other 20.
    await admin.post(`/trackers/mappings/${mappingId}/errors/retry`, {});
    await drain();
    expect(jira.issues).toHaveLength(103);
    for (let i = 0; i < 3; i++) await drain(60_000);
    expect(jira.issues).toHaveLength(123);
    expect(new Set(markers()).size).toBe(123);
    const linked = await db().selectFrom("tickets").select("id").where("mapping_id", "=", mappingId).where("linked_at", "is not", null).execute();
    expect(linked).toHaveLength(123);
    const relinked = await db().selectFrom("ticket_changes").select("id").where("detail", "like", "Linked to %found in the tracker by its marker%").execute();
    expect(relinked).toHaveLength(30);
  });
});

describe("reconciliation past deleted and moved issues", () => {
  it("reads every live status though one issue was deleted and one moved: the deleted one is reported, the moved one followed", async () => {
    await importFindings();
    jira.addProject("ARCH", "Archive");
    const mappingId = await setUpMapping({});
    await admin.post("/vulnerabilities/push", { query: "?severity=high&severity=critical", confirm: "yes" });
    await drain();
    const keys = jira.issues.map((i) => i.key).sort();
    expect(keys).toEqual(["SEC-1", "SEC-2", "SEC-3"]);
    jira.deleteIssue("SEC-1");
    const moved = jira.moveIssue("SEC-2", "ARCH");
    // Jira refuses a JQL naming a deleted issue's key: what the old search-based read did.
    await admin.post(`/trackers/mappings/${mappingId}/reconcile`, {});
    await drain();
    const page = text(await (await admin.get(`/trackers/mappings/${mappingId}`)).text());
    expect(page).toContain("succeeded: 3 checked, 1 difference, 0 repaired");
    expect(page).toContain("SEC-1");
    expect(page).toContain("Reported: deleted in Jira acme, or no longer readable by Patchbay's account.");
    const tickets = await db().selectFrom("tickets").select(["external_key", "url"]).orderBy("id").execute();
    expect(tickets.map((t) => t.external_key)).toEqual(["SEC-1", moved.key, "SEC-3"]);
    expect(tickets[1]!.url).toBe(`${SITE}/browse/${moved.key}`);
    const history = await db().selectFrom("ticket_changes").select("detail").where("action", "=", "moved").execute();
    expect(history.map((h) => h.detail)).toEqual([`SEC-2 is now ${moved.key} (moved in the tracker); Patchbay follows it there`]);
  });
});

describe("remediation pull requests", () => {
  /** A GitHub repository with a lodash finding pushed to Jira as SEC-1, and Patchbay listening for its webhooks. */
  async function githubRepositoryWithTicket() {
    github.repos.length = 0;
    github.addRepos("acme", 1);
    const repo = github.repos[0]!;
    const patchbay = await startSim(app.runtime.app);
    expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GH_TOKEN, webhookSecret: GH_SECRET })).status).toBe(303);
    await drain();
    wiz.sim.findings.length = 0;
    wiz.sim.findings.push(
      wizFinding(0, repoAsset(repo.full_name), {
        name: "CVE-2021-23337",
        detailedName: "lodash",
        version: "4.17.15",
        fixedVersion: "4.17.21",
        severity: "HIGH",
      }),
    );
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await drain(5_000);
    expect((await connectJira()).status).toBe(303);
    const mapping = await admin.post("/trackers/3/mappings", secBugForm());
    const mappingId = Number(/(\d+)/.exec(mapping.headers.get("location")!.split("/").at(-1)!)![1]);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "link_and_update" });
    await admin.post(`/vulnerabilities/${await findingId("CVE-2021-23337")}/push`, {});
    await drain();
    return { repo, patchbay };
  }

  it("comments and moves the issue when a PR opens and merges, and names the issue in the PR", async () => {
    const { repo, patchbay } = await githubRepositoryWithTicket();
    try {
      expect(jira.issues).toHaveLength(1);

      const hook = `${patchbay.url}/webhooks/github/1`;
      github.pullBodies.set(`${repo.full_name}#7`, "Upgrades lodash.");
      const send = async (action: string, merged = false) => {
        const payload = github.pullRequestPayload({ action, repo, number: 7, title: "Bump lodash from 4.17.15 to 4.17.21", body: "Upgrades lodash.", merged });
        expect((await github.deliver(hook, "pull_request", payload, { secret: GH_SECRET })).status).toBe(202);
        await drain();
      };
      await send("opened");
      const issue = jira.issues[0]!;
      expect(issue.statusId).toBe("10001");
      expect(JSON.stringify(issue.comments)).toContain("Remediation pull request opened");
      expect(github.pullBodies.get(`${repo.full_name}#7`)).toContain(`[SEC-1](${SITE}/browse/SEC-1)`);

      await send("closed", true);
      expect(issue.statusId).toBe("10002");
      expect(JSON.stringify(issue.comments)).toContain("Remediation pull request merged");
      const changelog = text(await (await admin.get(`/vulnerabilities/${await findingId("CVE-2021-23337")}`)).text());
      expect(changelog).toContain("Status → In Progress (remediation pull request open)");
      expect(changelog).toContain("Status → Done (findings resolved)");
      // The list shows the same changelog beside the finding, oldest first.
      const list = text(await (await admin.get("/vulnerabilities?status=all&q=CVE-2021-23337")).text());
      const opened = list.indexOf("Status → In Progress (remediation pull request open)");
      expect(opened).toBeGreaterThan(-1);
      expect(list.indexOf("Status → Done (findings resolved)")).toBeGreaterThan(opened);
    } finally {
      await patchbay.close();
    }
  });

  it("an outsider's pull request from a fork moves nothing and is never written into, even when followed", async () => {
    const { repo, patchbay } = await githubRepositoryWithTicket();
    try {
      const issue = jira.issues[0]!;
      const statusBefore = issue.statusId;

      const hook = `${patchbay.url}/webhooks/github/1`;
      const send = async (number: number, fork: { owner: string; association?: string }) => {
        github.pullBodies.set(`${repo.full_name}#${number}`, "Fixes it.");
        const payload = github.pullRequestPayload({ action: "opened", repo, number, title: "Fix CVE-2021-23337 (SEC-1)", body: "Fixes it.", fork });
        expect((await github.deliver(hook, "pull_request", payload, { secret: GH_SECRET })).status).toBe(202);
        await drain();
      };
      // Anyone can fork a public repository and open a pull request naming a CVE or a key.
      await send(40, { owner: "stranger" });
      const delivery = await db().selectFrom("webhook_deliveries").select(["outcome", "detail"]).orderBy("id", "desc").executeTakeFirstOrThrow();
      expect(delivery.outcome).toBe("ignored");
      expect(delivery.detail).toContain("from the fork stranger/");
      expect(await db().selectFrom("findings").select("status").executeTakeFirstOrThrow()).toEqual({ status: "open" });
      expect(issue.statusId).toBe(statusBefore);
      expect(JSON.stringify(issue.comments)).not.toContain("Remediation pull request");
      expect(github.pullBodies.get(`${repo.full_name}#40`)).toBe("Fixes it.");
      expect(await db().selectFrom("remediations").select("id").execute()).toHaveLength(0);

      // A collaborator's fork is the team's own work.
      await send(41, { owner: "teammate", association: "COLLABORATOR" });
      expect(await db().selectFrom("findings").select("status").executeTakeFirstOrThrow()).toEqual({ status: "in_remediation" });
      expect(github.pullBodies.get(`${repo.full_name}#41`)).toContain("[SEC-1]");

      // Following outsiders' pull requests moves findings, but their text is never written to.
      const edit = await admin.post("/integrations/github/1", { githubUrl: "https://github.com", linkOutsidePullRequests: "on" });
      expect(edit.status, text(await edit.clone().text())).toBe(303);
      await send(42, { owner: "stranger" });
      const outside = await db().selectFrom("remediations").select(["number", "outside"]).where("number", "=", 42).executeTakeFirstOrThrow();
      expect(outside.outside).toContain("stranger");
      expect(github.pullBodies.get(`${repo.full_name}#42`)).toBe("Fixes it.");
    } finally {
      await patchbay.close();
    }
  });

  it("links a pull request that names only the Jira key", async () => {
    const { findFixes } = await import("../../src/remediation/fixes.js");
    await importFindings();
    await setUpMapping({});
    await admin.post(`/vulnerabilities/${await findingId("CVE-2021-3749")}/push`, {});
    await drain();
    const repoId = (await db().selectFrom("repositories").select("id").where("full_name", "=", REPO).executeTakeFirstOrThrow()).id;
    const { fixes } = await findFixes(db(), repoId, { title: "Fix SEC-1", body: "", sourceBranch: "fix/SEC-1" });
    expect(fixes).toEqual([{ findingId: await findingId("CVE-2021-3749"), reason: "ticket" }]);
  });
});

describe("ticket templates", () => {
  it("checks templates when the mapping is saved, renders a test, and pushes the mapping's own title and description", async () => {
    await importFindings();
    const connected = await connectJira();
    jiraId = Number(/\/integrations\/jira\/(\d+)/.exec(connected.headers.get("location")!)![1]);
    const bad = await admin.post(`/trackers/${jiraId}/mappings`, secBugForm({ titleTemplate: "[<%= it.sevrity %>] <%= it.cve %>" }));
    expect(bad.status).toBe(422);
    expect(text(await bad.text())).toContain('Unknown variable "it.sevrity" (line 1)');
    expect(jira.issues).toHaveLength(0);
    // A title that renders empty for some finding (here, one without a CVE) is refused, and Test render says so.
    const emptyTitle = "<% if (it.cve) { %><%= it.cve %> in <%= it.package %><% } %>";
    const refused = await admin.post(`/trackers/${jiraId}/mappings`, secBugForm({ titleTemplate: emptyTitle }));
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("The title template renders an empty title for a finding without a CVE");
    const tested = text(await (await admin.post(`/trackers/${jiraId}/templates/preview`, { titleTemplate: emptyTitle }, { htmx: true })).text());
    expect(tested).toContain("renders an empty title for a finding without a CVE");
    const noText = "<% for (const f of it.findings) { %><%= f.fixedVersion %><% } %>";
    const refusedDescription = await admin.post(`/trackers/${jiraId}/mappings`, secBugForm({ descriptionTemplate: noText }));
    expect(text(await refusedDescription.text())).toContain("The description template renders nothing for a finding without a fixed version");
    expect(await db().selectFrom("tracker_mappings").select("id").execute()).toHaveLength(0);

    const title = "[<%= it.severity %>] <%= it.cve %> in <%= it.package %>";
    const description =
      "## What to do\nUpgrade `<%= it.package %>` to <% if (it.fixedVersion) { %><%= it.fixedVersion %><% } else { %>a fixed release<% } %>.\n\n<% for (const f of it.findings) { %>- [<%= f.cve %>](<%= f.url %>) on <%= f.asset %>\n<% } %>";
    const preview = text(
      await (await admin.post(`/trackers/${jiraId}/templates/preview`, { titleTemplate: title, descriptionTemplate: description }, { htmx: true })).text(),
    );
    expect(preview).toMatch(/\[(critical|high|medium|low)\] CVE-\d{4}-\d+ in \S+/);
    expect(preview).toContain("What to do");
    expect(preview).toContain("as Atlassian Document Format");

    const saved = await admin.post(`/trackers/${jiraId}/mappings`, secBugForm({ titleTemplate: title, descriptionTemplate: description }));
    expect(saved.status, text(await saved.clone().text())).toBe(303);
    const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(saved.headers.get("location")!)![1]);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
    await admin.post(`/vulnerabilities/${await findingId("CVE-2021-23337")}/push`, {});
    await drain();
    const issue = jira.issues[0]!;
    expect(issue.fields.summary).toBe("[high] CVE-2021-23337 in lodash");
    const adf = JSON.stringify(issue.fields.description);
    expect(adf).toContain('"type":"heading"');
    expect(adf).toContain("Upgrade ");
    expect(adf).toContain('"marks":[{"type":"code"}]');
    expect(adf).toContain('"type":"bulletList"');
    expect(adf).toContain('"href":"http://localhost:8080/vulnerabilities/');
  });
});

describe("dry run", () => {
  it("lists what switching an assignment to automatic, or changing the mapping, would send — and sends nothing", async () => {
    await importFindings();
    const mappingId = await setUpMapping({});
    const assignment = await db().selectFrom("tracker_assignments").select("id").executeTakeFirstOrThrow();
    const lodash = await findingId("CVE-2021-23337");
    await admin.post(`/vulnerabilities/${lodash}/push`, {});
    await drain();
    expect(jira.issues.map((i) => i.key)).toEqual(["SEC-1"]);
    // Since then: lodash is accepted as a risk, and the scanner finds something new.
    await admin.post(`/vulnerabilities/${lodash}/status`, { status: "false_positive", reason: "Test fixture" });
    wiz.sim.findings.push(
      wizFinding(9, repoAsset(REPO), {
        name: "CVE-2022-25883",
        detailedName: "semver",
        version: "5.7.1",
        fixedVersion: "5.7.2",
        severity: "HIGH",
        locationPath: "package-lock.json",
      }),
    );
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await drain(5_000);
    const writes = () => jira.faults.requests.filter((r) => r.method !== "GET").length;
    const before = writes();

    const explicit = text(
      await (
        await admin.post(
          `/trackers/mappings/${mappingId}/preview`,
          { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit", assignmentId: String(assignment.id) },
          { htmx: true },
        )
      ).text(),
    );
    expect(explicit).toContain("pushes nothing by itself");
    const preview = text(
      await (
        await admin.post(
          `/trackers/mappings/${mappingId}/preview`,
          { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "link_and_update", assignmentId: String(assignment.id) },
          { htmx: true },
        )
      ).text(),
    );
    expect(preview).toContain("Dry run of switching to Automatically Link New and Update Existing Link: 2 issues would change. Nothing has been sent.");
    expect(preview).toMatch(/Close CVE-2021-23337 in lodash 4\.17\.15 on acme\/payments-api SEC-1 .*Move to Won't Do/);
    expect(preview).toMatch(/Create CVE-2022-25883 in semver 5\.7\.1 on acme\/payments-api new Create/);
    expect(preview).toContain("CVE-2022-25883 in semver 5.7.1 (acme/payments-api)");

    const edit = await admin.post(`/trackers/mappings/${mappingId}/preview-mapping`, secBugForm({ titleTemplate: "Fix <%= it.cve %> now" }), { htmx: true });
    const changed = text(await edit.text());
    expect(changed).toContain("Dry run of saving these changes: 1 issue would change");
    expect(changed).toContain("Update Summary: CVE-2021-23337 in lodash 4.17.15 (acme/payments-api) → Fix CVE-2021-23337 now");
    expect(writes()).toBe(before);
    expect(jira.issues).toHaveLength(1);
  });
});
