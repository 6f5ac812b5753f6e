// The fault matrix: every connector, against its simulator, under every fault a real service
// can produce — a hung or dripping response, 401, 403, 404, a 429 storm (short and long
// Retry-After), 500 and 502 storms, a 503 that clears, truncated JSON, JSON of the wrong
// shape, an HTML page instead of JSON, a refused connection. Each operation the connector
// offers (its connection test and the work its capability does) must fail with the error
// class the UI explains (never a bare TypeError), retry exactly what is safe to retry, and
// wait as long as the service asks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectorContext } from "../../src/connectors/context.js";
import { defaultCatalogue } from "../../src/connectors/catalogue.js";
import type { Connector, ConnectionSettings, ConnectorContext, Notification, SyncPage } from "../../src/connectors/types.js";
import { ExternalError, type ErrorKind, RateLimitedError } from "../../src/http.js";
import { silentLogger } from "../../src/log.js";
import { createWorkspace } from "../../src/dependencies/workspace.js";
import type { Workspace } from "../../src/connectors/types.js";
import { ADMIN, type TestApp, runJobs, seedRepositories, setUpAdmin, testApp } from "../helpers.js";
import { AzureDevOpsSim } from "../sim/azure-devops.js";
import { BitbucketSim } from "../sim/bitbucket.js";
import { DockerHubSim } from "../sim/docker-hub.js";
import { EcrApiSim } from "../sim/ecr.js";
import type { Fault, FaultKnobs } from "../sim/faults.js";
import { GitHubSim } from "../sim/github.js";
import { GitLabSim, gitlabFinding } from "../sim/gitlab.js";
import { GoogleSim, serviceAccountKey } from "../sim/google.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { JiraDataCenterSim } from "../sim/jira-dc.js";
import { OciRegistrySim } from "../sim/oci.js";
import { OsvSim, realAdvisories } from "../sim/osv.js";
import { GoProxySim, MavenRepoSim, NpmRegistrySim, PypiSim } from "../sim/packages.js";
import { WebhookReceiver } from "../sim/receiver.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { ServiceNowSim } from "../sim/servicenow.js";
import { SlackSim } from "../sim/slack.js";
import { TeamsSim } from "../sim/teams.js";
import { WizSim } from "../sim/wiz.js";
import { repoAsset, wizFinding } from "../sim/wiz-data.js";

/** The client's timeout under the hang faults; a hung answer outlasts even a large read's allowance (4×). */
const TIMEOUT_MS = 100;
const HANG_MS = 1_000;
/** Under every other fault: long enough that a busy test machine never times a request out. */
const PATIENT_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 4;

type Op = (c: Connector, connection: ConnectionSettings, ctx: ConnectorContext) => Promise<unknown>;

interface Case {
  kind: string;
  /** The simulators this connector talks to (faults are applied to all of them), with the real origins each stands for. */
  sims: { knobs: FaultKnobs; app: { fetch: unknown }; origins: string[] }[];
  connection: ConnectionSettings;
  /** The work its capability does, beside the connection test every connector has. */
  ops: Record<string, Op>;
  /** Operations that send something that must not be sent twice (a message): not retried after a lost answer. */
  sends?: string[];
  /** Operations that read no JSON from a 2xx answer (a webhook's "ok", an HTML index, a text list): a mangled body is theirs to read. */
  lenient?: string[];
  /** Operations that read one repository at a time: a refusal for a repository skips it, with the reason, and the scan goes on. */
  perRepository?: string[];
  /** Error kinds an operation reports instead of the fault's own, and why. */
  kinds?: Record<string, Partial<Record<number | "html", ErrorKind[]>>>;
}

/** A registry that refuses /v2/_catalog (401 insufficient_scope, 403, or 404 where it has none) is asked for named repositories instead. */
const CATALOG_REFUSED: Partial<Record<number | "html", ErrorKind[]>> = { 401: ["permission"], 403: ["permission"], 404: ["permission"] };

const NOTIFICATION: Notification = {
  event: "test",
  level: "info",
  title: "Patchbay test message",
  text: "Sent from the fault matrix.",
  facts: [{ label: "Integration", value: "fault matrix" }],
  more: 0,
  at: "2026-11-23T10:00:00.000Z",
};

const catalogue = defaultCatalogue();
function connector(kind: string): Connector {
  const c = catalogue.get(kind);
  if (!c) throw new Error(`no connector ${kind}`);
  return c;
}

