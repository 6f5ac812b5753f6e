// Jira Data Center / Server: a personal access token (Bearer) on REST v2 under a context path,
// the same mappings as Cloud (fields from the create metadata, severity as priority, status
// map), wiki markup descriptions and comments, people by username, startAt searches; and an
// old Jira (8.3) with only the older create metadata and a user name and password.
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { JiraDataCenterSim } from "../sim/jira-dc.js";
import { securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const BASE_URL = "https://jira.example.com/jira";
const PAT = "NjE5OTU0MzQ0MjA2OpatchbayPAT";

let wiz: WizFixture;
let server: RunningSim | undefined;
let app: TestApp | undefined;

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    wizFinding(1, repoAsset("acme/api"), { name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.20", fixedVersion: "4.17.21", severity: "HIGH" }),
  );
});
afterAll(() => wiz.close());
afterEach(async () => {
  await app?.close();
  await server?.close();
});

async function start(sim: JiraDataCenterSim): Promise<Browser> {
  sim.addProject("SEC", "Security");
  server = await startSim(sim.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://jira.example.com=${server.url},${wiz.originMap}` } });
  const admin = await setUpAdmin(app);
  await app.runtime.database.db
    .insertInto("repositories")
    .values({
      provider: "github",
      full_name: "acme/api",
      url: "https://github.com/acme/api",
      url_key: "github.com/acme/api",
      integration_id: null,
      external_id: null,
      default_branch: "main",
      visibility: "private",
      last_seen_at: null,
      created_at: "2026-11-01T00:00:00Z",
      updated_at: "2026-11-01T00:00:00Z",
    })
    .execute();
  expect(
    (await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" })).status,
  ).toBe(303);
  await runJobs(app, 5_000);
  return admin;
}

async function mapAndPush(admin: Browser, extra: Record<string, string> = {}): Promise<void> {
  const integration = await app!.runtime.database.db.selectFrom("integrations").select("id").where("kind", "=", "jira-data-center").executeTakeFirstOrThrow();
  const form = await admin.get(`/trackers/${integration.id}/mappings/new?project=10000&ticketType=1`);
  expect(form.status).toBe(200);
  expect(text(await form.text())).toContain("Priority");
  const mapping = await admin.post(`/trackers/${integration.id}/mappings`, securityBugMapping({ ticketType: "1", ...extra }));
  expect(mapping.status, text(await mapping.clone().text())).toBe(303);
  const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]);
  await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "update_existing" });
  const finding = await app!.runtime.database.db.selectFrom("findings").select("id").executeTakeFirstOrThrow();
  await admin.post(`/vulnerabilities/${finding.id}/push`, {});
  await runJobs(app!);
}

