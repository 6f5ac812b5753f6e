// Container registries: an OCI registry connected with its token auth, its images listed and
// resolved to digests, linked to source repositories by label, scanners' container findings
// landing on them, and images that disappear marked gone with their findings resolved.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { OciRegistrySim } from "../sim/oci.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { imageAsset, wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const REGISTRY = "https://registry.example.com";
let oci: OciRegistrySim;
let ociServer: RunningSim;
let wiz: WizFixture;
let app: TestApp;
let admin: Browser;
let apiDigest: string;

beforeAll(async () => {
  wiz = await startWiz();
});
afterAll(() => wiz.close());
beforeEach(async () => {
  oci = new OciRegistrySim();
  oci.users.set("ci-reader", { password: "registry-token-0001", catalog: true, repositories: "*" });
  oci.users.set("no-catalog", { password: "registry-token-0002", catalog: false, repositories: ["acme/api"] });
  apiDigest = oci.addImage("acme/api", "1.0", {
    "org.opencontainers.image.source": "https://github.com/acme/payments-api",
    "org.opencontainers.image.version": "1.0",
  });
  oci.tags.get("acme/api")!.set("latest", apiDigest);
  oci.addImage("acme/web", "2.1", { "org.opencontainers.image.source": "https://github.com/someone-else/web" }, { multiPlatform: true });
  for (let i = 0; i < 101; i++) oci.addImage(`tools/tool-${String(i).padStart(3, "0")}`, "1", {}, { seed: String(i) });
  ociServer = await startSim(oci.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${REGISTRY}=${ociServer.url},${wiz.originMap}` } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, ["acme/payments-api"]);
});
afterEach(async () => {
  await app.close();
  await ociServer.close();
});

const db = () => app.runtime.database.db;

async function connect(form: Record<string, string> = {}): Promise<Response> {
  return admin.post("/integrations/oci-registry", { registryUrl: REGISTRY, username: "ci-reader", password: "registry-token-0001", ...form });
}

describe("OCI registry", () => {
  it("tells refused credentials from an unreachable registry, and asks for repositories where the catalog is closed", async () => {
    const refused = text(await (await connect({ password: "wrong" })).text());
    expect(refused).toContain("the registry refused the credentials");
    const closed = text(await (await connect({ username: "no-catalog", password: "registry-token-0002" })).text());
    expect(closed).toContain("Enter the repositories to list in Repositories.");
    const unreachable = text(
      await (await admin.post("/integrations/oci-registry", { registryUrl: "https://registry.invalid", username: "x", password: "y" })).text(),
    );
    expect(unreachable).toContain("registry unreachable");
    const named = await connect({ username: "no-catalog", password: "registry-token-0002", repositories: "acme/api" });
    expect(named.status).toBe(303);
  });

  it("sends the credentials to a token service on another host only once the user confirmed that host", async () => {
    await app.close();
    app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${REGISTRY}=${ociServer.url},https://gitlab.example=${ociServer.url},${wiz.originMap}` } });
    admin = await setUpAdmin(app);
    oci.realm = "https://gitlab.example/token";
    const before = oci.faults.requests.length;
    const refused = await connect();
    expect(refused.status).toBe(422);
    expect(text(await refused.text())).toContain("The registry sends sign-in to https://gitlab.example, another host than its own");
    const tokenCalls = oci.faults.requests.slice(before).filter((r) => r.path === "/token");
    expect(tokenCalls).toEqual([]);
    expect((await connect({ tokenService: "https://gitlab.example" })).status).toBe(303);
    expect(oci.faults.requests.slice(before).filter((r) => r.path === "/token" && r.headers.authorization?.startsWith("Basic "))).not.toHaveLength(0);
    // Never over plain http to another host, confirmed or not.
    oci.realm = "http://gitlab.example/token";
    expect(
      text(
        await (
          await admin.post(
            "/integrations/oci-registry/test",
            { registryUrl: REGISTRY, username: "ci-reader", password: "registry-token-0001", tokenService: "https://gitlab.example" },
            { htmx: true },
          )
        ).text(),
      ),
    ).toContain("sends sign-in to http://gitlab.example");
  });

  it("lists every image by digest, merges tags, links sources, and follows blob redirects without credentials", async () => {
    const res = await connect();
    expect(res.status).toBe(303);
    await runJobs(app);
    const images = await db().selectFrom("assets").selectAll().where("kind", "=", "container_image").execute();
    expect(images).toHaveLength(103);
    const api = images.find((i) => i.asset_key === `image:${apiDigest}`)!;
    expect(api.name).toBe("registry.example.com/acme/api:1.0");
    expect(JSON.parse(api.details)).toMatchObject({ tags: ["acme/api:1.0", "acme/api:latest"], source: "https://github.com/acme/payments-api" });
    const repo = await db().selectFrom("repositories").select("id").where("full_name", "=", "acme/payments-api").executeTakeFirstOrThrow();
    expect(api.repository_id).toBe(repo.id);
    const web = images.find((i) => i.name.includes("acme/web"))!;
    expect(JSON.parse(web.details).labels).toEqual({ "org.opencontainers.image.source": "https://github.com/someone-else/web" });
    expect(web.repository_id).toBeNull();
    expect(oci.storageWithCredentials).toBe(0);
    const page = text(await (await admin.get("/images?q=acme")).text());
    expect(page).toContain("registry.example.com/acme/api:1.0 acme/api:1.0, acme/api:latest");
    expect(page).toContain("acme/payments-api");
    const card = text(await (await admin.get("/integrations/card/oci-registry", { htmx: true })).text());
    expect(card).toContain("Last image sync finished");
    expect(card).toContain("104 tags, 103 new");
  });

  it("puts a scanner's container findings on the registry's image, and resolves them when the image is gone", async () => {
    await connect();
    await runJobs(app);
    const asset = { ...imageAsset(1), imageId: apiDigest, providerUniqueId: apiDigest, name: "registry.example.com/acme/api:1.0" };
    wiz.sim.findings.length = 0;
    wiz.sim.findings.push(
      wizFinding(2, asset, { name: "CVE-2023-4911", detailedName: "glibc", version: "2.36-9", fixedVersion: "2.36-9+deb12u3", severity: "HIGH" }),
    );
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanContainerImages: "on" });
    await runJobs(app, 5_000);
    const finding = await db()
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select(["findings.id", "assets.name", "assets.repository_id"])
      .executeTakeFirstOrThrow();
    expect(finding.name).toBe("registry.example.com/acme/api:1.0");
    expect(finding.repository_id).not.toBeNull();
    expect(text(await (await admin.get("/images?q=acme/api")).text())).toContain("1 high");

    oci.removeTag("acme/api", "1.0");
    oci.removeTag("acme/api", "latest");
    await admin.post("/integrations/oci-registry/1/sync", {});
    await runJobs(app);
    const after = await db().selectFrom("findings").select(["status"]).where("id", "=", finding.id).executeTakeFirstOrThrow();
    expect(after.status).toBe("resolved");
    expect(text(await (await admin.get(`/vulnerabilities/${finding.id}`)).text())).toContain("The image is no longer in the registry");
    // The scanner still reporting the image does not bring the finding back.
    await admin.post("/integrations/wiz/2/sync", {});
    await runJobs(app, 5_000);
    expect((await db().selectFrom("findings").select("status").where("id", "=", finding.id).executeTakeFirstOrThrow()).status).toBe("resolved");
    expect(text(await (await admin.get("/images?q=acme/api")).text())).toContain("No image matches.");
    expect(text(await (await admin.get("/images?q=acme/api&gone=1")).text())).toContain("gone");
  });
});

