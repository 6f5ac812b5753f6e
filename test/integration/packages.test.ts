// Package registries: npm (organization endpoint and search), PyPI-compatible indexes (JSON and
// HTML Simple API), Maven repositories (directory listings and maven-metadata.xml) and Go
// module proxies list the organisation's packages; the Packages page shows who uses which
// version; and the dependency monitor keeps the organisation's own packages away from OSV.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { OsvSim, realAdvisories } from "../sim/osv.js";
import { GoProxySim, MavenRepoSim, NpmRegistrySim, PypiSim } from "../sim/packages.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const GITHUB_TOKEN = "github_pat_packages_0001";
const NPM_TOKEN = "npm_AbCdEf0123456789packages";
let npm: NpmRegistrySim;
let verdaccio: NpmRegistrySim;
let pypiSim: PypiSim;
let mavenSim: MavenRepoSim;
let goSim: GoProxySim;
let github: GitHubSim;
let osv: OsvSim;
let servers: RunningSim[];
let app: TestApp;
let admin: Browser;

beforeEach(async () => {
  npm = new NpmRegistrySim();
  npm.tokens.add(NPM_TOKEN);
  npm.packages.set("@acme/ui", { versions: ["1.0.0", "1.1.0", "2.0.0-beta.1", "1.2.0"], latest: "1.2.0", private: true });
  npm.packages.set("@acme/config", { versions: ["0.1.0"], latest: "0.1.0", private: false });
  npm.packages.set("lodash", { versions: ["4.17.21"], latest: "4.17.21", private: false });
  verdaccio = new NpmRegistrySim();
  verdaccio.orgEndpoints = false;
  verdaccio.tokens.add("verdaccio-token");
  for (let i = 0; i < 260; i++) verdaccio.packages.set(`@internal/pkg-${String(i).padStart(3, "0")}`, { versions: ["1.0.0"], latest: "1.0.0", private: true });
  pypiSim = new PypiSim();
  pypiSim.credentials = "ci:pypi-secret";
  pypiSim.projects.set("acme-tools", ["acme_tools-0.9.0.tar.gz", "acme_tools-1.0.0-py3-none-any.whl", "acme_tools-1.0.0.tar.gz", "acme_tools-1.1.0rc1.tar.gz"]);
  pypiSim.projects.set("acme-client", ["acme-client-2.3.1.tar.gz"]);
  pypiSim.projects.set("requests", ["requests-2.31.0.tar.gz"]);
  mavenSim = new MavenRepoSim();
  mavenSim.credentials = "deployer:nexus-secret";
  mavenSim.artifacts.set("com.acme:billing-api", { versions: ["1.6.0", "1.7.0", "1.8.0"], release: "1.8.0" });
  mavenSim.artifacts.set("com.acme:ledger", { versions: ["3.0.0"], release: "3.0.0" });
  mavenSim.artifacts.set("com.acme.internal:auth", { versions: ["0.2.0"], release: "0.2.0" });
  goSim = new GoProxySim();
  goSim.modules.set("github.com/acme/kit", { tags: ["v1.0.0", "v1.2.0", "v1.10.0"] });
  goSim.modules.set("github.com/Acme/Legacy", { tags: [], pseudo: "v0.0.0-20260101120000-abcdefabcdef" });
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  github.repos.push({ id: 601, full_name: "acme/shop", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/shop", {
    "package-lock.json": JSON.stringify({
      name: "shop",
      lockfileVersion: 3,
      packages: {
        "": { name: "shop", dependencies: { "@acme/ui": "^1.1.0" } },
        "node_modules/@acme/ui": { version: "1.1.0", dependencies: { lodash: "^4.17.0" } },
        "node_modules/lodash": { version: "4.17.20" },
      },
    }),
    "pom.xml": `<project><groupId>com.acme</groupId><artifactId>shop</artifactId><version>1.0.0</version><dependencies><dependency><groupId>com.acme</groupId><artifactId>billing-api</artifactId><version>1.8.0</version></dependency></dependencies></project>`,
  });
  osv = new OsvSim();
  for (const advisory of realAdvisories()) osv.add(advisory);
  servers = await Promise.all([npm, verdaccio, pypiSim, goSim, github, osv].map((s) => startSim(s.app())));
  servers.push(await startSim(mavenSim.app()));
  const [n, v, p, g, gh, o, m] = servers as RunningSim[];
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `https://registry.npmjs.org=${n!.url},https://npm.acme.internal=${v!.url},https://pypi.acme.internal=${p!.url},https://goproxy.acme.internal=${g!.url},https://api.github.com=${gh!.url},https://api.osv.dev=${o!.url},https://nexus.acme.internal=${m!.url}`,
    },
  });
  admin = await setUpAdmin(app);
});
afterEach(async () => {
  await app.close();
  await Promise.all(servers.map((s) => s.close()));
});

