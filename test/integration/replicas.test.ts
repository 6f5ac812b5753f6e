// Several Patchbay processes on one database (here two runtimes on one SQLite file, each its own
// connection): writers that race for the same rows — the same findings and assets from two
// uploads at once — neither fail nor duplicate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE, type TestApp, setUpAdmin, tempDir, testApp } from "../helpers.js";
import { trivyReport } from "../bench/reports.js";

let apps: TestApp[];
let token: string;

beforeAll(async () => {
  const dir = tempDir();
  apps = [await testApp({ env: { PATCHBAY_DATA_DIR: dir } })];
  const admin = await setUpAdmin(apps[0]!);
  await admin.post("/integrations/ci-upload", {});
  token = /pbt_[a-z2-7]{32}/.exec(await (await admin.post("/settings/tokens", { name: "ci", scopes: "upload" })).text())![0];
  apps.push(await testApp({ env: { PATCHBAY_DATA_DIR: dir }, clock: apps[0]!.clock }));
});
afterAll(async () => {
  // The others first; the first app's close also drops the PostgreSQL database they share (test:postgres).
  for (const app of apps.slice(1).reverse()) await app.runtime.close();
  await apps[0]!.close();
});

describe("two processes writing the same rows", () => {
  it("imports one report sent to both at once: every finding once, both uploads succeed", async () => {
    const report = trivyReport(0.3);
    const results = await Promise.all(
      apps.map((app) =>
        app.runtime.app.request(`${BASE}/api/v1/scans`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: report,
        }),
      ),
    );
    const bodies = await Promise.all(results.map((r) => r.text()));
    expect(
      results.map((r) => r.status),
      bodies.join("\n"),
    ).toEqual([201, 201]);
    const db = apps[0]!.runtime.database.db;
    const findings = await db
      .selectFrom("findings")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    const fingerprints = await db
      .selectFrom("findings")
      .select((eb) => eb.fn.count("fingerprint").distinct().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(findings.n)).toBe(Number(fingerprints.n));
    expect(Number(findings.n)).toBeGreaterThan(200);
    const assets = await db.selectFrom("assets").select(["kind", "asset_key"]).execute();
    expect(assets).toHaveLength(1);
  });
});