describe("Jira Data Center", () => {
  it("connects with a personal access token under a context path, and refuses a wrong token or address with what to do", async () => {
    const sim = new JiraDataCenterSim();
    sim.tokens.set(PAT, { name: "svc-patchbay" });
    const admin = await start(sim);
    const wrong = await admin.post("/integrations/jira-data-center/test", { baseUrl: BASE_URL, token: "not-the-token" }, { htmx: true });
    expect(text(await wrong.text())).toContain("Jira rejected the personal access token");
    const noContext = await admin.post("/integrations/jira-data-center/test", { baseUrl: "https://jira.example.com", token: PAT }, { htmx: true });
    expect(text(await noContext.text())).toMatch(/Connection Failed/);
    const ok = await admin.post("/integrations/jira-data-center", { baseUrl: BASE_URL, token: PAT });
    expect(ok.status).toBe(303);
    const card = text(await (await admin.get(ok.headers.get("location")!)).text());
    expect(card).toContain("Jira jira.example.com");
  });

  it("creates and transitions issues over REST v2 with wiki markup, a priority per severity and the Patchbay labels", async () => {
    const sim = new JiraDataCenterSim();
    sim.tokens.set(PAT, { name: "svc-patchbay" });
    const admin = await start(sim);
    expect((await admin.post("/integrations/jira-data-center", { baseUrl: BASE_URL, token: PAT })).status).toBe(303);
    await admin.post("/settings/ownership", { useCodeowners: "1", useTopics: "1", rows: "0" });
    await mapAndPush(admin);
    expect(sim.issues).toHaveLength(1);
    const issue = sim.issues[0]!;
    expect(issue.key).toBe("SEC-1");
    expect(typeof issue.fields.description).toBe("string");
    expect(issue.fields.description).toContain("*Severity:* High");
    expect(issue.fields.description).toMatch(/\*Package:\* \{\{lodash[^}]*\}\}/);
    expect(issue.fields.description).toMatch(/\[View in Patchbay\|http[^\]]+\/vulnerabilities\/\d+\]/);
    expect(issue.fields.priority).toEqual({ id: "2" });
    expect(issue.fields.labels).toEqual(expect.arrayContaining(["patchbay", "security"]));
    const link = await app!.runtime.database.db.selectFrom("tickets").select(["external_key", "url"]).executeTakeFirstOrThrow();
    expect(link).toEqual({ external_key: "SEC-1", url: `${BASE_URL}/browse/SEC-1` });

    // The finding is resolved: the issue moves to Done by its workflow's transition.
    await app!.runtime.database.db.updateTable("findings").set({ status: "resolved", resolved_at: "2026-11-23T00:00:00Z" }).execute();
    const finding = await app!.runtime.database.db.selectFrom("findings").select("id").executeTakeFirstOrThrow();
    await admin.post(`/vulnerabilities/${finding.id}/push`, {});
    await runJobs(app!);
    expect(sim.issues[0]!.statusId).toBe("10002");
  });

  it("makes new issues together with Data Center's bulk create (REST v2)", async () => {
    const extra = [
      wizFinding(2, repoAsset("acme/api"), { name: "CVE-2021-3749", detailedName: "axios", version: "0.21.1", fixedVersion: "0.21.2", severity: "HIGH" }),
      wizFinding(3, repoAsset("acme/api"), { name: "CVE-2022-24999", detailedName: "qs", version: "6.5.2", fixedVersion: "6.5.3", severity: "HIGH" }),
    ];
    wiz.sim.findings.push(...extra);
    try {
      const sim = new JiraDataCenterSim();
      sim.tokens.set(PAT, { name: "svc-patchbay" });
      const admin = await start(sim);
      expect((await admin.post("/integrations/jira-data-center", { baseUrl: BASE_URL, token: PAT })).status).toBe(303);
      const integration = await app!.runtime.database.db
        .selectFrom("integrations")
        .select("id")
        .where("kind", "=", "jira-data-center")
        .executeTakeFirstOrThrow();
      const mapping = await admin.post(`/trackers/${integration.id}/mappings`, securityBugMapping({ ticketType: "1" }));
      const mappingId = Number(/\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]);
      await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
      await admin.post("/vulnerabilities/push", { query: "", confirm: "yes" });
      await runJobs(app!);
      expect(sim.faults.requests.filter((r) => r.method === "POST" && r.path.endsWith("/rest/api/2/issue/bulk"))).toHaveLength(1);
      expect(sim.faults.requests.filter((r) => r.method === "POST" && r.path.endsWith("/rest/api/2/issue"))).toHaveLength(0);
      expect(sim.issues).toHaveLength(3);
      const keys = await app!.runtime.database.db
        .selectFrom("tickets")
        .select("external_key")
        .where("linked_at", "is not", null)
        .orderBy("external_key")
        .execute();
      expect(keys.map((k) => k.external_key)).toEqual(["SEC-1", "SEC-2", "SEC-3"]);
    } finally {
      wiz.sim.findings.splice(wiz.sim.findings.length - extra.length, extra.length);
    }
  });

  it("uses the older create metadata and a password on Jira 8.3", async () => {
    const sim = new JiraDataCenterSim("8.3.0");
    sim.passwords.set("svc-patchbay", "s3cret-password");
    sim.tokens.set(PAT, { name: "svc-patchbay" });
    const admin = await start(sim);
    const tokenOnly = await admin.post("/integrations/jira-data-center/test", { baseUrl: BASE_URL, token: PAT }, { htmx: true });
    expect(text(await tokenOnly.text())).toContain("personal access tokens need Jira 8.14 or later");
    expect((await admin.post("/integrations/jira-data-center", { baseUrl: BASE_URL, token: "s3cret-password", username: "svc-patchbay" })).status).toBe(303);
    await mapAndPush(admin);
    expect(sim.issues.map((i) => i.key)).toEqual(["SEC-1"]);
    expect(sim.issues[0]!.fields.description).toContain("*Vulnerability:* {{CVE-2021-23337}}");
  });

  it("routes the assignee by username", async () => {
    const sim = new JiraDataCenterSim();
    sim.tokens.set(PAT, { name: "svc-patchbay" });
    const admin = await start(sim);
    expect((await admin.post("/integrations/jira-data-center", { baseUrl: BASE_URL, token: PAT })).status).toBe(303);
    const repo = await app!.runtime.database.db.selectFrom("repositories").select("id").executeTakeFirstOrThrow();
    await admin.post(`/repositories/${repo.id}/ownership`, { assignee: "ada.lovelace", component: "Payments", labels: "team-payments", channel: "" });
    await mapAndPush(admin, {
      "source.assignee": "patchbay",
      "value.assignee.patchbay": "assignee",
      "source.components": "patchbay",
      "value.components.patchbay": "component",
    });
    expect(sim.issues[0]!.fields.assignee).toEqual({ name: "ada.lovelace" });
    expect(sim.issues[0]!.fields.components).toEqual([{ id: "10100" }]);
    expect(sim.issues[0]!.fields.labels).toEqual(expect.arrayContaining(["team-payments"]));
  });
});
