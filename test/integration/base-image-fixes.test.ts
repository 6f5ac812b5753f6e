// Base image fixes: an image linked to its source repository (the registry's
// org.opencontainers.image.source label) has a CVE its base brings; the final stage's FROM of the
// repository's Dockerfile moves to the lowest higher tag of the same line (variant and major
// version) whose digest a scan reported without the CVE, the digest pinned as before; never to a
// tag still reported with it, another variant or another major; and not at all when the CVE is
// in the image's own layers.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text, uploadReport, uploadToken } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { OciRegistrySim } from "../sim/oci.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const GITHUB_TOKEN = "github_pat_base_images_01";
const REGISTRY = "https://registry.example.com";
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const DOCKERFILE = `# syntax=docker/dockerfile:1
FROM node:20.11.1-alpine3.19 AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev

FROM node:20.11.1-alpine3.19@${digest(1)}
COPY --from=build /app /app
CMD ["node", "/app/server.js"]
`;

function trivyImage(name: string, vulnerabilities: { id: string; pkg: string }[]): string {
  return JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: name,
    ArtifactType: "container_image",
    Metadata: { OS: { Family: "alpine", Name: "3.19.1" } },
    Results: [
      {
        Target: `${name} (alpine 3.19.1)`,
        Class: "os-pkgs",
        Type: "alpine",
        Vulnerabilities: vulnerabilities.map((v) => ({
          VulnerabilityID: v.id,
          PkgName: v.pkg,
          InstalledVersion: "3.1.4-r5",
          FixedVersion: "3.1.4-r6",
          Severity: "HIGH",
          Title: `${v.id} in ${v.pkg}`,
        })),
      },
    ],
  });
}

let github: GitHubSim;
let githubServer: RunningSim;
let oci: OciRegistrySim;
let ociServer: RunningSim;
let app: TestApp;
let admin: Browser;
let token: string;
let appDigest: string;

async function upload(asset: string, report: string): Promise<void> {
  await uploadReport(app, token, asset, report);
}

beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  github.repos.push({ id: 905, full_name: "acme/web", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/web", { Dockerfile: DOCKERFILE, "server.js": "console.log('hi')\n" });
  githubServer = await startSim(github.app());
  oci = new OciRegistrySim();
  oci.users.set("ci-reader", { password: "registry-token-0001", catalog: true, repositories: "*" });
  appDigest = oci.addImage("acme/web", "1.4", { "org.opencontainers.image.source": "https://github.com/acme/web" });
  ociServer = await startSim(oci.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${githubServer.url},${REGISTRY}=${ociServer.url}` } });
  admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN })).status).toBe(303);
  await runJobs(app);
  expect((await admin.post("/integrations/oci-registry", { registryUrl: REGISTRY, username: "ci-reader", password: "registry-token-0001" })).status).toBe(303);
  await runJobs(app);
  token = await uploadToken(admin);
  // The application image: openssl's CVE from its base, a CVE of its own layers.
  await upload(
    `registry.example.com/acme/web@${appDigest}`,
    trivyImage("registry.example.com/acme/web:1.4", [
      { id: "CVE-2024-0001", pkg: "openssl" },
      { id: "CVE-2024-0002", pkg: "busybox" },
    ]),
  );
  // Its base, and the tags scans have reported on.
  await upload(`node:20.11.1-alpine3.19@${digest(1)}`, trivyImage("node:20.11.1-alpine3.19", [{ id: "CVE-2024-0001", pkg: "openssl" }]));
  await upload(`node:20.12.2-alpine3.19@${digest(2)}`, trivyImage("node:20.12.2-alpine3.19", [{ id: "CVE-2024-0001", pkg: "openssl" }]));
  await upload(`node:20.13.1-alpine3.19@${digest(3)}`, trivyImage("node:20.13.1-alpine3.19", []));
  await upload(`node:20.10.0-alpine3.19@${digest(4)}`, trivyImage("node:20.10.0-alpine3.19", []));
  await upload(`node:22.0.0-alpine3.19@${digest(5)}`, trivyImage("node:22.0.0-alpine3.19", []));
  await upload(`node:20.14.0-bookworm@${digest(6)}`, trivyImage("node:20.14.0-bookworm", []));
});
afterEach(async () => {
  await app.close();
  await githubServer.close();
  await ociServer.close();
});

const db = () => app.runtime.database.db;
const appFinding = async (cve: string) =>
  (
    await db()
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select("findings.id")
      .where("findings.cve", "=", cve)
      .where("assets.asset_key", "=", `image:${appDigest}`)
      .executeTakeFirstOrThrow()
  ).id;

describe("base image fixes", () => {
  it("move the final stage's FROM to the lowest higher tag of its line reported without the CVE, digest pinned", async () => {
    const image = await db().selectFrom("assets").select(["repository_id"]).where("asset_key", "=", `image:${appDigest}`).executeTakeFirstOrThrow();
    expect(image.repository_id).not.toBeNull();
    const id = await appFinding("CVE-2024-0001");
    const page = text(await (await admin.get(`/vulnerabilities/${id}/fix`)).text());
    // 20.12.2 is still reported with the CVE, 22 is another major, bookworm another variant, 20.10 lower.
    expect(page).toContain("Bump node from 20.11.1-alpine3.19 to 20.13.1-alpine3.19");
    expect(page).toContain(`20.13.1-alpine3.19 (${digest(3).slice(0, 19)}…) was reported without CVE-2024-0001 by a scan on`);
    // What it fixes: the base's CVE, not the one of the image's own layers.
    expect(page).toContain("Fixes CVE-2024-0001 (high) --- a/Dockerfile");
    expect(page).not.toContain("CVE-2024-0002 (high)");
    expect((await admin.post(`/vulnerabilities/${id}/fix`, { path: "Dockerfile" })).status).toBe(303);
    await runJobs(app);
    expect(github.pulls).toHaveLength(1);
    const after = github.branchFiles("acme/web", github.pulls[0]!.head)!["Dockerfile"];
    // Only the final stage's reference: the build stage's FROM stays.
    expect(after).toBe(DOCKERFILE.replace(`FROM node:20.11.1-alpine3.19@${digest(1)}`, `FROM node:20.13.1-alpine3.19@${digest(3)}`));
  });

  it("proposes nothing when the CVE is in the image's own layers, or no higher tag of the line is reported without it", async () => {
    const own = text(await (await admin.get(`/vulnerabilities/${await appFinding("CVE-2024-0002")}/fix`)).text());
    expect(own).toContain("node:20.11.1-alpine3.19@sha256:");
    expect(own).toContain("is reported without CVE-2024-0002, so it comes from the image's own layers, not its base");
    expect(own).not.toContain("Open pull request");
    // The only clean tag of the line is found with the CVE after all.
    await upload(`node:20.13.1-alpine3.19@${digest(3)}`, trivyImage("node:20.13.1-alpine3.19", [{ id: "CVE-2024-0001", pkg: "openssl" }]));
    const none = text(await (await admin.get(`/vulnerabilities/${await appFinding("CVE-2024-0001")}/fix`)).text());
    expect(none).toContain(
      "no higher 20.11.1-alpine3.19 tag of docker.io/library/node (the same variant and major version) has been reported by a scan or an upload without CVE-2024-0001",
    );
    expect(github.pulls).toEqual([]);
  });
});
