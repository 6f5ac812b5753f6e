// The tracker contract: every tracker connector, run through the same push engine against its
// simulator, must create a ticket, send nothing when nothing changed, update when content
// changes, move the ticket through the status map, comment on remediation events, find its
// ticket by the stable marker after a lost answer, load field metadata for the mapping form,
// and classify errors (the tracker's own message in the error table; revoked credentials
// turn the card to Error). The engine names no tracker: only these adapters do.
import { afterEach, beforeAll, afterAll, beforeEach, describe, expect, it } from "vitest";
import type { FaultKnobs } from "../sim/faults.js";
import { defaultCatalogue } from "../../src/connectors/catalogue.js";
import { serviceLinks } from "../../src/web/format.js";
import { silentLogger } from "../../src/log.js";
import { openTracker } from "../../src/tickets/push.js";
import { BASE, type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { AzureDevOpsSim } from "../sim/azure-devops.js";
import { ServiceNowSim } from "../sim/servicenow.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { JiraDataCenterSim } from "../sim/jira-dc.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const REPO = "acme/payments-api";

interface Ticket {
  title: string;
  /** The tracker's status, as the status map names it. */
  status: string;
  comments: number;
}

interface TrackerCase {
  kind: string;
  /** The simulator, started; returns the origin map entries that point the connector at it. */
  start(): Promise<string>;
  stop(): Promise<void>;
  faults(): FaultKnobs;
  connectForm(): Record<string, string>;
  /** Project and ticket type as the form's ids, the field mapping and the full status map. */
  mappingForm(): Record<string, string>;
  /** The field every ticket type requires, as the mapping form shows it. */
  requiredField: string;
  tickets(): Ticket[];
  /** Status names the mapping moves tickets to. */
  states: { open: string; accepted: string; done: string };
  /** Where the create request goes, and a validation failure in the tracker's own words. */
  createPath: RegExp;
  invalid: { status: number; body: string; message: string };
  revoke(): void;
  /** Moves the first ticket elsewhere in the tracker, as a person can (GitHub: transfer the issue); the key it then has. */
  move?(to: string): string;
  /** Takes away the right to set labels on new tickets (GitHub: triage instead of push access; labels sent are dropped silently). */
  restrict?(): void;
}

let jira: JiraSim;
let jiraServer: RunningSim;
let jiraDc: JiraDataCenterSim;
let jiraDcServer: RunningSim;
let github: GitHubSim;
let githubServer: RunningSim;
let gitlab: GitLabSim;
let gitlabServer: RunningSim;
let ado: AzureDevOpsSim;
let adoServer: RunningSim;
let snow: ServiceNowSim;
let snowServer: RunningSim;
const SNOW_STATES: Record<string, string> = { "1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled" };

const cases: TrackerCase[] = [
  {
    kind: "jira",
    async start() {
      jira = new JiraSim();
      jira.addToken("ATATT-contract", "svc@acme.example");
      jira.addProject("SEC", "Security");
      jiraServer = await startSim(jira.app());
      return `https://acme.atlassian.net=${jiraServer.url}`;
    },
    stop: () => jiraServer.close(),
    faults: () => jira.faults,
    connectForm: () => ({ apiToken: "ATATT-contract", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: "https://acme.atlassian.net" }),
    mappingForm: () => securityBugMapping(),
    requiredField: "Summary",
    tickets: () =>
      jira.issues.map((i) => ({
        title: String(i.fields.summary),
        status: ["To Do", "In Progress", "Done", "Won't Do"][Number(i.statusId) - 10000]!,
        comments: i.comments.length,
      })),
    states: { open: "To Do", accepted: "Won't Do", done: "Done" },
    createPath: /\/rest\/api\/3\/issue$/,
    invalid: {
      status: 400,
      body: JSON.stringify({ errorMessages: [], errors: { summary: "Summary is required." } }),
      message: "summary: Summary is required.",
    },
    revoke: () => jira.revoke("ATATT-contract"),
  },
  {
    kind: "jira-data-center",
    async start() {
      jiraDc = new JiraDataCenterSim();
      jiraDc.tokens.set("NjE5OTU0MzQ0MjA2contract", { name: "svc-patchbay" });
      jiraDc.addProject("SEC", "Security");
      jiraDcServer = await startSim(jiraDc.app());
      return `https://jira.example.com=${jiraDcServer.url}`;
    },
    stop: () => jiraDcServer.close(),
    faults: () => jiraDc.faults,
    connectForm: () => ({ baseUrl: "https://jira.example.com/jira", token: "NjE5OTU0MzQ0MjA2contract" }),
    mappingForm: () => securityBugMapping({ ticketType: "1" }),
    requiredField: "Summary",
    tickets: () =>
      jiraDc.issues.map((i) => ({
        title: String(i.fields.summary),
        status: ["To Do", "In Progress", "Done", "Won't Do"][Number(i.statusId) - 10000]!,
        comments: i.comments.length,
      })),
    states: { open: "To Do", accepted: "Won't Do", done: "Done" },
    createPath: /\/rest\/api\/2\/issue$/,
    invalid: {
      status: 400,
      body: JSON.stringify({ errorMessages: [], errors: { summary: "You must specify a summary of the issue." } }),
      message: "summary: You must specify a summary of the issue.",
    },
    revoke: () => (jiraDc.tokens.get("NjE5OTU0MzQ0MjA2contract")!.revoked = true),
  },
  {
    kind: "github-issues",
    async start() {
      github = new GitHubSim();
      github.addToken("github_pat_contract");
      github.repos.push({ id: 4001, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
      github.labels.set("acme/security", ["bug", "security", "sev: critical", "sev: high", "sev: medium", "sev: low", "sev: info"]);
      githubServer = await startSim(github.app());
      return `https://api.github.com=${githubServer.url}`;
    },
    stop: () => githubServer.close(),
    faults: () => github.faults,
    connectForm: () => ({ githubUrl: "https://github.com", token: "github_pat_contract" }),
    mappingForm: () => ({
      project: "acme/security",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "source.body": "patchbay",
      "value.body.patchbay": "description",
      "source.labels": "patchbay",
      "value.labels.patchbay": "labels",
      "source.severityLabel": "patchbay",
      "value.severityLabel.patchbay": "severity",
      ...Object.fromEntries(["critical", "high", "medium", "low", "info"].map((s) => [`severity.severityLabel.${s}`, `sev: ${s}`])),
      "source.teamLabel": "tracker",
      "value.teamLabel.tracker": "security",
      "status.open": "open",
      "status.in_progress": "open",
      "status.done": "closed:completed",
      "status.accepted": "closed:not_planned",
    }),
    requiredField: "Title",
    tickets: () =>
      github.issues.map((i) => ({
        title: i.title,
        status: i.state === "open" ? "Open" : i.state_reason === "not_planned" ? "Closed as not planned" : "Closed as completed",
        comments: i.comments.length,
      })),
    states: { open: "Open", accepted: "Closed as not planned", done: "Closed as completed" },
    createPath: /\/repos\/acme\/security\/issues$/,
    invalid: {
      status: 422,
      body: JSON.stringify({
        message: "Validation Failed",
        errors: [{ resource: "Issue", field: "title", code: "missing_field" }],
        documentation_url: "https://docs.github.com/rest",
      }),
      // GitHub's details of a 422 are kept: which field, and what is wrong with it.
      message: "Validation Failed: title missing_field",
    },
    revoke: () => (github.tokens.get("github_pat_contract")!.revoked = true),
    restrict: () => github.triageOnly.add(github.tokens.get("github_pat_contract")!.login),
    move(to) {
      if (!github.repos.some((r) => r.full_name === to))
        github.repos.push({ id: 4002 + github.repos.length, full_name: to, private: true, visibility: "private", archived: false, default_branch: "main" });
      const issue = github.issues[0]!;
      const moved = github.transferIssue(issue.repo, issue.number, to);
      return `${moved.repo}#${moved.number}`;
    },
  },
  {
    kind: "gitlab-issues",
    async start() {
      gitlab = new GitLabSim();
      gitlab.addToken("glpat-contract");
      gitlab.addProjects("platform", 2);
      gitlab.labels.set(2001, ["severity::critical", "severity::high", "severity::medium", "severity::low", "severity::info", "status::doing", "security"]);
      gitlabServer = await startSim(gitlab.app());
      return `https://gitlab.com=${gitlabServer.url}`;
    },
    stop: () => gitlabServer.close(),
    faults: () => gitlab.faults,
    connectForm: () => ({ gitlabUrl: "https://gitlab.com", token: "glpat-contract" }),
    mappingForm: () => ({
      project: "2001",
      ticketType: "issue",
      "source.title": "patchbay",
      "value.title.patchbay": "title",
      "source.description": "patchbay",
      "value.description.patchbay": "description",
      "source.labels": "patchbay",
      "value.labels.patchbay": "labels",
      "source.severityLabel": "patchbay",
      "value.severityLabel.patchbay": "severity",
      ...Object.fromEntries(["critical", "high", "medium", "low", "info"].map((s) => [`severity.severityLabel.${s}`, `severity::${s}`])),
      "source.confidential": "tracker",
      "value.confidential.tracker": "true",
      "source.due_date": "patchbay",
      "value.due_date.patchbay": "due_date",
      "status.open": "opened",
      "status.in_progress": "label:status::doing",
      "status.done": "closed",
      "status.accepted": "closed",
    }),
    requiredField: "Title",
    tickets: () =>
      gitlab.issues.map((i) => ({
        title: i.title,
        status: i.state === "closed" ? "Closed" : i.labels.includes("status::doing") ? "Doing" : "Open",
        comments: i.notes.length,
      })),
    states: { open: "Open", accepted: "Closed", done: "Closed" },
    createPath: /\/api\/v4\/projects\/2001\/issues$/,
    invalid: { status: 400, body: JSON.stringify({ message: { title: ["can't be blank"] } }), message: '{"title":["can\'t be blank"]}' },
    revoke: () => (gitlab.tokens.get("glpat-contract")!.revoked = true),
  },
  {
    kind: "azure-devops",
    async start() {
      ado = new AzureDevOpsSim();
      ado.tokens.add("ado-pat-contract");
      ado.addProject("Fabrikam Fiber");
      adoServer = await startSim(ado.app());
      return `https://dev.azure.com=${adoServer.url}`;
    },
    stop: () => adoServer.close(),
    faults: () => ado.faults,
    connectForm: () => ({ organizationUrl: "https://dev.azure.com/fabrikam", token: "ado-pat-contract" }),
    mappingForm: () => ({
      project: "Fabrikam Fiber",
      ticketType: "Bug",
      "source.System.Title": "patchbay",
      "value.System.Title.patchbay": "title",
      "source.Microsoft.VSTS.TCM.ReproSteps": "patchbay",
      "value.Microsoft.VSTS.TCM.ReproSteps.patchbay": "description",
      "source.System.AreaPath": "tracker",
      "value.System.AreaPath.tracker": "Fabrikam Fiber\\Payments",
      "source.System.IterationPath": "tracker",
      "value.System.IterationPath.tracker": "Fabrikam Fiber\\Sprint 1",
      "source.System.Tags": "patchbay",
      "value.System.Tags.patchbay": "labels",
      "source.Microsoft.VSTS.Common.Severity": "patchbay",
      "value.Microsoft.VSTS.Common.Severity.patchbay": "severity",
      "severity.Microsoft.VSTS.Common.Severity.critical": "1 - Critical",
      "severity.Microsoft.VSTS.Common.Severity.high": "2 - High",
      "severity.Microsoft.VSTS.Common.Severity.medium": "3 - Medium",
      "severity.Microsoft.VSTS.Common.Severity.low": "4 - Low",
      "severity.Microsoft.VSTS.Common.Severity.info": "4 - Low",
      "source.Custom.Team": "tracker",
      "value.Custom.Team.tracker": "Payments",
      // An identity picker: the person's unique name is what goes to Azure DevOps.
      "source.System.AssignedTo": "tracker",
      "value.System.AssignedTo.tracker": "jamal@fabrikam.example",
      "status.open": "New",
      "status.in_progress": "Active",
      "status.done": "Closed",
      "status.accepted": "Removed",
    }),
    requiredField: "Title",
    tickets: () =>
      ado.workItems.map((w) => ({ title: String(w.fields["System.Title"]), status: String(w.fields["System.State"]), comments: w.comments.length })),
    states: { open: "New", accepted: "Removed", done: "Closed" },
    createPath: /\/_apis\/wit\/workitems\/\$Bug$/,
    invalid: {
      status: 400,
      body: JSON.stringify({
        $id: "1",
        innerException: null,
        message: "TF401320: Rule Error for field Team. Error code: Required, InvalidEmpty.",
        typeKey: "RuleValidationException",
        errorCode: 0,
        eventId: 3200,
      }),
      message: "TF401320: Rule Error for field Team. Error code: Required, InvalidEmpty.",
    },
    revoke: () => ado.tokens.clear(),
  },
  {
    kind: "servicenow",
    async start() {
      snow = new ServiceNowSim();
      snow.users.set("patchbay.integration", { password: "sn-password-0001", roles: ["itil", "personalize_dictionary"] });
      snowServer = await startSim(snow.app());
      return `https://acme.service-now.com=${snowServer.url}`;
    },
    stop: () => snowServer.close(),
    faults: () => snow.faults,
    connectForm: () => ({ instanceUrl: "https://acme.service-now.com", username: "patchbay.integration", password: "sn-password-0001" }),
    mappingForm: () => ({
      project: "incident",
      ticketType: "record",
      "source.short_description": "patchbay",
      "value.short_description.patchbay": "title",
      "source.description": "patchbay",
      "value.description.patchbay": "description",
      ...Object.fromEntries(
        ["impact", "urgency"].flatMap((f) => [
          [`source.${f}`, "patchbay"],
          [`value.${f}.patchbay`, "severity"],
          ...["critical", "high", "medium", "low", "info"].map((sev, i) => [`severity.${f}.${sev}`, String([1, 1, 2, 3, 3][i])]),
        ]),
      ),
      "source.assignment_group": "tracker",
      "value.assignment_group.tracker": "8a5055c9c61122780043563ef53438e3",
      "source.category": "tracker",
      "value.category.tracker": "security",
      "source.due_date": "patchbay",
      "value.due_date.patchbay": "due_date",
      "status.open": "1",
      "status.in_progress": "2",
      "status.done": "6",
      "status.accepted": "8",
    }),
    requiredField: "Short description",
    tickets: () =>
      snow.records().map((r) => ({ title: r.short_description!, status: SNOW_STATES[r.state!]!, comments: snow.workNotes.get(r.sys_id)?.length ?? 0 })),
    states: { open: "New", accepted: "Canceled", done: "Resolved" },
    createPath: /\/api\/now\/table\/incident$/,
    invalid: {
      status: 403,
      body: JSON.stringify({ error: { message: "Operation Failed", detail: "ACL Exception Insert Failed due to security constraints" }, status: "failure" }),
      message: "Operation Failed: ACL Exception Insert Failed due to security constraints",
    },
    revoke: () => snow.users.clear(),
  },
];

let wiz: WizFixture;
beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());

describe.each(cases)("tracker contract: $kind", (tracker) => {
  let app: TestApp;
  let admin: Browser;
  let mappingId: number;
  let integrationId: number;

  beforeEach(async () => {
    const originMap = await tracker.start();
    app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${originMap},${wiz.originMap}` } });
    admin = await setUpAdmin(app);
    wiz.sim.findings.length = 0;
    wiz.sim.findings.push(
      wizFinding(0, repoAsset(REPO), { name: "CVE-2021-3749", detailedName: "axios", version: "0.21.1", fixedVersion: "0.21.2", severity: "CRITICAL" }),
    );
    await seedRepositories(app, [REPO]);
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await runJobs(app, 5_000);
    const connected = await admin.post(`/integrations/${tracker.kind}`, tracker.connectForm());
    expect(connected.status, text(await connected.clone().text())).toBe(303);
    integrationId = Number(new RegExp(`/integrations/${tracker.kind}/(\\d+)`).exec(connected.headers.get("location")!)![1]);
    const saved = await admin.post(`/trackers/${integrationId}/mappings`, tracker.mappingForm());
    expect(saved.status, text(await saved.clone().text())).toBe(303);
    mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(saved.headers.get("location")!)![1]);
    await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "link_and_update" });
    await runJobs(app);
  });
  afterEach(async () => {
    await app.close();
    await tracker.stop();
  });

  const db = () => app.runtime.database.db;
  const findingId = async () => (await db().selectFrom("findings").select("id").executeTakeFirstOrThrow()).id;
  const push = async () => {
    await admin.post(`/vulnerabilities/${await findingId()}/push`, {});
    await runJobs(app, 60_000);
  };
  const writes = () => tracker.faults().requests.filter((r) => r.method !== "GET").length;

  it("loads the ticket type's fields for the mapping form", async () => {
    const form = tracker.mappingForm();
    const page = text(
      await (await admin.get(`/trackers/${integrationId}/mappings/new?project=${encodeURIComponent(form.project!)}&ticketType=${form.ticketType}`)).text(),
    );
    expect(page).toContain(`${tracker.requiredField} mandatory`);
    expect(page).toContain("4. Status map");
  });

  it("creates a ticket, shows it on the finding, and sends nothing when nothing changed", async () => {
    await push();
    expect(tracker.tickets()).toEqual([{ title: `CVE-2021-3749 in axios 0.21.1 (${REPO})`, status: tracker.states.open, comments: 0 }]);
    const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    const detail = await (await admin.get(`/vulnerabilities/${await findingId()}`)).text();
    // The ticket keeps the service's own link; the page shows it through the origin map (a simulator here).
    expect(ticket.url).toMatch(/^https:\/\//);
    expect(detail).toContain(`href="${serviceLinks(app.config.originMap)(ticket.url)}"`);
    expect(detail).toContain(`class="tracker-icon tracker-${tracker.kind}"`);
    expect(text(detail)).toContain(`Created ${ticket.external_key}`);
    const before = writes();
    await push();
    expect(writes()).toBe(before);
  });

  it("updates on change, moves through the status map, and comments on remediation events", async () => {
    await push();
    await admin.post(`/vulnerabilities/${await findingId()}/status`, { status: "false_positive", reason: "Not reachable from our code" });
    await runJobs(app);
    expect(tracker.tickets()[0]!.status).toBe(tracker.states.accepted);
    const changes = (await db().selectFrom("ticket_changes").select(["action", "detail"]).orderBy("id").execute()).map((c) => c.action);
    expect(changes).toEqual(["linked", "updated", "transitioned"]);

    // A merged remediation pull request: a comment, and the ticket moves to done.
    await admin.post(`/vulnerabilities/${await findingId()}/status`, { status: "open", reason: "" });
    await runJobs(app);
    expect(tracker.tickets()[0]!.status).toBe(tracker.states.open);
    const now = app.clock.now().toISOString();
    const repo = await db().selectFrom("repositories").select("id").executeTakeFirstOrThrow();
    const scm = await db()
      .insertInto("integrations")
      .values({
        kind: "github",
        name: "GitHub",
        settings: "{}",
        secrets: null,
        status: "connected",
        last_error: null,
        last_sync_at: null,
        created_at: now,
        updated_at: now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const remediation = await db()
      .insertInto("remediations")
      .values({
        integration_id: scm.id,
        repository_id: repo.id,
        number: 9,
        title: "Bump axios to 0.21.2",
        url: `https://github.com/${REPO}/pull/9`,
        source_branch: null,
        author: null,
        state: "merged",
        created_at: now,
        updated_at: now,
        merged_at: now,
        closed_at: now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await db()
      .insertInto("remediation_findings")
      .values({ remediation_id: remediation.id, finding_id: await findingId(), reason: "bump" })
      .execute();
    await db().updateTable("findings").set({ status: "resolved", updated_at: now }).execute();
    await push();
    expect(tracker.tickets()[0]).toMatchObject({ status: tracker.states.done, comments: 1 });
  });

  it("reads its tickets' live statuses for reconciliation, and sees a status changed behind Patchbay's back", async () => {
    await push();
    await admin.post(`/trackers/mappings/${mappingId}/reconcile`, {});
    await runJobs(app);
    expect(text(await (await admin.get(`/trackers/mappings/${mappingId}`)).text())).toContain("succeeded: 1 checked, 0 differences, 0 repaired");
    // The ticket moves to done in the tracker (through Patchbay's session, as a person would in the UI).
    const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    const opened = await openTracker(
      { ...app.runtime.services, catalogue: defaultCatalogue(), env: { logger: silentLogger, originMap: app.config.originMap }, baseUrl: BASE },
      mappingId,
      silentLogger,
    );
    await opened!.session.transition(
      opened!.data.target,
      { id: ticket.external_id!, key: ticket.external_key!, url: ticket.url! },
      opened!.data.statusMap.done!,
    );
    expect(tracker.tickets()[0]!.status).toBe(tracker.states.done);
    await admin.post(`/trackers/mappings/${mappingId}/reconcile`, {});
    await runJobs(app);
    const page = text(await (await admin.get(`/trackers/mappings/${mappingId}`)).text());
    expect(page).toContain("1 checked, 1 difference, 0 repaired");
    expect(page).toContain(`${ticket.external_key} ${tracker.states.open} ${tracker.states.done} Reported.`);
  });

  it.skipIf(!tracker.move)(
    "follows a ticket moved in the tracker: reconciliation and the next push point it at its new place, with a changelog line",
    async () => {
      await push();
      const before = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
      // Moved, then seen by reconciliation (a read follows the tracker's redirect).
      const first = tracker.move!("acme/security-archive");
      await admin.post(`/trackers/mappings/${mappingId}/reconcile`, {});
      await runJobs(app);
      expect(await db().selectFrom("tickets").select(["external_key", "url"]).executeTakeFirstOrThrow()).toEqual({
        external_key: first,
        url: `https://github.com/${first.replace("#", "/issues/")}`,
      });
      // Moved again, then written to: the write is refused with a redirect, the ticket followed, the change made there.
      const second = tracker.move!("acme/security-2027");
      await admin.post(`/vulnerabilities/${await findingId()}/status`, { status: "false_positive", reason: "Not reachable from our code" });
      await runJobs(app);
      expect(tracker.tickets()[0]!.status).toBe(tracker.states.accepted);
      expect((await db().selectFrom("tickets").select("external_key").executeTakeFirstOrThrow()).external_key).toBe(second);
      const changes = await db().selectFrom("ticket_changes").select(["action", "detail"]).where("action", "=", "moved").orderBy("id").execute();
      expect(changes.map((c) => c.detail)).toEqual([
        `${before.external_key} is now ${first} (moved in the tracker); Patchbay follows it there`,
        `${first} is now ${second} (transferred to acme/security-2027); Patchbay follows it there`,
      ]);
      const pushErrors = await db().selectFrom("push_errors").select("reason").execute();
      expect(pushErrors).toEqual([]);
    },
  );

  it("links a ticket that already exists, by CVE in its title (approved by an admin) or by hand, and never rewrites it", async () => {
    await push();
    const before = tracker.tickets().length;
    const title = tracker.tickets()[0]!.title;
    const original = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    // Patchbay forgets the ticket: as if a person had opened it in the tracker before Patchbay existed.
    await db().deleteFrom("tickets").execute();
    await admin.post(`/trackers/mappings/${mappingId}/link-existing`, {});
    await runJobs(app);
    const proposed = text(await (await admin.get(`/trackers/mappings/${mappingId}`)).text());
    expect(proposed).toContain("1 ticket naming a CVE, 1 link proposed, waiting for approval");
    expect(await db().selectFrom("tickets").select("id").execute()).toEqual([]);
    const run = await db().selectFrom("reconcile_runs").select("id").where("direction", "=", "link").executeTakeFirstOrThrow();
    expect((await admin.post(`/trackers/mappings/${mappingId}/link-existing/${run.id}/approve`, {})).status).toBe(303);
    const page = text(await (await admin.get(`/trackers/mappings/${mappingId}`)).text());
    expect(page).toContain("1 ticket naming a CVE, 1 linked");
    const linked = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    expect({ id: linked.external_id, key: linked.external_key, origin: linked.origin }).toEqual({
      id: original.external_id,
      key: original.external_key,
      origin: "linked",
    });
    // What Patchbay would write now differs (a renamed package), yet the linked ticket keeps its own.
    await db().updateTable("findings").set({ package: "axios-renamed" }).execute();
    await push();
    expect(tracker.tickets()).toHaveLength(before);
    expect(tracker.tickets()[0]!.title).toBe(title);
    await db().updateTable("findings").set({ package: "axios" }).execute();

    await db().deleteFrom("tickets").execute();
    const f = await findingId();
    const wrong = await admin.post(`/vulnerabilities/${f}/link`, { mapping: String(mappingId), reference: "999999" });
    expect(wrong.status).toBe(422);
    expect(text(await wrong.text())).toContain("has no ticket");
    const ok = await admin.post(`/vulnerabilities/${f}/link`, { mapping: String(mappingId), reference: original.url! });
    expect(ok.status, text(await ok.clone().text())).toBe(303);
    expect(text(await (await admin.get(`/vulnerabilities/${f}`)).text())).toContain(
      `Linked by admin to ${original.external_key}, which existed in the tracker`,
    );
    const again = await admin.post(`/vulnerabilities/${f}/link`, { mapping: String(mappingId), reference: original.url! });
    expect(text(await again.text())).toContain("is already linked");
    await push();
    expect(tracker.tickets()).toHaveLength(before);
  });

  it("finds its ticket by the marker when the tracker's answer to the create was lost", async () => {
    tracker.faults().add({ path: tracker.createPath, method: "POST", status: 502, times: 1, afterHandler: true });
    await push();
    expect(tracker.tickets()).toHaveLength(1);
    const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
    expect(ticket.linked_at).not.toBeNull();
    expect(text(await (await admin.get(`/vulnerabilities/${await findingId()}`)).text())).toContain(
      "found in the tracker by its marker after an interrupted push",
    );
  });

  it.skipIf(!tracker.restrict)(
    "without push access, labels the ticket after creating it, and finds it after a lost answer by the marker in its body, not a label",
    async () => {
      tracker.restrict!();
      tracker.faults().add({ path: tracker.createPath, method: "POST", status: 502, times: 1, afterHandler: true });
      await push();
      expect(tracker.tickets()).toHaveLength(1);
      const ticket = await db().selectFrom("tickets").selectAll().executeTakeFirstOrThrow();
      expect(ticket.linked_at).not.toBeNull();
      const changes = await db().selectFrom("ticket_changes").select("detail").execute();
      expect(changes.map((c) => c.detail)).toContain(`Linked to ${ticket.external_key}, found in the tracker by its marker after an interrupted push`);
      // The next push labels it: the labels GitHub dropped are added through the labels endpoint.
      expect(github.issues[0]!.labels).toContain(ticket.marker);
    },
  );

  it("records the tracker's refusal in the error table, and revoked credentials on the card", async () => {
    tracker.faults().add({ path: tracker.createPath, method: "POST", status: tracker.invalid.status, times: 1, body: tracker.invalid.body });
    await push();
    const error = await db().selectFrom("push_errors").selectAll().executeTakeFirstOrThrow();
    expect(error).toMatchObject({ http_status: tracker.invalid.status, tracker_message: tracker.invalid.message });
    expect(text(await (await admin.get(`/trackers/mappings/${mappingId}/errors`)).text())).toContain(tracker.invalid.message);

    tracker.revoke();
    await admin.post(`/trackers/mappings/${mappingId}/errors/retry`, {});
    await runJobs(app);
    const card = text(await (await admin.get(`/integrations/card/${tracker.kind}`, { htmx: true })).text());
    expect(card).toContain("Error");
    expect(card).toContain("Pushing tickets failed:");
    expect(card).toContain("Update the credentials in the integration's Configuration tab.");
  });
});