function cases(): Case[] {
  const wiz = new WizSim();
  wiz.addClient("patchbay-sa", "wiz-secret-0001");
  wiz.findings.push(
    wizFinding(1, repoAsset("acme/api"), { name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.20", fixedVersion: "4.17.21", severity: "CRITICAL" }),
  );

  const github = new GitHubSim();
  github.addToken("github_pat_faults_0001", "octocat", ["repo", "read:org", "security_events", "read:packages"]);
  github.repos.push({ id: 601, full_name: "acme/api", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/api", {
    "package-lock.json": JSON.stringify({ name: "api", lockfileVersion: 3, packages: { "": { name: "api" }, "node_modules/lodash": { version: "4.17.20" } } }),
  });
  const githubLink = { settings: { githubUrl: "https://github.com" }, secrets: { token: "github_pat_faults_0001" } };

  const gitlab = new GitLabSim();
  gitlab.addToken("glpat-faults-0001");
  gitlab.addProjects("acme", 3);
  const project = gitlab.projects[0]!;
  gitlab.vulnerabilityFindings.set(String(project.id), [
    gitlabFinding(project, { id: 1, cve: "CVE-2021-23337", name: "lodash", version: "4.17.20", file: "package-lock.json", severity: "high" }),
  ]);
  const gitlabLink = { settings: { gitlabUrl: "https://gitlab.example.com" }, secrets: { token: "glpat-faults-0001" } };

  const bitbucket = new BitbucketSim();
  bitbucket.addAccessToken("ATCTT3xFfGN0-faults");
  bitbucket.addRepos("acme", 3);

  const jira = new JiraSim();
  jira.addToken("ATATT-faults", "svc@acme.example");
  jira.addProject("SEC", "Security");
  const jiraDc = new JiraDataCenterSim();
  jiraDc.tokens.set("dc-pat-faults", { name: "svc-patchbay" });
  jiraDc.addProject("SEC", "Security");

  const ado = new AzureDevOpsSim();
  ado.tokens.add("ado-pat-faults");
  ado.addProject("Fabrikam Fiber");

  const snow = new ServiceNowSim();
  snow.users.set("svc.patchbay", { password: "unused", roles: ["itil", "personalize_dictionary"] });
  snow.oauthClients.set("5f1b2c3d", { secret: "oauth-secret-faults", user: "svc.patchbay" });

  const slack = new SlackSim();
  slack.webhooks.set("T0001/B0001/faultsfaultsfaults", { channel: "C0SECURITY" });
  const teams = new TeamsSim();
  teams.workflows.add("wf-faults");
  const receiver = new WebhookReceiver("receiver-secret-faults");

  const oci = new OciRegistrySim();
  oci.users.set("ci-reader", { password: "registry-token-faults", catalog: true, repositories: "*" });
  oci.addImage("acme/api", "1.0", {});

  const hub = new DockerHubSim();
  hub.accounts.set("acmebot", "dckr_pat_faults");
  hub.repositories.set("acme", [{ name: "api", private: true }]);
  const hubRegistry = new OciRegistrySim();
  hubRegistry.origin = "https://registry-1.docker.io";
  hubRegistry.realm = "https://auth.docker.io/token";
  hubRegistry.service = "registry.docker.io";
  hubRegistry.users.set("acmebot", { password: "dckr_pat_faults", catalog: false, repositories: ["acme/api"] });
  hubRegistry.addImage("acme/api", "3.2", {});

  const ghcrRegistry = new OciRegistrySim();
  ghcrRegistry.origin = "https://ghcr.io";
  ghcrRegistry.service = "ghcr.io";
  ghcrRegistry.users.set("acme", { password: "github_pat_faults_0001", catalog: false, repositories: "*" });
  github.packages.set("acme", [{ name: "api", kind: "org" }]);
  ghcrRegistry.addImage("acme/api", "1.0", {});

  const acrRegistry = new OciRegistrySim();
  acrRegistry.origin = "https://acmeregistry.azurecr.io";
  acrRegistry.users.set("0b9c2d1e-aaaa-4bbb-8ccc-1234567890ab", { password: "sp-secret-faults", catalog: true, repositories: "*" });
  acrRegistry.addImage("payments/api", "1.0", {});

  const ecrApi = new EcrApiSim();
  ecrApi.keys.set("AKIAPATCHBAYFAULTS01", { secret: "ecr-secret-faults", allowed: true });
  ecrApi.repositories = ["payments/api"];
  const ecrRegistry = new OciRegistrySim();
  ecrRegistry.basicAuth = true;
  ecrRegistry.origin = "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com";
  ecrRegistry.users.set("AWS", { password: ecrApi.registryPassword, catalog: false, repositories: "*" });
  ecrRegistry.addImage("payments/api", "v3", {});

  const sa = serviceAccountKey();
  const google = new GoogleSim();
  google.keys.set(sa.key.client_email, sa.publicKey);
  const garRegistry = new OciRegistrySim();
  garRegistry.origin = "https://europe-docker.pkg.dev";
  garRegistry.realm = "https://europe-docker.pkg.dev/token";
  garRegistry.service = "europe-docker.pkg.dev";
  garRegistry.externalUsers = (name, password) =>
    name === "oauth2accesstoken" && google.isAccessToken(password) ? { catalog: false, repositories: "*" } : undefined;
  const garDigest = garRegistry.addImage("acme-prod/containers/api", "1.4.0", {});
  google.repositories.set("projects/acme-prod/locations/europe/repositories/containers", {
    format: "DOCKER",
    images: [{ uri: `europe-docker.pkg.dev/acme-prod/containers/api@${garDigest}`, tags: ["1.4.0"] }],
  });

  const osv = new OsvSim();
  for (const advisory of realAdvisories()) osv.add(advisory);

  const npm = new NpmRegistrySim();
  npm.tokens.add("npm_faults_token_0001");
  npm.packages.set("@acme/ui", { versions: ["1.0.0"], latest: "1.0.0", private: true });
  const pypi = new PypiSim();
  pypi.projects.set("acme-tools", ["acme_tools-1.0.0.tar.gz"]);
  const maven = new MavenRepoSim();
  maven.artifacts.set("com.acme:billing-api", { versions: ["1.8.0"], release: "1.8.0" });
  const goProxy = new GoProxySim();
  goProxy.modules.set("github.com/acme/kit", { tags: ["v1.0.0"] });

  const githubSim = { knobs: github.faults, app: github.app(), origins: ["https://api.github.com"] };
  const gitlabSim = { knobs: gitlab.faults, app: gitlab.app(), origins: ["https://gitlab.example.com"] };
  const scan: Op = (c, connection, ctx) => c.scanner!.session(connection, ctx).fetchPage(null);
  const repositories: Op = (c, connection, ctx) => c.scm!.session(connection, ctx).listRepositories(null);
  const projects: Op = (c, connection, ctx) => c.tracker!.session(connection, ctx).projects();
  const images: Op = (c, connection, ctx) => c.registry!.session(connection, ctx).repositories();
  const packages: Op = (c, connection, ctx) => c.packages!.list(connection, ctx);
  const send: Op = (c, connection, ctx) => c.notifier!.send(connection, ctx, NOTIFICATION);

  return [
    {
      kind: "wiz",
      sims: [
        { knobs: wiz.faults, app: wiz.authApp(), origins: ["https://auth.app.wiz.io"] },
        { knobs: wiz.faults, app: wiz.apiApp(), origins: ["https://api.us1.app.wiz.io"] },
      ],
      connection: {
        settings: { apiEndpoint: "https://api.us1.app.wiz.io/", clientId: "patchbay-sa", scanSca: true },
        secrets: { clientSecret: "wiz-secret-0001" },
      },
      ops: { scan },
    },
    { kind: "github", sims: [githubSim], connection: githubLink, ops: { repositories } },
    { kind: "gitlab", sims: [gitlabSim], connection: gitlabLink, ops: { repositories } },
    {
      kind: "bitbucket",
      sims: [{ knobs: bitbucket.faults, app: bitbucket.app(), origins: ["https://api.bitbucket.org", "https://bitbucket.org"] }],
      connection: { settings: { workspace: "acme" }, secrets: { token: "ATCTT3xFfGN0-faults" } },
      ops: { repositories },
    },
    {
      kind: "github-dependabot",
      sims: [githubSim],
      connection: { settings: { integration: "" }, secrets: {}, reused: githubLink },
      ops: { scan },
      perRepository: ["scan"],
    },
    {
      kind: "gitlab-vulnerabilities",
      sims: [gitlabSim],
      connection: { settings: { integration: "" }, secrets: {}, reused: gitlabLink },
      ops: { scan },
      perRepository: ["scan"],
    },
    {
      kind: "jira",
      sims: [{ knobs: jira.faults, app: jira.app(), origins: ["https://acme.atlassian.net", "https://api.atlassian.com"] }],
      connection: {
        settings: { cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: "https://acme.atlassian.net" },
        secrets: { apiToken: "ATATT-faults" },
      },
      ops: { projects },
    },
    {
      kind: "jira-data-center",
      sims: [{ knobs: jiraDc.faults, app: jiraDc.app(), origins: ["https://jira.example.com"] }],
      connection: { settings: { baseUrl: "https://jira.example.com/jira" }, secrets: { token: "dc-pat-faults" } },
      ops: { projects },
    },
    { kind: "github-issues", sims: [githubSim], connection: { settings: { source: "" }, secrets: {}, reused: githubLink }, ops: { projects } },
    { kind: "gitlab-issues", sims: [gitlabSim], connection: { settings: { source: "" }, secrets: {}, reused: gitlabLink }, ops: { projects } },
    {
      kind: "azure-devops",
      sims: [{ knobs: ado.faults, app: ado.app(), origins: ["https://dev.azure.com"] }],
      connection: { settings: { organizationUrl: "https://dev.azure.com/fabrikam" }, secrets: { token: "ado-pat-faults" } },
      ops: { projects },
      // Azure DevOps answers a token it does not accept with its sign-in page (HTTP 203 or 200).
      kinds: { test: { html: ["auth"] }, projects: { html: ["auth"] } },
    },
    {
      kind: "servicenow",
      sims: [{ knobs: snow.faults, app: snow.app(), origins: ["https://acme.service-now.com"] }],
      connection: { settings: { instanceUrl: "https://acme.service-now.com", clientId: "5f1b2c3d" }, secrets: { clientSecret: "oauth-secret-faults" } },
      ops: { projects },
    },
    {
      kind: "slack",
      sims: [{ knobs: slack.faults, app: slack.app(), origins: ["https://hooks.slack.com", "https://slack.com"] }],
      connection: { settings: {}, secrets: { webhookUrl: "https://hooks.slack.com/services/T0001/B0001/faultsfaultsfaults" } },
      ops: { send },
      sends: ["send"],
      // Incoming webhooks answer "ok" as plain text; any 2xx is a delivered message.
      lenient: ["test", "send"],
    },
    {
      kind: "microsoft-teams",
      sims: [{ knobs: teams.faults, app: teams.app(), origins: ["https://prod-42.westeurope.logic.azure.com"] }],
      connection: {
        settings: {},
        secrets: {
          webhookUrl: "https://prod-42.westeurope.logic.azure.com/workflows/wf-faults/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t",
        },
      },
      ops: { send },
      sends: ["send"],
      lenient: ["test", "send"],
    },
    {
      kind: "webhook",
      sims: [{ knobs: receiver.faults, app: receiver.app(), origins: ["https://hooks.acme.example"] }],
      connection: { settings: { url: "https://hooks.acme.example/hooks/patchbay" }, secrets: { secret: "receiver-secret-faults" } },
      ops: { send },
      sends: ["send"],
      lenient: ["test", "send"],
    },
    {
      kind: "oci-registry",
      sims: [{ knobs: oci.faults, app: oci.app(), origins: ["https://registry.example.com"] }],
      connection: { settings: { registryUrl: "https://registry.example.com", username: "ci-reader" }, secrets: { password: "registry-token-faults" } },
      ops: { images },
      kinds: { images: CATALOG_REFUSED },
    },
    {
      kind: "docker-hub",
      sims: [
        { knobs: hub.faults, app: hub.app(), origins: ["https://hub.docker.com"] },
        { knobs: hubRegistry.faults, app: hubRegistry.app(), origins: ["https://registry-1.docker.io", "https://auth.docker.io"] },
      ],
      connection: { settings: { namespace: "acme", username: "acmebot" }, secrets: { token: "dckr_pat_faults" } },
      ops: { images },
    },
    {
      kind: "ghcr",
      sims: [githubSim, { knobs: ghcrRegistry.faults, app: ghcrRegistry.app(), origins: ["https://ghcr.io"] }],
      connection: { settings: { owner: "acme" }, secrets: { token: "github_pat_faults_0001" } },
      ops: { images },
    },
    {
      kind: "acr",
      sims: [{ knobs: acrRegistry.faults, app: acrRegistry.app(), origins: ["https://acmeregistry.azurecr.io"] }],
      connection: {
        settings: { registryName: "acmeregistry.azurecr.io", username: "0b9c2d1e-aaaa-4bbb-8ccc-1234567890ab" },
        secrets: { password: "sp-secret-faults" },
      },
      ops: { images },
      kinds: { images: CATALOG_REFUSED },
    },
    {
      kind: "ecr",
      sims: [
        { knobs: ecrApi.faults, app: ecrApi.app(), origins: ["https://api.ecr.eu-west-1.amazonaws.com"] },
        { knobs: ecrRegistry.faults, app: ecrRegistry.app(), origins: ["https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"] },
      ],
      connection: {
        settings: { accountId: "123456789012", region: "eu-west-1", accessKeyId: "AKIAPATCHBAYFAULTS01" },
        secrets: { secretAccessKey: "ecr-secret-faults" },
      },
      ops: { images },
    },
    {
      kind: "gar",
      sims: [
        { knobs: google.faults, app: google.app(), origins: ["https://oauth2.googleapis.com", "https://artifactregistry.googleapis.com"] },
        { knobs: garRegistry.faults, app: garRegistry.app(), origins: ["https://europe-docker.pkg.dev"] },
      ],
      connection: { settings: { projectId: "acme-prod", location: "europe" }, secrets: { serviceAccountKey: sa.json } },
      ops: { images },
    },
    {
      kind: "dependency-monitor",
      sims: [{ knobs: osv.faults, app: osv.app(), origins: ["https://api.osv.dev"] }, githubSim],
      connection: { settings: {}, secrets: {} },
      perRepository: ["scan"],
      ops: {
        scan,
        lookup: (c, connection, ctx) => c.advisories!.lookup(connection, ctx, [{ ecosystem: "npm", name: "lodash", version: "4.17.20" }]),
      },
    },
    {
      kind: "npm-registry",
      sims: [{ knobs: npm.faults, app: npm.app(), origins: ["https://registry.npmjs.org"] }],
      connection: { settings: { scope: "@acme" }, secrets: { token: "npm_faults_token_0001" } },
      ops: { packages },
    },
    {
      kind: "pypi",
      sims: [{ knobs: pypi.faults, app: pypi.app(), origins: ["https://pypi.acme.internal"] }],
      connection: { settings: { indexUrl: "https://pypi.acme.internal/simple", prefix: "acme-" }, secrets: {} },
      ops: { packages },
      // The Simple API's HTML form: a page that is not JSON is read as HTML.
      lenient: ["test", "packages"],
    },
    {
      kind: "maven",
      sims: [{ knobs: maven.faults, app: maven.app(), origins: ["https://nexus.acme.internal"] }],
      connection: { settings: { repositoryUrl: "https://nexus.acme.internal/repository/maven-releases", groupIds: "com.acme" }, secrets: {} },
      ops: { packages },
      // Directory listings are HTML: a page without artifact links lists none.
      lenient: ["test", "packages"],
    },
    {
      kind: "go-proxy",
      sims: [{ knobs: goProxy.faults, app: goProxy.app(), origins: ["https://goproxy.acme.internal"] }],
      connection: { settings: { proxyUrl: "https://goproxy.acme.internal", modules: "github.com/acme/kit" }, secrets: {} },
      ops: { packages },
    },
  ];
}

interface FaultCase {
  name: string;
  fault: Fault | "refused";
  /** The client's timeout and attempts for this fault. */
  client?: { timeoutMs: number; maxAttempts: number };
  /** What every operation must end in. */
  expect: (result: Outcome, c: Case, op: string) => void;
}

interface Outcome {
  error: unknown;
  value: unknown;
  /** The most times any one request was sent (1: never repeated). */
  requests: number;
  /** In-line waits before retries, in ms. */
  sleeps: number[];
}

function failure(outcome: Outcome, kinds: ErrorKind[], message?: RegExp): ExternalError {
  const { error } = outcome;
  expect(error, `expected an ExternalError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`).toBeInstanceOf(ExternalError);
  const e = error as ExternalError;
  expect(kinds, `kind ${e.kind}: ${e.message}`).toContain(e.kind);
  if (message) expect(e.message).toMatch(message);
  expect(e.message).not.toMatch(/undefined|\[object Object\]|TypeError/);
  return e;
}

/** An answer with nothing usable in it: read as nothing, or reported as the service's remote error. */
function unreadOrRemote(o: Outcome): void {
  if (o.error !== undefined) failure(o, ["remote"]);
}

/** A refusal: its kind (or the operation's own reading of it), never retried; a per-repository scan skips the repository instead. */
function refusal(status: number, kind: ErrorKind, name: string): FaultCase {
  return {
    name,
    fault: { status },
    expect: (o, c, op) => {
      if (c.perRepository?.includes(op) && o.error === undefined) {
        const records = (o.value as SyncPage).records;
        for (const r of records) expect("skip" in r && r.skip, JSON.stringify(r)).toMatch(/\(|not|no /);
        return;
      }
      const kinds: ErrorKind[] = c.kinds?.[op]?.[status] ?? (status === 404 ? ["not_found", "unreachable"] : [kind]);
      failure(o, kinds);
      notRetried(o);
    },
  };
}

const retried = (o: Outcome) => expect(o.requests, "retried up to the attempt limit").toBe(MAX_ATTEMPTS);
const notRetried = (o: Outcome) => expect(o.requests, "answered once, not retried").toBe(1);

const FAULTS: FaultCase[] = [
  {
    name: "a hung response times out as unreachable",
    fault: { latencyMs: HANG_MS },
    client: { timeoutMs: TIMEOUT_MS, maxAttempts: 2 },
    expect: (o) => failure(o, ["unreachable"], /did not answer within/),
  },
  {
    name: "a slow drip body times out as unreachable",
    fault: { dripMs: HANG_MS / 8 },
    client: { timeoutMs: TIMEOUT_MS, maxAttempts: 2 },
    expect: (o) => failure(o, ["unreachable"], /did not answer within/),
  },
  refusal(401, "auth", "401 is an authentication error, not retried"),
  refusal(403, "permission", "403 is a permission error, not retried"),
  refusal(404, "not_found", "404 is not found (or a wrong address), not retried"),
  {
    name: "a 429 storm waits as asked, then reports the rate limit",
    fault: { status: 429, headers: { "retry-after": "2" } },
    expect: (o) => {
      const e = failure(o, ["rate_limited"]);
      expect(e).toBeInstanceOf(RateLimitedError);
      retried(o);
      expect(o.sleeps).toEqual([2000, 2000, 2000]);
    },
  },
  {
    name: "a 429 asking for an hour is not waited in-line: the job is rescheduled",
    fault: { status: 429, headers: { "retry-after": "3600" } },
    expect: (o) => {
      const e = failure(o, ["rate_limited"]);
      expect((e as RateLimitedError).retryAfterSeconds).toBe(3600);
      notRetried(o);
      expect(o.sleeps).toEqual([]);
    },
  },
  {
    name: "a 500 storm is a remote error",
    fault: { status: 500 },
    expect: (o, c, op) => {
      failure(o, ["remote"], /server error \(HTTP 500\)/);
      if (c.sends?.includes(op)) notRetried(o);
    },
  },
  {
    name: "a 502 storm is retried where safe, then a remote error",
    fault: { status: 502 },
    expect: (o, c, op) => {
      failure(o, ["remote"], /HTTP 502/);
      if (c.sends?.includes(op)) notRetried(o);
    },
  },
  {
    name: "a 503 that clears is retried and the operation succeeds",
    fault: { status: 503, headers: { "retry-after": "1" }, times: 1 },
    expect: (o) => {
      expect(o.error, String(o.error)).toBeUndefined();
      expect(o.sleeps).toContain(1000);
    },
  },
  {
    name: "truncated JSON is a remote error",
    fault: { malformed: true },
    expect: (o, c, op) => (c.lenient?.includes(op) ? unreadOrRemote(o) : failure(o, ["remote"])),
  },
  {
    name: "JSON of the wrong shape is a remote error, or read as nothing — never a crash or a false diagnosis",
    fault: { status: 200, body: '{"unexpected": [1, 2, 3]}' },
    expect: (o) => unreadOrRemote(o),
  },
  {
    name: "an HTML page instead of the API (a proxy's sign-in page) is a remote error",
    fault: { status: 200, body: "<!doctype html><html><body>Please sign in to the proxy</body></html>", headers: { "content-type": "text/html" } },
    expect: (o, c, op) => {
      if (c.lenient?.includes(op)) return unreadOrRemote(o);
      failure(o, c.kinds?.[op]?.html ?? ["remote"]);
    },
  },
  {
    name: "a refused connection is unreachable",
    fault: "refused",
    expect: (o) => {
      failure(o, ["unreachable"], /refused the connection/);
      // Nothing was sent, so even a message may be tried again.
      retried(o);
    },
  },
];

const all = cases();
const servers = new Map<object, RunningSim>();
/** A real Patchbay database whose source control integrations list the simulators' repositories: what scans read. */
let patchbay: TestApp;
let closedPort = "";

beforeAll(async () => {
  for (const c of all) {
    for (const sim of c.sims) {
      if (!servers.has(sim.app)) servers.set(sim.app, await startSim(sim.app as never));
    }
  }
  // A privileged port nothing listens on (1023: below the ephemeral range, and not one of the
  // ports fetch refuses to use): no other test's server can take it meanwhile, as one can take a
  // closed server's ephemeral port at once — the "refused" request then reaches that server.
  closedPort = "http://127.0.0.1:1023";

  const scms = all.filter((c) => c.kind === "github" || c.kind === "gitlab");
  patchbay = await testApp({ env: { PATCHBAY_ORIGIN_MAP: scms.flatMap((c) => [...originMap(c, false)].map(([from, to]) => `${from}=${to}`)).join(",") } });
  const admin = await setUpAdmin(patchbay);
  for (const c of scms) {
    const res = await admin.post(`/integrations/${c.kind}`, { ...(c.connection.settings as Record<string, string>), ...c.connection.secrets });
    expect(res.status).toBe(303);
    const id = /\/integrations\/[a-z]+\/(\d+)/.exec(res.headers.get("location")!)![1]!;
    for (const user of all.filter((u) => u.connection.reused === c.connection))
      user.connection.settings["integration" in user.connection.settings ? "integration" : "source"] = id;
  }
  await runJobs(patchbay);
});
afterAll(async () => {
  await patchbay.close();
  for (const s of servers.values()) await s.close();
});

function originMap(c: Case, refused: boolean): Map<string, string> {
  const map = new Map<string, string>();
  for (const sim of c.sims) for (const origin of sim.origins) map.set(origin, refused ? closedPort : servers.get(sim.app)!.url);
  return map;
}

async function run(
  c: Case,
  op: string,
  fault: Fault | "refused" | undefined,
  client = { timeoutMs: PATIENT_TIMEOUT_MS, maxAttempts: MAX_ATTEMPTS },
): Promise<Outcome> {
  const knobs = [...new Set(c.sims.map((s) => s.knobs))];
  for (const k of knobs) k.clear();
  if (fault && fault !== "refused") for (const k of knobs) k.add(fault);
  const sleeps: number[] = [];
  const sent = new Map<string, number>();
  const env = {
    logger: silentLogger,
    originMap: originMap(c, fault === "refused"),
    http: {
      ...client,
      sleep: async (ms: number) => {
        sleeps.push(ms);
      },
      fetch: (input: string | URL | Request, init?: RequestInit) => {
        const key = `${init?.method ?? "GET"} ${String(input)}`;
        sent.set(key, (sent.get(key) ?? 0) + 1);
        return fetch(input, init);
      },
    },
  };
  const workspace: Workspace = createWorkspace({ ...patchbay.runtime.services, catalogue, env, now: () => new Date() });
  const ctx = { ...connectorContext(env), workspace };
  const target = connector(c.kind);
  let error: unknown;
  let value: unknown;
  try {
    value = await (op === "test" ? target.test(c.connection, ctx) : c.ops[op]!(target, c.connection, ctx));
  } catch (err) {
    error = err;
  }
  for (const k of knobs) k.clear();
  return { error, value, requests: Math.max(0, ...sent.values()), sleeps };
}

describe.each(all.map((c) => [c.kind, c] as const))("%s", (_kind, c) => {
  const ops = ["test", ...Object.keys(c.ops)];

  it("works with no fault (the matrix's baseline)", async () => {
    for (const op of ops) {
      const outcome = await run(c, op, undefined);
      expect(outcome.error, `${op}: ${String(outcome.error)}`).toBeUndefined();
    }
  });

  it.each(FAULTS.map((f) => [f.name, f] as const))("%s", async (_name, f) => {
    for (const op of ops) {
      const outcome = await run(c, op, f.fault, f.client);
      try {
        f.expect(outcome, c, op);
      } catch (err) {
        (err as Error).message = `${c.kind} ${op}: ${(err as Error).message}`;
        throw err;
      }
    }
  });
});

it("covers every connector that talks to a service over HTTP", () => {
  const covered = new Set(all.map((c) => c.kind));
  const offline = new Set(["ci-upload", "email"]);
  const missing = catalogue
    .all()
    .filter((c) => !covered.has(c.card.kind) && !offline.has(c.card.kind))
    .map((c) => c.card.kind);
  expect(missing).toEqual([]);
});

describe("one failing integration never holds the job queue", () => {
  /**
   * A Patchbay with Wiz findings on acme/api (imported), a Jira mapping covering them, and
   * the worker not yet started; `close` ends everything.
   */
  async function wizAndJira(findingCount: number, timeoutMs: number) {
    const jira = new JiraSim();
    jira.addToken("ATATT-lanes", "svc@acme.example");
    jira.addProject("SEC", "Security");
    const wiz = new WizSim();
    wiz.addClient("patchbay-sa", "wiz-secret-lanes");
    for (let i = 0; i < findingCount; i++)
      wiz.findings.push(wizFinding(i, repoAsset("acme/api"), { name: `CVE-2026-${1000 + i}`, detailedName: "lodash", version: "4.17.20", severity: "HIGH" }));
    const started = await Promise.all([startSim(jira.app()), startSim(wiz.authApp()), startSim(wiz.apiApp())]);
    const [jiraServer, wizAuth, wizApi] = started as [RunningSim, RunningSim, RunningSim];
    const app = await testApp({
      env: {
        PATCHBAY_ORIGIN_MAP: `https://acme.atlassian.net=${jiraServer.url},https://api.atlassian.com=${jiraServer.url},https://auth.app.wiz.io=${wizAuth.url},https://api.us1.app.wiz.io=${wizApi.url}`,
      },
      runtime: { http: { sleep: async () => {}, timeoutMs, maxAttempts: 1 } },
    });
    const close = async () => {
      // Jira answers again, so the pushes still running end before the app closes.
      jira.faults.clear();
      await app.close();
      for (const s of started) await s.close();
    };
    try {
      const admin = await setUpAdmin(app);
      await seedRepositories(app, ["acme/api"]);
      const wizRes = await admin.post("/integrations/wiz", {
        apiEndpoint: "https://api.us1.app.wiz.io/",
        clientId: "patchbay-sa",
        clientSecret: "wiz-secret-lanes",
        scanSca: "on",
      });
      expect(wizRes.status).toBe(303);
      await runJobs(app, 5_000);
      const jiraRes = await admin.post("/integrations/jira", {
        apiToken: "ATATT-lanes",
        cloudId: jira.cloudId,
        email: "svc@acme.example",
        siteUrl: "https://acme.atlassian.net",
      });
      const jiraId = /\/integrations\/jira\/(\d+)/.exec(jiraRes.headers.get("location")!)![1]!;
      const mapping = await admin.post(`/trackers/${jiraId}/mappings`, securityBugMapping());
      const mappingId = /\/trackers\/mappings\/(\d+)/.exec(mapping.headers.get("location")!)![1]!;
      await admin.post(`/trackers/mappings/${mappingId}/assignments`, { scope: "all", minSeverity: "low", groupBy: "finding", pushMode: "explicit" });
      await runJobs(app);
      const wizId = /\/integrations\/wiz\/(\d+)/.exec(wizRes.headers.get("location")!)![1]!;
      return { app, admin, db: app.runtime.database.db, jira, jiraId, wizId, close };
    } catch (err) {
      await close();
      throw err;
    }
  }

  /** Starts the worker and waits (up to 10 s) for the newest scan to succeed; the most jobs of `type` seen running at once. */
  async function untilScanSucceeds(setup: Awaited<ReturnType<typeof wizAndJira>>, type: string): Promise<{ scan: string | undefined; mostRunning: number }> {
    const began = Date.now();
    setup.app.runtime.worker.start();
    let mostRunning = 0;
    let scan: { status: string } | undefined;
    while (scan?.status !== "succeeded" && Date.now() - began < 10_000) {
      mostRunning = Math.max(
        mostRunning,
        (await setup.db.selectFrom("jobs").select("status").where("type", "=", type).where("status", "=", "running").execute()).length,
      );
      scan = await setup.db.selectFrom("jobs").select("status").where("type", "=", "scanner.sync").orderBy("id", "desc").executeTakeFirst();
      await new Promise((r) => setTimeout(r, 25));
    }
    return { scan: scan?.status, mostRunning };
  }

  it("a hung tracker takes at most half the worker's slots: a scan queued behind its pushes runs at once", async () => {
    const setup = await wizAndJira(8, 1_500);
    const { admin, db, jira, wizId } = setup;
    try {
      const findings = await db.selectFrom("findings").select("id").execute();
      expect(findings).toHaveLength(8);
      // Jira stops answering; eight pushes queue up ahead of a scan.
      jira.faults.add({ latencyMs: 4_000 });
      for (const f of findings) expect((await admin.post(`/vulnerabilities/${f.id}/push`, {})).status).toBe(303);
      expect((await admin.post(`/integrations/wiz/${wizId}/sync`, {})).status).toBe(303);
      const pushes = () => db.selectFrom("jobs").select(["status", "attempts"]).where("type", "=", "ticket.push").execute();
      expect(await pushes()).toHaveLength(8);
      const before = jira.faults.requests.length;

      const { scan } = await untilScanSucceeds(setup, "ticket.push");
      expect(scan).toBe("succeeded");
      // The pushes were still waiting on Jira when the scan finished: they held at most two slots,
      // each waiting on one request (the eight go to Jira together, as one bulk create).
      expect((await pushes()).filter((j) => j.status === "succeeded")).toHaveLength(0);
      expect(jira.faults.requests.length - before).toBeLessThanOrEqual(2);
    } finally {
      await setup.close();
    }
  });

  it("four bulk pushes to a tracker that never answers run two at a time, in its lane, and another integration's sync still runs at once", async () => {
    const setup = await wizAndJira(4, 5_000);
    const { admin, db, jira, jiraId, wizId } = setup;
    try {
      // Jira stops answering at all; one person starts four bulk pushes, then a scan is asked for.
      jira.faults.add({ latencyMs: 600_000 });
      for (let i = 0; i < 4; i++) expect((await admin.post("/vulnerabilities/push", { query: "?severity=high", confirm: "yes" })).status).toBe(303);
      expect((await admin.post(`/integrations/wiz/${wizId}/sync`, {})).status).toBe(303);
      const batches = () => db.selectFrom("jobs").select(["status", "lane", "group_key"]).where("type", "=", "tickets.batch").execute();
      expect((await batches()).map((b) => [b.lane, b.group_key])).toEqual(Array(4).fill([`integration:${jiraId}`, `bulk:${ADMIN.username}`]));

      const { scan, mostRunning } = await untilScanSucceeds(setup, "tickets.batch");
      expect(scan).toBe("succeeded");
      expect(mostRunning).toBeLessThanOrEqual(2);
      expect((await batches()).filter((j) => j.status === "queued")).toHaveLength(2);
    } finally {
      await setup.close();
    }
  });
});
