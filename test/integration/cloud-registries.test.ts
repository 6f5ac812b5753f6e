// Amazon ECR (SigV4-signed API calls, a registry password from GetAuthorizationToken used as
// Basic credentials) and Google Artifact Registry (a service account's signed assertion for an
// access token, the Artifact Registry API for the images, the registry's token service with
// "oauth2accesstoken"): both list their images by digest, and say precisely what is wrong.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { EcrApiSim } from "../sim/ecr.js";
import { GoogleSim, serviceAccountKey } from "../sim/google.js";
import { OciRegistrySim } from "../sim/oci.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const GAR_HOST = "europe-docker.pkg.dev";
let ecrApi: EcrApiSim;
let ecrRegistry: OciRegistrySim;
let google: GoogleSim;
let garRegistry: OciRegistrySim;
let servers: RunningSim[];
let app: TestApp;
let admin: Browser;
let sa: ReturnType<typeof serviceAccountKey>;

beforeEach(async () => {
  ecrApi = new EcrApiSim();
  ecrApi.keys.set("AKIAPATCHBAYTEST0001", { secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", allowed: true });
  ecrApi.keys.set("AKIAPATCHBAYNOPOLICY", { secret: "no-policy-secret", allowed: false });
  ecrApi.pageSize = 2;
  ecrApi.repositories = ["payments/api", "payments/worker", "web"];
  ecrRegistry = new OciRegistrySim();
  ecrRegistry.basicAuth = true;
  ecrRegistry.origin = `https://${ECR_HOST}`;
  ecrRegistry.users.set("AWS", { password: ecrApi.registryPassword, catalog: false, repositories: "*" });
  ecrRegistry.addImage("payments/api", "v3", { "org.opencontainers.image.source": "https://github.com/acme/payments-api" });
  ecrRegistry.addImage("payments/worker", "v3", {}, { seed: "worker" });
  ecrRegistry.addImage("web", "latest", {}, { multiPlatform: true });

  sa = serviceAccountKey();
  google = new GoogleSim();
  google.keys.set(sa.key.client_email, sa.publicKey);
  google.pageSize = 1;
  garRegistry = new OciRegistrySim();
  garRegistry.origin = `https://${GAR_HOST}`;
  garRegistry.realm = `https://${GAR_HOST}/token`;
  garRegistry.service = GAR_HOST;
  garRegistry.externalUsers = (name, password) =>
    name === "oauth2accesstoken" && google.isAccessToken(password) ? { catalog: false, repositories: "*" } : undefined;
  const api = garRegistry.addImage("acme-prod/containers/api", "1.4.0", {});
  garRegistry.addImage("acme-prod/containers/jobs", "2026-11-01", {}, { seed: "jobs" });
  google.repositories.set("projects/acme-prod/locations/europe/repositories/containers", {
    format: "DOCKER",
    images: [
      { uri: `${GAR_HOST}/acme-prod/containers/api@${api}`, tags: ["1.4.0"] },
      { uri: `${GAR_HOST}/acme-prod/containers/jobs@sha256:${"1".repeat(64)}`, tags: ["2026-11-01"] },
    ],
  });
  google.repositories.set("projects/acme-prod/locations/europe/repositories/npm-internal", { format: "NPM", images: [] });

  servers = await Promise.all([startSim(ecrApi.app()), startSim(ecrRegistry.app()), startSim(google.app()), startSim(garRegistry.app())]);
  const [e, er, g, gr] = servers as RunningSim[];
  app = await testApp({
    env: {
      PATCHBAY_ORIGIN_MAP: `https://api.ecr.eu-west-1.amazonaws.com=${e!.url},https://${ECR_HOST}=${er!.url},https://oauth2.googleapis.com=${g!.url},https://artifactregistry.googleapis.com=${g!.url},https://${GAR_HOST}=${gr!.url}`,
    },
  });
  admin = await setUpAdmin(app);
});
afterEach(async () => {
  await app.close();
  await Promise.all(servers.map((s) => s.close()));
});

const db = () => app.runtime.database.db;
const ecrForm = {
  accountId: "123456789012",
  region: "eu-west-1",
  accessKeyId: "AKIAPATCHBAYTEST0001",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const garForm = () => ({ projectId: "acme-prod", location: "europe", serviceAccountKey: sa.json });
const images = () => db().selectFrom("assets").select("name").where("kind", "=", "container_image").orderBy("name").execute();

describe("Amazon ECR", () => {
  it("signs its calls, lists every repository across pages, and pulls with the registry password", async () => {
    const ok = text(await (await admin.post("/integrations/ecr/test", ecrForm, { htmx: true })).text());
    expect(ok).toContain(`Connected to ${ECR_HOST}`);
    expect(ok).toContain("3 repositories: payments/api, payments/worker, web");
    expect((await admin.post("/integrations/ecr", ecrForm)).status).toBe(303);
    await runJobs(app);
    expect((await images()).map((i) => i.name)).toEqual([`${ECR_HOST}/payments/api:v3`, `${ECR_HOST}/payments/worker:v3`, `${ECR_HOST}/web:latest`]);
    expect(ecrApi.actions.filter((a) => a === "DescribeRepositories").length).toBeGreaterThanOrEqual(2); // paged by nextToken
  });

  it("tells a wrong secret, an unknown key and a missing policy apart", async () => {
    const wrongSecret = text(await (await admin.post("/integrations/ecr/test", { ...ecrForm, secretAccessKey: "not-the-secret" }, { htmx: true })).text());
    expect(wrongSecret).toContain("Connection Failed — AWS refused the access key");
    expect(wrongSecret).toContain("InvalidSignatureException");
    const unknown = text(await (await admin.post("/integrations/ecr/test", { ...ecrForm, accessKeyId: "AKIAUNKNOWN000000000" }, { htmx: true })).text());
    expect(unknown).toContain("UnrecognizedClientException");
    const noPolicy = text(
      await (
        await admin.post("/integrations/ecr/test", { ...ecrForm, accessKeyId: "AKIAPATCHBAYNOPOLICY", secretAccessKey: "no-policy-secret" }, { htmx: true })
      ).text(),
    );
    expect(noPolicy).toContain("may not call ecr:GetAuthorizationToken");
    expect(noPolicy).toContain("AmazonEC2ContainerRegistryReadOnly");
  });
});

describe("Google Artifact Registry", () => {
  it("exchanges a signed assertion for a token, lists Docker images through the API, and pulls them", async () => {
    const ok = text(await (await admin.post("/integrations/gar/test", garForm(), { htmx: true })).text());
    expect(ok).toContain(`Connected to ${GAR_HOST}`);
    expect(ok).toContain("2 repositories: acme-prod/containers/api, acme-prod/containers/jobs");
    expect((await admin.post("/integrations/gar", garForm())).status).toBe(303);
    await runJobs(app);
    expect((await images()).map((i) => i.name)).toEqual([`${GAR_HOST}/acme-prod/containers/api:1.4.0`, `${GAR_HOST}/acme-prod/containers/jobs:2026-11-01`]);
  });

  it("explains a pasted file that is not a key, a deleted key, and a missing role", async () => {
    const notKey = text(await (await admin.post("/integrations/gar", { ...garForm(), serviceAccountKey: '{"type": "authorized_user"}' })).text());
    expect(notKey).toContain("This JSON is not a service account key");
    const other = serviceAccountKey("deleted@acme-prod.iam.gserviceaccount.com");
    const deleted = text(await (await admin.post("/integrations/gar/test", { ...garForm(), serviceAccountKey: other.json }, { htmx: true })).text());
    expect(deleted).toContain("Connection Failed — Google refused the service account key");
    expect(deleted).toContain("Invalid JWT Signature.");
    google.denied.add(sa.key.client_email);
    const denied = text(await (await admin.post("/integrations/gar/test", garForm(), { htmx: true })).text());
    expect(denied).toContain("Grant it the Artifact Registry Reader role");
  });
});
