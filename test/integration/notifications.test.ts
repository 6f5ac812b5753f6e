// Notifications: a push error, a scan failure and a lost credential reach Slack, Teams, e-mail
// and a signed webhook; rules choose what goes where; bursts collapse into one message a
// minute; a failing notifier shows Error, is retried, and never holds up the work it reports.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { WebhookReceiver } from "../sim/receiver.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { SlackSim } from "../sim/slack.js";
import { type SmtpSink, startSmtpSink } from "../sim/smtp.js";
import { TeamsSim } from "../sim/teams.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const SLACK_HOOK = "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnop";
const TEAMS_HOOK =
  "https://prod-42.westeurope.logic.azure.com/workflows/wf-0001/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3tsignature";
const RECEIVER_SECRET = "receiver-shared-secret-0001";

let wiz: WizFixture;
let slack: SlackSim;
let teams: TeamsSim;
let receiver: WebhookReceiver;
let jira: JiraSim;
let smtp: SmtpSink;
const servers: RunningSim[] = [];
let slackServer: RunningSim;
let teamsServer: RunningSim;
let receiverServer: RunningSim;
let jiraServer: RunningSim;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());

beforeEach(async () => {
  slack = new SlackSim();
  slack.webhooks.set("T0001/B0001/abcdefghijklmnop", { channel: "C0SECURITY" });
  teams = new TeamsSim();
  teams.workflows.add("wf-0001");
  receiver = new WebhookReceiver(RECEIVER_SECRET);
  jira = new JiraSim();
  jira.addToken("ATATT-notify", "svc@acme.example");
  jira.addProject("SEC", "Security");
  smtp = await startSmtpSink({ user: "patchbay", password: "smtp-password-0001", rejectRecipient: /^nobody@/ });
  slackServer = await startSim(slack.app());
  teamsServer = await startSim(teams.app());
  receiverServer = await startSim(receiver.app());
  jiraServer = await startSim(jira.app());
  servers.push(slackServer, teamsServer, receiverServer, jiraServer);
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: [
        wiz.originMap,
        `https://hooks.slack.com=${slackServer.url}`,
        `https://slack.com=${slackServer.url}`,
        `https://prod-42.westeurope.logic.azure.com=${teamsServer.url}`,
        `https://acme.atlassian.net=${jiraServer.url}`,
      ].join(","),
    },
  });
  admin = await setUpAdmin(app);
  wiz.sim.faults.clear();
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(0, repoAsset("acme/payments-api"), {
      name: "CVE-2021-3749",
      detailedName: "axios",
      version: "0.21.1",
      fixedVersion: "0.21.2",
      severity: "CRITICAL",
    }),
  );
  await seedRepositories(app, ["acme/payments-api"]);
});
afterEach(async () => {
  await app.close();
  for (const s of servers.splice(0)) await s.close();
  await smtp.close();
});

const db = () => app.runtime.database.db;
const idOf = (res: Response, kind: string) => Number(new RegExp(`/integrations/${kind}/(\\d+)`).exec(res.headers.get("location") ?? "")?.[1]);

const forms = {
  slack: () => ({ webhookUrl: SLACK_HOOK }),
  "microsoft-teams": () => ({ webhookUrl: TEAMS_HOOK }),
  email: () => ({
    host: "127.0.0.1",
    port: String(smtp.port),
    tls: "none",
    username: "patchbay",
    password: "smtp-password-0001",
    from: "patchbay@acme.example",
    to: "security@acme.example",
  }),
  webhook: () => ({ url: `${receiverServer.url}/hooks/patchbay`, secret: RECEIVER_SECRET }),
};

/** The defaults of the rule checkboxes, as an untouched form posts them. */
const DEFAULT_RULES = { notifyIntegrationFailed: "on", notifyScanFailed: "on", notifyPushFailed: "on" };

async function connectNotifiers(rules: Record<string, string> = DEFAULT_RULES): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  for (const [kind, form] of Object.entries(forms)) {
    const res = await admin.post(`/integrations/${kind}`, { ...form(), ...rules });
    expect(res.status, `${kind}: ${text(await res.clone().text())}`).toBe(303);
    ids[kind] = idOf(res, kind);
  }
  return ids;
}

async function importFindings(): Promise<number> {
  const res = await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(app, 5_000);
  return idOf(res, "wiz");
}

