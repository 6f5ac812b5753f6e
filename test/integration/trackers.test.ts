// What each tracker does beyond the shared contract: reusing a connected source control
// integration, GitLab's scoped labels as board columns, Azure DevOps keeping people's tags
// and its sign-in page for a bad token, ServiceNow's OAuth client credentials.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { AzureDevOpsSim } from "../sim/azure-devops.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { ServiceNowSim } from "../sim/servicenow.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let app: TestApp;
let admin: Browser;
let wiz: WizFixture;
const servers: RunningSim[] = [];

async function start(origins: string, more = 0): Promise<void> {
  wiz = await startWiz();
  wiz.sim.findings.push(
    wizFinding(0, repoAsset("acme/payments-api"), {
      name: "CVE-2021-3749",
      detailedName: "axios",
      version: "0.21.1",
      fixedVersion: "0.21.2",
      severity: "HIGH",
    }),
  );
  for (let i = 1; i <= more; i++) wiz.sim.findings.push(wizFinding(i, repoAsset("acme/payments-api"), { severity: "HIGH" }));
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${origins},${wiz.originMap}` } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/payments-api"]);
  await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(app, 5_000);
}

async function serve(app: { app(): import("hono").Hono }): Promise<RunningSim> {
  const server = await startSim(app.app());
  servers.push(server);
  return server;
}

beforeEach(() => {
  servers.length = 0;
});
afterEach(async () => {
  await app?.close();
  await wiz?.close();
  for (const s of servers) await s.close();
});

const db = () => app.runtime.database.db;
const idFrom = (res: Response, re: RegExp) => Number(re.exec(res.headers.get("location")!)![1]);

async function mapAndPush(integrationId: number, form: Record<string, string>): Promise<number> {
  const saved = await admin.post(`/trackers/${integrationId}/mappings`, form);
  expect(saved.status, text(await saved.clone().text())).toBe(303);
  const mappingId = idFrom(saved, /\/trackers\/mappings\/(\d+)/);
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "link_and_update" });
  const finding = await db().selectFrom("findings").select("id").executeTakeFirstOrThrow();
  await admin.post(`/vulnerabilities/${finding.id}/push`, {});
  await runJobs(app);
  return mappingId;
}

describe("GitHub Issues", () => {
  it("reuses a connected GitHub integration's token, and says when that integration is gone", async () => {
    const github = new GitHubSim();
    github.addToken("github_pat_shared");
    github.repos.push({ id: 9, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
    const server = await serve(github);
    await start(`https://api.github.com=${server.url}`);
    const scm = await admin.post("/integrations/github", {
      githubUrl: "https://github.com",
      token: "github_pat_shared",
      webhookSecret: "webhook-secret-000000001",
    });
    const scmId = idFrom(scm, /\/integrations\/github\/(\d+)/);
    const dialog = await (await admin.get("/integrations/github-issues/new?tab=configuration")).text();
    expect(dialog).toContain(`<option value="${scmId}" >GitHub</option>`);
    const connected = await admin.post("/integrations/github-issues", { source: String(scmId) });
    expect(connected.status, text(await connected.clone().text())).toBe(303);
    const trackerId = idFrom(connected, /\/integrations\/github-issues\/(\d+)/);
    const row = await db().selectFrom("integrations").selectAll().where("id", "=", trackerId).executeTakeFirstOrThrow();
    expect(row.secrets).toBeNull();
    await mapAndPush(trackerId, {
      project: "acme/security",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "status.done": "closed:completed",
    });
    expect(github.issues.map((i) => i.title)).toEqual(["CVE-2021-3749 in axios 0.21.1 (acme/payments-api)"]);
    expect(github.issues[0]!.body).toMatch(/<!-- patchbay-[0-9a-f]{16} -->$/);

    const none = await admin.post("/integrations/github-issues", {});
    expect(text(await none.text())).toContain("Choose a connected GitHub integration, or enter a personal access token.");

    const confirm = text(await (await admin.get(`/integrations/github/${scmId}/disconnect`)).text());
    expect(confirm).toContain("GitHub Issues reuses this integration's credentials and will stop working");
    await admin.post(`/integrations/github/${scmId}/disconnect`, {});
    const tested = text(await (await admin.post("/integrations/github-issues/test", { id: String(trackerId), source: String(scmId) })).text());
    expect(tested).toContain("The GitHub integration chosen is no longer connected. Choose another, or enter credentials of its own.");
  });
});

