// `npm run demo`: Patchbay with its simulators running and connected, so a newcomer sees
// every page working without real accounts. Test code only: never in the production image.
import fs from "node:fs";
import path from "node:path";
import { serve } from "@hono/node-server";
import { SESSION_COOKIE } from "../src/auth/sessions.js";
import { loadConfig } from "../src/config.js";
import { enqueueJob } from "../src/jobs/queue.js";
import { createLogger } from "../src/log.js";
import { openRuntime } from "../src/runtime.js";
import { ROOT } from "./process.js";
import { GitHubSim } from "./sim/github.js";
import { JiraSim, securityBugMapping } from "./sim/jira.js";
import { SlackSim } from "./sim/slack.js";
import { AzureDevOpsSim } from "./sim/azure-devops.js";
import { GitLabSim } from "./sim/gitlab.js";
import { JiraDataCenterSim } from "./sim/jira-dc.js";
import { WebhookReceiver } from "./sim/receiver.js";
import { ServiceNowSim } from "./sim/servicenow.js";
import { startSmtpSink } from "./sim/smtp.js";
import { TeamsSim } from "./sim/teams.js";
import { OciRegistrySim } from "./sim/oci.js";
import { OsvSim, realAdvisories } from "./sim/osv.js";
import { NpmRegistrySim } from "./sim/packages.js";
import { startSim } from "./sim/serve.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "./sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, startWiz } from "./sim/wiz-fixture.js";

const DEMO_USER = { username: "admin", password: "copper-kettle-orbit" };
const DEMO_REPOSITORIES = DEFAULT_REPOSITORIES.slice(0, 3);
const port = Number(process.env.PORT ?? 8080);
const dataDir = path.join(ROOT, "data-demo");
fs.rmSync(dataDir, { recursive: true, force: true });

