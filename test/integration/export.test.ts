// Exporting the Vulnerabilities filter: every matching finding (all pages) as CSV or JSON,
// streamed; scanner text that a spreadsheet would run is written as text.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvField } from "../../src/findings/export.js";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp } from "../helpers.js";
import { DEFAULT_REPOSITORIES, repoAsset, wizFinding, wizTenant } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 120, repositories: DEFAULT_REPOSITORIES.slice(0, 1) }));
  // A scanner title a spreadsheet would run as a formula, with a quote and a comma.
  wiz.sim.findings.push(
    wizFinding(999, repoAsset(DEFAULT_REPOSITORIES[0]!), {
      name: "CVE-2024-9999",
      detailedName: "evil",
      version: "1.0.0",
      fixedVersion: "1.0.1",
      severity: "CRITICAL",
    }),
  );
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, DEFAULT_REPOSITORIES.slice(0, 1));
  await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await runJobs(app, 5_000);
  await app.runtime.database.db
    .updateTable("findings")
    .set({ title: '=HYPERLINK("http://x.example","click"), now' })
    .where("cve", "=", "CVE-2024-9999")
    .execute();
});
afterAll(async () => {
  await app?.close();
  await wiz?.close();
});

describe("findings export", () => {
  it("streams every finding of the filter, all pages, as CSV with formulas made inert", async () => {
    const total = (await app.runtime.database.db.selectFrom("findings").select("id").where("status", "in", ["open", "in_remediation"]).execute()).length;
    expect(total).toBeGreaterThan(50);
    const res = await admin.get("/vulnerabilities/export.csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="patchbay-findings-\d{4}-\d{2}-\d{2}\.csv"$/);
    const lines = (await res.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "id,cve,title,severity,cvss,status,package,ecosystem,installed_version,fixed_version,asset,asset_kind,sources,first_detected_at,last_seen_at,due_at,url",
    );
    expect(lines).toHaveLength(total + 1);
    const evil = lines.find((l) => l.includes("CVE-2024-9999"))!;
    expect(evil).toContain(`"'=HYPERLINK(""http://x.example"",""click""), now"`);
    expect(evil).toContain("http://localhost:8080/vulnerabilities/");
  });

  it("follows the filter, and writes JSON too", async () => {
    const critical = await app.runtime.database.db
      .selectFrom("findings")
      .select("id")
      .where("severity", "=", "critical")
      .where("status", "=", "open")
      .execute();
    const res = await admin.get("/vulnerabilities/export.json?severity=critical");
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const rows = (await res.json()) as { id: number; severity: string; sources: string }[];
    expect(rows.map((r) => r.id).sort((a, b) => a - b)).toEqual(critical.map((r) => r.id).sort((a, b) => a - b));
    expect(rows.every((r) => r.severity === "critical" && r.sources === "Wiz us1")).toBe(true);
    expect(await (await admin.get("/vulnerabilities/export.json?q=no-such-package-anywhere")).json()).toEqual([]);
    // The page offers both, for the filter on screen.
    expect(await (await admin.get("/vulnerabilities?severity=critical")).text()).toContain('href="/vulnerabilities/export.csv?severity=critical"');
  });

  it("writes CSV fields by RFC 4180", () => {
    expect(csvField(null)).toBe("");
    expect(csvField(7.5)).toBe("7.5");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("+1 line\nnext")).toBe('"\'+1 line\nnext"');
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
  });
});
