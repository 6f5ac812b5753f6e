// The dependency monitor: manifests and lockfiles read through GitHub, GitLab and Bitbucket,
// pinned versions looked up in OSV, findings deduplicated with Wiz's, caches that keep a
// second scan from reading unchanged files or advisories again, and upgrades resolving.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { BitbucketSim } from "../sim/bitbucket.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim } from "../sim/gitlab.js";
import { OsvSim, realAdvisories } from "../sim/osv.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/lockfiles/${name}`, import.meta.url), "utf8");
const GITHUB_TOKEN = "github_pat_dependencies_0001";
const GITLAB_TOKEN = "glpat-dependencies-0001";
const BITBUCKET_TOKEN = "bb-access-token-0001";

let github: GitHubSim;
let gitlab: GitLabSim;
let bitbucket: BitbucketSim;
let osv: OsvSim;
let servers: RunningSim[];
let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());
beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  github.repos.push(
    { id: 501, full_name: "acme/storefront", private: true, visibility: "private", archived: false, default_branch: "main" },
    { id: 502, full_name: "acme/billing", private: true, visibility: "private", archived: false, default_branch: "trunk" },
    { id: 503, full_name: "acme/empty", private: true, visibility: "private", archived: false, default_branch: "main" },
  );
  github.files.set("acme/storefront", {
    "package.json": '{"name":"storefront"}',
    "package-lock.json": fixture("package-lock.json"),
    "admin/package-lock.json": '{"name": "admin", "lockfileVersion": 3, ',
    "node_modules/left-pad/package-lock.json": fixture("package-lock-v1.json"),
    "README.md": "# Storefront",
  });
  github.files.set("acme/billing", {
    "pom.xml": fixture("pom.xml"),
    "tools/requirements.txt": fixture("requirements.txt"),
    "cli/Cargo.lock": fixture("Cargo.lock"),
    "proxy/go.sum": fixture("go.sum"),
  });
  gitlab = new GitLabSim();
  gitlab.addToken(GITLAB_TOKEN);
  gitlab.projects.push({ id: 7001, path_with_namespace: "platform/ml/scoring", default_branch: "main", visibility: "private", archived: false });
  // Enough files that GitLab's tree and Bitbucket's listing take several pages.
  const docs = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`docs/page-${i}.md`, `# Page ${i}`]));
  gitlab.files.set("platform/ml/scoring", { ...docs, "poetry.lock": fixture("poetry.lock"), "zz/api/Pipfile.lock": fixture("Pipfile.lock") });
  bitbucket = new BitbucketSim();
  bitbucket.addAccessToken(BITBUCKET_TOKEN);
  bitbucket.workspaces.set("acme", [{ uuid: "{b1}", full_name: "acme/portal", is_private: true, mainbranch: "main" }]);
  bitbucket.files.set("acme/portal", {
    ...docs,
    "Gemfile.lock": fixture("Gemfile.lock"),
    "frontend/yarn.lock": fixture("yarn.lock"),
    "frontend/pnpm-lock.yaml": fixture("pnpm-lock.yaml"),
  });
  osv = new OsvSim();
  for (const advisory of realAdvisories()) osv.add(advisory);
  servers = await Promise.all([startSim(github.app()), startSim(gitlab.app()), startSim(bitbucket.app()), startSim(osv.app())]);
  const [gh, gl, bb, os] = servers as [RunningSim, RunningSim, RunningSim, RunningSim];
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `https://api.github.com=${gh.url},https://gitlab.example.com=${gl.url},https://api.bitbucket.org=${bb.url},https://api.osv.dev=${os.url},https://osv.mirror.example=${os.url},${wiz.originMap}`,
    },
  });
  admin = await setUpAdmin(app);
});
afterEach(async () => {
  await app.close();
  await Promise.all(servers.map((s) => s.close()));
});

const db = () => app.runtime.database.db;

async function connectSourceControl(): Promise<void> {
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN })).status).toBe(303);
  expect((await admin.post("/integrations/gitlab", { gitlabUrl: "https://gitlab.example.com", token: GITLAB_TOKEN })).status).toBe(303);
  expect((await admin.post("/integrations/bitbucket", { workspace: "acme", token: BITBUCKET_TOKEN })).status).toBe(303);
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
      "findings.fixed_version",
      "findings.severity",
      "findings.status",
      "findings.title",
      "assets.name as asset",
    ])
    .orderBy("findings.id")
    .execute();
}

