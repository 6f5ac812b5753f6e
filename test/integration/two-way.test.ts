// Two-way sync with Jira Cloud: Patchbay sets up Jira's admin webhook (secret, JQL on its
// label), then what people do to its issues in Jira comes back — Done resolves the finding
// pending the next scan, Won't Do accepts the risk with who and why, To Do reopens it,
// comments land in the history — while Patchbay's own changes, replays, unsigned deliveries
// and out-of-order ones change nothing. A finding the scanner still detects after its issue
// was closed is flagged, and the issue reopened with a comment (or left closed, as set).
import { afterEach, beforeAll, afterAll, beforeEach, describe, expect, it } from "vitest";
import { STILL_DETECTED_NOTE } from "../../src/findings/import.js";
import { BASE, type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { JiraSim, SERVICE_ACCOUNT, type SimUser, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const ADA: SimUser = { accountId: "712020:ada-lovelace", displayName: "Ada Lovelace" };
const TOKEN = "ATATT-two-way-admin";
const SITE = "https://acme.atlassian.net";

let wiz: WizFixture;
let jira: JiraSim;
let jiraServer: RunningSim;
let app: TestApp;
let patchbay: RunningSim;
let admin: Browser;
let jiraId = 0;
let mappingId = 0;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());

beforeEach(async () => {
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/api"), { name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.20", fixedVersion: "4.17.21", severity: "HIGH" }),
    wizFinding(2, repoAsset("acme/api"), { name: "CVE-2021-3749", detailedName: "axios", version: "0.21.1", fixedVersion: "0.21.2", severity: "CRITICAL" }),
  );
  jira = new JiraSim();
  jira.addToken(TOKEN, "admin@acme.example");
  jira.addToken("ATATT-not-admin", "svc@acme.example");
  jira.admins.add("admin@acme.example");
  jira.addProject("SEC", "Security");
  jiraServer = await startSim(jira.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${SITE}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url},${wiz.originMap}` } });
  patchbay = await startSim(app.runtime.app);
  jira.deliverTo = (url) => url.replace(BASE, patchbay.url);
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/api"]);
  expect(
    (await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" })).status,
  ).toBe(303);
  await runJobs(app, 5_000);
});
afterEach(async () => {
  await patchbay.close();
  await app.close();
  await jiraServer.close();
});

const db = () => app.runtime.database.db;

async function connect(token = TOKEN, stillDetected = "reopen", reconcile = "report"): Promise<void> {
  const res = await admin.post("/integrations/jira", {
    apiToken: token,
    cloudId: jira.cloudId,
    email: token === TOKEN ? "admin@acme.example" : "svc@acme.example",
    siteUrl: SITE,
  });
  expect(res.status, text(await res.clone().text())).toBe(303);
  jiraId = Number(/\/integrations\/jira\/(\d+)/.exec(res.headers.get("location")!)![1]);
  const form = securityBugMapping({
    "inbound.10000": "open",
    "inbound.10001": "none",
    "inbound.10002": "resolved",
    "inbound.10003": "risk_accepted",
    stillDetected,
    reconcile,
  });
  const mapping = await admin.post(`/trackers/${jiraId}/mappings`, form);
  expect(mapping.status, text(await mapping.clone().text())).toBe(303);
  mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]);
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "update_existing" });
  await runJobs(app);
}

/** Pushes the lodash finding by hand: SEC-1. */
async function pushLodash(): Promise<number> {
  const finding = await db().selectFrom("findings").select("id").where("cve", "=", "CVE-2021-23337").executeTakeFirstOrThrow();
  await admin.post(`/vulnerabilities/${finding.id}/push`, {});
  await runJobs(app);
  expect(jira.issues.map((i) => i.key)).toEqual(["SEC-1"]);
  expect(jira.issues[0]!.fields.labels).toContain("patchbay");
  return finding.id;
}

/** Lets Jira's deliveries arrive, then runs the jobs they queued. */
async function deliveries(): Promise<void> {
  await jira.settled();
  await runJobs(app);
}

const finding = (id: number) => db().selectFrom("findings").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const outcomes = () => db().selectFrom("webhook_deliveries").select(["event", "outcome", "detail"]).orderBy("id").execute();

describe("setting up Jira's webhook", () => {
  it("creates the admin webhook with a secret made here, limited to Patchbay's labelled issues", async () => {
    await connect();
    const page = text(await (await admin.get(`/trackers/${jiraId}`)).text());
    expect(page).toContain(`${BASE}/webhooks/jira/${jiraId}`);
    expect(page).toContain("Not set: setting up the webhook makes one");
    const done = text(await (await admin.post(`/trackers/${jiraId}/webhook`, {})).text());
    expect(done).toContain("The webhook was created in the tracker");
    expect(jira.webhooks).toHaveLength(1);
    expect(jira.webhooks[0]).toMatchObject({
      url: `${BASE}/webhooks/jira/${jiraId}`,
      events: ["jira:issue_updated", "comment_created"],
      jql: "labels = patchbay",
    });
    expect(jira.webhooks[0]!.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The secret is stored, never shown.
    expect(await (await admin.get(`/trackers/${jiraId}`)).text()).not.toContain(jira.webhooks[0]!.secret!);
    expect(text(await (await admin.post(`/trackers/${jiraId}/webhook`, {})).text())).toContain("brought up to date");
    expect(jira.webhooks).toHaveLength(1);
  });

  it("shows the steps to do it by hand when the account is not a Jira administrator", async () => {
    await connect("ATATT-not-admin");
    const page = text(await (await admin.post(`/trackers/${jiraId}/webhook`, {})).text());
    expect(page).toContain("Only a Jira administrator may create webhooks");
    expect(page).toContain("System → WebHooks");
    expect(page).toContain("JQL filter: labels = patchbay");
    expect(jira.webhooks).toHaveLength(0);
  });
});

describe("changes made in Jira", () => {
  beforeEach(async () => {
    await connect();
    await admin.post(`/trackers/${jiraId}/webhook`, {});
  });

  it("Done resolves the finding pending the next scan, with who and why; Patchbay sends nothing back", async () => {
    const id = await pushLodash();
    const before = jira.faults.requests.length;
    jira.humanTransition("SEC-1", "Done", ADA, "Upgraded lodash to 4.17.21 in #42.");
    await deliveries();
    const f = await finding(id);
    expect(f.status).toBe("resolved");
    expect(f.tracker_closed_at).not.toBeNull();
    expect(f.status_reason).toBe("Ada Lovelace moved SEC-1 to Done in Jira acme: Upgraded lodash to 4.17.21 in #42.");
    const detail = text(await (await admin.get(`/vulnerabilities/${id}`)).text());
    expect(detail).toContain("Jira acme: Ada Lovelace: Open → Resolved — Ada Lovelace moved SEC-1 to Done");
    expect(detail).toContain("the next scan confirms the fix");
    expect(await outcomes()).toEqual([expect.objectContaining({ event: "jira:issue_updated", outcome: "processed" })]);
    // No transition or comment went back to Jira (the description's status line may be updated).
    expect(
      jira.faults.requests
        .slice(before)
        .filter((r) => r.method === "POST")
        .map((r) => r.path),
    ).toEqual([]);
    expect(jira.issueByKey("SEC-1")!.statusId).toBe("10002");
  });

  it("Won't Do accepts the risk with the person and their comment; To Do reopens; comments join the history", async () => {
    const id = await pushLodash();
    jira.humanComment("SEC-1", "Only reachable from the admin network.", ADA);
    jira.humanTransition("SEC-1", "Won't Do", ADA);
    await deliveries();
    let f = await finding(id);
    expect(f.status).toBe("risk_accepted");
    expect(f.status_reason).toBe("Ada Lovelace moved SEC-1 to Won't Do in Jira acme: Only reachable from the admin network.");
    expect(Date.parse(f.status_expires_at!) - app.clock.time).toBeGreaterThan(360 * 86_400_000);
    const history = text(await (await admin.get(`/vulnerabilities/${id}`)).text());
    expect(history).toContain("Jira acme: Ada Lovelace: Comment on SEC-1: Only reachable from the admin network.");

    jira.humanTransition("SEC-1", "To Do", ADA);
    await deliveries();
    f = await finding(id);
    expect(f.status).toBe("open");
    expect((await outcomes()).map((o) => o.outcome)).toEqual(["processed", "processed", "processed"]);
  });

  it("applies a transition whose comment was delivered first (Jira's deliveries are not ordered), pairs them, and records a comment once", async () => {
    const id = await pushLodash();
    const url = `${patchbay.url}/webhooks/jira/${jiraId}`;
    jira.deliverTo = () => "http://127.0.0.1:9/held"; // held, then delivered out of order
    jira.humanTransition("SEC-1", "Won't Do", ADA);
    await new Promise((r) => setTimeout(r, 20)); // the comment is written just after the transition
    jira.humanComment("SEC-1", "Only reachable from the admin network.", ADA);
    await jira.settled();
    const [transition, comment] = jira.sent.slice(-2);
    const deliver = async (d: { headers: Record<string, string>; body: string }) => {
      expect((await fetch(url, { method: "POST", headers: d.headers, body: d.body })).status).toBe(202);
      await runJobs(app);
    };
    await deliver(comment!);
    await deliver(transition!);
    const f = await finding(id);
    expect(f.status).toBe("risk_accepted");
    expect(f.status_reason).toBe("Ada Lovelace moved SEC-1 to Won't Do in Jira acme: Only reachable from the admin network.");
    // The same comment again (Jira's retry under a new id): recorded once.
    const { createHmac } = await import("node:crypto");
    const again = `${comment!.body}\n`;
    await deliver({
      headers: {
        ...comment!.headers,
        "x-atlassian-webhook-identifier": "retry-of-comment",
        "x-hub-signature": `sha256=${createHmac("sha256", jira.webhooks[0]!.secret!).update(again).digest("hex")}`,
      },
      body: again,
    });
    expect((await outcomes()).at(-1)).toMatchObject({ outcome: "ignored", detail: "The comment on SEC-1 was recorded already." });
    const comments = await db().selectFrom("finding_events").select("note").where("finding_id", "=", id).where("note", "like", "Comment on%").execute();
    expect(comments).toHaveLength(1);
  });

  it("a transition whose update delivery leaves out the screen's comment gets it from the comment's own delivery", async () => {
    const id = await pushLodash();
    jira.commentsWithTransitions = false;
    jira.humanTransition("SEC-1", "Done", ADA, "Upgraded lodash to 4.17.21 in #42.");
    await deliveries();
    const update = JSON.parse(jira.sent.find((d) => JSON.parse(d.body).webhookEvent === "jira:issue_updated")!.body) as { comment?: unknown };
    expect(update.comment).toBeUndefined();
    const f = await finding(id);
    expect(f.status).toBe("resolved");
    expect(f.status_reason).toBe("Ada Lovelace moved SEC-1 to Done in Jira acme: Upgraded lodash to 4.17.21 in #42.");
    // Jira promises no order between the two deliveries: both are taken, in whichever order they came.
    expect((await outcomes()).map((o) => o.event).sort()).toEqual(["comment_created", "jira:issue_updated"]);
  });

  it("a comment delivered after the transition it explains joins the transition's reason", async () => {
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "Won't Do", ADA);
    await deliveries();
    expect((await finding(id)).status_reason).toBe("Ada Lovelace moved SEC-1 to Won't Do in Jira acme");
    jira.humanComment("SEC-1", "Only reachable from the admin network.", ADA);
    await deliveries();
    expect((await finding(id)).status_reason).toBe("Ada Lovelace moved SEC-1 to Won't Do in Jira acme: Only reachable from the admin network.");
  });

  it("a status read as false positive marks the findings so, with who and why", async () => {
    // This team's workflow uses a status for "not a real problem": the mapping says so.
    const edited = await admin.post(
      `/trackers/mappings/${mappingId}`,
      securityBugMapping({ "inbound.10000": "open", "inbound.10001": "false_positive", "inbound.10002": "resolved", "inbound.10003": "risk_accepted" }),
    );
    expect(edited.status).toBe(303);
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "In Progress", ADA, "lodash is only a dev dependency of the docs site.");
    await deliveries();
    const f = await finding(id);
    expect(f.status).toBe("false_positive");
    expect(f.status_reason).toBe("Ada Lovelace moved SEC-1 to In Progress in Jira acme: lodash is only a dev dependency of the docs site.");
  });

  it("reads Jira's resolution: Done with Won't Do accepts the risk, Done with Cannot Reproduce is a false positive", async () => {
    const form = text(await (await admin.get(`/trackers/mappings/${mappingId}/edit`)).text());
    expect(form).toContain("Resolution: Won't Do");
    const edited = await admin.post(
      `/trackers/mappings/${mappingId}`,
      securityBugMapping({
        "inbound.10000": "open",
        "inbound.10002": "resolved",
        "inbound.10003": "risk_accepted",
        "inbound.resolution:10001": "risk_accepted",
        "inbound.resolution:10003": "false_positive",
      }),
    );
    expect(edited.status).toBe(303);
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "Done", ADA, "Only used by the build.", "Won't Do");
    await deliveries();
    expect(await finding(id)).toMatchObject({
      status: "risk_accepted",
      status_reason: "Ada Lovelace moved SEC-1 to Done (Won't Do) in Jira acme: Only used by the build.",
    });
    jira.humanTransition("SEC-1", "To Do", ADA);
    await deliveries();
    jira.humanTransition("SEC-1", "Done", ADA, undefined, "Cannot Reproduce");
    await deliveries();
    expect((await finding(id)).status).toBe("false_positive");
  });

  it("ignores Patchbay's own changes: its transitions and comments come back and change nothing", async () => {
    const id = await pushLodash();
    // Accepting the risk in Patchbay moves SEC-1 to Won't Do; Jira tells Patchbay about it.
    expect((await admin.post(`/vulnerabilities/${id}/status`, { status: "false_positive", reason: "Test fixture only" })).status).toBe(303);
    await runJobs(app);
    expect(jira.issueByKey("SEC-1")!.statusId).toBe("10003");
    await deliveries();
    const f = await finding(id);
    expect(f.status).toBe("false_positive");
    expect(f.status_reason).toBe("Test fixture only");
    const echo = (await outcomes()).at(-1)!;
    expect(echo).toMatchObject({ event: "jira:issue_updated", outcome: "ignored" });
    expect(echo.detail).toContain("made by Patchbay itself");
    expect(jira.deliveries.every((d) => d.status === 202)).toBe(true);
    expect(JSON.parse(jira.sent.at(-1)!.body).user.accountId).toBe(SERVICE_ACCOUNT.accountId);
  });

  it("refuses unsigned, wrongly signed and replayed deliveries, and ignores one older than the last applied", async () => {
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "Done", ADA);
    await deliveries();
    const [first] = jira.sent;
    const url = `${patchbay.url}/webhooks/jira/${jiraId}`;
    const replay = await fetch(url, { method: "POST", headers: first!.headers, body: first!.body });
    expect(replay.status).toBe(202);
    expect(((await replay.json()) as { status: string }).status).toBe("already processed");
    const { "x-hub-signature": _signature, ...unsigned } = first!.headers;
    const fresh = { ...unsigned, "x-atlassian-webhook-identifier": "f2c1-unsigned" };
    expect((await fetch(url, { method: "POST", headers: fresh, body: first!.body })).status).toBe(401);
    expect((await fetch(url, { method: "POST", headers: { ...fresh, "x-hub-signature": `sha256=${"0".repeat(64)}` }, body: first!.body })).status).toBe(401);

    // A delivery Jira retried late: the issue moved to To Do before it, then Done arrives again.
    jira.humanTransition("SEC-1", "To Do", ADA);
    await deliveries();
    expect((await finding(id)).status).toBe("open");
    const { createHmac } = await import("node:crypto");
    const sign = (body: string) => `sha256=${createHmac("sha256", jira.webhooks[0]!.secret!).update(body).digest("hex")}`;
    // The same signed body under a new delivery id is the same delivery: not processed again.
    const forged = await fetch(url, {
      method: "POST",
      headers: { ...first!.headers, "x-atlassian-webhook-identifier": "new-id-same-body" },
      body: first!.body,
    });
    expect(((await forged.json()) as { status: string }).status).toBe("already processed");
    expect(await app.runtime.worker.runOnce()).toBeFalsy();
    // An event of the same moment that arrives late (other bytes, its own id) is read, and set aside.
    const late = `${first!.body}\n`;
    const stale: Record<string, string> = { ...first!.headers, "x-atlassian-webhook-identifier": "late-retry-of-done", "x-hub-signature": sign(late) };
    expect((await fetch(url, { method: "POST", headers: stale, body: late })).status).toBe(202);
    await runJobs(app);
    expect((await finding(id)).status).toBe("open");
    expect((await outcomes()).at(-1)!.detail).toContain("older than the last one applied");
  });
});

describe("closed in the tracker, still detected", () => {
  it("flags the finding and reopens the issue with a comment when the next scan still reports it", async () => {
    await connect();
    await admin.post(`/trackers/${jiraId}/webhook`, {});
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "Done", ADA);
    await deliveries();
    expect((await finding(id)).status).toBe("resolved");

    await admin.post(`/integrations/wiz/1/sync`, {});
    await runJobs(app, 5_000);
    const f = await finding(id);
    expect(f.status).toBe("open");
    const detail = text(await (await admin.get(`/vulnerabilities/${id}`)).text());
    expect(detail).toContain("Closed in tracker, still detected");
    expect(detail).toContain(STILL_DETECTED_NOTE);
    const issue = jira.issueByKey("SEC-1")!;
    expect(issue.statusId).toBe("10000");
    expect(JSON.stringify(issue.comments.at(-1))).toContain("this ticket was closed, but the latest scan still detects CVE-2021-23337 in lodash 4.17.20");
    // Patchbay's reopening comes back as an event from its own account: ignored.
    await deliveries();
    expect((await finding(id)).status).toBe("open");
  });

  it("leaves the issue closed and only flags the finding when the mapping says so", async () => {
    await connect(TOKEN, "flag");
    await admin.post(`/trackers/${jiraId}/webhook`, {});
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "Done", ADA);
    await deliveries();
    await admin.post(`/integrations/wiz/1/sync`, {});
    await runJobs(app, 5_000);
    expect((await finding(id)).status).toBe("open");
    expect(text(await (await admin.get(`/vulnerabilities/${id}`)).text())).toContain("Closed in tracker, still detected");
    expect(jira.issueByKey("SEC-1")!.statusId).toBe("10002");
  });
});

describe("reconciliation", () => {
  /** SEC-1 pushed, then moved to Done in Jira while no webhook was set up (an event Patchbay never got). */
  async function drifted(reconcile: string): Promise<number> {
    await connect(TOKEN, "reopen", reconcile);
    const id = await pushLodash();
    jira.humanTransition("SEC-1", "Done", ADA);
    await jira.settled();
    expect(jira.deliveries).toEqual([]);
    return id;
  }

  async function reconcile(): Promise<string> {
    const started = await admin.post(`/trackers/mappings/${mappingId}/reconcile`, {});
    expect(started.status).toBe(303);
    await runJobs(app);
    return text(await (await admin.get(`/trackers/mappings/${mappingId}`)).text());
  }

  it("reports a difference and changes nothing when set to report only", async () => {
    const id = await drifted("report");
    const page = await reconcile();
    expect(page).toContain("succeeded: 1 checked, 1 difference, 0 repaired");
    expect(page).toContain("SEC-1 To Do Done Reported.");
    expect((await finding(id)).status).toBe("open");
    expect(jira.issueByKey("SEC-1")!.statusId).toBe("10002");
  });

  it("applies the tracker's status to the findings when the tracker wins", async () => {
    const id = await drifted("tracker");
    const page = await reconcile();
    expect(page).toContain("1 difference, 1 repaired");
    const f = await finding(id);
    expect(f.status).toBe("resolved");
    expect(f.status_reason).toBe("reconciliation moved SEC-1 to Done in Jira acme");
    // A second run finds nothing left to repair.
    expect(await reconcile()).toContain("1 checked, 0 differences, 0 repaired");
  });

  it("moves the ticket back when Patchbay wins, and reports a ticket deleted in the tracker", async () => {
    const id = await drifted("patchbay");
    const page = await reconcile();
    expect(page).toContain("Moved back to To Do.");
    expect(jira.issueByKey("SEC-1")!.statusId).toBe("10000");
    expect((await finding(id)).status).toBe("open");
    jira.issues.splice(0);
    expect(await reconcile()).toContain("SEC-1 To Do deleted Reported: deleted in");
  });
});

/** A Patchbay of the test's own, served so simulators can deliver to it, with the Wiz findings imported. */
async function localApp(origin: string) {
  const local = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${origin},${wiz.originMap}` } });
  const served = await startSim(local.runtime.app);
  const browser = await setUpAdmin(local);
  await seedRepositories(local, ["acme/api"]);
  await browser.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(local, 5_000);
  return { local, served, browser };
}