describe("Docker Hub and GitHub Container Registry", () => {
  it("lists a Docker Hub organization's repositories through Hub's API and pulls through Docker's token service", async () => {
    const { DockerHubSim } = await import("../sim/docker-hub.js");
    const hub = new DockerHubSim();
    hub.accounts.set("acmebot", "dckr_pat_0001");
    hub.repositories.set("acme", [
      { name: "api", private: true },
      { name: "web", private: false },
    ]);
    const registry = new OciRegistrySim();
    registry.origin = "https://registry-1.docker.io";
    registry.realm = "https://auth.docker.io/token";
    registry.service = "registry.docker.io";
    registry.users.set("acmebot", { password: "dckr_pat_0001", catalog: false, repositories: ["acme/api", "acme/web"] });
    registry.addImage("acme/api", "3.2", { "org.opencontainers.image.source": "https://github.com/acme/payments-api" });
    registry.addImage("acme/web", "1.0", {});
    const hubServer = await startSim(hub.app());
    const registryServer = await startSim(registry.app());
    const local = await testApp({
      env: {
        PATCHBAY_ORIGIN_MAP: `https://hub.docker.com=${hubServer.url},https://registry-1.docker.io=${registryServer.url},https://auth.docker.io=${registryServer.url}`,
      },
    });
    try {
      const browser = await setUpAdmin(local);
      await seedRepositories(local, ["acme/payments-api"]);
      const wrong = text(await (await browser.post("/integrations/docker-hub", { namespace: "acme", username: "acmebot", token: "wrong" })).text());
      expect(wrong).toContain("the registry refused the credentials");
      const res = await browser.post("/integrations/docker-hub", { namespace: "acme", username: "acmebot", token: "dckr_pat_0001" });
      expect(res.status, text(await res.clone().text())).toBe(303);
      await runJobs(local);
      const names = (await local.runtime.database.db.selectFrom("assets").select("name").where("kind", "=", "container_image").orderBy("name").execute()).map(
        (a) => a.name,
      );
      expect(names).toEqual(["docker.io/acme/api:3.2", "docker.io/acme/web:1.0"]);
    } finally {
      await local.close();
      await hubServer.close();
      await registryServer.close();
    }
  });

  it("lists an organization's container packages on ghcr.io through a connected GitHub integration", async () => {
    const { GitHubSim } = await import("../sim/github.js");
    const github = new GitHubSim();
    github.addToken("ghp_packages_0001", "octocat", ["repo", "read:packages"]);
    github.addToken("ghp_nopackages_01", "octocat", ["repo"]);
    github.packages.set("acme", [{ name: "api", kind: "org" }]);
    const registry = new OciRegistrySim();
    registry.origin = "https://ghcr.io";
    registry.service = "ghcr.io";
    registry.users.set("acme", { password: "ghp_packages_0001", catalog: false, repositories: ["acme/api"] });
    registry.addImage("acme/api", "sha-1234", { "org.opencontainers.image.source": "https://github.com/acme/payments-api" });
    const githubServer = await startSim(github.app());
    const registryServer = await startSim(registry.app());
    const local = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${githubServer.url},https://ghcr.io=${registryServer.url}` } });
    try {
      const browser = await setUpAdmin(local);
      await seedRepositories(local, ["acme/payments-api"]);
      const noScope = text(await (await browser.post("/integrations/ghcr", { owner: "acme", token: "ghp_nopackages_01" })).text());
      // Without read:packages, ghcr.io's token service refuses the token before any listing.
      expect(noScope).toContain("the registry refused the credentials");
      const scm = await browser.post("/integrations/github", {
        githubUrl: "https://github.com",
        token: "ghp_packages_0001",
        webhookSecret: "webhook-secret-ghcr-0001",
      });
      const scmId = /\/integrations\/github\/(\d+)/.exec(scm.headers.get("location")!)![1]!;
      const res = await browser.post("/integrations/ghcr", { owner: "acme", source: scmId });
      expect(res.status, text(await res.clone().text())).toBe(303);
      await runJobs(local);
      const image = await local.runtime.database.db
        .selectFrom("assets")
        .select(["name", "repository_id"])
        .where("kind", "=", "container_image")
        .executeTakeFirstOrThrow();
      expect(image.name).toBe("ghcr.io/acme/api:sha-1234");
      expect(image.repository_id).not.toBeNull();
    } finally {
      await local.close();
      await githubServer.close();
      await registryServer.close();
    }
  });

  it("connects Azure Container Registry with a service principal and lists its catalog", async () => {
    const registry = new OciRegistrySim();
    registry.origin = "https://acmeregistry.azurecr.io";
    registry.service = "acmeregistry.azurecr.io";
    registry.users.set("0b9c2d1e-aaaa-4bbb-8ccc-1234567890ab", { password: "sp-secret-0001", catalog: true, repositories: "*" });
    registry.addImage("payments/api", "2026.11.1", { "org.opencontainers.image.source": "https://github.com/acme/payments-api" });
    const registryServer = await startSim(registry.app());
    const local = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://acmeregistry.azurecr.io=${registryServer.url}` } });
    try {
      const browser = await setUpAdmin(local);
      const bad = await browser.post("/integrations/acr", { registryName: "Acme-Registry!", username: "x", password: "y" });
      expect(text(await bad.text())).toContain("Enter the registry's name (5 to 50 letters and digits)");
      const res = await browser.post("/integrations/acr", {
        registryName: "acmeregistry.azurecr.io",
        username: "0b9c2d1e-aaaa-4bbb-8ccc-1234567890ab",
        password: "sp-secret-0001",
      });
      expect(res.status, text(await res.clone().text())).toBe(303);
      await runJobs(local);
      const image = await local.runtime.database.db.selectFrom("assets").select("name").where("kind", "=", "container_image").executeTakeFirstOrThrow();
      expect(image.name).toBe("acmeregistry.azurecr.io/payments/api:2026.11.1");
    } finally {
      await local.close();
      await registryServer.close();
    }
  });
});
