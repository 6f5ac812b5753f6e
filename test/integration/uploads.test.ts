// Uploads from CI: API tokens, every format through POST /api/v1/scans, the asset named or read
// from the report, installed versions and CVE aliases completed, SBOMs looked up in OSV, VEX
// statements applied, full-result re-imports resolving what is gone, and bad files refused with
// nothing changed.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, BASE, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { OsvSim, realAdvisories } from "../sim/osv.js";
import { trivyReport } from "../bench/reports.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/reports/${name}`, import.meta.url), "utf8");
let app: TestApp;
let admin: Browser;
let osv: OsvSim;
let github: GitHubSim;
let servers: RunningSim[];
let token: string;

beforeEach(async () => {
  osv = new OsvSim();
  for (const advisory of realAdvisories()) osv.add(advisory);
  osv.add({
    id: "GHSA-35jh-r3h4-6jhm",
    modified: "2024-03-05T11:00:00Z",
    aliases: ["CVE-2021-23337"],
    summary: "Command Injection in lodash",
    affected: [{ package: { ecosystem: "npm", name: "lodash" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "4.17.21" }] }] }],
  });
  github = new GitHubSim();
  github.addToken("github_pat_uploads_0001");
  github.repos.push({ id: 801, full_name: "acme/api", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/api", {
    "package-lock.json": JSON.stringify({
      name: "api",
      lockfileVersion: 3,
      packages: { "": {}, "node_modules/lodash": { version: "4.17.20" }, "node_modules/qs": { version: "6.7.0" } },
    }),
  });
  servers = [await startSim(osv.app()), await startSim(github.app())];
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.osv.dev=${servers[0]!.url},https://api.github.com=${servers[1]!.url}` } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/web"]);
  expect((await admin.post("/integrations/ci-upload", {})).status).toBe(303);
  const created = text(await (await admin.post("/settings/tokens", { name: "github-actions", scopes: "upload" })).text());
  token = /pbt_[a-z2-7]{32}/.exec(created)![0];
});
afterEach(async () => {
  await app.close();
  await Promise.all(servers.map((s) => s.close()));
});

const db = () => app.runtime.database.db;

async function upload(
  body: string | FormData,
  query: Record<string, string> = {},
  auth = `Bearer ${token}`,
  contentType = "application/json",
): Promise<Response> {
  const qs = new URLSearchParams(query).toString();
  return app.runtime.app.request(`${BASE}/api/v1/scans${qs ? `?${qs}` : ""}`, {
    method: "POST",
    headers: { authorization: auth, ...(typeof body === "string" ? { "content-type": contentType } : {}) },
    body,
  });
}

async function findings() {
  return db()
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select([
      "findings.id",
      "findings.cve",
      "findings.package",
      "findings.installed_version",
      "findings.status",
      "findings.severity",
      "assets.name as asset",
      "assets.kind",
    ])
    .orderBy("findings.cve")
    .execute();
}