describe("GitHub Issues without push access", () => {
  it("records in the changelog only what GitHub applied: a milestone it dropped silently is said to be left as it was", async () => {
    const github = new GitHubSim();
    github.addToken("github_pat_triage", "triager");
    github.triageOnly.add("triager");
    github.repos.push({ id: 9, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
    github.milestones.set("acme/security", [{ number: 1, title: "Q1 fixes" }]);
    const server = await serve(github);
    await start(`https://api.github.com=${server.url}`);
    const connected = await admin.post("/integrations/github-issues", { githubUrl: "https://github.com", token: "github_pat_triage" });
    const trackerId = idFrom(connected, /\/integrations\/github-issues\/(\d+)/);
    await mapAndPush(trackerId, {
      project: "acme/security",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "source.body": "patchbay",
      "value.body.patchbay": "description",
      "source.milestone": "tracker",
      "value.milestone.tracker": "1",
      "status.done": "closed:completed",
    });
    expect(github.issues).toHaveLength(1);
    expect(github.issues[0]!.milestone).toBeNull();
    // The scanner raises the finding: the description changes, and the milestone is sent again.
    wiz.sim.findings[0]!.severity = "CRITICAL";
    const wizId = (await db().selectFrom("integrations").select("id").where("kind", "=", "wiz").executeTakeFirstOrThrow()).id;
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await runJobs(app, 5_000);
    expect(github.issues[0]!.body).toContain("Critical");
    expect(github.issues[0]!.milestone).toBeNull();
    const updated = await db().selectFrom("ticket_changes").select("detail").where("action", "=", "updated").execute();
    expect(updated.map((u) => u.detail)).toEqual([
      expect.stringMatching(/^Updated .*Body.*; Milestone left as it was \(GitHub did not apply them: the account lacks push access to the repository\)$/),
    ]);
  });
});

describe("pacing ahead of GitHub's secondary limits", () => {
  it("keeps a bulk push under the limits, says how long it takes, and suggests grouping", async () => {
    const github = new GitHubSim();
    github.addToken("github_pat_paced");
    github.repos.push({ id: 9, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
    // GitHub refuses past 20 writes a minute and 60 an hour (sliding windows, on the test clock).
    github.secondaryLimits = { perMinute: 20, perHour: 60 };
    const server = await serve(github);
    await start(`https://api.github.com=${server.url}`, 99);
    github.now = () => app.clock.time;
    expect(await db().selectFrom("findings").select("id").execute()).toHaveLength(100);
    const connected = await admin.post("/integrations/github-issues", {
      githubUrl: "https://github.com",
      token: "github_pat_paced",
      writesPerMinute: "20",
      writesPerHour: "60",
    });
    expect(connected.status, text(await connected.clone().text())).toBe(303);
    const trackerId = idFrom(connected, /\/integrations\/github-issues\/(\d+)/);
    const saved = await admin.post(`/trackers/${trackerId}/mappings`, {
      project: "acme/security",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "status.done": "closed:completed",
    });
    expect(saved.status, text(await saved.clone().text())).toBe(303);
    const mappingId = idFrom(saved, /\/trackers\/mappings\/(\d+)/);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });

    // The dry run of linking every new finding: 100 issues at 60 an hour take hours.
    const newest = await db().selectFrom("findings").select("id").orderBy("id").executeTakeFirstOrThrow();
    const assignment = await db().selectFrom("tracker_assignments").selectAll().where("mapping_id", "=", mappingId).executeTakeFirstOrThrow();
    await db()
      .updateTable("tracker_assignments")
      .set({ linked_through: newest.id - 1 })
      .where("id", "=", assignment.id)
      .execute();
    const dry = text(
      await (
        await admin.post(
          `/trackers/mappings/${mappingId}/preview`,
          { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "link_new", assignmentId: String(assignment.id) },
          { htmx: true },
        )
      ).text(),
    );
    expect(dry).toContain("Writing 100 issues takes about 1 h 40 min at GitHub's pace (at most 20 a minute and 60 an hour).");
    expect(dry).toContain("One issue per finding would take hours: group findings by package, CVE or asset in the assignment to open fewer issues.");
    const grouped = text(
      await (
        await admin.post(
          `/trackers/mappings/${mappingId}/preview`,
          { scope: "all", minSeverity: "low", groupBy: "cve", pushMode: "link_new", assignmentId: String(assignment.id) },
          { htmx: true },
        )
      ).text(),
    );
    expect(grouped).not.toContain("One issue per finding");

    // The bulk push: every issue is created, none refused, and the page says what is left meanwhile.
    // Asked first: how many tickets, and how long they take at GitHub's pace.
    const question = text(await (await admin.post("/vulnerabilities/push", { query: "" })).text());
    expect(question).toMatch(/GitHub Issues: 100 tickets — about (\d+ h|\d+ min)[^.]* at GitHub's pace/);
    const started = app.clock.time;
    const location = (await admin.post("/vulnerabilities/push", { query: "", confirm: "yes" })).headers.get("location")!;
    const running = runJobs(app);
    let seen = "";
    for (let i = 0; i < 2000 && !seen; i++) {
      const page = text(await (await admin.get(location)).text());
      if (/GitHub Issues: [\d,]+ left: about/.test(page)) seen = page;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await running;
    expect(seen).toMatch(/GitHub Issues: \d+ left: (about \d+ (h|min)|under a minute)[^.]* at GitHub's pace \(at most 20 a minute and 60 an hour\)\./);
    expect(github.issues).toHaveLength(100);
    expect(github.secondaryRefusals).toBe(0);
    expect(text(await (await admin.get(location)).text())).toContain("100 of 100 tickets pushed. Finished.");
    expect(await db().selectFrom("push_errors").select("reason").execute()).toEqual([]);
    // Paced, and the whole limit used: 60 writes in the first hour (20 a minute), the other 40 as
    // the first ones leave the hour's window — just over an hour, not more.
    expect(app.clock.time - started).toBeGreaterThan(60 * 60_000);
    expect(app.clock.time - started).toBeLessThan(70 * 60_000);
  });
});

describe("GitLab Issues", () => {
  it("moves issues between board columns with scoped status labels, keeping people's labels", async () => {
    const gitlab = new GitLabSim();
    gitlab.addToken("glpat-boards");
    gitlab.addProjects("platform", 1);
    gitlab.labels.set(2001, ["status::triage", "status::doing", "team::payments"]);
    const server = await serve(gitlab);
    await start(`https://gitlab.com=${server.url}`);
    const connected = await admin.post("/integrations/gitlab-issues", { gitlabUrl: "https://gitlab.com", token: "glpat-boards" });
    const id = idFrom(connected, /\/integrations\/gitlab-issues\/(\d+)/);
    const form = await (await admin.get(`/trackers/${id}/mappings/new?project=2001&ticketType=issue`)).text();
    expect(text(form)).toContain("Open, in the board column status::doing");
    await mapAndPush(id, {
      project: "2001",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "source.teamLabel": "tracker",
      "value.teamLabel.tracker": "team::payments",
      "status.open": "label:status::triage",
      "status.in_progress": "label:status::doing",
      "status.done": "closed",
    });
    const issue = gitlab.issues[0]!;
    gitlab.issues[0]!.labels.push("needs-review");
    const finding = await db().selectFrom("findings").select("id").executeTakeFirstOrThrow();
    await db().updateTable("findings").set({ status: "in_remediation", updated_at: app.clock.now().toISOString() }).where("id", "=", finding.id).execute();
    await admin.post(`/vulnerabilities/${finding.id}/push`, {});
    await runJobs(app);
    expect(issue.labels).toContain("status::doing");
    expect(issue.labels).not.toContain("status::triage");
    expect(issue.labels).toEqual(expect.arrayContaining(["team::payments", "needs-review"]));
  });

  it("records only what GitLab applied: a Guest's due date, dropped without an error, is said to be left as it was", async () => {
    const gitlab = new GitLabSim();
    gitlab.addToken("glpat-guest", "guest_bot");
    gitlab.guests.add("guest_bot");
    gitlab.addProjects("platform", 1);
    const server = await serve(gitlab);
    await start(`https://gitlab.com=${server.url}`);
    const connected = await admin.post("/integrations/gitlab-issues", { gitlabUrl: "https://gitlab.com", token: "glpat-guest" });
    const id = idFrom(connected, /\/integrations\/gitlab-issues\/(\d+)/);
    await mapAndPush(id, {
      project: "2001",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "source.description": "patchbay",
      "value.description.patchbay": "description",
      "source.due_date": "patchbay",
      "value.due_date.patchbay": "due_date",
      "status.done": "closed",
    });
    const issue = gitlab.issues[0]!;
    const due = issue.dueDate;
    // GitLab dropped the marker label too: after a lost answer, the issue is found by its description.
    expect(issue.labels).toEqual([]);
    await db().updateTable("tickets").set({ external_id: null, external_key: null, url: null, linked_at: null }).execute();
    const finding = await db().selectFrom("findings").select("id").executeTakeFirstOrThrow();
    await admin.post(`/vulnerabilities/${finding.id}/push`, {});
    await runJobs(app);
    expect(gitlab.issues).toHaveLength(1);
    expect(await db().selectFrom("ticket_changes").select("detail").where("action", "=", "linked").orderBy("id", "desc").executeTakeFirstOrThrow()).toEqual({
      detail: "Linked to platform/project-001#1, found in the tracker by its marker after an interrupted push",
    });
    // The scanner raises the finding to critical: a new description and an earlier due date.
    wiz.sim.findings[0]!.severity = "CRITICAL";
    const wizId = (await db().selectFrom("integrations").select("id").where("kind", "=", "wiz").executeTakeFirstOrThrow()).id;
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await runJobs(app, 5_000);
    expect(issue.description).toContain("Critical");
    expect(issue.dueDate).toBe(due);
    const updated = await db().selectFrom("ticket_changes").select("detail").where("action", "=", "updated").execute();
    expect(updated.map((u) => u.detail)).toEqual([
      expect.stringMatching(
        /^Updated .*Description.*; Due date left as it was \(GitLab did not apply them: the account's role on the project may not set them\)$/,
      ),
    ]);
  });
});

describe("Azure DevOps Boards", () => {
  it("explains a bad token, offers area and iteration paths, and keeps people's tags", async () => {
    const ado = new AzureDevOpsSim();
    ado.tokens.add("ado-pat-good");
    ado.addProject("Fabrikam Fiber");
    const server = await serve(ado);
    await start(`https://dev.azure.com=${server.url}`);
    const bad = text(await (await admin.post("/integrations/azure-devops", { organizationUrl: "https://dev.azure.com/fabrikam", token: "expired" })).text());
    expect(bad).toContain("Azure DevOps answered with its sign-in page: the personal access token was not accepted");
    const connected = await admin.post("/integrations/azure-devops", { organizationUrl: "https://dev.azure.com/fabrikam", token: "ado-pat-good" });
    const id = idFrom(connected, /\/integrations\/azure-devops\/(\d+)/);
    const form = text(await (await admin.get(`/trackers/${id}/mappings/new?project=Fabrikam%20Fiber&ticketType=Task`)).text());
    expect(form).toContain("Fabrikam Fiber\\Sprint 2");
    // Identity fields list people as objects: offered by name, never "[object Object]".
    const bug = await (await admin.get(`/trackers/${id}/mappings/new?project=Fabrikam%20Fiber&ticketType=Bug`)).text();
    expect(bug).toContain("Jamal Hartnett (jamal@fabrikam.example)");
    expect(bug).toContain('value="jamal@fabrikam.example"');
    expect(bug).not.toContain("[object Object]");
    await mapAndPush(id, {
      project: "Fabrikam Fiber",
      ticketType: "Task",
      "source.System.Title": "patchbay",
      "value.System.Title.patchbay": "title",
      "source.System.AreaPath": "tracker",
      "value.System.AreaPath.tracker": "Fabrikam Fiber\\Platform",
      "source.System.IterationPath": "tracker",
      "value.System.IterationPath.tracker": "Fabrikam Fiber\\Sprint 2",
      "source.System.Tags": "manual",
      "value.System.Tags.manual": "security",
      "source.Microsoft.VSTS.Scheduling.DueDate": "patchbay",
      "value.Microsoft.VSTS.Scheduling.DueDate.patchbay": "due_date",
      "status.done": "Done",
    });
    const item = ado.workItems[0]!;
    expect(item.fields["System.AreaPath"]).toBe("Fabrikam Fiber\\Platform");
    expect(String(item.fields["Microsoft.VSTS.Scheduling.DueDate"])).toMatch(/T00:00:00Z$/);
    item.fields["System.Tags"] = `${item.fields["System.Tags"]}; triaged`;
    const finding = await db().selectFrom("findings").select("id").executeTakeFirstOrThrow();
    await admin.post(`/vulnerabilities/${finding.id}/status`, { status: "false_positive", reason: "Test fixture" });
    await runJobs(app);
    expect(String(item.fields["System.Tags"]).split("; ")).toEqual(expect.arrayContaining(["security", "triaged"]));
    // "add" on tags appends there: each tag once, whichever way the service reads it.
    const tags = String(item.fields["System.Tags"]).split("; ");
    expect(new Set(tags.map((t) => t.toLowerCase())).size).toBe(tags.length);
  });
});

describe("Azure DevOps bulk push", () => {
  it("makes new work items with one batch request, and a work item the process refuses is that finding's error alone", async () => {
    const ado = new AzureDevOpsSim();
    ado.tokens.add("ado-pat-good");
    ado.addProject("Fabrikam Fiber");
    const server = await serve(ado);
    await start(`https://dev.azure.com=${server.url}`, 6);
    const id = idFrom(
      await admin.post("/integrations/azure-devops", { organizationUrl: "https://dev.azure.com/fabrikam", token: "ado-pat-good" }),
      /\/integrations\/azure-devops\/(\d+)/,
    );
    const saved = await admin.post(`/trackers/${id}/mappings`, {
      project: "Fabrikam Fiber",
      ticketType: "Task",
      "source.System.Title": "patchbay",
      "value.System.Title.patchbay": "title",
      "source.System.AreaPath": "tracker",
      "value.System.AreaPath.tracker": "Fabrikam Fiber\\Platform",
      "source.System.IterationPath": "tracker",
      "value.System.IterationPath.tracker": "Fabrikam Fiber\\Sprint 2",
      "status.done": "Done",
    });
    expect(saved.status, text(await saved.clone().text())).toBe(303);
    const mappingId = idFrom(saved, /\/trackers\/mappings\/(\d+)/);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
    const findings = await db().selectFrom("findings").select(["cve", "package"]).execute();
    expect(findings).toHaveLength(7);
    const refused = findings.find((f) => f.cve !== "CVE-2021-3749")!;
    ado.refuse = (fields) =>
      String(fields["System.Title"]).startsWith(`${refused.cve} in ${refused.package} `)
        ? "TF401320: Rule Error for field Title. Error code: Required."
        : undefined;
    await admin.post("/vulnerabilities/push", { query: "", confirm: "yes" });
    await runJobs(app);
    expect(ado.batches).toEqual([7]);
    expect(ado.workItems).toHaveLength(6);
    const tickets = await db().selectFrom("tickets").select(["external_id", "marker"]).where("linked_at", "is not", null).execute();
    expect(tickets).toHaveLength(6);
    for (const t of tickets) expect(String(ado.workItems.find((w) => String(w.id) === t.external_id)!.fields["System.Tags"])).toContain(t.marker);
    const errors = text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text());
    expect(errors).toContain(
      `Azure DevOps rejected the work item (HTTP 400). Azure DevOps said: "TF401320: Rule Error for field Title. Error code: Required."`,
    );
    ado.refuse = undefined;
    await admin.post(`/trackers/mappings/${mappingId}/errors/retry`, {});
    await runJobs(app);
    expect(ado.workItems).toHaveLength(7);
  });
});

describe("ServiceNow", () => {
  it("connects with an OAuth client, computes priority from impact and urgency", async () => {
    const snow = new ServiceNowSim();
    snow.users.set("svc.patchbay", { password: "unused", roles: ["itil", "personalize_dictionary"] });
    snow.oauthClients.set("5f1b2c3d", { secret: "oauth-secret-0001", user: "svc.patchbay" });
    const server = await serve(snow);
    await start(`https://acme.service-now.com=${server.url}`);
    const wrong = text(
      await (await admin.post("/integrations/servicenow", { instanceUrl: "https://acme.service-now.com", clientId: "5f1b2c3d", clientSecret: "wrong" })).text(),
    );
    expect(wrong).toContain("ServiceNow did not accept the credentials");
    const connected = await admin.post("/integrations/servicenow", {
      instanceUrl: "https://acme.service-now.com",
      clientId: "5f1b2c3d",
      clientSecret: "oauth-secret-0001",
    });
    expect(connected.status).toBe(303);
    const id = idFrom(connected, /\/integrations\/servicenow\/(\d+)/);
    const form = text(await (await admin.get(`/trackers/${id}/mappings/new?project=incident&ticketType=record`)).text());
    expect(form).toContain("Impact special");
    expect(form).toContain("Security Operations");
    await mapAndPush(id, {
      project: "incident",
      ticketType: "record",
      "source.short_description": "patchbay",
      "value.short_description.patchbay": "title",
      ...Object.fromEntries(
        ["impact", "urgency"].flatMap((f) => [
          [`source.${f}`, "patchbay"],
          [`value.${f}.patchbay`, "severity"],
          ...["critical", "high", "medium", "low", "info"].map((s, i) => [`severity.${f}.${s}`, String([1, 1, 2, 3, 3][i])]),
        ]),
      ),
      "status.done": "6",
    });
    const record = snow.records()[0]!;
    expect(record).toMatchObject({ impact: "1", urgency: "1", priority: "1", correlation_display: "Patchbay" });
    expect(record.correlation_id).toMatch(/^patchbay-[0-9a-f]{16}$/);
    const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    expect(ticket).toMatchObject({ external_key: record.number, url: `https://acme.service-now.com/incident.do?sys_id=${record.sys_id}` });

    // A UI policy keeps Impact as it is once the incident exists; ServiceNow still answers 200.
    snow.lockedFields.add("impact");
    wiz.sim.findings[0]!.severity = "LOW";
    const wizId = (await db().selectFrom("integrations").select("id").where("kind", "=", "wiz").executeTakeFirstOrThrow()).id;
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await runJobs(app, 5_000);
    expect(record).toMatchObject({ impact: "1", urgency: "3" });
    const updated = await db().selectFrom("ticket_changes").select("detail").where("action", "=", "updated").execute();
    expect(updated.map((u) => u.detail)).toEqual([
      expect.stringMatching(
        /^Updated (?!.*Impact:).*Urgency: 1 - High → 3 - Low.*; Impact left as it was \(ServiceNow kept them as they were: a write ACL or UI policy keeps the account from changing them\)$/,
      ),
    ]);
  });
});

describe("ServiceNow bulk push", () => {
  it("makes new records through the Batch API: a refused one is its finding's error alone, and one past the batch's limit is sent again", async () => {
    const snow = new ServiceNowSim();
    snow.users.set("svc.patchbay", { password: "pw-0001", roles: ["itil", "personalize_dictionary"] });
    const server = await serve(snow);
    await start(`https://acme.service-now.com=${server.url}`, 6);
    const connected = await admin.post("/integrations/servicenow", {
      instanceUrl: "https://acme.service-now.com",
      username: "svc.patchbay",
      password: "pw-0001",
    });
    expect(connected.status, text(await connected.clone().text())).toBe(303);
    const id = idFrom(connected, /\/integrations\/servicenow\/(\d+)/);
    const saved = await admin.post(`/trackers/${id}/mappings`, {
      project: "incident",
      ticketType: "record",
      "source.short_description": "patchbay",
      "value.short_description.patchbay": "title",
      "status.done": "6",
    });
    expect(saved.status, text(await saved.clone().text())).toBe(303);
    const mappingId = idFrom(saved, /\/trackers\/mappings\/(\d+)/);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
    const findings = await db().selectFrom("findings").select(["cve", "package"]).execute();
    expect(findings).toHaveLength(7);
    const refused = findings.find((f) => f.cve !== "CVE-2021-3749")!;
    snow.refuse = (record) =>
      record.short_description?.startsWith(`${refused.cve} in ${refused.package} `) ? "Business rule 'No duplicates' aborted the insert" : undefined;
    // The first request's transaction ends after five records: the other two come back unserviced.
    snow.batchServiceLimit = 5;
    await admin.post("/vulnerabilities/push", { query: "", confirm: "yes" });
    await runJobs(app, 5_000);
    expect(snow.batches[0]).toBe(7);
    expect(snow.records()).toHaveLength(6);
    const tickets = await db().selectFrom("tickets").select(["external_id", "marker"]).where("linked_at", "is not", null).execute();
    expect(tickets).toHaveLength(6);
    for (const t of tickets) expect(snow.records().find((r) => r.sys_id === t.external_id)!.correlation_id).toBe(t.marker);
    const errors = text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text());
    expect(errors).toContain(
      `ServiceNow rejected the record (HTTP 403). ServiceNow said: "Operation Failed: Business rule 'No duplicates' aborted the insert"`,
    );
    expect(errors).not.toContain("size or time limit");
  });
});