/** Saves a mapping (update existing links automatically) and pushes the lodash finding by hand; returns its id. */
async function mapAndPush(local: TestApp, browser: Browser, trackerId: string, form: Record<string, string>): Promise<number> {
  const mapping = await browser.post(`/trackers/${trackerId}/mappings`, form);
  expect(mapping.status, text(await mapping.clone().text())).toBe(303);
  const mappingId = /\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]!;
  await browser.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "update_existing" });
  const f = await local.runtime.database.db.selectFrom("findings").select("id").where("cve", "=", "CVE-2021-23337").executeTakeFirstOrThrow();
  await browser.post(`/vulnerabilities/${f.id}/push`, {});
  await runJobs(local);
  return f.id;
}

/** A GitHub integration with its webhook and a GitHub Issues tracker through it, the lodash finding pushed to acme/security. */
async function githubTwoWay(extraRepos: string[] = []) {
  const { GitHubSim } = await import("../sim/github.js");
  const github = new GitHubSim();
  github.addToken("github_pat_two_way", "patchbay-bot");
  for (const [i, name] of ["acme/security", ...extraRepos].entries())
    github.repos.push({ id: 4001 + i, full_name: name, private: true, visibility: "private", archived: false, default_branch: "main" });
  const githubServer = await startSim(github.app());
  const { local, served, browser } = await localApp(`https://api.github.com=${githubServer.url}`);
  const scm = await browser.post("/integrations/github", {
    githubUrl: "https://github.com",
    token: "github_pat_two_way",
    webhookSecret: "github-webhook-secret-two-way",
  });
  const scmId = /\/integrations\/github\/(\d+)/.exec(scm.headers.get("location")!)![1]!;
  const issues = await browser.post("/integrations/github-issues", { source: scmId });
  const trackerId = /\/integrations\/github-issues\/(\d+)/.exec(issues.headers.get("location")!)![1]!;
  const id = await mapAndPush(local, browser, trackerId, {
    project: "acme/security",
    ticketType: "issue",
    "source.title": "patchbay",
    "value.title.patchbay": "title",
    "status.open": "open",
    "status.done": "closed:completed",
    "status.accepted": "closed:not_planned",
    "inbound.open": "open",
    "inbound.closed:completed": "resolved",
    "inbound.closed:not_planned": "risk_accepted",
  });
  const close = async () => {
    await served.close();
    await local.close();
    await githubServer.close();
  };
  return { github, local, served, browser, scmId, trackerId, id, close };
}

