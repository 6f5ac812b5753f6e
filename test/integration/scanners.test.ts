// More scanners: GitHub Dependabot (and code scanning alerts that name a CVE) through a
// connected GitHub integration; GitLab vulnerability findings through a connected GitLab.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text } from "../helpers.js";
import { GitHubSim, dependabotAlert } from "../sim/github.js";
import { GitLabSim, gitlabFinding } from "../sim/gitlab.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const TOKEN = "github_pat_dependabot_0001";
let github: GitHubSim;
let servers: RunningSim[];
let app: TestApp;
let admin: Browser;

beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(TOKEN);
  github.addToken("github_pat_no_security", "octocat", ["read:org"]);
  github.repos.push(
    { id: 901, full_name: "acme/shop", private: true, visibility: "private", archived: false, default_branch: "main" },
    { id: 902, full_name: "acme/legacy", private: true, visibility: "private", archived: false, default_branch: "main" },
  );
  github.files.set("acme/shop", {
    "package-lock.json": JSON.stringify({
      name: "shop",
      lockfileVersion: 3,
      packages: {
        "": {},
        "node_modules/lodash": { version: "4.17.20" },
        "node_modules/qs": { version: "6.7.0" },
        "node_modules/minimist": { version: "1.2.0" },
        "node_modules/axios": { version: "0.21.1" },
      },
    }),
    "api/requirements.txt": "Django==3.2.4\n",
  });
  const shop = [
    dependabotAlert("acme/shop", {
      number: 1,
      ghsa: "GHSA-35jh-r3h4-6jhm",
      cve: "CVE-2021-23337",
      ecosystem: "npm",
      name: "lodash",
      manifest: "package-lock.json",
      severity: "high",
      patched: "4.17.21",
    }),
    dependabotAlert("acme/shop", {
      number: 2,
      ghsa: "GHSA-hrpp-h998-j3pp",
      cve: "CVE-2022-24999",
      ecosystem: "npm",
      name: "qs",
      manifest: "package-lock.json",
      severity: "high",
      patched: "6.7.3",
      state: "dismissed",
      dismissedReason: "inaccurate",
      dismissedComment: "qs is only used in tests",
    }),
    dependabotAlert("acme/shop", {
      number: 3,
      ghsa: "GHSA-vh95-rmgr-6w4m",
      cve: "CVE-2020-7598",
      ecosystem: "npm",
      name: "minimist",
      manifest: "package-lock.json",
      severity: "medium",
      patched: "1.2.3",
      state: "dismissed",
      dismissedReason: "tolerable_risk",
    }),
    dependabotAlert("acme/shop", {
      number: 4,
      ghsa: "GHSA-68w8-qjq3-2gfm",
      cve: "CVE-2021-33203",
      ecosystem: "pip",
      name: "django",
      manifest: "api/requirements.txt",
      severity: "medium",
      patched: "3.2.5",
    }),
    dependabotAlert("acme/shop", {
      number: 5,
      ghsa: "GHSA-4w2v-q235-vp99",
      cve: null,
      ecosystem: "npm",
      name: "axios",
      manifest: "package-lock.json",
      severity: "low",
      patched: null,
      summary: "Axios cross-site request forgery",
    }),
    dependabotAlert("acme/shop", {
      number: 6,
      ghsa: "GHSA-xxxx-fixed-0001",
      cve: "CVE-2020-1111",
      ecosystem: "npm",
      name: "lodash",
      manifest: "package-lock.json",
      severity: "low",
      state: "fixed",
    }),
  ];
  // Enough alerts that the list takes two pages.
  for (let n = 10; n < 120; n++)
    shop.push(
      dependabotAlert("acme/shop", {
        number: n,
        ghsa: `GHSA-aaaa-bbbb-${String(n).padStart(4, "0")}`,
        cve: `CVE-2026-${10000 + n}`,
        ecosystem: "npm",
        name: "axios",
        manifest: "package-lock.json",
        severity: "low",
      }),
    );
  github.dependabotAlerts.set("acme/shop", shop);
  github.dependabotDisabled.add("acme/legacy");
  github.codeScanningAlerts.set("acme/shop", [
    {
      number: 1,
      state: "open",
      html_url: "https://github.com/acme/shop/security/code-scanning/1",
      created_at: "2026-10-01T00:00:00Z",
      rule: {
        id: "CVE-2021-3749",
        severity: "error",
        security_severity_level: "high",
        description: "axios: Incorrect Comparison",
        tags: ["security", "vulnerability"],
      },
      tool: { name: "Trivy" },
      most_recent_instance: {
        location: { path: "package-lock.json" },
        message: { text: "Package: axios\nInstalled Version: 0.21.1\nVulnerability CVE-2021-3749\nSeverity: HIGH\nFixed Version: 0.21.2" },
      },
    },
    {
      number: 2,
      state: "open",
      html_url: "https://github.com/acme/shop/security/code-scanning/2",
      created_at: "2026-10-01T00:00:00Z",
      rule: { id: "js/sql-injection", severity: "error", security_severity_level: "high", description: "Database query built from user-controlled sources" },
      tool: { name: "CodeQL" },
      most_recent_instance: { location: { path: "src/db.js" }, message: { text: "This query depends on a user-provided value." } },
    },
  ]);
  servers = [await startSim(github.app())];
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${servers[0]!.url}` } });
  admin = await setUpAdmin(app);
});
afterEach(async () => {
  await app.close();
  await Promise.all(servers.map((s) => s.close()));
});

const db = () => app.runtime.database.db;
const findings = () =>
  db()
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select([
      "findings.id",
      "findings.cve",
      "findings.package",
      "findings.installed_version",
      "findings.fixed_version",
      "findings.status",
      "findings.status_reason",
      "findings.severity",
      "assets.name as asset",
    ])
    .orderBy("findings.cve")
    .execute();

describe("GitHub Dependabot", () => {
  it("imports open alerts with versions from the manifests, maps dismissals, skips fixed alerts and disabled repositories", async () => {
    expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN })).status).toBe(303);
    await runJobs(app);
    const gh = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
    const res = await admin.post("/integrations/github-dependabot", { integration: String(gh.id), codeScanning: "on" });
    expect(res.status, text(await res.clone().text())).toBe(303);
    await runJobs(app, 5_000);
    const rows = await findings();
    const brief = rows
      .filter((f) => !f.cve.startsWith("CVE-2026-"))
      .map((f) => `${f.cve} ${f.package}@${f.installed_version}→${f.fixed_version ?? "none"} ${f.severity} ${f.status}`);
    expect(brief).toEqual([
      "CVE-2020-7598 minimist@1.2.0→1.2.3 medium risk_accepted",
      "CVE-2021-23337 lodash@4.17.20→4.17.21 high open",
      "CVE-2021-33203 django@3.2.4→3.2.5 medium open",
      "CVE-2021-3749 axios@0.21.1→0.21.2 high open",
      "CVE-2022-24999 qs@6.7.0→6.7.3 high false_positive",
      "GHSA-4w2v-q235-vp99 axios@0.21.1→none low open",
    ]);
    expect(rows.filter((f) => f.cve.startsWith("CVE-2026-"))).toHaveLength(110); // both pages
    expect(rows.find((f) => f.package === "qs")!.status_reason).toBe("Dismissed in GitHub by octocat: inaccurate — qs is only used in tests");
    const run = await db()
      .selectFrom("sync_runs")
      .innerJoin("integrations", "integrations.id", "sync_runs.integration_id")
      .select(["counts", "sync_runs.status"])
      .where("integrations.kind", "=", "github-dependabot")
      .executeTakeFirstOrThrow();
    expect(run.status).toBe("succeeded");
    expect(JSON.parse(run.counts).skipped).toEqual({
      "Dependabot alerts not enabled for the repository (Dependabot alerts are disabled for this repository.)": 1,
      "code scanning alerts not enabled for the repository (no analysis found)": 1,
      "code scanning alert without a CVE and package (code rules are not imported)": 1,
    });

    // Fixed in GitHub: the next scan resolves it.
    const alerts = github.dependabotAlerts.get("acme/shop")!;
    alerts[0]!.state = "fixed";
    const dependabot = await db().selectFrom("integrations").select("id").where("kind", "=", "github-dependabot").executeTakeFirstOrThrow();
    await admin.post(`/integrations/github-dependabot/${dependabot.id}/sync`, {});
    await runJobs(app);
    expect((await findings()).find((f) => f.cve === "CVE-2021-23337")!.status).toBe("resolved");

    // Auto-dismissed by a Dependabot auto-triage rule: dismissed, never taken for fixed.
    alerts.find((a) => a.number === 4)!.state = "auto_dismissed";
    await admin.post(`/integrations/github-dependabot/${dependabot.id}/sync`, {});
    await runJobs(app);
    const auto = (await findings()).find((f) => f.cve === "CVE-2021-33203")!;
    expect([auto.status, auto.status_reason]).toEqual(["risk_accepted", "Auto-dismissed in GitHub by a Dependabot auto-triage rule"]);
  });

  it("reads an organization's alerts in one listing when the organization is named", async () => {
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN });
    await runJobs(app);
    const gh = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
    await admin.post("/integrations/github-dependabot", { integration: String(gh.id), organization: "acme" });
    await runJobs(app, 5_000);
    expect(github.orgAlertReads).toBe(2); // 115 alerts in pages of 100
    expect(github.faults.requests.filter((r) => /\/repos\/[^/]+\/[^/]+\/dependabot/.test(r.path))).toEqual([]);
    const rows = await findings();
    expect(rows.filter((f) => f.cve.startsWith("CVE-2026-"))).toHaveLength(110);
    expect(rows.find((f) => f.package === "qs")!.status).toBe("false_positive");
  });

  it("says which scope is missing when the token cannot read security alerts", async () => {
    await admin.post("/integrations/github", { githubUrl: "https://github.com", token: "github_pat_no_security" });
    await runJobs(app);
    const gh = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
    await admin.post("/integrations/github-dependabot", { integration: String(gh.id) });
    for (let i = 0; i < 3; i++) await runJobs(app, 300_000);
    const card = text(await (await admin.get("/integrations/card/github-dependabot", { htmx: true })).text());
    expect(card).toContain("the token needs the security_events scope");
  });
});

describe("GitLab vulnerability findings", () => {
  it("imports dependency scanning findings with GitLab's states, and skips projects without Ultimate", async () => {
    const gitlab = new GitLabSim();
    gitlab.addToken("glpat-vulns-0001");
    const api = { id: 7101, path_with_namespace: "platform/api", default_branch: "main", visibility: "private" as const, archived: false };
    const free = { id: 7102, path_with_namespace: "platform/free-tier", default_branch: "main", visibility: "private" as const, archived: false };
    gitlab.projects.push(api, free);
    const list = [
      gitlabFinding(api, {
        id: 1,
        cve: "CVE-2021-23337",
        name: "lodash",
        version: "4.17.20",
        file: "package-lock.json",
        severity: "high",
        solution: "Upgrade to version 4.17.21 or above.",
      }),
      gitlabFinding(api, {
        id: 2,
        cve: "CVE-2021-33203",
        name: "Django",
        version: "3.2.4",
        file: "requirements.txt",
        severity: "medium",
        state: "dismissed",
        dismissalReason: "used_in_tests",
      }),
      gitlabFinding(api, {
        id: 3,
        cve: "CVE-2020-7598",
        name: "minimist",
        version: "1.2.0",
        file: "package-lock.json",
        severity: "low",
        state: "dismissed",
        dismissalReason: "acceptable_risk",
      }),
      gitlabFinding(api, { id: 4, cve: "CVE-2020-1111", name: "old", version: "1.0.0", file: "package-lock.json", severity: "low", state: "resolved" }),
      gitlabFinding(api, {
        id: 5,
        cve: "CVE-2023-4911",
        name: "libc6",
        version: "2.36-9",
        file: "",
        severity: "high",
        reportType: "container_scanning",
        image: "registry.gitlab.com/platform/api:latest",
      }),
    ];
    for (let n = 10; n < 130; n++)
      list.push(gitlabFinding(api, { id: n, cve: `CVE-2026-${20000 + n}`, name: "axios", version: "0.21.1", file: "package-lock.json", severity: "low" }));
    gitlab.vulnerabilityFindings.set("platform/api", list);
    const server = await startSim(gitlab.app());
    servers.push(server);
    await app.close();
    app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://gitlab.example.com=${server.url}` } });
    admin = await setUpAdmin(app);
    expect((await admin.post("/integrations/gitlab", { gitlabUrl: "https://gitlab.example.com", token: "glpat-vulns-0001" })).status).toBe(303);
    await runJobs(app);
    const gl = await db().selectFrom("integrations").select("id").where("kind", "=", "gitlab").executeTakeFirstOrThrow();
    const res = await admin.post("/integrations/gitlab-vulnerabilities", { integration: String(gl.id) });
    expect(res.status, text(await res.clone().text())).toBe(303);
    await runJobs(app, 5_000);
    const rows = await findings();
    expect(
      rows
        .filter((f) => !f.cve.startsWith("CVE-2026-"))
        .map((f) => `${f.cve} ${f.package}@${f.installed_version}→${f.fixed_version ?? "none"} ${f.severity} ${f.status}`),
    ).toEqual([
      "CVE-2020-7598 minimist@1.2.0→none low risk_accepted",
      "CVE-2021-23337 lodash@4.17.20→4.17.21 high open",
      "CVE-2021-33203 Django@3.2.4→none medium false_positive",
    ]);
    expect(rows.filter((f) => f.cve.startsWith("CVE-2026-"))).toHaveLength(120);
    const run = await db()
      .selectFrom("sync_runs")
      .innerJoin("integrations", "integrations.id", "sync_runs.integration_id")
      .select("counts")
      .where("integrations.kind", "=", "gitlab-vulnerabilities")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(run.counts).skipped).toEqual({
      "container scanning findings name images by tag, not digest (upload the scanner's report with the image digest instead)": 1,
      "vulnerability findings not available for the project (403 Forbidden; GitLab Ultimate and the Developer role are needed)": 1,
    });
  });
});
