// SLAs: the deadline per severity (3 / 14 / 30 / 90 days by default, none for info) or per risk
// band, set on each finding when it is found and kept in step with its score; a KEV finding's
// from when Patchbay first saw it in KEV (CISA's window or the configured days, the sooner); a
// changed policy is previewed (how many deadlines move) before it is applied to every finding;
// the overdue and due-soon filters; the tracker's due date field.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applySla, type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, signIn, testApp, text } from "../helpers.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { FeedsSim, kevEntry } from "../sim/feeds.js";
import { type RunningSim, startSim } from "../sim/serve.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;
const DAY = 86_400_000;

let feeds: FeedsSim;
let feedServer: RunningSim;

beforeAll(async () => {
  wiz = await startWiz();
  feeds = new FeedsSim();
  feedServer = await startSim(feeds.app());
});
afterAll(async () => {
  await wiz.close();
  await feedServer.close();
});
beforeEach(async () => {
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://www.cisa.gov=${feedServer.url}` } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/api"]);
  const now = app.clock.time;
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/api"), {
      name: "CVE-2021-3749",
      detailedName: "axios",
      version: "0.21.1",
      severity: "CRITICAL",
      score: 9.8,
      epssPercentile: 100,
      hasCisaKevExploit: false,
      firstDetectedAt: new Date(now - 5 * DAY).toISOString(),
    }),
    wizFinding(2, repoAsset("acme/api"), {
      name: "CVE-2021-23337",
      detailedName: "lodash",
      version: "4.17.20",
      severity: "HIGH",
      score: 7.2,
      epssPercentile: 50,
      hasCisaKevExploit: false,
      firstDetectedAt: new Date(now - 10 * DAY).toISOString(),
    }),
    wizFinding(3, repoAsset("acme/api"), {
      name: "CVE-2022-24999",
      detailedName: "qs",
      version: "6.5.2",
      severity: "LOW",
      score: 3.1,
      epssPercentile: 10,
      hasCisaKevExploit: false,
      firstDetectedAt: new Date(now - 1 * DAY).toISOString(),
    }),
    wizFinding(4, repoAsset("acme/api"), {
      name: "CVE-2020-8203",
      detailedName: "lodash.merge",
      version: "4.6.1",
      severity: "INFORMATIONAL",
      score: 0,
      hasCisaKevExploit: false,
      firstDetectedAt: new Date(now - 400 * DAY).toISOString(),
    }),
  );
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;
const due = async (cve: string) => (await db().selectFrom("findings").select("due_at").where("cve", "=", cve).executeTakeFirstOrThrow()).due_at;
const days = (iso: string | null, cve: string) =>
  iso ? Math.round((Date.parse(iso) - Date.parse(wiz.sim.findings.find((f) => f.name === cve)!.firstDetectedAt as string)) / DAY) : null;

const loadProposal = async () => (await import("../../src/findings/sla.js")).loadSlaProposal(db());

/** The SLA form counting by risk band (7 / 30 / 90 / 180 days), severities at their defaults. */
const BY_RISK = {
  basis: "risk",
  band_critical: "7",
  band_high: "30",
  band_medium: "90",
  band_low: "180",
  critical: "3",
  high: "14",
  medium: "30",
  low: "90",
  info: "",
};

const applyPolicy = (form: Record<string, string>) => applySla(app, admin, form);

async function importAll(): Promise<void> {
  await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(app, 5_000);
}