describe("Patchbay dependency monitor", () => {
  it("tests the OSV API, and says what is wrong with a bad address", async () => {
    const ok = text(await (await admin.post("/integrations/dependency-monitor/test", {}, { htmx: true })).text());
    expect(ok).toContain("Connected to OSV at api.osv.dev: the API answered a test query.");
    expect(ok).toContain("lodash 4.17.20 (npm): 1 advisory");
    const wrong = text(await (await admin.post("/integrations/dependency-monitor/test", { osvUrl: "https://api.osv.dev/osv" }, { htmx: true })).text());
    expect(wrong).toContain("not an OSV API");
    const invalid = text(await (await admin.post("/integrations/dependency-monitor/test", { osvUrl: "ftp://osv" }, { htmx: true })).text());
    expect(invalid).toContain("Enter an address like https://api.osv.dev");
  });

  it("reads every format through GitHub, GitLab and Bitbucket and reports OSV's advisories as findings", async () => {
    await connectSourceControl();
    expect((await admin.post("/integrations/dependency-monitor", { osvUrl: "https://osv.mirror.example" })).status).toBe(303);
    await runJobs(app, 5_000);

    const rows = await findings();
    const summary = rows.map((f) => `${f.asset} ${f.cve} ${f.package}@${f.installed_version}→${f.fixed_version ?? "none"} ${f.severity}`).sort();
    expect(summary).toEqual([
      "acme/billing CVE-2021-25900 smallvec@1.6.0→1.6.1 medium",
      "acme/billing CVE-2021-33203 django@3.2.4→3.2.5 medium",
      "acme/billing CVE-2021-44228 org.apache.logging.log4j:log4j-core@2.14.1→2.15.0 critical",
      "acme/storefront CVE-2021-23337 lodash@4.17.20→4.17.21 high",
      "acme/storefront CVE-2022-24999 qs@6.5.2→6.5.3 high",
      "acme/storefront CVE-2022-24999 qs@6.7.0→6.7.3 high",
    ]);
    // Go versions go to OSV without their "v"; withdrawn advisories make no finding.
    expect(osv.queried).toContain("Go:golang.org/x/net@0.7.0");
    expect(osv.queried).toContain("RubyGems:rack@2.2.3");
    expect(osv.queried).toContain("PyPI:jinja2@2.11.2");
    expect(osv.queried).toContain("npm:@remix-run/router@1.6.0");
    expect(osv.queried).not.toContain("npm:mkdirp@0.5.1"); // node_modules is not the repository's own
    expect(rows.some((f) => f.cve === "CVE-2099-0001")).toBe(false);

    // The advisory without a rating says so; the finding links to OSV.
    const smallvec = await db().selectFrom("findings").selectAll().where("package", "=", "smallvec").executeTakeFirstOrThrow();
    expect(smallvec.description).toContain("The advisory gives no severity");
    const source = await db().selectFrom("finding_sources").selectAll().where("finding_id", "=", smallvec.id).executeTakeFirstOrThrow();
    expect(source.url).toBe("https://osv.dev/vulnerability/RUSTSEC-2021-0003");

    // What each repository resolves is recorded, across the three services.
    const deps = await db()
      .selectFrom("repository_dependencies")
      .innerJoin("repositories", "repositories.id", "repository_dependencies.repository_id")
      .select(["repositories.full_name", "path", "name", "version"])
      .execute();
    expect(
      deps
        .filter((d) => d.full_name === "platform/ml/scoring")
        .map((d) => `${d.path}:${d.name}`)
        .sort(),
    ).toEqual(["poetry.lock:certifi", "poetry.lock:jinja2", "zz/api/Pipfile.lock:cryptography", "zz/api/Pipfile.lock:pillow", "zz/api/Pipfile.lock:pytest"]);
    expect(deps.filter((d) => d.full_name === "acme/portal").length).toBe(11);

    // The card names the unreadable lockfile; the scan counts what it skipped.
    const card = text(await (await admin.get("/integrations/card/dependency-monitor", { htmx: true })).text());
    expect(card).toContain("Last scan finished");
    expect(card).toContain("acme/storefront: admin/package-lock.json: not valid JSON");
    // The Vulnerabilities page filters by the monitor as a scanner.
    const monitor = await db().selectFrom("integrations").select("id").where("kind", "=", "dependency-monitor").executeTakeFirstOrThrow();
    const page = text(await (await admin.get(`/vulnerabilities?scanner=${monitor.id}`)).text());
    expect(page).toContain("CVE-2021-44228");
    expect(page).toContain("Patchbay dependency monitor");
  });

  it("reads nothing again that has not changed, and resolves a finding when the lockfile upgrades the package", async () => {
    await connectSourceControl();
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    const reads = github.contentReads.length;
    const details = osv.detailReads.length;
    expect(reads).toBe(6);

    const monitor = await db().selectFrom("integrations").select("id").where("kind", "=", "dependency-monitor").executeTakeFirstOrThrow();
    await admin.post(`/integrations/dependency-monitor/${monitor.id}/sync`, {});
    await runJobs(app, 5_000);
    expect(github.contentReads.length).toBe(reads); // blob ids unchanged: parsed lockfiles come from the cache
    expect(osv.detailReads.length).toBe(details); // advisories unmodified: not fetched again
    expect((await findings()).every((f) => f.status === "open")).toBe(true);

    const lock = JSON.parse(fixture("package-lock.json"));
    lock.packages["node_modules/lodash"].version = "4.17.21";
    github.files.get("acme/storefront")!["package-lock.json"] = JSON.stringify(lock, null, 2);
    await admin.post(`/integrations/dependency-monitor/${monitor.id}/sync`, {});
    await runJobs(app, 5_000);
    expect(github.contentReads.length).toBe(reads + 1); // the changed lockfile only
    const lodash = (await findings()).find((f) => f.package === "lodash")!;
    expect(lodash.status).toBe("resolved");
    const history = await db().selectFrom("finding_events").select("note").where("finding_id", "=", lodash.id).orderBy("id").execute();
    expect(history.at(-1)!.note).toBe("No longer reported by the scanner");
  });

  it("makes one finding with two sources when Wiz reports the same vulnerability", async () => {
    await connectSourceControl();
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    wiz.sim.findings.length = 0;
    wiz.sim.findings.push(
      wizFinding(1, repoAsset("acme/storefront"), {
        name: "CVE-2021-23337",
        detailedName: "lodash",
        version: "4.17.20",
        fixedVersion: "4.17.21",
        severity: "HIGH",
      }),
    );
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    await runJobs(app, 5_000);
    const lodash = (await findings()).filter((f) => f.package === "lodash");
    expect(lodash).toHaveLength(1);
    const sources = await db()
      .selectFrom("finding_sources")
      .innerJoin("integrations", "integrations.id", "finding_sources.integration_id")
      .select("integrations.kind")
      .where("finding_id", "=", lodash[0]!.id)
      .execute();
    expect(sources.map((s) => s.kind).sort()).toEqual(["dependency-monitor", "wiz"]);
  });

  it("follows every repository sync, and an OSV outage fails the scan with OSV's own message", async () => {
    await connectSourceControl();
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    const before = await db()
      .selectFrom("sync_runs")
      .innerJoin("integrations", "integrations.id", "sync_runs.integration_id")
      .select("sync_runs.id")
      .where("integrations.kind", "=", "dependency-monitor")
      .execute();
    const githubIntegration = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
    osv.faults.add({ path: /querybatch/, status: 400, body: JSON.stringify({ code: 3, message: "Invalid query." }) });
    await admin.post(`/integrations/github/${githubIntegration.id}/sync`, {});
    for (let i = 0; i < 3; i++) await runJobs(app, 300_000); // the scan's retries
    const after = await db()
      .selectFrom("sync_runs")
      .innerJoin("integrations", "integrations.id", "sync_runs.integration_id")
      .select(["sync_runs.id", "sync_runs.status", "sync_runs.error"])
      .where("integrations.kind", "=", "dependency-monitor")
      .orderBy("sync_runs.id")
      .execute();
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.at(-1)!.status).toBe("failed");
    expect(after.at(-1)!.error).toContain("Invalid query.");
  });
});
