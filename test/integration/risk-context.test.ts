// What the risk score knows beyond the feeds: Wiz's own exploitation signals (its KEV flag and
// EPSS percentile, used while the feeds have nothing current loaded) and its internet exposure;
// a repository's criticality from the ownership table's topic rows or its own setting, and an
// image's own criticality — each change scoring the findings it touches again.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, signIn, testApp, text } from "../helpers.js";
import { imageAsset, repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";
import { FeedsSim, kevEntry } from "../sim/feeds.js";
import { type RunningSim, startSim } from "../sim/serve.js";

let wiz: WizFixture;
let feeds: FeedsSim;
let feedServer: RunningSim;
let app: TestApp;
let admin: Browser;

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
  feeds.kev.length = 0;
  feeds.kev.push(kevEntry("CVE-2023-44487", "2023-10-10"));
  app = await testApp({
    env: { PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://www.cisa.gov=${feedServer.url},https://epss.empiricalsecurity.com=${feedServer.url}` },
  });
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/payments"]);
  wiz.sim.findings.length = 0;
  wiz.sim.findings.push(
    // Wiz: in KEV, EPSS percentile 50 (Wiz writes percentages), a repository (no exposure signal).
    wizFinding(1, repoAsset("acme/payments"), {
      name: "CVE-2021-44228",
      detailedName: "org.apache.logging.log4j:log4j-core",
      version: "2.14.1",
      severity: "CRITICAL",
      score: 10,
      hasCisaKevExploit: true,
      epssPercentile: 50,
    }),
    // An image Wiz sees exposed to the internet (image 3: wide exposure).
    wizFinding(2, imageAsset(3), { name: "CVE-2022-42889", detailedName: "libtext", version: "1.9", score: 9.8, hasCisaKevExploit: false, epssPercentile: 50 }),
    wizFinding(3, repoAsset("acme/payments"), {
      name: "CVE-2023-1111",
      detailedName: "qs",
      version: "6.5.2",
      severity: "HIGH",
      score: 7.5,
      hasCisaKevExploit: false,
      epssPercentile: 10,
    }),
  );
  await admin.post("/integrations/wiz", WIZ_FORM);
  await runJobs(app, 5_000);
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;
const finding = (cve: string) => db().selectFrom("findings").selectAll().where("cve", "=", cve).executeTakeFirstOrThrow();
const risk = async (cve: string) => (await finding(cve)).risk;
const page = async (cve: string) => text(await (await admin.get(`/vulnerabilities/${(await finding(cve)).id}`)).text());

describe("the scanner's signals", () => {
  it("keeps Wiz's exposure, KEV flag and EPSS percentile, and scores with them while the feeds have nothing loaded", async () => {
    const log4j = await finding("CVE-2021-44228");
    expect([log4j.exposure, log4j.scanner_kev, Number(log4j.scanner_epss)]).toEqual([null, 1, 0.5]);
    expect((await finding("CVE-2022-42889")).exposure).toBe("exposed");
    // CVSS 10 × in KEV (the scanner's flag) = 100.
    expect(log4j.risk).toBe(100);
    expect(await page("CVE-2021-44228")).toContain(
      "Likelihood in CISA's Known Exploited Vulnerabilities (as the scanner reports it: the KEV feed has nothing current loaded) 1",
    );
    // 0.98 × (0.3 + 0.7 × 0.5) × 1.2 exposed = 76.
    expect(await risk("CVE-2022-42889")).toBe(76);
    const image = await page("CVE-2022-42889");
    expect(image).toContain("Exposure exposed to the internet 1.2");
    expect(image).toContain("Likelihood EPSS percentile 50.0 (as the scanner reports it) 0.65");
    // 0.75 × (0.3 + 0.7 × 0.1) = 28.
    expect(await risk("CVE-2023-1111")).toBe(28);

    // Once CISA's catalogue is loaded (without log4j here), it decides: log4j is scored by its EPSS.
    expect((await admin.post("/settings/exploitation/kev/refresh", {})).status).toBe(303);
    await runJobs(app);
    expect(await risk("CVE-2021-44228")).toBe(65);
    expect(await page("CVE-2021-44228")).toContain("Likelihood EPSS percentile 50.0 (as the scanner reports it) 0.65");
  });

  it("scores a finding again when a scan changes what the score reads", async () => {
    expect(await risk("CVE-2023-1111")).toBe(28);
    const qs = wiz.sim.findings.find((f) => f.name === "CVE-2023-1111")!;
    qs.epssPercentile = 90;
    (qs.vulnerableAsset as Record<string, unknown>).hasWideInternetExposure = false;
    (qs.vulnerableAsset as Record<string, unknown>).hasLimitedInternetExposure = false;
    const integration = await db().selectFrom("integrations").select("id").where("kind", "=", "wiz").executeTakeFirstOrThrow();
    expect((await admin.post(`/integrations/wiz/${integration.id}/sync`, {})).status).toBe(303);
    await runJobs(app, 5_000);
    // 0.75 × (0.3 + 0.7 × 0.9) × 0.8 internal = 56.
    expect(await risk("CVE-2023-1111")).toBe(56);
    expect(await page("CVE-2023-1111")).toContain("Exposure internal 0.8");
  });
});

describe("criticality", () => {
  it("comes from a topic's row in the ownership table, the repository's own setting, and an image's own", async () => {
    const repo = await db().selectFrom("repositories").select("id").where("full_name", "=", "acme/payments").executeTakeFirstOrThrow();
    // Source control lists the repository with the topic "pci".
    await db()
      .updateTable("repositories")
      .set({ topics: JSON.stringify(["pci"]) })
      .where("id", "=", repo.id)
      .execute();
    const saved = await admin.post("/settings/ownership", {
      rows: "1",
      useTopics: "on",
      useCodeowners: "on",
      match_0: "topic:pci",
      criticality_0: "high",
    });
    expect(saved.status).toBe(303);
    await runJobs(app);
    // 0.2775 × 1.25 = 35.
    expect(await risk("CVE-2023-1111")).toBe(35);
    expect(await page("CVE-2023-1111")).toContain("Asset criticality high (topic pci, in Settings → Ownership) 1.25");
    expect(text(await (await admin.get(`/repositories/${repo.id}/ownership`)).text())).toContain("Now high (topic pci, in Settings → Ownership)");

    // The repository's own setting wins over the table.
    expect((await admin.post(`/repositories/${repo.id}/criticality`, { criticality: "low" })).status).toBe(303);
    await runJobs(app);
    expect(await risk("CVE-2023-1111")).toBe(21);
    expect(await page("CVE-2023-1111")).toContain("Asset criticality low (set on the repository) 0.75");
    // Nonsense changes nothing.
    expect((await admin.post(`/repositories/${repo.id}/criticality`, { criticality: "extreme" })).status).toBe(422);
    expect((await db().selectFrom("repositories").select("criticality").where("id", "=", repo.id).executeTakeFirstOrThrow()).criticality).toBe("low");

    // An image's own criticality.
    const image = (await finding("CVE-2022-42889")).asset_id;
    const set = await admin.post(`/images/${image}/criticality`, { criticality: "high", return_to: "/images?q=service" });
    expect([set.status, set.headers.get("location")]).toEqual([303, "/images?q=service&saved=1"]);
    await runJobs(app);
    // 0.7644 × 1.25 = 96.
    expect(await risk("CVE-2022-42889")).toBe(96);
    expect(text(await (await admin.get("/images?q=service&saved=1")).text())).toContain("Saved. The image's findings are being scored again.");
    // The repository's findings did not move.
    expect(await risk("CVE-2023-1111")).toBe(21);

    // The configuration document carries both, and a member cannot change either.
    const yaml = await (await admin.get("/settings/configuration/export.yaml")).text();
    expect(yaml).toMatch(/match: topic:pci[\s\S]*criticality: high/);
    expect(yaml).toMatch(/repository: acme\/payments[\s\S]*criticality: low/);
    await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" });
    const member = await signIn(app, "mia", "member password 1");
    expect((await member.post(`/repositories/${repo.id}/criticality`, { criticality: "high" })).status).toBe(403);
    expect((await member.post(`/images/${image}/criticality`, { criticality: "low" })).status).toBe(403);
    expect(await risk("CVE-2022-42889")).toBe(96);
  });
});