describe("two-way sync with GitHub Issues", () => {
  it("reads issue events through the GitHub integration's webhook: closed as not planned, reopened, comments; its own changes ignored", async () => {
    const { github, local, served, browser, scmId, trackerId, id, close } = await githubTwoWay();
    try {
      const f = { id };
      const issue = github.issues.find((i) => i.repo === "acme/security")!;
      expect(issue.number).toBe(1);

      const page = text(await (await browser.get(`/trackers/${trackerId}`)).text());
      expect(page).toContain(`${BASE}/webhooks/github/${scmId}`);
      expect(page).toContain("its events arrive through that integration's webhook");

      const url = `${served.url}/webhooks/github/${scmId}`;
      const send = async (e: { event: string; payload: Record<string, unknown> }) => {
        expect((await github.deliver(url, e.event, e.payload, { secret: "github-webhook-secret-two-way" })).status).toBe(202);
        await runJobs(local);
      };
      const status = async () =>
        await local.runtime.database.db.selectFrom("findings").select(["status", "status_reason"]).where("id", "=", f.id).executeTakeFirstOrThrow();

      await send(github.issueEvent(issue, { action: "commented", text: "Not exploitable: we never parse untrusted templates.", by: "ada" }));
      await send(github.issueEvent(issue, { action: "closed", reason: "not_planned", by: "ada" }));
      expect(await status()).toEqual({
        status: "risk_accepted",
        status_reason: "ada moved acme/security#1 to Closed as not planned in GitHub Issues: Not exploitable: we never parse untrusted templates.",
      });

      await send(github.issueEvent(issue, { action: "reopened", by: "ada" }));
      expect((await status()).status).toBe("open");
      // Closed as a duplicate of another issue: its own status, not a fix (the mapping maps it to nothing).
      await send(github.issueEvent(issue, { action: "closed", reason: "duplicate", by: "ada" }));
      expect((await status()).status).toBe("open");
      const duplicate = await local.runtime.database.db
        .selectFrom("webhook_deliveries")
        .select(["outcome", "detail"])
        .orderBy("id", "desc")
        .executeTakeFirstOrThrow();
      expect(duplicate.detail).toContain("Closed as duplicate");
      await send(github.issueEvent(issue, { action: "reopened", by: "ada" }));
      // Patchbay's own account closing the issue (its push) comes back and is ignored.
      await send(github.issueEvent(issue, { action: "closed", reason: "completed", by: "patchbay-bot" }));
      expect((await status()).status).toBe("open");
      const last = await local.runtime.database.db
        .selectFrom("webhook_deliveries")
        .select(["outcome", "detail"])
        .orderBy("id", "desc")
        .executeTakeFirstOrThrow();
      expect(last).toMatchObject({ outcome: "ignored" });
      expect(last.detail).toContain("made by Patchbay itself");
      const history = text(await (await browser.get(`/vulnerabilities/${f.id}`)).text());
      expect(history).toContain("GitHub Issues: ada: Comment on acme/security#1: Not exploitable");
    } finally {
      await close();
    }
  });
});