async function jiraWithMapping(): Promise<number> {
  const connected = await admin.post("/integrations/jira", {
    apiToken: "ATATT-notify",
    cloudId: jira.cloudId,
    email: "svc@acme.example",
    siteUrl: "https://acme.atlassian.net",
  });
  const jiraId = idOf(connected, "jira");
  const saved = await admin.post(`/trackers/${jiraId}/mappings`, securityBugMapping());
  const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(saved.headers.get("location")!)![1]);
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
  await runJobs(app);
  return mappingId;
}

async function pushFailing(times = 1): Promise<void> {
  jira.faults.add({
    path: /\/rest\/api\/3\/issue$/,
    method: "POST",
    status: 400,
    times,
    body: JSON.stringify({ errorMessages: [], errors: { labels: "The label 'x y' can't contain spaces." } }),
  });
  const finding = await db().selectFrom("findings").select("id").executeTakeFirstOrThrow();
  for (let i = 0; i < times; i++) {
    await admin.post(`/vulnerabilities/${finding.id}/push`, {});
    await runJobs(app);
  }
}

describe("Test Connection", () => {
  it("sends a real test message through each notifier", async () => {
    for (const [kind, form] of Object.entries(forms)) {
      const res = await admin.post(`/integrations/${kind}/test`, form(), { htmx: true });
      expect(text(await res.text()), kind).toMatch(/accepted/);
    }
    expect(slack.messages.map((m) => m.text)).toEqual(["Patchbay test message: This is a test from Patchbay: notifications will arrive here."]);
    expect(teams.cards).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.raw).toContain("Subject: [Patchbay] Patchbay test message");
    expect(receiver.received.map((r) => r.event)).toEqual(["test"]);
  });

  it("explains what each service refuses", async () => {
    slack.webhooks.get("T0001/B0001/abcdefghijklmnop")!.state = "archived";
    expect(text(await (await admin.post("/integrations/slack/test", forms.slack(), { htmx: true })).text())).toContain(
      "The webhook's channel is archived (channel_is_archived)",
    );
    slack.tokens.set("xoxb-0001", { scopes: ["chat:write"] });
    slack.channels.set("security", { id: "C0SEC", member: false });
    expect(text(await (await admin.post("/integrations/slack/test", { botToken: "xoxb-0001", channel: "#security" }, { htmx: true })).text())).toContain(
      "invite it with /invite @your-app",
    );
    slack.channels.get("security")!.member = true;
    expect(text(await (await admin.post("/integrations/slack/test", { botToken: "xoxb-0001", channel: "#security" }, { htmx: true })).text())).toContain(
      "Slack accepted the test message",
    );
    expect(slack.messages.at(-1)).toMatchObject({ via: "api", channel: "C0SEC" });
    slack.tokens.get("xoxb-0001")!.revoked = true;
    expect(text(await (await admin.post("/integrations/slack/test", { botToken: "xoxb-0001", channel: "#security" }, { htmx: true })).text())).toContain(
      "The bot token was revoked (token_revoked)",
    );
    expect(text(await (await admin.post("/integrations/email/test", { ...forms.email(), password: "wrong" }, { htmx: true })).text())).toContain(
      "The SMTP server did not accept the user name and password.",
    );
    expect(text(await (await admin.post("/integrations/email/test", { ...forms.email(), to: "nobody@acme.example" }, { htmx: true })).text())).toContain(
      "The SMTP server refused the sender or a recipient.",
    );
    expect(
      text(await (await admin.post("/integrations/webhook/test", { ...forms.webhook(), secret: "another-secret-value-00" }, { htmx: true })).text()),
    ).toContain("HTTP 401");
    expect(
      text(await (await admin.post("/integrations/microsoft-teams/test", { webhookUrl: TEAMS_HOOK.replace("wf-0001", "wf-gone") }, { htmx: true })).text()),
    ).toContain("Teams refused the webhook");
  });
});

