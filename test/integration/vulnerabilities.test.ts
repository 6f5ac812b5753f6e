// The Vulnerabilities section over findings imported from the Wiz simulator.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { enqueueJob } from "../../src/jobs/queue.js";
import { findingDetail } from "../../src/findings/store.js";
import { insertIntegration } from "../../src/integrations/store.js";
import { assignmentCovers, assignmentScope } from "../../src/tickets/subjects.js";
import type { Severity } from "../../src/db/schema.js";
import { type Browser, type TestApp, seedRepositories, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 130, noise: 2 }));
});
afterAll(() => wiz.close());
beforeEach(async () => {
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;

async function importTenant(): Promise<void> {
  await seedRepositories(app, DEFAULT_REPOSITORIES);
  const res = await admin.post("/integrations/wiz", {
    apiEndpoint: WIZ_ENDPOINT,
    clientId: WIZ_CLIENT.id,
    clientSecret: WIZ_CLIENT.secret,
    scanSca: "on",
    scanContainerImages: "on",
  });
  expect(res.status).toBe(303);
  app.clock.advance(5_000);
  while (await app.runtime.worker.runOnce());
}

function cves(html: string): string[] {
  return [...html.matchAll(/<a href="\/vulnerabilities\/\d+">(CVE-[\d-]+)<\/a>/g)].map((m) => m[1]!);
}

function link(html: string, label: string): string {
  const match = new RegExp(`<a href="(/vulnerabilities[^"]*)"[^>]*>${label}</a>`).exec(html);
  return match![1]!.replace(/&amp;/g, "&");
}

describe("Vulnerabilities", () => {
  it("points to the Integration Hub while there are no findings", async () => {
    const html = await (await admin.get("/vulnerabilities")).text();
    expect(text(html)).toContain("No vulnerabilities yet.");
    expect(html).toContain('<a href="/integrations">Integration Hub</a>');
  });

  it("lists findings with counts by severity that match the store", async () => {
    await importTenant();
    const html = await (await admin.get("/vulnerabilities")).text();
    const rows = await db().selectFrom("findings").select(["severity"]).execute();
    for (const severity of ["critical", "high", "medium", "low", "info"]) {
      const n = rows.filter((r) => r.severity === severity).length;
      expect(text(html)).toContain(`${n} ${severity}`);
    }
    expect(cves(html)).toHaveLength(50);
    expect(text(html)).toContain("Integrator Tickets");
    expect(html).toMatch(/<th scope="col" aria-sort="descending"><a [^>]*>Severity ▼<\/a><\/th>/);
  });

  it("keeps the counts by status and severity in step with findings through imports, status changes and removal", async () => {
    const counted = async () =>
      (
        await db().selectFrom("finding_counts").select(["status", "severity_rank", "n"]).where("n", ">", 0).orderBy("status").orderBy("severity_rank").execute()
      ).map((r) => `${r.status}/${r.severity_rank}=${r.n}`);
    const actual = async () =>
      (
        await db()
          .selectFrom("findings")
          .select(["status", "severity_rank", (eb) => eb.fn.countAll<number>().as("n")])
          .groupBy(["status", "severity_rank"])
          .orderBy("status")
          .orderBy("severity_rank")
          .execute()
      ).map((r) => `${r.status}/${r.severity_rank}=${r.n}`);
    await importTenant();
    expect(await counted()).toEqual(await actual());
    const [a, b] = await db().selectFrom("findings").select("id").orderBy("id").limit(2).execute();
    expect((await admin.post(`/vulnerabilities/${a!.id}/status`, { status: "false_positive", reason: "Not reachable" })).status).toBe(303);
    expect(
      (
        await admin.post(`/vulnerabilities/${b!.id}/status`, {
          status: "risk_accepted",
          reason: "Retiring",
          expires: new Date(app.clock.time + 30 * 86_400_000).toISOString().slice(0, 10),
        })
      ).status,
    ).toBe(303);
    expect(await counted()).toEqual(await actual());
    const integration = await db().selectFrom("integrations").select("id").executeTakeFirstOrThrow();
    expect((await admin.post(`/integrations/wiz/${integration.id}/disconnect`, {})).status).toBe(303);
    await runJobs(app);
    expect(await counted()).toEqual(await actual());
  });

  it("filters by severity, scanner, CVE and package, combined, and keeps them in the URL", async () => {
    await importTenant();
    const critical = await (await admin.get("/vulnerabilities?severity=critical")).text();
    const ids = cves(critical);
    expect(ids.length).toBeGreaterThan(0);
    const stored = await db().selectFrom("findings").select("cve").where("severity", "=", "critical").execute();
    expect(ids.sort()).toEqual(
      stored
        .map((r) => r.cve)
        .sort()
        .slice(0, 50),
    );
    expect(critical).toMatch(/name="severity" value="critical" checked/);

    const lodash = cves(await (await admin.get("/vulnerabilities?q=LOD")).text());
    const lodashStored = await db().selectFrom("findings").select("cve").where("package", "=", "lodash").execute();
    expect(lodash.sort()).toEqual(lodashStored.map((r) => r.cve).sort());

    const one = await db().selectFrom("findings").select(["cve", "severity"]).orderBy("id").executeTakeFirstOrThrow();
    expect(cves(await (await admin.get(`/vulnerabilities?q=${one.cve.toLowerCase()}`)).text())).toEqual([one.cve]);
    expect(cves(await (await admin.get(`/vulnerabilities?q=${one.cve}&severity=${one.severity === "low" ? "high" : "low"}`)).text())).toEqual([]);

    const wizId = (await db().selectFrom("integrations").select("id").where("kind", "=", "wiz").executeTakeFirstOrThrow()).id;
    expect(cves(await (await admin.get(`/vulnerabilities?scanner=${wizId}&q=lodash`)).text())).toHaveLength(lodash.length);
    expect(cves(await (await admin.get(`/vulnerabilities?scanner=9999`)).text())).toEqual([]);
  });

  it("filters by asset and by status", async () => {
    await importTenant();
    const image = await db().selectFrom("assets").selectAll().where("kind", "=", "container_image").executeTakeFirstOrThrow();
    const onImage = await db().selectFrom("findings").select("cve").where("asset_id", "=", image.id).execute();
    const html = await (await admin.get(`/vulnerabilities?asset=${image.id}`)).text();
    expect(cves(html).sort()).toEqual(onImage.map((r) => r.cve).sort());
    expect(text(html)).toContain(`Showing one asset: ${image.name}`);

    const target = await db().selectFrom("findings").select(["id", "cve"]).orderBy("id").executeTakeFirstOrThrow();
    await admin.post(`/vulnerabilities/${target.id}/status`, { status: "false_positive", reason: "Test fixture" });
    expect(cves(await (await admin.get(`/vulnerabilities?q=${target.cve}`)).text())).toEqual([]);
    expect(cves(await (await admin.get(`/vulnerabilities?q=${target.cve}&status=false_positive`)).text())).toEqual([target.cve]);
    expect(cves(await (await admin.get(`/vulnerabilities?q=${target.cve}&status=all`)).text())).toEqual([target.cve]);
  });

  it("sorts and pages with keyset cursors, forwards and back, without overlap", async () => {
    await importTenant();
    const all = (await db().selectFrom("findings").select("cve").orderBy("cve").orderBy("id").execute()).map((r) => r.cve);
    const first = await (await admin.get("/vulnerabilities?sort=cve")).text();
    expect(cves(first)).toEqual(all.slice(0, 50));
    const second = await (await admin.get(link(first, "Next →"))).text();
    expect(cves(second)).toEqual(all.slice(50, 100));
    const third = await (await admin.get(link(second, "Next →"))).text();
    expect(cves(third)).toEqual(all.slice(100));
    expect(third).not.toContain("Next →");
    const back = await (await admin.get(link(third, "← Previous"))).text();
    expect(cves(back)).toEqual(all.slice(50, 100));
    const desc = await (await admin.get("/vulnerabilities?sort=cve&dir=desc")).text();
    expect(cves(desc)).toEqual([...all].reverse().slice(0, 50));
  });

  it("answers an htmx filter request with only the results", async () => {
    await importTenant();
    const html = await (await admin.get("/vulnerabilities?severity=high", { htmx: true, target: "findings-results" })).text();
    expect(html).not.toContain("<!doctype html>");
    expect(html).toContain('aria-label="Findings by severity"');
  });
});

describe("finding detail", () => {
  it("shows every field, each source with its raw record, and the history", async () => {
    await importTenant();
    const finding = await db().selectFrom("findings").selectAll().orderBy("id").executeTakeFirstOrThrow();
    const html = await (await admin.get(`/vulnerabilities/${finding.id}`)).text();
    const page = text(html);
    for (const value of [
      finding.cve,
      finding.package,
      finding.installed_version,
      finding.fixed_version!,
      finding.fingerprint,
      "Wiz us1 — reports it open",
      "scanner: Wiz us1: Open — Imported",
    ]) {
      expect(page).toContain(value);
    }
    expect(html).toContain(`https://nvd.nist.gov/vuln/detail/${finding.cve}`);
    expect(page).toContain(`&quot;id&quot;`.replace(/&quot;/g, '"'));
    expect(page).toContain('"detailedName": "lodash"');
  });

  it("reads the asset, every source and the history exactly as stored, awkward values included", async () => {
    await importTenant();
    const finding = await db().selectFrom("findings").selectAll().orderBy("id").executeTakeFirstOrThrow();
    // Values that a JSON round trip could change: quotes, backslashes, emoji, a JSON-looking text, nulls, fractions.
    const awkward = `"quoted" \\ back\\slash — 🐛 {"not": "json"} </script>`;
    await db().updateTable("assets").set({ details: '{"tags":["a\\"b"]}', gone_at: null }).where("id", "=", finding.asset_id).execute();
    await db().updateTable("finding_sources").set({ url: null, raw: awkward }).where("finding_id", "=", finding.id).execute();
    await db()
      .insertInto("finding_events")
      .values([
        { finding_id: finding.id, at: "2026-01-02T03:04:05.678Z", actor: awkward, from_status: null, to_status: "open", note: null },
        { finding_id: finding.id, at: "2026-01-03T00:00:00.000Z", actor: "admin", from_status: "open", to_status: "in_remediation", note: awkward },
      ])
      .execute();
    await db().updateTable("findings").set({ cvss: 7.25 }).where("id", "=", finding.id).execute();
    const detail = (await findingDetail(db(), finding.id))!;
    expect(detail.finding).toEqual({ ...finding, cvss: 7.25, updated_at: detail.finding.updated_at });
    expect(detail.asset).toEqual(await db().selectFrom("assets").selectAll().where("id", "=", finding.asset_id).executeTakeFirstOrThrow());
    const sources = await db().selectFrom("finding_sources").selectAll().where("finding_id", "=", finding.id).orderBy("id").execute();
    expect(detail.sources).toEqual(sources.map((s) => ({ ...s, integration_name: "Wiz us1", integration_kind: "wiz" })));
    const events = await db().selectFrom("finding_events").selectAll().where("finding_id", "=", finding.id).orderBy("id", "desc").execute();
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(detail.events).toEqual(events);
    expect(await findingDetail(db(), 987_654)).toBeUndefined();
    const html = await (await admin.get(`/vulnerabilities/${finding.id}`)).text();
    expect(text(html)).toContain(awkward);
  });

  it("offers Push to Integrators once an assignment exists, and names the mappings that take a finding in, by repository and severity", async () => {
    await importTenant();
    const now = app.clock.now();
    const at = now.toISOString();
    const jira = await insertIntegration(db(), { kind: "jira", name: "Jira", settings: {}, sealedSecrets: null }, now);
    // In one repository, at most medium; another repository's critical one.
    const inRepo = await db()
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select(["findings.id", "assets.repository_id"])
      .where("assets.repository_id", "is not", null)
      .where("findings.severity", "in", ["medium", "low"])
      .orderBy("findings.id")
      .executeTakeFirstOrThrow();
    const elsewhere = await db()
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select("findings.id")
      .where("assets.repository_id", "!=", inRepo.repository_id!)
      .where("findings.severity", "=", "critical")
      .orderBy("findings.id")
      .executeTakeFirstOrThrow();
    const assign = async (name: string, repositoryIds: number[] | null, minSeverity: Severity) => {
      const mapping = await db()
        .insertInto("tracker_mappings")
        .values({ integration_id: jira.id, name, target: "{}", fields: "{}", status_map: "{}", created_at: at, updated_at: at })
        .returning("id")
        .executeTakeFirstOrThrow();
      await db()
        .insertInto("tracker_assignments")
        .values({
          mapping_id: mapping.id,
          repository_ids: repositoryIds && JSON.stringify(repositoryIds),
          min_severity: minSeverity,
          group_by: "finding",
          push_mode: "explicit",
          linked_through: 0,
          created_at: at,
          updated_at: at,
        })
        .execute();
    };
    const pushButton = async () => (await (await admin.get("/vulnerabilities")).text()).includes("Push to Integrators");
    expect(await pushButton()).toBe(false);
    await assign("Criticals everywhere", null, "critical");
    expect(await pushButton()).toBe(true);
    await assign("That repository", [inRepo.repository_id!], "low");
    await assign("Nowhere", [], "info");
    const covering = async (id: number) => /To ([^.]*)\./.exec(text(await (await admin.get(`/vulnerabilities/${id}`)).text()))?.[1];
    expect(await covering(inRepo.id)).toBe("That repository");
    expect(await covering(elsewhere.id)).toBe("Criticals everywhere");

    // The page checks each assignment on the finding it read; bulk pushes select by the same rule in SQL
    // (the remediation policy's push decisions too: one finding goes nowhere, one only to mapping 1).
    const [first, second] = await db().selectFrom("findings").select("id").orderBy("id").limit(2).execute();
    await db().updateTable("findings").set({ policy_push: "none" }).where("id", "=", first!.id).execute();
    await db().updateTable("findings").set({ policy_push: "mapping:1" }).where("id", "=", second!.id).execute();
    const findings = await db()
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .selectAll("findings")
      .select("assets.repository_id")
      .orderBy("findings.id")
      .execute();
    const repositories = [...new Set(findings.map((f) => f.repository_id).filter((r) => r !== null))];
    const rules = [
      { repository_ids: null, min_severity: "critical" as const, mapping_id: 1 },
      { repository_ids: JSON.stringify(repositories.slice(0, 2)), min_severity: "medium" as const, mapping_id: 2 },
      { repository_ids: "[]", min_severity: "info" as const, mapping_id: 1 },
      { repository_ids: null, min_severity: "info" as const, mapping_id: 1 },
      { repository_ids: null, min_severity: "info" as const, mapping_id: 2 },
    ];
    for (const rule of rules) {
      const selected = await db().selectFrom("findings").select("findings.id").where(assignmentScope(rule)).orderBy("findings.id").execute();
      const checked = findings.filter((f) => assignmentCovers(rule, f, f.repository_id)).map((f) => f.id);
      expect(checked, JSON.stringify(rule)).toEqual(selected.map((r) => r.id));
      expect(checked.length, JSON.stringify(rule)).toBeLessThan(rule.repository_ids === "[]" ? 1 : findings.length + 1);
    }
  });

  it("validates a status change beside its fields and changes nothing on error", async () => {
    await importTenant();
    const finding = await db().selectFrom("findings").selectAll().orderBy("id").executeTakeFirstOrThrow();
    const res = await admin.post(`/vulnerabilities/${finding.id}/status`, { status: "risk_accepted", reason: "", expires: "2001-01-01" });
    expect(res.status).toBe(422);
    const page = text(await res.text());
    expect(page).toContain("Say why the risk is accepted.");
    expect(page).toContain("The end date must be in the future.");
    const far = await admin.post(`/vulnerabilities/${finding.id}/status`, { status: "risk_accepted", reason: "x", expires: "2099-01-01" });
    expect(text(await far.text())).toContain("Accept a risk for at most a year");
    expect((await db().selectFrom("findings").select("status").where("id", "=", finding.id).executeTakeFirstOrThrow()).status).toBe("open");
  });

  it("reopens a risk acceptance when it expires", async () => {
    await importTenant();
    const finding = await db().selectFrom("findings").selectAll().orderBy("id").executeTakeFirstOrThrow();
    const until = new Date(app.clock.time + 2 * 24 * 3600_000).toISOString().slice(0, 10);
    await admin.post(`/vulnerabilities/${finding.id}/status`, { status: "risk_accepted", reason: "Compensating control in place", expires: until });
    app.clock.advance(3 * 24 * 3600_000);
    await enqueueJob(db(), "maintenance.prune", {}, app.clock.now());
    await runJobs(app);
    const page = text(await (await admin.get(`/vulnerabilities/${finding.id}`)).text());
    expect(page).toContain("Patchbay: Risk accepted → Open — Risk acceptance expired");
    expect(page).toContain("admin: Open → Risk accepted — Compensating control in place");
  });
});
