// Propose fix: the change Patchbay would commit to raise a vulnerable package, read from the
// repository on its source control service — the diff, the version chosen and why, the branch,
// the pull request's title and body, the findings it fixes — with nothing sent; and the reason
// when no correct change can be made.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, BASE, runJobs, setUpAdmin, signIn, testApp, text, uploadReport, uploadToken } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { PypiSim } from "../sim/packages.js";
import { type TrivyVulnerability, trivyFilesystemReport } from "../bench/reports.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const GITHUB_TOKEN = "github_pat_fixes_00001";
const WEBHOOK_SECRET = "webhook-secret-fixes-0001";
const POM = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>payments</artifactId>
  <version>1.0.0</version>
  <dependencies>
    <!-- logging -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>2.14.1</version>
    </dependency>
  </dependencies>
</project>
`;

let app: TestApp;
let admin: Browser;
let github: GitHubSim;
let server: RunningSim;
let index: RunningSim;
let pypi: PypiSim;
let token: string;

beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  github.repos.push({ id: 901, full_name: "acme/payments", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/payments", {
    "pom.xml": POM,
    "README.md": "# Payments\n",
    "web/package.json": '{"dependencies":{"lodash":"4.17.20"}}',
    "requirements.txt": "flask==2.3.2\nrequests==2.25.1 \\\n    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111\n",
    "tools/poetry.lock": '[[package]]\nname = "requests"\nversion = "2.25.1"\n',
    ".github/CODEOWNERS": "* @acme/platform\npom.xml @acme/payments @alice sec@acme.example\n",
  });
  github.teams.add("acme/payments");
  server = await startSim(github.app());
  pypi = new PypiSim();
  pypi.projects.set("requests", ["requests-2.25.1.tar.gz", "requests-2.31.0-py3-none-any.whl", "requests-2.31.0.tar.gz", "requests-2.32.0.tar.gz"]);
  index = await startSim(pypi.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url},https://pypi.org=${index.url}` } });
  admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN, webhookSecret: WEBHOOK_SECRET })).status).toBe(303);
  await runJobs(app);
  token = await uploadToken(admin);
});
afterEach(async () => {
  await app.close();
  await server.close();
  await index.close();
});

const db = () => app.runtime.database.db;

/** A Trivy filesystem report of the repository with these vulnerabilities. */
async function scan(vulnerabilities: TrivyVulnerability[]) {
  await uploadReport(app, token, "acme/payments", trivyFilesystemReport(vulnerabilities));
}

/** GitHub's pull_request event for a pull request on the simulator, signed, through Patchbay's webhook endpoint. */
async function pullRequestEvent(number: number, action: "closed"): Promise<void> {
  const integration = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
  const res = await app.runtime.app.request(`${BASE}/webhooks/github/${integration.id}`, {
    method: "POST",
    ...github.pullRequestDelivery(number, action, WEBHOOK_SECRET),
  });
  expect(res.status).toBe(202);
  await runJobs(app);
}

const findingId = async (cve: string) => (await db().selectFrom("findings").select("id").where("cve", "=", cve).executeTakeFirstOrThrow()).id;