describe("stored secrets stay with their destination", () => {
  it("a changed SMTP host or port, or webhook URL, needs the secret entered again, for Test and for Save", async () => {
    const connected = await admin.post("/integrations/email", forms.email());
    expect(connected.status).toBe(303);
    const id = /\/integrations\/email\/(\d+)/.exec(connected.headers.get("location")!)![1]!;
    const elsewhere = await startSmtpSink({ user: "anyone", password: "anything" });
    try {
      // An admin points Test at a server of their own, leaving the stored password blank.
      const probe = await admin.post("/integrations/email/test", { ...forms.email(), id, port: String(elsewhere.port), password: "" }, { htmx: true });
      expect(text(await probe.text())).toContain("You changed Port: enter the Password again");
      const saved = await admin.post(`/integrations/email/${id}`, { ...forms.email(), port: String(elsewhere.port), password: "" });
      expect(saved.status).toBe(422);
      expect(elsewhere.logins).toEqual([]);
      // Unchanged destination: the stored password is used as before.
      expect(text(await (await admin.post("/integrations/email/test", { ...forms.email(), id, password: "" }, { htmx: true })).text())).toMatch(/accepted/);
    } finally {
      await elsewhere.close();
    }
    const hook = await admin.post("/integrations/webhook", forms.webhook());
    const hookId = /\/integrations\/webhook\/(\d+)/.exec(hook.headers.get("location")!)![1]!;
    const moved = await admin.post(
      "/integrations/webhook/test",
      { ...forms.webhook(), id: hookId, url: "https://elsewhere.example/hook", secret: "" },
      { htmx: true },
    );
    expect(text(await moved.text())).toContain("You changed URL: enter the");
  });
});

describe("events reach every notifier", () => {
  it("a push error, a scan failure and a lost credential each reach Slack, Teams, e-mail and the webhook", async () => {
    const wizId = await importFindings();
    await connectNotifiers();
    const mappingId = await jiraWithMapping();

    await pushFailing();
    await runJobs(app, 61_000);
    const push = "Pushing a ticket to Security bugs failed";
    expect(slack.messages.map((m) => m.blocks[0])).toContainEqual({ type: "header", text: { type: "plain_text", text: push, emoji: true } });
    const slackPush = slack.messages.find((m) => m.text.startsWith(push))!;
    expect(JSON.stringify(slackPush.blocks)).toContain(`"url":"http://localhost:8080/trackers/mappings/${mappingId}/errors"`);
    expect(JSON.stringify(slackPush.blocks)).toContain("The label 'x y' can't contain spaces.");
    expect(teams.cards.some((c) => JSON.stringify(c.card).includes(push))).toBe(true);
    expect(smtp.messages.some((m) => m.raw.includes(`Subject: [Patchbay] ${push}`))).toBe(true);
    expect(receiver.received.find((r) => r.event === "ticket.push_failed")!.body).toMatchObject({
      title: push,
      level: "error",
      link: { url: `http://localhost:8080/trackers/mappings/${mappingId}/errors` },
    });

    wiz.sim.faults.add({ status: 500 });
    await admin.post(`/integrations/wiz/${wizId}/sync`, {});
    await runJobs(app, 10 * 60_000);
    wiz.sim.faults.clear();
    expect(slack.messages.some((m) => m.text.startsWith("A sync of Wiz us1 failed"))).toBe(true);
    expect(teams.cards.some((c) => JSON.stringify(c.card).includes("A sync of Wiz us1 failed"))).toBe(true);
    expect(smtp.messages.some((m) => m.raw.includes("A sync of Wiz us1 failed"))).toBe(true);
    expect(receiver.received.some((r) => r.event === "scan.failed")).toBe(true);

    jira.revoke("ATATT-notify");
    const jiraId = (await db().selectFrom("integrations").select("id").where("kind", "=", "jira").executeTakeFirstOrThrow()).id;
    await admin.post(`/integrations/jira/${jiraId}/test`, { id: String(jiraId) });
    const { enqueueJob } = await import("../../src/jobs/queue.js");
    await enqueueJob(db(), "integration.check", { integrationId: jiraId }, app.clock.now());
    await runJobs(app, 61_000);
    expect(slack.messages.some((m) => m.text.startsWith("Jira acme needs attention"))).toBe(true);
    expect(teams.cards.some((c) => JSON.stringify(c.card).includes("Jira acme needs attention"))).toBe(true);
    expect(smtp.messages.some((m) => m.raw.includes("Jira acme needs attention"))).toBe(true);
    expect(receiver.received.some((r) => r.event === "integration.failed")).toBe(true);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  });
});

