// Remediation policy as code: rules written as YAML are dry-run over every finding before they
// can be saved (nothing applied), then decide each finding with the rule's name on its history;
// a decision is undone when its rule stops matching; a status a person set is never overridden
// or undone; a severity override survives the next scan and is restored when the rule goes; "do
// not push" keeps findings out of every assignment; the configuration document carries the rules.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, signIn, testApp, text } from "../helpers.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { policyProposals } from "../../src/policy/dry-run.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());
beforeEach(async () => {
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/api"]);
  wiz.sim.findings.length = 0;
  const common = { hasCisaKevExploit: false, epssPercentile: 10 };
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/api"), { ...common, name: "CVE-2021-3749", detailedName: "axios", version: "0.21.1", severity: "CRITICAL", score: 9.8 }),
    wizFinding(2, repoAsset("acme/api"), { ...common, name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.20", severity: "HIGH", score: 7.2 }),
    wizFinding(3, repoAsset("acme/api"), { ...common, name: "CVE-2022-24999", detailedName: "qs", version: "6.5.2", severity: "LOW", score: 3.1 }),
    wizFinding(4, repoAsset("acme/api"), {
      ...common,
      name: "CVE-2020-8203",
      detailedName: "lodash.merge",
      version: "4.6.1",
      severity: "INFORMATIONAL",
      score: 0,
    }),
  );
  await admin.post("/integrations/wiz", WIZ_FORM);
  await runJobs(app, 5_000);
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;
const finding = (cve: string) => db().selectFrom("findings").selectAll().where("cve", "=", cve).executeTakeFirstOrThrow();
const history = async (cve: string) => text(await (await admin.get(`/vulnerabilities/${(await finding(cve)).id}`)).text());

const RULES = `- name: Lows are accepted
  when:
    severity: [low, info]
  action: accept_risk
  reason: Low impact in this service.
  days: 30
- name: lodash stays out of trackers
  when:
    package: "lodash*"
  action: no_push
`;

/** Dry-runs rules, checks nothing changed, and saves them; gives the dry run's page text. */
async function saveRules(rules: string): Promise<string> {
  const proposed = await admin.post("/settings/policy/dry-run", { rules });
  expect(proposed.status, text(await proposed.clone().text())).toBe(303);
  await runJobs(app);
  const page = text(await (await admin.get("/settings/policy")).text());
  const proposal = (await policyProposals.load(db()))!;
  expect((await admin.post("/settings/policy/save", { proposal: proposal.at })).status).toBe(303);
  await runJobs(app);
  return page;
}

describe("remediation policy", () => {
  it("dry-runs rules before they are saved, then decides each finding and records the rule", async () => {
    const proposed = await admin.post("/settings/policy/dry-run", { rules: RULES });
    expect(proposed.headers.get("location")).toBe("/settings/policy#dry-run");
    expect(text(await (await admin.get("/settings/policy")).text())).toContain("Evaluating the proposed rules over every finding… Nothing is applied.");
    await runJobs(app);
    const page = text(await (await admin.get("/settings/policy")).text());
    // qs (low) and lodash.merge (info) are accepted; lodash matches the second rule (lodash.merge the first, which comes first).
    expect(page).toContain("Over 4 findings, nothing applied:");
    expect(page).toContain("Lows are accepted 2 2 0");
    expect(page).toContain("lodash stays out of trackers 1 1 0");
    expect((await finding("CVE-2022-24999")).status).toBe("open");

    const proposal = (await policyProposals.load(db()))!;
    expect((await admin.post("/settings/policy/save", { proposal: "2020-01-01T00:00:00.000Z" })).status).toBe(409);
    expect((await admin.post("/settings/policy/save", { proposal: proposal.at })).status).toBe(303);
    await runJobs(app);
    const qs = await finding("CVE-2022-24999");
    expect([qs.status, qs.status_reason, qs.policy_rule]).toEqual([
      "risk_accepted",
      'Policy rule "Lows are accepted": Low impact in this service.',
      "Lows are accepted",
    ]);
    expect(Date.parse(qs.status_expires_at!) - app.clock.time).toBeGreaterThan(29 * 86_400_000);
    expect(await history("CVE-2022-24999")).toContain(
      'policy: Lows are accepted: Open → Risk accepted — Policy rule "Lows are accepted": risk accepted for 30 days: Low impact in this service.',
    );
    expect((await finding("CVE-2020-8203")).status).toBe("risk_accepted");
    const lodash = await finding("CVE-2021-23337");
    expect([lodash.status, lodash.policy_push]).toEqual(["open", "none"]);
    expect(await history("CVE-2021-23337")).toContain('Policy rule "lodash stays out of trackers": not pushed to trackers');
    expect((await finding("CVE-2021-3749")).policy_rule).toBeNull();
    expect(text(await (await admin.get("/settings/policy")).text())).toContain("Rules in force (2)");
  });

  it("undoes a decision when its rule stops matching, and never overrides or undoes a person's status", async () => {
    await saveRules(RULES);
    // A person reopens qs: the rule leaves it open from now on.
    const qs = await finding("CVE-2022-24999");
    expect((await admin.post(`/vulnerabilities/${qs.id}/status`, { status: "open", reason: "We fix lows in this service" })).status).toBe(303);
    await saveRules(RULES.replace("days: 30", "days: 31"));
    expect((await finding("CVE-2022-24999")).status).toBe("open");

    // The acceptance rule goes: lodash.merge opens again (and now falls to the lodash rule); qs stays as the person left it.
    const page = await saveRules(RULES.slice(RULES.indexOf("- name: lodash")));
    expect(page).toContain("Lows are accepted 0 0 2");
    expect(page).toContain("lodash stays out of trackers 2 1 0");
    const merge = await finding("CVE-2020-8203");
    expect([merge.status, merge.policy_rule, merge.policy_push]).toEqual(["open", "lodash stays out of trackers", "none"]);
    expect(await history("CVE-2020-8203")).toContain('Policy rule "Lows are accepted" no longer applies: back to open');
    expect((await finding("CVE-2022-24999")).status).toBe("open");
    expect((await finding("CVE-2021-23337")).policy_push).toBe("none");
  });

  it("overrides a severity until the rule goes, whatever the next scan says", async () => {
    await saveRules(`- name: axios is internal here
  when:
    package: axios
    repository: "acme/*"
  action: severity
  severity: medium
`);
    const axios = await finding("CVE-2021-3749");
    expect(axios.severity).toBe("medium");
    expect(await history("CVE-2021-3749")).toContain('Policy rule "axios is internal here": severity set to medium (the scanner says critical)');
    // The scanner still says critical: the override stands.
    await admin.post("/integrations/wiz/1/sync", {});
    await runJobs(app, 5_000);
    expect((await finding("CVE-2021-3749")).severity).toBe("medium");
    await saveRules("");
    expect((await finding("CVE-2021-3749")).severity).toBe("critical");
    expect(await history("CVE-2021-3749")).toContain('Policy rule "axios is internal here" no longer applies: severity back to critical');
  });

  it("refuses rules it cannot read, with where and why, and changes nothing", async () => {
    const cases: [string, RegExp][] = [
      ["- name: x\n  action: [unclosed", /Line \d+/],
      ["- name: No days\n  action: accept_risk\n  reason: r", /Rule 1: \(No days\) accept_risk needs days/],
      ["- name: Where\n  action: push_to\n  mapping: Nowhere", /Where: there is no tracker mapping named "Nowhere"/],
      ["- name: Odd\n  when:\n    colour: red\n  action: no_push", /when: has "colour"/],
      ["- name: A\n  action: no_push\n- name: a\n  action: no_push", /"a" is the name of an earlier rule/],
    ];
    for (const [rules, error] of cases) {
      const res = await admin.post("/settings/policy/dry-run", { rules });
      expect(res.status).toBe(422);
      expect(text(await res.text())).toMatch(error);
    }
    expect(await policyProposals.load(db())).toBeUndefined();
    await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" });
    const member = await signIn(app, "mia", "member password 1");
    expect((await member.get("/settings/policy")).status).toBe(403);
    expect((await member.post("/settings/policy/dry-run", { rules: RULES })).status).toBe(403);
  });

  it("travels in the configuration document, dry-run in the import's plan", async () => {
    await saveRules(RULES);
    const yaml = await (await admin.get("/settings/configuration/export.yaml")).text();
    expect(yaml).toContain("- name: Lows are accepted");
    // A longer acceptance is a new decision (undone and made again); the lodash rule goes.
    const changed = yaml.replace("days: 30", "days: 45").replace(/- name: lodash stays out of trackers[\s\S]*?action: no_push\n/, "");
    const plan = text(await (await admin.post("/settings/configuration/preview", { document: changed })).text());
    expect(plan).toMatch(
      /Remediation policy \(dry run over 4 findings\) Lows are accepted: matches 2, decides 2, undoes 2 lodash stays out of trackers: matches 0, decides 0, undoes 1/,
    );
  });
});