describe("Propose fix", () => {
  it("shows the diff, the version that fixes every finding of the package, the branch and the pull request, and sends nothing", async () => {
    await scan([
      { id: "CVE-2021-44228", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.15.0, 2.12.2", severity: "CRITICAL" },
      { id: "CVE-2021-45046", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.16.0, 2.12.2", severity: "CRITICAL" },
    ]);
    const id = await findingId("CVE-2021-44228");
    const detail = await (await admin.get(`/vulnerabilities/${id}`)).text();
    expect(detail).toContain(`href="/vulnerabilities/${id}/fix"`);
    const requestsBefore = github.writes.size;

    const page = await (await admin.get(`/vulnerabilities/${id}/fix`)).text();
    const shown = text(page);
    expect(shown).toContain("Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.16.0");
    expect(shown).toContain("2.16.0 is the lowest version that fixes all 2 findings of this package here.");
    expect(shown).toContain("acme/payments (into main)");
    expect(shown).toMatch(/patchbay\/fix-maven-org\.apache\.logging\.log4j-log4j-core-[0-9a-f]{8}/);
    expect(shown).toContain("CVE-2021-44228 (critical), CVE-2021-45046 (critical)");
    expect(shown).toContain("Reviewers @acme/payments, @alice, sec@acme.example (CODEOWNERS)");
    // The diff: only the version line changes, with its context.
    expect(page).toContain('<span class="diff-del">-      &lt;version&gt;2.14.1&lt;/version&gt;</span>');
    expect(page).toContain('<span class="diff-add">+      &lt;version&gt;2.16.0&lt;/version&gt;</span>');
    expect(page).toContain("[CVE-2021-45046](https://nvd.nist.gov/vuln/detail/CVE-2021-45046)");
    expect(page).toMatch(/&lt;!-- patchbay-fix [0-9a-f]{16} --&gt;/);
    // The GitHub card says what fix pull requests need of the token.
    expect(text(await (await admin.get("/integrations/github/new")).text())).toContain(
      "Fix pull requests Patchbay opens fix pull requests here when an admin asks (Vulnerabilities → a finding → Propose fix). Classic token: repo",
    );
    // Nothing was written to GitHub.
    expect(github.writes.size).toBe(requestsBefore);
    expect(github.files.get("acme/payments")!["pom.xml"]).toBe(POM);
  });

  it("opens the pull request an admin asks for, once, and its findings go in remediation; a member may only look", async () => {
    await scan([{ id: "CVE-2021-44228", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.15.0", severity: "CRITICAL" }]);
    const id = await findingId("CVE-2021-44228");
    await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" });
    const member = await signIn(app, "mia", "member password 1");
    expect(text(await (await member.get(`/vulnerabilities/${id}/fix`)).text())).toContain("An admin opens fix pull requests.");
    expect((await member.post(`/vulnerabilities/${id}/fix`, { path: "pom.xml" })).status).toBe(403);
    await runJobs(app);
    expect(github.pulls).toEqual([]);

    // The connection drops before GitHub answers the pull request's creation: the branch is there, no pull request.
    github.faults.add({ path: /\/pulls$/, method: "POST", status: 502, times: 1 });
    const asked = await admin.post(`/vulnerabilities/${id}/fix`, { path: "pom.xml" });
    expect(asked.status).toBe(303);
    expect(text(await (await admin.get(asked.headers.get("location")!)).text())).toContain("Queued: Patchbay commits this change");
    await runJobs(app);
    expect(github.pulls).toEqual([]);
    // The job runs again (its retry, or an admin asking twice): one pull request from the same branch.
    await runJobs(app, 120_000);
    await admin.post(`/vulnerabilities/${id}/fix`, { path: "pom.xml" });
    await runJobs(app, 120_000);
    expect(github.pulls).toHaveLength(1);
    const pull = github.pulls[0]!;
    expect(pull).toMatchObject({ repo: "acme/payments", base: "main", state: "open", title: "Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.15.0" });
    expect(pull.body).toContain("[CVE-2021-44228](https://nvd.nist.gov/vuln/detail/CVE-2021-44228)");
    // CODEOWNERS' owners of pom.xml are asked to review (GitHub cannot ask an e-mail address).
    expect(pull.reviewers).toEqual(["alice", "acme/payments"]);
    expect(github.branchFiles("acme/payments", pull.head)!["pom.xml"]).toBe(POM.replace("<version>2.14.1</version>", "<version>2.15.0</version>"));
    expect(github.files.get("acme/payments")!["pom.xml"]).toBe(POM);
    expect(github.defaultBranchWrites).toEqual([]);
    const finding = await db().selectFrom("findings").select("status").where("id", "=", id).executeTakeFirstOrThrow();
    expect(finding.status).toBe("in_remediation");
    expect(text(await (await admin.get("/remediations")).text())).toContain("Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.15.0");
    const audit = await db().selectFrom("audit_log").select("action").where("action", "=", "fix.requested").execute();
    expect(audit.length).toBeGreaterThan(0);

    // A person closes it without merging: the finding is open again, and that version is not proposed again…
    github.pulls[0]!.state = "closed";
    await pullRequestEvent(pull.number, "closed");
    expect((await db().selectFrom("findings").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status).toBe("open");
    const declined = text(await (await admin.get(`/vulnerabilities/${id}/fix`)).text());
    expect(declined).toContain(
      `A person declined the fix to 2.15.0 in pom.xml (pull request #${pull.number}, closed without merging): Patchbay proposes it again once a fixed version above 2.15.0 is known.`,
    );
    expect(declined).not.toContain("Open pull request");
    // …until a fix above it is known: then it is proposed again, on the same branch.
    await scan([
      { id: "CVE-2021-44228", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.15.0", severity: "CRITICAL" },
      { id: "CVE-2021-45046", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.16.0", severity: "CRITICAL" },
    ]);
    const renewed = text(await (await admin.get(`/vulnerabilities/${id}/fix`)).text());
    expect(renewed).toContain("Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.16.0");
    expect(renewed).toContain(pull.head);
  });

  it("pins a package the pom.xml does not declare through dependencyManagement", async () => {
    await scan([{ id: "CVE-2022-1471", pkg: "org.yaml:snakeyaml", installed: "1.33", fixed: "2.0", severity: "HIGH" }]);
    const shown = text(await (await admin.get(`/vulnerabilities/${await findingId("CVE-2022-1471")}/fix`)).text());
    // 1.33 → 2.0 is a major upgrade: not proposed.
    expect(shown).toContain("The fix requires a major upgrade (1.33 → 2.0)");

    await scan([{ id: "CVE-2022-25857", pkg: "org.yaml:snakeyaml", installed: "1.30", fixed: "1.31", severity: "HIGH" }]);
    const page = await (await admin.get(`/vulnerabilities/${await findingId("CVE-2022-25857")}/fix`)).text();
    expect(text(page)).toContain("a new dependencyManagement entry (org.yaml:snakeyaml is pulled in by another dependency)");
    expect(page).toContain('<span class="diff-add">+        &lt;artifactId&gt;snakeyaml&lt;/artifactId&gt;</span>');
  });

  it("raises a pip requirement and writes the index's digests of the new version", async () => {
    await scan([{ id: "CVE-2023-32681", pkg: "requests", installed: "2.25.1", fixed: "2.31.0", severity: "MEDIUM", target: "requirements.txt", type: "pip" }]);
    const page = await (await admin.get(`/vulnerabilities/${await findingId("CVE-2023-32681")}/fix`)).text();
    const shown = text(page);
    expect(shown).toContain("Bump requests from 2.25.1 to 2.31.0");
    expect(page).toContain('<span class="diff-add">+requests==2.31.0 \\</span>');
    // Both files of 2.31.0, as the index publishes their digests; the old version's digest gone.
    expect(page).toContain(
      `<span class="diff-add">+    --hash=sha256:${[pypi.sha256Of("requests-2.31.0-py3-none-any.whl"), pypi.sha256Of("requests-2.31.0.tar.gz")].sort()[0]} \\</span>`,
    );
    expect(page).toContain('<span class="diff-del">-    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111</span>');
    // A Poetry lockfile pinning it too is said, and left alone.
    expect(shown).toContain("tools/poetry.lock pins requests too, and Poetry must resolve it: Patchbay does not rewrite poetry.lock files.");
    // An index that publishes no digest for a file: no half change.
    pypi.htmlOnly = true;
    pypi.projects.set("requests", ["requests-2.31.0.tar.gz"]);
    const original = pypi.sha256Of;
    pypi.sha256Of = () => "not-a-digest";
    try {
      expect(text(await (await admin.get(`/vulnerabilities/${await findingId("CVE-2023-32681")}/fix`)).text())).toContain(
        "The index gives no sha256 digest for requests-2.31.0.tar.gz: the hashes cannot be written.",
      );
    } finally {
      pypi.sha256Of = original;
    }
  });

  it("says why when no correct change can be made", async () => {
    await scan([
      { id: "CVE-2021-23337", pkg: "lodash", installed: "4.17.20", fixed: "4.17.21", severity: "HIGH", target: "web/package-lock.json", type: "npm" },
      { id: "CVE-2023-0001", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", severity: "HIGH" },
      { id: "CVE-2022-30122", pkg: "rack", installed: "2.2.3", fixed: "2.2.3.1", severity: "HIGH", target: "Gemfile.lock", type: "bundler" },
    ]);
    const reason = async (cve: string) => text(await (await admin.get(`/vulnerabilities/${await findingId(cve)}/fix`)).text());
    // npm is fixed through its lockfile, which this repository does not have.
    expect(await reason("CVE-2021-23337")).toContain("acme/payments has no package-lock.json on its default branch.");
    expect(await reason("CVE-2022-30122")).toContain(
      "Patchbay writes fixes for Maven pom.xml, pip requirements files, npm package-lock.json and Go modules; RubyGems manifests are left to people",
    );
    expect(await reason("CVE-2023-0001")).toContain("No fixed version of this package is known for the findings at 2.14.1.");
  });
});