const wiz = await startWiz();
wiz.sim.findings.push(...wizTenant({ importable: 2500, noise: 20 }));
// GitHub lists three of the four repositories Wiz scans (and a few more), so the fourth's SCA
// findings are skipped, as the import rules say.
const github = new GitHubSim();
const GITHUB_TOKEN = "github_pat_demo_0000000000";
const WEBHOOK_SECRET = "demo-webhook-secret-0001";
github.addToken(GITHUB_TOKEN, "demo-bot");
DEMO_REPOSITORIES.forEach((name, i) =>
  github.repos.push({ id: 500 + i, full_name: name, private: true, visibility: "private", archived: false, default_branch: "main" }),
);
github.addRepos("acme", 12);
// Lockfiles for the dependency monitor, which looks their versions up in the OSV simulator.
github.files.set(DEMO_REPOSITORIES[0]!, {
  "package-lock.json": JSON.stringify(
    {
      name: "payments",
      lockfileVersion: 3,
      packages: {
        "": { name: "payments" },
        "node_modules/lodash": { version: "4.17.20" },
        "node_modules/qs": { version: "6.7.0" },
        "node_modules/@acme/ui": { version: "1.1.0" },
      },
    },
    null,
    2,
  ),
});
github.files.set(DEMO_REPOSITORIES[1]!, { "requirements.txt": "Django==3.2.4\nrequests==2.31.0\n" });
const githubServer = await startSim(github.app());
const osv = new OsvSim();
for (const advisory of realAdvisories()) osv.add(advisory);
const osvServer = await startSim(osv.app());
// A registry whose images name the demo repositories as their source.
const registry = new OciRegistrySim();
registry.users.set("demo-reader", { password: "registry-demo-token", catalog: true, repositories: "*" });
DEMO_REPOSITORIES.forEach((name, i) =>
  registry.addImage(
    name.replace(/^acme\//, "acme/"),
    "1.0",
    { "org.opencontainers.image.source": `https://github.com/${name}` },
    { seed: String(i), multiPlatform: i === 0 },
  ),
);
const registryServer = await startSim(registry.app());
const npm = new NpmRegistrySim();
npm.tokens.add("npm_demo_token_000000");
npm.packages.set("@acme/ui", { versions: ["1.0.0", "1.1.0", "1.2.0"], latest: "1.2.0", private: true });
npm.packages.set("@acme/config", { versions: ["0.4.0"], latest: "0.4.0", private: true });
const npmServer = await startSim(npm.app());
const jira = new JiraSim();
const JIRA_TOKEN = "ATATT-demo-token-0000";
jira.addToken(JIRA_TOKEN, "patchbay-svc@acme.example");
jira.addProject("SEC", "Security");
jira.addProject("PLAT", "Platform");
const jiraServer = await startSim(jira.app());
// Slack receives the notifications; its messages are printed here, as a channel would show them.
const slack = new SlackSim();
slack.webhooks.set("TDEMO/BDEMO/demo", { channel: "#security" });
const slackServer = await startSim(slack.app());
// Every other tracker and notifier, each through its simulator.
const JIRA_DC_TOKEN = "NjE5OTU0MzQ0MjA2demo";
const jiraDc = new JiraDataCenterSim();
jiraDc.tokens.set(JIRA_DC_TOKEN, { name: "svc-patchbay" });
jiraDc.addProject("OPS", "Operations");
const jiraDcServer = await startSim(jiraDc.app());
const GITLAB_TOKEN = "glpat-demo-000000000000";
const gitlab = new GitLabSim();
gitlab.addToken(GITLAB_TOKEN);
gitlab.addProjects("platform", 2);
const gitlabServer = await startSim(gitlab.app());
const ADO_TOKEN = "ado-pat-demo-000000";
const ado = new AzureDevOpsSim();
ado.tokens.add(ADO_TOKEN);
ado.addProject("Fabrikam Fiber");
const adoServer = await startSim(ado.app());
const SNOW_USER = { username: "patchbay.integration", password: "sn-demo-password-01" };
const snow = new ServiceNowSim();
snow.users.set(SNOW_USER.username, { password: SNOW_USER.password, roles: ["itil", "personalize_dictionary"] });
const snowServer = await startSim(snow.app());
const teams = new TeamsSim();
teams.workflows.add("wf-demo");
const teamsServer = await startSim(teams.app());
const TEAMS_HOOK = "https://prod-07.westeurope.logic.azure.com/workflows/wf-demo/triggers/manual/paths/invoke?api-version=2016-06-01&sig=demosig";
const RECEIVER_SECRET = "demo-receiver-secret-01";
const receiver = new WebhookReceiver(RECEIVER_SECRET);
const receiverServer = await startSim(receiver.app());
const smtp = await startSmtpSink();
const printed = setInterval(() => {
  for (const m of slack.messages.splice(0)) process.stdout.write(`[Slack ${m.channel}] ${m.text}\n`);
  for (const card of teams.cards.splice(0)) process.stdout.write(`[Teams] ${JSON.stringify(card.card).slice(0, 160)}\n`);
  for (const m of smtp.messages.splice(0)) process.stdout.write(`[E-mail] ${/^Subject: (.*)$/m.exec(m.raw)?.[1] ?? "(no subject)"}\n`);
  for (const r of receiver.received.splice(0)) process.stdout.write(`[Webhook] ${r.event}\n`);
}, 1000);
const config = loadConfig({
  ...process.env,
  PORT: String(port),
  PATCHBAY_DATA_DIR: dataDir,
  PATCHBAY_BASE_URL: `http://localhost:${port}`,
  PATCHBAY_ORIGIN_MAP: `${wiz.originMap},https://api.github.com=${githubServer.url},https://github.com=${githubServer.url},https://jira.example.com=${jiraDcServer.url},https://gitlab.com=${gitlabServer.url},https://dev.azure.com=${adoServer.url},https://acme.service-now.com=${snowServer.url},https://prod-07.westeurope.logic.azure.com=${teamsServer.url},${jira.siteOrigin}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url},https://hooks.slack.com=${slackServer.url},https://api.osv.dev=${osvServer.url},https://registry.example.com=${registryServer.url},https://registry.npmjs.org=${npmServer.url}`,
});
const runtime = await openRuntime(config, createLogger("warn"));

// Seed through the real pages, as a person would: setup, a member, and a Wiz connection.
const origin = config.baseUrl;
let cookie = "";
async function post(pathname: string, form: Record<string, string>): Promise<Response> {
  const res = await runtime.app.request(origin + pathname, {
    method: "POST",
    headers: { origin, cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  // The session cookie (setup and sign-in also set a device cookie for /login).
  const session = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  cookie = session ?? cookie;
  if (res.headers.get("location")?.startsWith("/login")) throw new Error(`demo seeding failed at ${pathname}: not signed in`);
  if (res.status >= 400) {
    // What the page says went wrong: its alerts and field errors.
    const html = await res.text();
    const said = [...html.matchAll(/class="(?:notice error|field-error|test-result[^"]*)"[^>]*>([\s\S]*?)<\/(?:p|div)>/g)].map((m) =>
      m[1]!
        .replace(/<[^>]*>/g, " ")
        .replace(/\s+/g, " ")
        .trim(),
    );
    throw new Error(`demo seeding failed at ${pathname}: HTTP ${res.status}: ${said.join(" | ") || html.slice(0, 400)}`);
  }
  return res;
}
await post("/setup", { ...DEMO_USER, confirm: DEMO_USER.password });
await post("/settings/users", { username: "developer", role: "member", password: "orchard-lantern-key", confirm: "orchard-lantern-key" });
await post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN, webhookSecret: WEBHOOK_SECRET });
await post("/integrations/wiz", {
  apiEndpoint: WIZ_ENDPOINT,
  clientId: WIZ_CLIENT.id,
  clientSecret: WIZ_CLIENT.secret,
  scanSca: "on",
  scanContainerImages: "on",
});
// Jira with the Security project mapped; critical and high findings of new scans become issues.
await post("/integrations/jira", { apiToken: JIRA_TOKEN, cloudId: jira.cloudId, email: "patchbay-svc@acme.example", siteUrl: jira.siteOrigin });
await post("/trackers/3/mappings", securityBugMapping());
await post("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "critical", groupBy: "package", pushMode: "link_and_update" });
// Slack with the default rules and the new-findings digest.
await post("/integrations/slack", {
  webhookUrl: "https://hooks.slack.com/services/TDEMO/BDEMO/demo",
  notifyIntegrationFailed: "on",
  notifyScanFailed: "on",
  notifyPushFailed: "on",
  notifyNewFindings: "on",
  minSeverity: "high",
  notifyRemediationMerged: "on",
});
// A container registry, the packages the team publishes on npm, and the dependency monitor.
await post("/integrations/oci-registry", { registryUrl: "https://registry.example.com", username: "demo-reader", password: "registry-demo-token" });
await post("/integrations/npm-registry", { scope: "@acme", token: "npm_demo_token_000000" });
await post("/integrations/dependency-monitor", {});
// The other trackers (GitHub Issues reuses the GitHub connection) and notifiers.
await post("/integrations/github-issues", { source: "1" });
await post("/integrations/jira-data-center", { baseUrl: "https://jira.example.com/jira", token: JIRA_DC_TOKEN });
await post("/integrations/gitlab-issues", { gitlabUrl: "https://gitlab.com", token: GITLAB_TOKEN });
await post("/integrations/azure-devops", { organizationUrl: "https://dev.azure.com/fabrikam", token: ADO_TOKEN });
await post("/integrations/servicenow", { instanceUrl: "https://acme.service-now.com", username: SNOW_USER.username, password: SNOW_USER.password });
await post("/integrations/microsoft-teams", { webhookUrl: TEAMS_HOOK, notifyIntegrationFailed: "on", notifyScanFailed: "on", notifyPushFailed: "on" });
await post("/integrations/email", {
  host: "127.0.0.1",
  port: String(smtp.port),
  tls: "none",
  from: "patchbay@acme.example",
  to: "security@acme.example",
  notifyIntegrationFailed: "on",
  notifyScanFailed: "on",
  notifyPushFailed: "on",
});
await post("/integrations/webhook", {
  url: `${receiverServer.url}/hooks/patchbay`,
  secret: RECEIVER_SECRET,
  notifyIntegrationFailed: "on",
  notifyScanFailed: "on",
  notifyPushFailed: "on",
});
await enqueueJob(runtime.database.db, "integration.check", { integrationId: 1 }, new Date());
await enqueueJob(runtime.database.db, "maintenance.prune", {}, new Date());
runtime.worker.notify();

const server = serve({ fetch: runtime.app.fetch, port, hostname: config.host }, () => {
  // Once the first scan has imported findings, Dependabot opens a pull request that fixes some.
  setTimeout(() => {
    github.pullBodies.set(`${github.repos[0]!.full_name}#42`, "Bumps lodash from 4.17.15 to 4.17.16.");
    const payload = github.pullRequestPayload({
      action: "opened",
      repo: github.repos[0]!,
      number: 42,
      title: "Bump lodash from 4.17.15 to 4.17.16",
      branch: "dependabot/npm_and_yarn/lodash-4.17.16",
    });
    github.deliver(`http://127.0.0.1:${port}/webhooks/github/1`, "pull_request", payload, { secret: WEBHOOK_SECRET }).catch(() => {});
  }, 20_000);
  process.stdout.write(
    [
      "",
      `Patchbay demo: ${origin}`,
      `  admin:  ${DEMO_USER.username} / ${DEMO_USER.password}`,
      "  member: developer / orchard-lantern-key",
      `  GitHub simulator: ${githubServer.url} (connected as "GitHub", ${github.repos.length} repositories; a Dependabot pull request arrives after 20 s)`,
      `  Wiz simulator: token service ${wiz.auth.url}, GraphQL ${wiz.api.url} (connected as "Wiz us1", ${wiz.sim.findings.length} findings; the first scan starts a few seconds after start-up)`,
      `  Jira simulator: ${jiraServer.url} (connected as "Jira acme"; critical findings become issues in SEC, one per package)`,
      `  Slack simulator: ${slackServer.url} (connected as "Slack"; its messages are printed below)`,
      `  GitHub Issues: through the GitHub connection (token ${GITHUB_TOKEN}); issue links open ${githubServer.url}`,
      `  Jira Data Center simulator: ${jiraDcServer.url} (https://jira.example.com/jira, personal access token ${JIRA_DC_TOKEN}; project OPS)`,
      `  GitLab simulator: ${gitlabServer.url} (https://gitlab.com, token ${GITLAB_TOKEN}; group "platform")`,
      `  Azure DevOps simulator: ${adoServer.url} (https://dev.azure.com/fabrikam, PAT ${ADO_TOKEN}; project "Fabrikam Fiber")`,
      `  ServiceNow simulator: ${snowServer.url} (https://acme.service-now.com, ${SNOW_USER.username} / ${SNOW_USER.password})`,
      `  Teams simulator: ${teamsServer.url} (workflow URL ${TEAMS_HOOK}), e-mail: SMTP on 127.0.0.1:${smtp.port}, outgoing webhook: ${receiverServer.url}/hooks/patchbay (secret ${RECEIVER_SECRET}); all printed below`,
      `  Jira (Cloud) API token ${JIRA_TOKEN} for patchbay-svc@acme.example; Wiz client ${WIZ_CLIENT.id} / ${WIZ_CLIENT.secret}; GitHub token ${GITHUB_TOKEN}, webhook secret ${WEBHOOK_SECRET}`,
      `  Registry demo-reader / registry-demo-token; npm token npm_demo_token_000000`,
      `  OCI registry simulator: ${registryServer.url} (connected as "Registry registry.example.com"; ${registry.tags.size} images on the Images page)`,
      `  npm registry simulator: ${npmServer.url} (connected as "npm @acme"), OSV simulator: ${osvServer.url} (the dependency monitor's findings appear after the repository sync)`,
      `  Data: ${dataDir} (deleted and seeded afresh on every start)`,
      "Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );
});

const stop = async () => {
  server.close();
  await runtime.close();
  await wiz.close();
  await githubServer.close();
  await jiraServer.close();
  clearInterval(printed);
  await slackServer.close();
  for (const sim of [osvServer, registryServer, npmServer]) await sim.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