describe("rules", () => {
  it("sends new findings as one digest per scan at the chosen severity, and only from the chosen integrations", async () => {
    const res = await admin.post("/integrations/slack", { webhookUrl: SLACK_HOOK, notifyNewFindings: "on", minSeverity: "critical", notifyScanFailed: "on" });
    const slackId = idOf(res, "slack");
    await importFindings();
    await runJobs(app, 61_000);
    const digest = slack.messages.find((m) => m.text.startsWith("1 new critical finding from Wiz us1"));
    expect(digest, JSON.stringify(slack.messages.map((m) => m.text))).toBeDefined();
    expect(JSON.stringify(digest!.blocks)).toContain("/vulnerabilities?severity=critical");

    // Only the Jira integration's events: the Wiz scan failure is not sent.
    const jiraMapping = await jiraWithMapping();
    const jiraId = (await db().selectFrom("integrations").select("id").where("kind", "=", "jira").executeTakeFirstOrThrow()).id;
    await admin.post(`/integrations/slack/${slackId}`, {
      id: String(slackId),
      onlyIntegrations: String(jiraId),
      notifyPushFailed: "on",
      notifyScanFailed: "on",
    });
    const before = slack.messages.length;
    wiz.sim.faults.add({ status: 500 });
    await admin.post("/integrations/wiz/1/sync", {});
    await runJobs(app, 10 * 60_000);
    wiz.sim.faults.clear();
    expect(slack.messages.length).toBe(before);
    await pushFailing();
    await runJobs(app, 61_000);
    expect(slack.messages.slice(before).map((m) => m.text.split(":")[0])).toEqual(["Pushing a ticket to Security bugs failed"]);
    expect(jiraMapping).toBeGreaterThan(0);
  });

  it("collapses a burst into one message a minute, with a count", async () => {
    await importFindings();
    await admin.post("/integrations/slack", { webhookUrl: SLACK_HOOK, ...DEFAULT_RULES });
    await jiraWithMapping();
    await pushFailing(3);
    await runJobs(app, 61_000);
    const pushes = slack.messages.filter((m) => m.text.startsWith("Pushing a ticket"));
    expect(pushes).toHaveLength(2);
    expect(JSON.stringify(pushes[1]!.blocks)).toContain("…and 1 more like it in the last minute.");
  });
});

describe("failure isolation", () => {
  it("retries a failing notifier, shows it as Error meanwhile, and never fails the work it reports", async () => {
    await importFindings();
    const res = await admin.post("/integrations/slack", { webhookUrl: SLACK_HOOK, ...DEFAULT_RULES });
    const slackId = idOf(res, "slack");
    await jiraWithMapping();
    slack.faults.add({ path: /^\/services\//, status: 503, times: 8 });
    await pushFailing();
    // The push itself finished: its error row is there, whatever Slack does.
    expect(await db().selectFrom("push_errors").select("id").execute()).toHaveLength(1);
    const card = text(await (await admin.get("/integrations/card/slack", { htmx: true })).text());
    expect(card).toContain("Slack Error");
    expect(card).toContain("Sending a notification failed: Slack had a server error (HTTP 503).");
    expect(slack.messages.filter((m) => m.text.startsWith("Pushing a ticket"))).toHaveLength(0);
    await runJobs(app, 5 * 60_000);
    expect(slack.messages.filter((m) => m.text.startsWith("Pushing a ticket"))).toHaveLength(1);
    const row = await db().selectFrom("integrations").select(["status", "last_error"]).where("id", "=", slackId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: "connected", last_error: null });
  });

  it("reports a failing notifier through the others, never through itself", async () => {
    await importFindings();
    await admin.post("/integrations/slack", { webhookUrl: SLACK_HOOK, ...DEFAULT_RULES });
    await admin.post("/integrations/webhook", { ...forms.webhook(), ...DEFAULT_RULES });
    await jiraWithMapping();
    slack.webhooks.get("T0001/B0001/abcdefghijklmnop")!.state = "removed";
    await pushFailing();
    await runJobs(app, 61_000);
    const events = receiver.received.filter((r) => r.event !== "test");
    expect(events.map((r) => r.body.title)).toEqual(["Pushing a ticket to Security bugs failed", "Slack needs attention"]);
    expect(events[1]!.body.text).toContain("The webhook was removed or disabled in Slack (no_service)");
    // Only the test message Connect sent went through Slack.
    expect(slack.messages.map((m) => m.text.split(":")[0])).toEqual(["Patchbay test message"]);
    const card = text(await (await admin.get("/integrations/card/slack", { htmx: true })).text());
    expect(card).toContain("Slack Error");
  });
});