describe("uploads from CI", () => {
  it("refuses missing, wrong and revoked tokens, and uploads while CI uploads is not connected", async () => {
    expect((await upload("{}", {}, "")).status).toBe(401);
    const wrong = await upload("{}", {}, "Bearer pbt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain("invalid_token");
    const id = (await db().selectFrom("api_tokens").select("id").executeTakeFirstOrThrow()).id;
    await admin.post(`/settings/tokens/${id}/revoke`, {});
    expect(((await (await upload(fixture("trivy-image.json"))).json()) as { error: string }).error).toContain("revoked");
    const page = text(await (await admin.get("/settings/tokens")).text());
    expect(page).toContain("github-actions");
    expect(page).toContain("revoked");
    expect(page).not.toContain(token);
    // The token is stored only as its hash.
    const row = await db().selectFrom("api_tokens").selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token.slice(4));
  });

  it("imports a Trivy image report onto the image by the report's digest, and re-imports as a full result", async () => {
    const res = await upload(fixture("trivy-image.json"));
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      format: "trivy",
      tool: "Trivy",
      asset: { kind: "container_image", name: "registry.example.com/acme/api:1.0" },
      created: 5,
      updated: 0,
      resolved: 0,
      skipped: 0,
    });
    const rows = await findings();
    // Severity from the report, else from the CVSS score (a v4 vector alone is scored too).
    expect(rows.map((f) => `${f.cve} ${f.package} ${f.severity}`)).toEqual([
      "CVE-2011-3374 apt low",
      "CVE-2021-23337 lodash high",
      "CVE-2023-4911 libc6 high",
      "CVE-2024-88888 tiny-parser medium",
      "CVE-2024-99999 left-pad high",
    ]);
    const asset = await db().selectFrom("assets").select("asset_key").where("kind", "=", "container_image").executeTakeFirstOrThrow();
    expect(asset.asset_key).toBe("image:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");

    // The same report again changes nothing; without libc6's finding, as a full result, resolves it.
    expect(await (await upload(fixture("trivy-image.json"), { full: "true" })).json()).toMatchObject({ created: 0, updated: 0, unchanged: 5, resolved: 0 });
    const report = JSON.parse(fixture("trivy-image.json"));
    report.Results[0].Vulnerabilities.shift();
    expect(await (await upload(JSON.stringify(report), { full: "true" })).json()).toMatchObject({ created: 0, unchanged: 4, resolved: 1 });
    expect((await findings()).find((f) => f.package === "libc6")!.status).toBe("resolved");
    // A partial upload (full=false) resolves nothing.
    report.Results[0].Vulnerabilities.shift();
    expect(await (await upload(JSON.stringify(report))).json()).toMatchObject({ resolved: 0 });
  });

  it("deduplicates with other sources by fingerprint: Grype's GHSA becomes its CVE on the image named by digest", async () => {
    const res = await upload(fixture("grype.json"));
    expect(await res.json()).toMatchObject({ format: "grype", tool: "Grype", created: 2 });
    const sarif = await upload(fixture("trivy.sarif"), { asset: "https://github.com/acme/web" });
    expect(await sarif.json()).toMatchObject({
      format: "sarif",
      tool: "Trivy",
      asset: { kind: "repository", name: "acme/web" },
      created: 1,
      skipped: 1,
      reasons: { "no CVE or advisory identifier (code scanning rules are not imported)": 1 },
    });
    const cdx = await upload(
      fixture("cyclonedx.xml"),
      { asset: "registry.example.com/acme/billing:3.2@sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d" },
      undefined,
      "application/xml",
    );
    // Log4Shell on the same image, package and version as Grype's: one finding, two sources.
    expect(await cdx.json()).toMatchObject({ format: "cyclonedx-xml", tool: "Dependency-Check", created: 1, updated: 1 });
    const log4j = (await findings()).filter((f) => f.cve === "CVE-2021-44228");
    expect(log4j).toHaveLength(1);
    const sources = await db().selectFrom("finding_sources").select("raw").where("finding_id", "=", log4j[0]!.id).execute();
    expect(sources.map((s) => JSON.parse(s.raw).tool).sort()).toEqual(["Dependency-Check", "Grype"]);
  });

  it("completes what reports leave out: npm audit versions from the lockfile, GHSA aliases from OSV, SBOM packages looked up", async () => {
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: "github_pat_uploads_0001" });
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    const before = (await findings()).length;
    const audit = await upload(fixture("npm-audit-v2.json"), { asset: "acme/api" });
    const body = (await audit.json()) as Record<string, any>;
    expect(body).toMatchObject({ format: "npm-audit", tool: "npm audit", asset: { name: "acme/api" } });
    expect(body.reasons["installed version not given by the report, and not in the repository's lockfiles read by the dependency monitor"]).toBe(1);
    const rows = await findings();
    // lodash 4.17.20 from the lockfile, its GHSA resolved to CVE-2021-23337: the dependency monitor's finding, now with a second source.
    expect(rows.filter((f) => f.package === "lodash" && f.asset === "acme/api").map((f) => `${f.cve} ${f.installed_version}`)).toEqual([
      "CVE-2021-23337 4.17.20",
    ]);
    expect(rows.length).toBe(before);

    const sbom = await upload(fixture("spdx.json"), { asset: "https://github.com/acme/web" });
    expect(await sbom.json()).toMatchObject({ format: "spdx", tool: "SPDX SBOM", created: 2, skipped: 1 });
    expect((await findings()).filter((f) => f.asset === "acme/web").map((f) => `${f.cve} ${f.package}@${f.installed_version}`)).toEqual([
      "CVE-2021-23337 lodash@4.17.20",
      "CVE-2021-33203 django@3.2.4",
    ]);
  });

  it("refuses with 503 and Retry-After, writing nothing, when the advisory database cannot complete the report", async () => {
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    osv.faults.add({ status: 500 });
    const before = await findings();
    for (const [name, asset] of [
      ["spdx.json", "https://github.com/acme/web"],
      ["npm-audit-v2.json", "acme/web"],
    ] as const) {
      const res = await upload(fixture(name), { asset, full: "true" });
      expect(res.status, name).toBe(503);
      expect(res.headers.get("retry-after")).toBe("60");
      expect(((await res.json()) as { error: string }).error).toContain("could not complete the report");
    }
    expect(await findings()).toEqual(before);
    osv.faults.clear();
    expect((await upload(fixture("spdx.json"), { asset: "https://github.com/acme/web" })).status).toBe(201);
  });

  it("applies VEX: not affected becomes a false positive, resolved is not imported", async () => {
    const res = await upload(fixture("cyclonedx-vex.json"), { asset: "acme/web" });
    expect(await res.json()).toMatchObject({ format: "cyclonedx", created: 2, skipped: 1, reasons: { "resolved according to the report's VEX analysis": 1 } });
    const jackson = (await findings()).find((f) => f.package === "com.fasterxml.jackson.core:jackson-databind")!;
    expect(jackson.status).toBe("false_positive");
    const finding = await db().selectFrom("findings").select("status_reason").where("id", "=", jackson.id).executeTakeFirstOrThrow();
    expect(finding.status_reason).toContain("code_not_reachable");
  });

  it("refuses bad files with what is wrong, and changes nothing", async () => {
    const trivy = fixture("trivy-image.json");
    const truncated = await upload(trivy.slice(0, trivy.length - 200));
    expect(truncated.status).toBe(400);
    expect(((await truncated.json()) as { error: string }).error).toMatch(
      /^The Trivy JSON is not valid JSON at line \d+, column \d+: the document ends early .*Nothing was imported\.$/,
    );
    const broken = await upload(trivy.replace('"Severity": "LOW"', '"Severity": LOW'));
    expect(((await broken.json()) as { error: string }).error).toMatch(/at line 53, column 23: unexpected "L" where a value was expected/);
    expect(((await (await upload('{"hello": 1}')).json()) as { error: string }).error).toContain("The file's format was not recognised");
    expect(((await (await upload(trivy, { format: "docx" })).json()) as { error: string }).error).toContain('Unknown format "docx"');
    const unknownRepo = await upload(fixture("osv-scanner.json"), { asset: "https://github.com/acme/nowhere" });
    expect(unknownRepo.status).toBe(404);
    expect(((await unknownRepo.json()) as { error: string }).error).toContain('No repository "https://github.com/acme/nowhere" is known to Patchbay');
    const noAsset = await upload(fixture("osv-scanner.json"));
    expect(((await noAsset.json()) as { error: string }).error).toContain("name it with asset=");
    const sbomWithoutMonitor = await upload(fixture("spdx.json"), { asset: "acme/web" });
    expect(sbomWithoutMonitor.status).toBe(409);
    expect(await db().selectFrom("findings").select("id").execute()).toEqual([]);
    const history = text(await (await admin.get("/uploads")).text());
    expect(history).toContain("rejected");
  });

  it("never answers success for a report it cannot fully read: unknown layouts, a wrong format name and tool errors get 422 saying what was found", async () => {
    const trivy = fixture("trivy-image.json");
    const refused = async (body: string, query: Record<string, string> = {}) => {
      const res = await upload(body, { asset: "acme/web", full: "true", ...query });
      expect(res.status, body.slice(0, 60)).toBe(422);
      return ((await res.json()) as { error: string }).error;
    };
    // A layout Patchbay does not read (Snyk's JSON, an array of something) is not "201 created 0".
    expect(
      await refused(
        '{"vulnerabilities": [{"id": "SNYK-JS-LODASH-1018905", "packageName": "lodash", "version": "4.17.20"}], "ok": false, "dependencyCount": 3, "packageManager": "npm"}',
      ),
    ).toMatch(/not recognised.*top-level keys: "vulnerabilities", "ok", "dependencyCount", "packageManager"/);
    expect(await refused('[{"name": "left-pad", "version": "1.3.0"}]')).toMatch(/not recognised.*a JSON array/);
    expect(await refused('[{"name": "left-pad"}]', { format: "trivy" })).toMatch(/not a Trivy JSON report .*: it is a JSON array/);
    expect(await refused('{"hello": 1}')).toContain('top-level keys: "hello"');
    // A format named that the content does not match.
    expect(await refused(trivy, { format: "grype" })).toMatch(
      /^format=grype was named, but the file is not a Grype JSON report \(an object with "matches"\): its top-level keys are "SchemaVersion", "CreatedAt", "ArtifactName"/,
    );
    // An error the tool wrote instead of a report, with the tool's own words.
    const npmError = JSON.stringify({
      error: { code: "ENOAUDIT", summary: "Your configured registry (https://registry.npmjs.org/) does not support audit requests.", detail: "" },
    });
    expect(await refused(npmError, { format: "npm-audit" })).toContain(
      'npm audit wrote an error instead of a report: "ENOAUDIT: Your configured registry (https://registry.npmjs.org/) does not support audit requests."',
    );
    expect(await refused(npmError)).toContain("ENOAUDIT");
    expect(await db().selectFrom("findings").select("id").execute()).toEqual([]);
  });

  it("reads gzip reports, by Content-Encoding or by their magic bytes, and refuses a gzip bomb by its inflated size", async () => {
    const trivy = fixture("trivy-image.json");
    const send = (body: Uint8Array, headers: Record<string, string> = {}) =>
      app.runtime.app.request(`${BASE}/api/v1/scans`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
        body: new Blob([new Uint8Array(body)]),
      });
    const declared = await send(gzipSync(trivy), { "content-encoding": "gzip" });
    expect(declared.status, await declared.clone().text()).toBe(201);
    const created = ((await declared.json()) as { created: number }).created;
    expect(created).toBeGreaterThan(0);
    const byMagic = await send(gzipSync(trivy));
    expect(byMagic.status).toBe(201);
    expect(((await byMagic.json()) as { unchanged: number }).unchanged).toBe(created);
    // A Trivy report padded with 300 MB of spaces compresses to a few hundred KB.
    const bomb = await send(
      gzipSync(Buffer.concat([Buffer.from('{"SchemaVersion": 2, "Results": ['), Buffer.alloc(300 * 1024 * 1024, " "), Buffer.from("]}")])),
      { "content-encoding": "gzip" },
    );
    expect(bomb.status).toBe(413);
    const corrupt = await send(Buffer.concat([gzipSync(trivy).subarray(0, 200), Buffer.from("not gzip at all")]));
    expect(corrupt.status).toBe(400);
    expect(((await corrupt.json()) as { error: string }).error).toContain("not valid gzip");
  });

  it("removes control characters from what a report says (a NUL in a Java version) before storing it", async () => {
    const trivy = JSON.parse(fixture("trivy-image.json")) as {
      Results: { Vulnerabilities?: { InstalledVersion: string; PkgName: string; Title?: string }[] }[];
    };
    const v = trivy.Results.flatMap((r) => r.Vulnerabilities ?? [])[0]!;
    const version = v.InstalledVersion;
    v.InstalledVersion = `${version}\u0000`;
    v.PkgName = `\u001b[31m${v.PkgName}`;
    v.Title = "line one\u0007 bell";
    expect((await upload(JSON.stringify(trivy))).status).toBe(201);
    const rows = await db().selectFrom("findings").select(["package", "installed_version", "title"]).execute();
    for (const row of rows) expect(JSON.stringify(row)).not.toMatch(/\\u00(0|1)|\\u007f/);
    expect(rows.some((r) => r.installed_version === version)).toBe(true);
    expect(rows.some((r) => r.title === "line one bell")).toBe(true);
  });

  it("reads a trivy k8s report: each resource's records go to its own image, a tagged image Patchbay cannot pin is skipped, and full=true resolves per image", async () => {
    const named = await upload(fixture("trivy-k8s.json"), { asset: "registry.example.com/acme/api@sha256:" + "a".repeat(64) });
    expect(named.status).toBe(400);
    expect(((await named.json()) as { error: string }).error).toContain('Kubernetes report (trivy k8s) about every image in cluster "prod-eu-1"');
    const res = await upload(fixture("trivy-k8s.json"), { full: "true" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      format: "trivy",
      asset: { kind: "kubernetes_cluster", name: "Kubernetes cluster prod-eu-1" },
      images: 2,
      created: 4,
      skipped: 1,
      reasons: { "image without a digest, and not known to Patchbay": 1 },
    });
    const rows = await findings();
    expect(rows.map((f) => `${f.cve} ${f.package}@${f.installed_version} on ${f.asset}`).sort()).toEqual([
      "CVE-2023-52425 libexpat1@2.5.0-1 on docker.io/library/nginx",
      "CVE-2024-2511 libssl3@3.1.4-r5 on ghcr.io/acme/api",
      "CVE-2024-29041 express@4.18.2 on ghcr.io/acme/api",
      "CVE-2024-2961 libc6@2.36-9+deb12u4 on docker.io/library/nginx",
    ]);
    const location = await db().selectFrom("finding_sources").select("raw").execute();
    expect(location.map((s) => JSON.parse(s.raw).location)).toContain("payments/StatefulSet/api: app/node_modules/express/package.json");
    // The next full report no longer lists nginx's libexpat1: only that is resolved.
    const report = JSON.parse(fixture("trivy-k8s.json"));
    report.Resources[0].Results[0].Vulnerabilities.shift();
    expect(await (await upload(JSON.stringify(report), { full: "true" })).json()).toMatchObject({ created: 0, unchanged: 3, resolved: 1 });
    expect((await findings()).filter((f) => f.status === "resolved").map((f) => f.cve)).toEqual(["CVE-2023-52425"]);
  });

  it("makes one finding of one package however scanners spell it: Trivy's zope.interface and Grype's zope-interface", async () => {
    const image = "registry.example.com/acme/ml:2.0@sha256:" + "4d".repeat(32);
    expect(await (await upload(fixture("grype-python.json"))).json()).toMatchObject({ created: 3 });
    expect(await (await upload(fixture("trivy-fs-python.json"), { asset: image })).json()).toMatchObject({ created: 1, updated: 3 });
    const zope = (await findings()).filter((f) => f.cve === "CVE-2023-99901");
    expect(zope.map((f) => f.package)).toEqual(["zope-interface"]);
    const sources = await db().selectFrom("finding_sources").select("raw").where("finding_id", "=", zope[0]!.id).execute();
    expect(sources.map((s) => `${JSON.parse(s.raw).tool}: ${JSON.parse(s.raw).package}`).sort()).toEqual(["Grype: zope-interface", "Trivy: zope.interface"]);
    // The package filter finds it by either spelling.
    const page = await (await admin.get("/vulnerabilities?q=zope.interface")).text();
    expect(page).toContain("CVE-2023-99901");
  });

  it("checks an SPDX SBOM's security references against OSV's ranges: one that holds is a finding, one that does not is skipped with why", async () => {
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: "github_pat_uploads_0001" });
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    osv.add({
      id: "GHSA-xvch-5gv4-984h",
      modified: "2024-03-05T11:00:00Z",
      aliases: ["CVE-2021-44906"],
      summary: "Prototype Pollution in minimist",
      affected: [{ package: { ecosystem: "npm", name: "minimist" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "1.2.6" }] }] }],
    });
    const res = await upload(fixture("spdx-security-refs.json"), { asset: "https://github.com/acme/web" });
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ format: "spdx", created: 1 });
    expect(body.reasons).toEqual({
      "SBOM security reference whose advisory does not affect the package's version (by OSV's ranges)": 1,
      "SBOM package without a package URL (purl) of a known ecosystem, or without a version": 1,
      "SBOM security reference on a package without a package URL (purl) or version, so OSV cannot check it": 1,
    });
    expect((await findings()).filter((f) => f.asset === "acme/web").map((f) => `${f.cve} ${f.package}@${f.installed_version}`)).toEqual([
      "CVE-2021-23337 lodash@4.17.20",
    ]);
  });

  it("reads Trivy's older layout: the results as a top-level array", async () => {
    const report = [
      {
        Target: "package-lock.json",
        Type: "npm",
        Vulnerabilities: [{ VulnerabilityID: "CVE-2021-23337", PkgName: "lodash", InstalledVersion: "4.17.20", FixedVersion: "4.17.21", Severity: "HIGH" }],
      },
      {
        Target: "requirements.txt",
        Type: "pip",
        Vulnerabilities: [{ VulnerabilityID: "CVE-2021-33203", PkgName: "django", InstalledVersion: "3.2.4", FixedVersion: "3.2.5", Severity: "MEDIUM" }],
      },
    ];
    expect((await upload(JSON.stringify(report), { asset: "acme/web" })).status).toBe(201);
    expect((await findings()).map((f) => [f.cve, f.package, f.installed_version, f.severity])).toEqual([
      ["CVE-2021-23337", "lodash", "4.17.20", "high"],
      ["CVE-2021-33203", "django", "3.2.4", "medium"],
    ]);
  });

  it("reads Trivy's per-vulnerability Status: only not_affected leaves the open set; the others stay open, kept on the source", async () => {
    const statuses = ["fixed", "affected", "will_not_fix", "fix_deferred", "end_of_life", "not_affected", "under_investigation"];
    const report = {
      SchemaVersion: 2,
      ArtifactName: "acme/web",
      ArtifactType: "repository",
      Results: [
        {
          Target: "package-lock.json",
          Class: "lang-pkgs",
          Type: "npm",
          Vulnerabilities: statuses.map((status, i) => ({
            VulnerabilityID: `CVE-2024-${1000 + i}`,
            PkgName: "lodash",
            InstalledVersion: "4.17.20",
            FixedVersion: status === "fixed" ? "4.17.21" : "",
            Status: status,
            Severity: "HIGH",
          })),
        },
      ],
    };
    expect((await upload(JSON.stringify(report), { asset: "acme/web" })).status).toBe(201);
    const rows = await findings();
    expect(rows.map((f) => [f.cve, f.status])).toEqual(statuses.map((s, i) => [`CVE-2024-${1000 + i}`, s === "not_affected" ? "false_positive" : "open"]));
    const sources = await db().selectFrom("finding_sources").select("raw").execute();
    expect(sources.map((s) => (JSON.parse(s.raw) as { scannerStatus: string }).scannerStatus).sort()).toEqual([...statuses].sort());
  });

  it("makes one finding per CVE when an advisory names several", async () => {
    const report = {
      results: [
        {
          source: { path: "/src/package-lock.json", type: "lockfile" },
          packages: [
            {
              package: { name: "tar", version: "4.4.10", ecosystem: "npm" },
              vulnerabilities: [
                {
                  id: "GHSA-5955-9wpr-37jh",
                  aliases: ["CVE-2021-37713", "CVE-2021-37701"],
                  summary: "Arbitrary file creation in tar",
                  database_specific: { severity: "HIGH" },
                  affected: [{ package: { ecosystem: "npm", name: "tar" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "4.4.18" }] }] }],
                },
              ],
              groups: [{ ids: ["GHSA-5955-9wpr-37jh", "CVE-2021-37713", "CVE-2021-37701"] }],
            },
          ],
        },
      ],
    };
    expect((await upload(JSON.stringify(report), { asset: "acme/web" })).status).toBe(201);
    expect((await findings()).map((f) => [f.cve, f.package, f.installed_version])).toEqual([
      ["CVE-2021-37701", "tar", "4.4.10"],
      ["CVE-2021-37713", "tar", "4.4.10"],
    ]);
  });

  it("full=true resolves nothing when every record of the report was skipped, and says so", async () => {
    const first = await upload(fixture("osv-scanner.json"), { asset: "acme/web", full: "true" });
    expect(first.status).toBe(201);
    const open = (await findings()).filter((f) => f.status === "open").length;
    expect(open).toBeGreaterThan(0);
    // The same tool's report, its every record without a package: nothing can be read from it.
    const report = JSON.parse(fixture("osv-scanner.json")) as { results: { packages: { package: { name: string } }[] }[] };
    for (const r of report.results) for (const p of r.packages) p.package.name = "";
    const skipped = await upload(JSON.stringify(report), { asset: "acme/web", full: "true" });
    expect(skipped.status).toBe(201);
    const body = (await skipped.json()) as { resolved: number; reasons: Record<string, number> };
    expect(body.resolved).toBe(0);
    expect(Object.keys(body.reasons)).toContain("full=true ignored: every record of the report was skipped, so nothing was resolved");
    expect((await findings()).filter((f) => f.status === "open").length).toBe(open);
  });

  it("reads two reports at once, queues four more, and answers 429 with Retry-After beyond that", async () => {
    const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
    const slow = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controllers.push(controller);
          controller.enqueue(new TextEncoder().encode('{"SchemaVersion": 2, "ArtifactName": "acme/web", "Results": ['));
        },
      });
    const send = (body: ReadableStream<Uint8Array> | string) =>
      app.runtime.app.request(`${BASE}/api/v1/scans?asset=acme/web`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit);
    const pending = Array.from({ length: 6 }, () => send(slow()));
    await new Promise((r) => setTimeout(r, 200));
    const refused = await send('{"SchemaVersion": 2, "ArtifactName": "acme/web", "Results": []}');
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect((await refused.json()).error).toContain("Send this one again in 30 seconds");
    // The reports being read end; the waiting ones are read in turn.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 50));
      for (const c of controllers.splice(0)) {
        c.enqueue(new TextEncoder().encode("]}"));
        c.close();
      }
    }
    const statuses = (await Promise.all(pending)).map((r) => r.status);
    expect(statuses).toEqual(Array(6).fill(201));
  });

  // SQLite only: a full disk is simulated with its page limit (PostgreSQL reports a full disk as an error the same code path answers).
  it.skipIf(process.env.PATCHBAY_TEST_DATABASE === "postgres")(
    "a full disk: the API answers JSON saying so, nothing half-imported, and /healthz tells while it stays up",
    async () => {
      const sqlite = app.runtime.database.sqlite!;
      const report = trivyReport(2);
      const before = await findings();
      // The database may not grow by a single page from now on, as on a full disk.
      sqlite.pragma(`max_page_count = ${Number(sqlite.pragma("page_count", { simple: true }))}`);
      sqlite.exec("VACUUM");
      sqlite.pragma(`max_page_count = ${Number(sqlite.pragma("page_count", { simple: true }))}`);
      try {
        const health = await app.runtime.app.request(`${BASE}/healthz`);
        expect(health.status).toBe(200);
        expect((await health.json()).database).toMatch(/^not writable: the database reached its size limit/);
        const res = await upload(report);
        expect(res.headers.get("content-type")).toContain("application/json");
        expect(res.status).toBe(503);
        expect((await res.json()).error).toContain("cannot take another write");
        expect(await findings()).toEqual(before);
      } finally {
        sqlite.pragma("max_page_count = 1073741823");
      }
      expect((await (await app.runtime.app.request(`${BASE}/healthz`)).json()).database).toBe("ok");
    },
  );

  it("accepts multipart bodies from the API and the Uploads page (with its CSRF check)", async () => {
    const form = new FormData();
    form.set("asset", "acme/web");
    form.set("file", new Blob([fixture("osv-scanner.json")], { type: "application/json" }), "osv.json");
    expect(await (await upload(form)).json()).toMatchObject({ format: "osv-scanner", created: 2 });

    const page = new FormData();
    page.set("format", "auto");
    page.set("asset", "acme/web");
    page.set("full", "true");
    page.set("file", new Blob([fixture("trivy.sarif")]), "trivy.sarif");
    const res = await admin.request("/uploads", { method: "POST", body: page, htmx: true });
    expect(res.status).toBe(200);
    expect(text(await res.text())).toContain("Trivy report imported for acme/web: 1 new");
    const foreign = await admin.request("/uploads", { method: "POST", body: page, headers: { origin: "https://evil.example" } });
    expect(foreign.status).toBe(403);
    const listing = text(await (await admin.get("/uploads")).text());
    expect(listing).toContain("user admin");
    expect(listing).toContain("token github-actions");
  });
});