const db = () => app.runtime.database.db;
async function listed(kind: string) {
  return db()
    .selectFrom("packages")
    .innerJoin("integrations", "integrations.id", "packages.integration_id")
    .select(["packages.name", "packages.latest", "packages.versions"])
    .where("integrations.kind", "=", kind)
    .orderBy("packages.name")
    .execute();
}
const test = async (kind: string, form: Record<string, string>) => text(await (await admin.post(`/integrations/${kind}/test`, form, { htmx: true })).text());

describe("package registries", () => {
  it("npm: the organization endpoint with a token, search on a registry without it, and refused tokens explained", async () => {
    expect(await test("npm-registry", { scope: "@acme", token: NPM_TOKEN })).toContain("Connected to registry.npmjs.org: 2 packages in @acme.");
    expect(await test("npm-registry", { scope: "@acme", token: "npm_wrong" })).toContain("Connection Failed — the npm registry refused the credentials");
    expect(await test("npm-registry", { registryUrl: "https://npm.acme.internal", scope: "internal", token: "verdaccio-token" })).toContain(
      "260 packages in @internal.",
    );

    expect((await admin.post("/integrations/npm-registry", { scope: "@acme", token: NPM_TOKEN })).status).toBe(303);
    await runJobs(app);
    expect(await listed("npm-registry")).toEqual([
      { name: "@acme/config", latest: "0.1.0", versions: '["0.1.0"]' },
      { name: "@acme/ui", latest: "1.2.0", versions: '["1.0.0","1.1.0","1.2.0","2.0.0-beta.1"]' },
    ]);
    const card = text(await (await admin.get("/integrations/card/npm-registry", { htmx: true })).text());
    expect(card).toContain("Last package sync finished");
    expect(card).toContain("2 packages, 2 new");
  });

  it("PyPI: a private index's projects by prefix (JSON and HTML), named projects on pypi.org, and unknown projects", async () => {
    const form = { indexUrl: "https://pypi.acme.internal/simple", prefix: "acme-", username: "ci", password: "pypi-secret" };
    expect(await test("pypi", form)).toContain("Connected to pypi.acme.internal: 2 projects.");
    expect(await test("pypi", { ...form, password: "wrong" })).toContain("the index refused the credentials");
    expect(await test("pypi", {})).toContain("pypi.org lists every project in the world: name your projects in Projects.");
    expect(await test("pypi", { ...form, projects: "acme-missing" })).toContain('The index has no project "acme-missing"');

    expect((await admin.post("/integrations/pypi", form)).status).toBe(303);
    await runJobs(app);
    const json = await listed("pypi");
    pypiSim.htmlOnly = true;
    const integration = await db().selectFrom("integrations").select("id").where("kind", "=", "pypi").executeTakeFirstOrThrow();
    await db().deleteFrom("packages").execute();
    await admin.post(`/integrations/pypi/${integration.id}/sync`, {});
    await runJobs(app);
    const html = await listed("pypi");
    expect(html).toEqual(json);
    expect(json.map((p) => `${p.name} ${p.latest} ${p.versions}`)).toEqual(['acme-client 2.3.1 ["2.3.1"]', 'acme-tools 1.0.0 ["0.9.0","1.0.0","1.1.0rc1"]']);
  });

  it("Maven: a group's artifacts from the directory listing, or named where there is none", async () => {
    const form = {
      repositoryUrl: "https://nexus.acme.internal/repository/maven-releases",
      groupIds: "com.acme",
      username: "deployer",
      password: "nexus-secret",
    };
    expect(await test("maven", form)).toContain("Connected to nexus.acme.internal: 2 artifacts in com.acme.");
    mavenSim.listings = false;
    expect(await test("maven", form)).toContain("The repository has no directory listing for com.acme");
    expect(await test("maven", { ...form, artifactIds: "billing-api" })).toContain("1 artifact in com.acme.");
    mavenSim.listings = true;
    expect((await admin.post("/integrations/maven", { ...form, groupIds: "com.acme, com.acme.internal" })).status).toBe(303);
    await runJobs(app);
    expect((await listed("maven")).map((p) => `${p.name} ${p.latest}`)).toEqual([
      "com.acme.internal:auth 0.2.0",
      "com.acme:billing-api 1.8.0",
      "com.acme:ledger 3.0.0",
    ]);
  });

  it("Go: tagged versions in semver order, pseudo-versions for untagged modules, case-encoded paths, unknown modules", async () => {
    const form = { proxyUrl: "https://goproxy.acme.internal", modules: "github.com/acme/kit, github.com/Acme/Legacy" };
    expect(await test("go-proxy", form)).toContain("github.com/acme/kit has 3 versions, latest v1.10.0");
    expect(await test("go-proxy", { ...form, modules: "github.com/acme/missing" })).toContain("The proxy does not know module github.com/acme/missing");
    expect((await admin.post("/integrations/go-proxy", form)).status).toBe(303);
    await runJobs(app);
    expect((await listed("go-proxy")).map((p) => `${p.name} ${p.latest}`)).toEqual([
      "github.com/Acme/Legacy v0.0.0-20260101120000-abcdefabcdef",
      "github.com/acme/kit v1.10.0",
    ]);
  });

  it("keeps the organisation's own packages away from OSV, and shows which repositories are behind", async () => {
    await admin.post("/integrations/npm-registry", { scope: "@acme", token: NPM_TOKEN });
    await admin.post("/integrations/maven", {
      repositoryUrl: "https://nexus.acme.internal/repository/maven-releases",
      groupIds: "com.acme",
      username: "deployer",
      password: "nexus-secret",
    });
    await runJobs(app);
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN });
    await admin.post("/integrations/dependency-monitor", {});
    await runJobs(app, 5_000);
    expect(osv.queried).toContain("npm:lodash@4.17.20");
    expect(osv.queried.filter((q) => q.includes("acme"))).toEqual([]);
    const run = await db()
      .selectFrom("sync_runs")
      .innerJoin("integrations", "integrations.id", "sync_runs.integration_id")
      .select("counts")
      .where("integrations.kind", "=", "dependency-monitor")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(run.counts).skipped).toEqual({
      "your own package (listed by npm @acme): not looked up in OSV": 1,
      "your own package (listed by Maven com.acme): not looked up in OSV": 1,
    });

    const page = text(await (await admin.get("/packages")).text());
    expect(page).toContain("@acme/ui npm 1.2.0 4 1 repository 1 behind npm @acme");
    expect(page).toContain("com.acme:billing-api Maven 1.8.0 3 1 repository Maven com.acme");
    const ui = await db().selectFrom("packages").select("id").where("name", "=", "@acme/ui").executeTakeFirstOrThrow();
    const detail = text(await (await admin.get(`/packages/${ui.id}`)).text());
    expect(detail).toContain("acme/shop package-lock.json 1.1.0 behind 1.2.0");
    const search = text(await (await admin.get("/packages?q=LODASH")).text());
    // Pulled in by @acme/ui, which the repository declares: the search says so.
    expect(search).toContain("lodash 4.17.20 npm acme/shop package-lock.json transitive, through @acme/ui production");
    expect(text(await (await admin.get("/packages?q=%40acme")).text())).toContain("@acme/ui 1.1.0 npm acme/shop package-lock.json direct production");
    expect(text(await (await admin.get("/packages?q=left-pad")).text())).toContain("No repository depends on a package matching “left-pad”.");
  });
});