describe("SLAs", () => {
  it("gives each finding its deadline from the default policy, and filters overdue and due-soon findings", async () => {
    await importAll();
    expect(days(await due("CVE-2021-3749"), "CVE-2021-3749")).toBe(3);
    expect(days(await due("CVE-2021-23337"), "CVE-2021-23337")).toBe(14);
    expect(days(await due("CVE-2022-24999"), "CVE-2022-24999")).toBe(90);
    expect(await due("CVE-2020-8203")).toBeNull();
    const overdue = text(await (await admin.get("/vulnerabilities?due=overdue")).text());
    expect(overdue).toContain("CVE-2021-3749");
    expect(overdue).not.toContain("CVE-2021-23337");
    expect(overdue).toContain("overdue");
    const soon = text(await (await admin.get("/vulnerabilities?due=soon")).text());
    expect(soon).toContain("CVE-2021-23337");
    expect(soon).not.toContain("CVE-2021-3749");
    const id = (await db().selectFrom("findings").select("id").where("cve", "=", "CVE-2020-8203").executeTakeFirstOrThrow()).id;
    expect(text(await (await admin.get(`/vulnerabilities/${id}`)).text())).toContain("No deadline for this severity");
  });

  it("previews how many deadlines a change moves, and moves them only when applied", async () => {
    await importAll();
    const refused = await admin.post("/settings/sla", { basis: "severity", critical: "0", high: "7", medium: "30", low: "abc", info: "" });
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("Enter a whole number of days from 1 to 3,650");
    expect(await loadProposal()).toBeUndefined();

    const proposed = await admin.post("/settings/sla", { basis: "severity", critical: "6", high: "21", medium: "30", low: "90", info: "" });
    expect([proposed.status, proposed.headers.get("location")]).toEqual([303, "/settings/sla#preview"]);
    expect(text(await (await admin.get("/settings/sla")).text())).toContain("Counting the deadlines this change moves");
    // The page polls the preview alone.
    const fragment = await admin.get("/settings/sla/preview", { htmx: true });
    expect(await fragment.text()).toContain('hx-trigger="every 2s"');
    await runJobs(app);
    // axios (critical, 5 days ago) 3 → 6 days: due tomorrow, no longer overdue; lodash (high) 14 → 21; qs and info unchanged.
    const page = text(await (await admin.get("/settings/sla")).text());
    expect(page).toContain(
      "2 deadlines of 4 findings would change: 0 earlier, 2 later, 0 gain one, 0 lose theirs. Open findings overdue at once: 0; no longer overdue: 1.",
    );
    expect(page).toMatch(/CVE-2021-3749 \d{4}-\d{2}-\d{2} \d{4}-\d{2}-\d{2}/);
    // Nothing moved yet.
    expect(days(await due("CVE-2021-23337"), "CVE-2021-23337")).toBe(14);

    const proposal = (await loadProposal())!;
    expect((await admin.post("/settings/sla/apply", { proposal: "2020-01-01T00:00:00.000Z" })).status).toBe(409);
    expect(days(await due("CVE-2021-23337"), "CVE-2021-23337")).toBe(14);
    const applied = await admin.post("/settings/sla/apply", { proposal: proposal.at });
    expect([applied.status, applied.headers.get("location")]).toEqual([303, "/settings/sla?saved=1"]);
    await runJobs(app);
    expect(days(await due("CVE-2021-23337"), "CVE-2021-23337")).toBe(21);
    expect(days(await due("CVE-2021-3749"), "CVE-2021-3749")).toBe(6);
    expect(await due("CVE-2020-8203")).toBeNull();
    expect(text(await (await admin.get("/settings/sla")).text())).toContain("High 21 days");
    // The same policy again is nothing to apply.
    const same = await admin.post("/settings/sla", { basis: "severity", critical: "6", high: "21", medium: "30", low: "90", info: "" });
    expect(same.headers.get("location")).toBe("/settings/sla?unchanged=1");
    // New findings get the policy at once.
    wiz.sim.findings.push(
      wizFinding(5, repoAsset("acme/api"), {
        name: "CVE-2022-0155",
        detailedName: "follow-redirects",
        version: "1.14.1",
        severity: "HIGH",
        hasCisaKevExploit: false,
        firstDetectedAt: new Date(app.clock.time - DAY).toISOString(),
      }),
    );
    await admin.post("/integrations/wiz/1/sync", {});
    await runJobs(app, 5_000);
    expect(days(await due("CVE-2022-0155"), "CVE-2022-0155")).toBe(21);
  });

  it("counts by risk band, and gives a finding in KEV CISA's window from when Patchbay first saw it there", async () => {
    await importAll();
    await applyPolicy(BY_RISK);
    // axios: 0.98 × 1 (EPSS percentile 100) = 98, critical → 7 days; lodash 0.72 × 0.65 = 47, medium → 90; qs 0.31 × 0.37 = 11, low → 180.
    expect(days(await due("CVE-2021-3749"), "CVE-2021-3749")).toBe(7);
    expect(days(await due("CVE-2021-23337"), "CVE-2021-23337")).toBe(90);
    expect(days(await due("CVE-2022-24999"), "CVE-2022-24999")).toBe(180);

    // lodash enters KEV today; CISA added it long ago with a 21-day window: due 21 days from today, not overdue at once.
    feeds.kev.length = 0;
    feeds.kev.push(kevEntry("CVE-2021-23337", "2022-01-10"));
    await admin.post("/settings/exploitation/kev/refresh", {});
    await runJobs(app);
    const today = app.clock.time;
    const lodash = await due("CVE-2021-23337");
    expect(Math.round((Date.parse(lodash!) - today) / DAY)).toBe(21);
    // Risk: in KEV, at least 90; its deadline is KEV's, not the critical band's 7 days from a detection 10 days ago.
    expect((await db().selectFrom("findings").select("risk").where("cve", "=", "CVE-2021-23337").executeTakeFirstOrThrow()).risk).toBe(90);

    // At most 10 days in KEV: the sooner wins.
    await applyPolicy({ ...BY_RISK, kev_days: "10" });
    expect(Math.round((Date.parse((await due("CVE-2021-23337"))!) - today) / DAY)).toBe(10);
    // A KEV deadline never comes later than the one without KEV: axios' 7-day band stays (its CVE is not in KEV anyway).
    expect(days(await due("CVE-2021-3749"), "CVE-2021-3749")).toBe(7);
    const page = text(await (await admin.get("/settings/sla")).text());
    expect(page).toContain("Counted by risk band");
    expect(page).toContain("In KEV CISA's window, at most 10 days");
  });

  it("sends a daily reminder of the deadlines within three days to the notifiers that take it", async () => {
    const { SlackSim } = await import("../sim/slack.js");
    const { startSim } = await import("../sim/serve.js");
    const { enqueue } = await import("../../src/jobs/queue.js");
    const { SLA_REMINDER_JOB } = await import("../../src/findings/sla.js");
    const slack = new SlackSim();
    slack.webhooks.set("T0001/B0001/slareminders", { channel: "C0SECURITY" });
    const slackServer = await startSim(slack.app());
    await app.close();
    app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://hooks.slack.com=${slackServer.url}` } });
    try {
      admin = await setUpAdmin(app);
      await seedRepositories(app, ["acme/api"]);
      await importAll();
      const hook = await admin.post("/integrations/slack", {
        webhookUrl: "https://hooks.slack.com/services/T0001/B0001/slareminders",
        notifySlaApproaching: "on",
      });
      expect(hook.status, text(await hook.clone().text())).toBe(303);
      await runJobs(app);
      slack.messages.length = 0;
      await enqueue(db(), SLA_REMINDER_JOB, null, app.clock.now());
      await runJobs(app, 61_000);
      // lodash (high, 14 days from 10 days ago) is due in 4 days: not yet; axios (critical) is overdue.
      expect(slack.messages).toHaveLength(0);
      app.clock.advance(2 * DAY);
      await enqueue(db(), SLA_REMINDER_JOB, null, app.clock.now());
      await runJobs(app, 61_000);
      expect(slack.messages).toHaveLength(1);
      const message = slack.messages[0]!;
      expect(message.text).toContain("1 finding reaches its SLA deadline within 3 days");
      expect(JSON.stringify(message.blocks)).toContain("Overdue");
      expect(JSON.stringify(message.blocks)).toContain("/vulnerabilities?due=soon");
    } finally {
      await slackServer.close();
    }
  });

  it("draws the open findings by severity over 90 days, and the time to remediate against the SLA", async () => {
    await importAll();
    const computing = text(await (await admin.get("/trends")).text());
    expect(computing).toContain("Computing the last 90 days");
    await runJobs(app);
    // lodash is fixed: the next scan no longer reports it (10 days after its detection, within its 14).
    wiz.sim.findings.splice(
      wiz.sim.findings.findIndex((f) => f.name === "CVE-2021-23337"),
      1,
    );
    await admin.post("/integrations/wiz/1/sync", {});
    await runJobs(app, 5_000);
    const html = await (await admin.get("/trends")).text();
    expect(html).toContain('<svg viewBox="0 0 720 274"');
    expect(html).toMatch(/<title id="trend-title">Open findings by severity, \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}<\/title>/);
    const page = text(html);
    // Today: axios (critical) and qs (low) open; ten days ago only lodash's detection had passed… and 400 days ago info's.
    expect(page).toMatch(/On \d{4}-\d{2}-\d{2}: 1 critical, 0 high, 0 medium, 1 low, 1 info\./);
    expect(page).toContain("high 1 10.0 days 100% (1 of 1)");
    const table = [...html.matchAll(/<tr><th scope="row">(\d{4}-\d{2}-\d{2})<\/th><td>(\d+)<\/td><td>(\d+)<\/td>/g)].map((m) => [
      m[1],
      Number(m[2]),
      Number(m[3]),
    ]);
    expect(table).toHaveLength(90);
    const sevenDaysAgo = new Date(app.clock.time - 7 * DAY).toISOString().slice(0, 10);
    // A week ago lodash (high, detected 10 days ago) was open; axios (detected 5 days ago) was not yet found.
    expect(table.find((r) => r[0] === sevenDaysAgo)!.slice(1)).toEqual([0, 1]);
  });

  it("is for administrators only", async () => {
    await admin.post("/settings/users", { username: "dev", role: "member", password: "member password 1", confirm: "member password 1" });
    const member = await signIn(app, "dev", "member password 1");
    expect((await member.get("/settings/sla")).status).toBe(403);
    expect((await member.post("/settings/sla", { critical: "1" })).status).toBe(403);
  });
});