describe("a GitHub issue transferred to another repository", () => {
  it("is followed from its transfer delivery, and matched by its new key only from then on", async () => {
    const { github, local, served, browser, scmId, id, close } = await githubTwoWay(["acme/archive"]);
    try {
      const url = `${served.url}/webhooks/github/${scmId}`;
      const db = local.runtime.database.db;
      const send = async (e: { event: string; payload: Record<string, unknown> }) => {
        expect((await github.deliver(url, e.event, e.payload, { secret: "github-webhook-secret-two-way" })).status).toBe(202);
        await runJobs(local);
        return db.selectFrom("webhook_deliveries").select(["outcome", "detail"]).orderBy("id", "desc").executeTakeFirstOrThrow();
      };
      // Someone moves the issue to acme/archive: the old repository's delivery says where it went.
      const moved = github.transferWithEvent("acme/security", 1, "acme/archive", "ada");
      expect(await send(moved)).toMatchObject({ outcome: "processed", detail: "acme/security#1 is now acme/archive#1; Patchbay follows it there." });
      const ticket = await db.selectFrom("tickets").select(["external_id", "external_key", "url"]).executeTakeFirstOrThrow();
      expect(ticket).toEqual({ external_id: "acme/archive#1", external_key: "acme/archive#1", url: "https://github.com/acme/archive/issues/1" });
      const history = text(await (await browser.get(`/vulnerabilities/${id}`)).text());
      expect(history).toContain("acme/security#1 is now acme/archive#1 (transferred to acme/archive by ada); Patchbay follows it there");
      // Its events come from the new repository now, and are read as the ticket's.
      expect(await send(github.issueEvent(moved.issue, { action: "closed", reason: "not_planned", by: "ada" }))).toMatchObject({ outcome: "processed" });
      expect((await db.selectFrom("findings").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status).toBe("risk_accepted");
      // A delivery naming the old key is no longer this ticket's.
      const stale = github.issueEvent({ ...moved.issue, repo: "acme/security", number: 1 }, { action: "reopened", by: "ada" });
      expect(await send(stale)).toMatchObject({ outcome: "ignored", detail: "acme/security#1 is not a ticket Patchbay created or linked." });
      expect((await db.selectFrom("findings").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status).toBe("risk_accepted");
      // The next push writes to the issue where it is, without a redirect.
      await browser.post(`/vulnerabilities/${id}/push`, {});
      await runJobs(local);
      expect(github.faults.requests.filter((r) => r.path.startsWith("/repos/acme/security/issues/1"))).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe("two-way sync with GitLab Issues", () => {
  it("reads Issue Hook and Note Hook deliveries through the GitLab integration's webhook; its own account's changes are ignored", async () => {
    const { GitLabSim } = await import("../sim/gitlab.js");
    const gitlab = new GitLabSim();
    gitlab.addToken("glpat-two-way", "patchbay_bot");
    gitlab.addProjects("platform", 1);
    const gitlabServer = await startSim(gitlab.app());
    const { local, served, browser } = await localApp(`https://gitlab.example.com=${gitlabServer.url}`);
    try {
      const scm = await browser.post("/integrations/gitlab", {
        gitlabUrl: "https://gitlab.example.com",
        token: "glpat-two-way",
        webhookSecret: "gitlab-webhook-secret-two-way",
      });
      const scmId = /\/integrations\/gitlab\/(\d+)/.exec(scm.headers.get("location")!)![1]!;
      const issues = await browser.post("/integrations/gitlab-issues", { source: scmId });
      const trackerId = /\/integrations\/gitlab-issues\/(\d+)/.exec(issues.headers.get("location")!)![1]!;
      const id = await mapAndPush(local, browser, trackerId, {
        project: "2001",
        ticketType: "issue",
        "source.title": "patchbay",
        "value.title.patchbay": "title",
        "status.open": "opened",
        "status.done": "closed",
        "inbound.opened": "open",
        "inbound.closed": "resolved",
      });
      const f = { id };
      const issue = gitlab.issues[0]!;
      const url = `${served.url}/webhooks/gitlab/${scmId}`;
      const send = async (e: { event: string; payload: Record<string, unknown> }) => {
        expect((await gitlab.deliver(url, e.event, e.payload, { token: "gitlab-webhook-secret-two-way" })).status).toBe(202);
        await runJobs(local);
      };
      const status = async () =>
        (await local.runtime.database.db.selectFrom("findings").select("status").where("id", "=", f.id).executeTakeFirstOrThrow()).status;
      const grace = { username: "grace", name: "Grace Hopper" };

      expect((await gitlab.deliver(url, "Issue Hook", gitlab.issueEvent(issue, { action: "close", by: grace }).payload, { token: "wrong" })).status).toBe(401);
      await send(gitlab.issueEvent(issue, { action: "comment", text: "Fixed by bumping lodash in !12.", by: grace }));
      await send(gitlab.issueEvent(issue, { action: "close", by: grace }));
      expect(await status()).toBe("resolved");
      await send(gitlab.issueEvent(issue, { action: "reopen", by: { username: "patchbay_bot", name: "Patchbay" } }));
      expect(await status()).toBe("resolved");
      await send(gitlab.issueEvent(issue, { action: "reopen", by: grace }));
      expect(await status()).toBe("open");
      const history = text(await (await browser.get(`/vulnerabilities/${f.id}`)).text());
      expect(history).toContain("GitLab Issues: Grace Hopper: Comment on platform/project-001#1: Fixed by bumping lodash in !12.");
      expect(history).toContain("Grace Hopper moved platform/project-001#1 to Closed in GitLab Issues: Fixed by bumping lodash in !12.");
    } finally {
      await served.close();
      await local.close();
      await gitlabServer.close();
    }
  });
});

describe("two-way sync with Azure DevOps and ServiceNow (a secret in a header)", () => {
  /** The secret Patchbay made on the tracker page (stored in the vault; the test reads it as the person copying it would). */
  async function madeSecret(local: TestApp, browser: Browser, trackerId: string): Promise<string> {
    expect(text(await (await browser.post(`/trackers/${trackerId}/webhook`, {})).text())).toContain("set up by hand");
    const row = await local.runtime.database.db.selectFrom("integrations").select("secrets").where("id", "=", Number(trackerId)).executeTakeFirstOrThrow();
    return local.runtime.vault.openSecrets(row.secrets).webhookSecret!;
  }

  it("Azure DevOps: a service hook with the secret in X-Patchbay-Token (or Basic) moves the findings; its own revisions are ignored", async () => {
    const { AzureDevOpsSim, ADO_SERVICE_IDENTITY } = await import("../sim/azure-devops.js");
    const ado = new AzureDevOpsSim();
    ado.tokens.add("ado-pat-two-way");
    ado.addProject("Fabrikam Fiber");
    const adoServer = await startSim(ado.app());
    const { local, served, browser } = await localApp(`https://dev.azure.com=${adoServer.url}`);
    try {
      const connected = await browser.post("/integrations/azure-devops", { organizationUrl: "https://dev.azure.com/fabrikam", token: "ado-pat-two-way" });
      const trackerId = /\/integrations\/azure-devops\/(\d+)/.exec(connected.headers.get("location")!)![1]!;
      const id = await mapAndPush(local, browser, trackerId, {
        project: "Fabrikam Fiber",
        ticketType: "Task",
        "source.System.Title": "patchbay",
        "value.System.Title.patchbay": "title",
        "source.System.AreaPath": "tracker",
        "value.System.AreaPath.tracker": "Fabrikam Fiber",
        "source.System.IterationPath": "tracker",
        "value.System.IterationPath.tracker": "Fabrikam Fiber",
        "status.open": "To Do",
        "status.done": "Done",
        "inbound.To Do": "open",
        "inbound.Doing": "none",
        "inbound.Done": "resolved",
      });
      const secret = await madeSecret(local, browser, trackerId);
      const page = text(await (await browser.get(`/trackers/${trackerId}`)).text());
      expect(page).toContain("x-patchbay-token:<the webhook secret");
      expect(page).not.toContain(secret);
      const item = ado.workItems[0]!;
      const url = `${served.url}/webhooks/azure-devops/${trackerId}`;
      const grace = { id: "0f6a2c1e-1111-4222-8333-444455556666", displayName: "Grace Hopper", uniqueName: "grace@fabrikam.example" };
      const status = async () =>
        await local.runtime.database.db.selectFrom("findings").select(["status", "status_reason"]).where("id", "=", id).executeTakeFirstOrThrow();

      expect((await ado.deliver(url, ado.serviceHookEvent(item, { state: "Done", by: grace }))).status).toBe(401);
      expect((await ado.deliver(url, ado.serviceHookEvent(item, { state: "Done", by: grace }), { "x-patchbay-token": "not-the-secret" })).status).toBe(401);
      expect(
        (
          await ado.deliver(url, ado.serviceHookEvent(item, { state: "Done", comment: "Patched in <b>release 12</b>", by: grace }), {
            "x-patchbay-token": secret,
          })
        ).status,
      ).toBe(202);
      await runJobs(local);
      expect(await status()).toEqual({
        status: "resolved",
        status_reason: `Grace Hopper moved #${item.id} to Done in Azure DevOps fabrikam: Patched in release 12`,
      });
      const basic = `Basic ${Buffer.from(`patchbay:${secret}`).toString("base64")}`;
      expect((await ado.deliver(url, ado.serviceHookEvent(item, { state: "To Do", by: ADO_SERVICE_IDENTITY }), { authorization: basic })).status).toBe(202);
      await runJobs(local);
      expect((await status()).status).toBe("resolved");
      expect((await ado.deliver(url, ado.serviceHookEvent(item, { state: "To Do", by: grace }), { authorization: basic })).status).toBe(202);
      await runJobs(local);
      expect((await status()).status).toBe("open");
    } finally {
      await served.close();
      await local.close();
      await adoServer.close();
    }
  });

  it("ServiceNow without a business rule: hourly polling applies the changes people made, until a webhook secret is set", async () => {
    const { ServiceNowSim } = await import("../sim/servicenow.js");
    const { enqueue } = await import("../../src/jobs/queue.js");
    const { POLL_DUE_JOB } = await import("../../src/tickets/reconcile.js");
    const snow = new ServiceNowSim();
    snow.users.set("svc.patchbay", { password: "sn-password-poll", roles: ["itil", "personalize_dictionary"] });
    const snowServer = await startSim(snow.app());
    const { local, served, browser } = await localApp(`https://acme.service-now.com=${snowServer.url}`);
    try {
      const connected = await browser.post("/integrations/servicenow", {
        instanceUrl: "https://acme.service-now.com",
        username: "svc.patchbay",
        password: "sn-password-poll",
      });
      const trackerId = /\/integrations\/servicenow\/(\d+)/.exec(connected.headers.get("location")!)![1]!;
      const id = await mapAndPush(local, browser, trackerId, {
        project: "incident",
        ticketType: "record",
        "source.short_description": "patchbay",
        "value.short_description.patchbay": "title",
        "status.open": "1",
        "status.done": "6",
        "inbound.1": "open",
        "inbound.6": "resolved",
      });
      const poll = async () => {
        await enqueue(local.runtime.database.db, POLL_DUE_JOB, null, local.clock.now());
        await runJobs(local);
      };
      const status = async () =>
        await local.runtime.database.db.selectFrom("findings").select(["status", "status_reason"]).where("id", "=", id).executeTakeFirstOrThrow();
      await poll();
      expect((await status()).status).toBe("open");
      const record = snow.records()[0]!;
      record.state = "6";
      await poll();
      expect(await status()).toEqual({ status: "resolved", status_reason: `someone (seen by polling) moved ${record.number} to Resolved in ServiceNow acme` });
      // With a webhook secret the business rule tells Patchbay; polling stops.
      await browser.post(`/trackers/${trackerId}/webhook`, {});
      record.state = "1";
      await poll();
      expect((await status()).status).toBe("resolved");
    } finally {
      await served.close();
      await local.close();
      await snowServer.close();
    }
  });

  it("ServiceNow: the business rule's signed post moves the findings, a stale or repeated one does not; the rule's script is on the tracker page", async () => {
    const { ServiceNowSim, businessRuleDelivery } = await import("../sim/servicenow.js");
    const snow = new ServiceNowSim();
    snow.users.set("svc.patchbay", { password: "sn-password-two-way", roles: ["itil", "personalize_dictionary"] });
    const snowServer = await startSim(snow.app());
    const { local, served, browser } = await localApp(`https://acme.service-now.com=${snowServer.url}`);
    try {
      const connected = await browser.post("/integrations/servicenow", {
        instanceUrl: "https://acme.service-now.com",
        username: "svc.patchbay",
        password: "sn-password-two-way",
      });
      expect(connected.status, text(await connected.clone().text())).toBe(303);
      const trackerId = /\/integrations\/servicenow\/(\d+)/.exec(connected.headers.get("location")!)![1]!;
      const id = await mapAndPush(local, browser, trackerId, {
        project: "incident",
        ticketType: "record",
        "source.short_description": "patchbay",
        "value.short_description.patchbay": "title",
        "status.open": "1",
        "status.done": "6",
        "inbound.1": "open",
        "inbound.6": "resolved",
        "inbound.8": "risk_accepted",
      });
      const secret = await madeSecret(local, browser, trackerId);
      const page = text(await (await browser.get(`/trackers/${trackerId}`)).text());
      expect(page).toContain("new sn_ws.RESTMessageV2()");
      expect(page).toContain("new GlideCertificateEncryption().generateMac(key, 'HmacSHA256', timestamp + '.' + body)");
      expect(page).toContain(`r.setEndpoint('${BASE}/webhooks/servicenow/${trackerId}')`);
      const record = snow.records()[0]!;
      const url = `${served.url}/webhooks/servicenow/${trackerId}`;
      const post = (body: Record<string, unknown>, key = secret, at?: Date) => businessRuleDelivery(url, body, key, { at });
      const rule = (state: string, by: string, mod: number, comment = "") => ({
        event: "record.updated",
        delivery: `${record.sys_id}:${mod}`,
        table: "incident",
        sys_id: record.sys_id,
        number: record.number,
        state,
        state_changed: true,
        updated_by: by,
        updated_on: `2026-11-23 0${mod}:00:00`,
        comment,
      });
      const status = async () =>
        await local.runtime.database.db.selectFrom("findings").select(["status", "status_reason"]).where("id", "=", id).executeTakeFirstOrThrow();

      expect((await post(rule("8", "beth.anglin", 1), "wrong")).status).toBe(401);
      // A delivery captured on the way is refused once it is older than five minutes.
      const stale = await post(rule("8", "beth.anglin", 1), secret, new Date(Date.now() - 10 * 60_000));
      expect(stale.status).toBe(401);
      expect((await stale.json()).error).toContain("timestamp");
      expect(
        (await post(rule("8", "beth.anglin", 1, "2026-11-23 01:00:00 - Beth Anglin (Additional comments)\nAccepted: legacy host, decommissioned in Q1.")))
          .status,
      ).toBe(202);
      await runJobs(local);
      expect(await status()).toEqual({
        status: "risk_accepted",
        status_reason: `beth.anglin moved ${record.number} to Canceled in ServiceNow acme: Accepted: legacy host, decommissioned in Q1.`,
      });
      const again = await post(rule("8", "beth.anglin", 1));
      expect(again.status).toBe(202);
      expect((await again.json()).status).toBe("already processed");
      expect((await post(rule("1", "svc.patchbay", 2))).status).toBe(202);
      await runJobs(local);
      expect((await status()).status).toBe("risk_accepted");
    } finally {
      await served.close();
      await local.close();
      await snowServer.close();
    }
  });
});
