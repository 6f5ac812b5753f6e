// End to end in Chromium: Slack, Teams, e-mail and an outgoing webhook connected from the
// Hub's dialogs (each Connect sends a real test message), then a scan failure, a push error
// and a lost credential, each started from the browser, reach all four.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ServerProcess } from "../process.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { WebhookReceiver } from "../sim/receiver.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { SlackSim } from "../sim/slack.js";
import { type SmtpSink, startSmtpSink } from "../sim/smtp.js";
import { TeamsSim } from "../sim/teams.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { BrowserSuite, type Dialog, connectInHub, importFindings } from "./browser.js";

const SLACK_HOOK = "https://hooks.slack.com/services/T0E2E/B0E2E/e2esecretpath";
const TEAMS_HOOK = "https://prod-07.westeurope.logic.azure.com/workflows/wf-e2e/triggers/manual/paths/invoke?api-version=2016-06-01&sig=e2esig";
let wiz: WizFixture;
const slack = new SlackSim();
const teams = new TeamsSim();
const receiver = new WebhookReceiver("e2e-receiver-secret-01");
const jira = new JiraSim();
let smtp: SmtpSink;
const sims: RunningSim[] = [];
let server: ServerProcess;
let page: Page;
const suite = new BrowserSuite();
const dataDir = suite.dataDir;

beforeAll(async () => {
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
  slack.webhooks.set("T0E2E/B0E2E/e2esecretpath", { channel: "C0E2E" });
  teams.workflows.add("wf-e2e");
  jira.addToken("ATATT-e2e-notify", "svc@acme.example");
  jira.addProject("SEC", "Security");
  smtp = await startSmtpSink();
  for (const sim of [slack, teams, receiver, jira]) sims.push(await startSim(sim.app()));
  const [sl, tm, , jr] = sims;
  await suite.start({
    PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://hooks.slack.com=${sl!.url},https://prod-07.westeurope.logic.azure.com=${tm!.url},https://acme.atlassian.net=${jr!.url}`,
  });
  server = suite.server;
  // Findings and a Jira project first, through the pages.
  const session = suite.session;
  await importFindings(session, dataDir, "acme/payments-api");
  await session.send("/integrations/jira", {
    apiToken: "ATATT-e2e-notify",
    cloudId: jira.cloudId,
    email: "svc@acme.example",
    siteUrl: "https://acme.atlassian.net",
  });
  await session.send("/trackers/2/mappings", securityBugMapping());
  await session.send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
  await suite.openBrowser();
  page = suite.page;
});

afterAll(async () => {
  await suite.close();
  await wiz?.close();
  for (const s of sims) await s.close();
  await smtp?.close();
});

/** Connects a notifier; its dialog first shows the default rules. */
const connect = (card: string, fill: (dialog: Dialog) => Promise<void>) =>
  connectInHub(page, server.url, card, async (dialog) => {
    expect(await dialog.getByLabel("Pushing a ticket failed").isChecked()).toBe(true);
    expect(await dialog.getByLabel("New findings after a scan (one digest per scan)").isChecked()).toBe(false);
    await fill(dialog);
  });

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

it("connects four notifiers in the browser; a scan failure, a push error and a lost credential reach each of them", async () => {
  await connect("Slack", (d) => d.getByLabel("Incoming webhook URL").fill(SLACK_HOOK));
  await connect("Microsoft Teams", (d) => d.getByLabel("Webhook URL").fill(TEAMS_HOOK));
  await connect("E-mail", async (d) => {
    await d.getByLabel("SMTP host").fill("127.0.0.1");
    await d.getByLabel("Port").fill(String(smtp.port));
    await d.getByLabel("TLS").selectOption("none");
    await d.locator("#field-from").fill("patchbay@acme.example");
    await d.locator("#field-to").fill("security@acme.example");
  });
  await connect("Outgoing webhook", async (d) => {
    await d.locator("#field-url").fill(`${sims[2]!.url}/hooks/patchbay`);
    await d.getByLabel("Signing secret").fill("e2e-receiver-secret-01");
  });
  expect(slack.messages.map((m) => m.text.split(":")[0])).toEqual(["Patchbay test message"]);
  expect(smtp.messages).toHaveLength(1);

  // A scan failure, from Sync now: Wiz fails every attempt; the last (after 30 s and 2 min
  // of backoff) gives up, and that is what is reported. The other two run meanwhile.
  wiz.sim.faults.add({ status: 500 });
  await page.goto(server.url + "/integrations");
  await page.getByRole("button", { name: "Sync now Wiz us1" }).click();

  // A push error, from Push to Integrators.
  jira.faults.add({
    path: /\/rest\/api\/3\/issue$/,
    method: "POST",
    status: 400,
    times: 1,
    body: JSON.stringify({ errorMessages: [], errors: { summary: "Summary is required." } }),
  });
  await page.goto(server.url + "/vulnerabilities/1");
  await page.getByRole("button", { name: "Push to Integrators" }).click();
  const pushed = "Pushing a ticket to Security bugs failed";
  await until(
    () =>
      slack.messages.some((m) => m.text.startsWith(pushed)) &&
      teams.cards.length === 2 &&
      smtp.messages.length === 2 &&
      receiver.received.some((r) => r.event === "ticket.push_failed"),
  );

  // A lost credential: Jira revokes the token; the next push finds out.
  jira.revoke("ATATT-e2e-notify");
  await page.goto(server.url + "/vulnerabilities/1");
  await page.getByRole("button", { name: "Push to Integrators" }).click();
  const lost = "Jira acme needs attention";
  await until(
    () =>
      slack.messages.some((m) => m.text.startsWith(lost)) &&
      teams.cards.some((c) => JSON.stringify(c.card).includes(lost)) &&
      smtp.messages.some((m) => m.raw.includes(lost)) &&
      receiver.received.some((r) => r.event === "integration.failed"),
    90_000,
  );
  await page.goto(server.url + "/integrations");
  expect(await page.locator('article[data-kind="jira"]').textContent()).toContain("Error");

  // The scan's later attempts wait out 30 s and 2 min of backoff: the admin retries each at once from the Jobs page.
  const scan = "A sync of Wiz us1 failed";
  const reported = () =>
    slack.messages.some((m) => m.text.startsWith(scan)) &&
    teams.cards.some((c) => JSON.stringify(c.card).includes(scan)) &&
    smtp.messages.some((m) => m.raw.includes(scan)) &&
    receiver.received.some((r) => r.event === "scan.failed");
  const deadline = Date.now() + 60_000;
  while (!reported()) {
    if (Date.now() > deadline) throw new Error("the scan failure was not reported in time");
    await page.goto(server.url + "/jobs");
    const waiting = page.locator("tbody tr", { hasText: "retry at" }).filter({ has: page.locator("td", { hasText: /^Scan$/ }) });
    if (await waiting.count()) {
      await waiting
        .first()
        .getByRole("button", { name: /^Retry/ })
        .click();
      await page.getByText("is retried now instead of waiting").waitFor();
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}, 120_000);
