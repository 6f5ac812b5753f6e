// Fix pull requests on Bitbucket Cloud, against the simulator's src endpoint and pull requests as
// Bitbucket behaves: a commit on a new branch from the default branch's head; on an existing
// branch only on its own head (409 otherwise), so a branch with an open pull request takes the
// regenerated change on top, and one without is made again; one open pull request per branch;
// reviewers from CODEOWNERS among the workspace's members; the main branch never written.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp, text, uploadReport, uploadToken } from "../helpers.js";
import { BitbucketSim } from "../sim/bitbucket.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { trivyFilesystemReport } from "../bench/reports.js";

const TOKEN = "ATCTT3xFfGN0-fixes-token";
const POM = (log4j: string, note = "") => `<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>payments</artifactId>
  <version>1.0.0</version>${note}
  <dependencies>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${log4j}</version>
    </dependency>
  </dependencies>
</project>
`;

let sim: BitbucketSim;
let server: RunningSim;
let app: TestApp;
let admin: Browser;
let repo: string;

beforeEach(async () => {
  sim = new BitbucketSim();
  sim.addAccessToken(TOKEN);
  sim.addRepos("acme", 1);
  repo = sim.workspaces.get("acme")![0]!.full_name;
  sim.files.set(repo, { "pom.xml": POM("2.14.1"), ".bitbucket/CODEOWNERS": "pom.xml @alice @acme/payments-team @mallory\n" });
  sim.members.set("acme", [{ uuid: "{a11ce}", nickname: "alice", display_name: "Alice" }]);
  server = await startSim(sim.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.bitbucket.org=${server.url},https://bitbucket.org=${server.url}` } });
  admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/bitbucket", { workspace: "acme", token: TOKEN })).status).toBe(303);
  await runJobs(app);
  const token = await uploadToken(admin);
  await uploadReport(
    app,
    token,
    repo,
    trivyFilesystemReport([{ id: "CVE-2021-44228", pkg: "org.apache.logging.log4j:log4j-core", installed: "2.14.1", fixed: "2.15.0", severity: "CRITICAL" }]),
  );
});
afterEach(async () => {
  await app.close();
  await server.close();
});

const db = () => app.runtime.database.db;
const findingId = async () => (await db().selectFrom("findings").select("id").executeTakeFirstOrThrow()).id;

async function openFix(): Promise<void> {
  const id = await findingId();
  const page = text(await (await admin.get(`/vulnerabilities/${id}/fix`)).text());
  expect(page).toContain("Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.15.0");
  expect((await admin.post(`/vulnerabilities/${id}/fix`, { path: "pom.xml" })).status).toBe(303);
  await runJobs(app);
}

describe("Bitbucket fix pull requests", () => {
  it("Test Connection says whether the token's scopes let Patchbay open them", async () => {
    const said = text(await (await admin.post("/integrations/bitbucket/test", { workspace: "acme", token: TOKEN }, { htmx: true })).text());
    expect(said).toContain("Fix pull requests: the token's repository:write and pullrequest:write scopes let Patchbay open them");
    sim.addAccessToken("ATCTT3xFfGN0-read-only", "repository, pullrequest");
    const readOnly = text(
      await (await admin.post("/integrations/bitbucket/test", { workspace: "acme", token: "ATCTT3xFfGN0-read-only" }, { htmx: true })).text(),
    );
    expect(readOnly).toContain("Fix pull requests need repository:write and pullrequest:write, which this token lacks (scopes: repository, pullrequest)");
  });

  it("commit the change on a branch from the default branch's head and open one pull request, with CODEOWNERS' members as reviewers", async () => {
    await openFix();
    expect(sim.pulls).toHaveLength(1);
    const pull = sim.pulls[0]!;
    expect(pull).toMatchObject({
      repo,
      destination: "main",
      state: "OPEN",
      draft: false,
      title: "Bump org.apache.logging.log4j:log4j-core from 2.14.1 to 2.15.0",
    });
    expect(pull.source).toMatch(/^patchbay\/fix-maven-/);
    expect(sim.branch(repo, pull.source)!.files["pom.xml"]).toBe(POM("2.15.0"));
    expect(sim.commits).toHaveLength(1);
    expect(sim.commits[0]).toMatchObject({ branch: pull.source, paths: ["pom.xml"] });
    expect(sim.commits[0]!.parents).toBe(sim.branch(repo, "main")!.hash);
    // alice is a member; a group and someone outside the workspace are not asked.
    expect(pull.reviewers).toEqual(["{a11ce}"]);
    expect(sim.mainWrites).toEqual([]);
    expect(sim.files.get(repo)!["pom.xml"]).toBe(POM("2.14.1"));
    expect((await db().selectFrom("findings").select("status").executeTakeFirstOrThrow()).status).toBe("in_remediation");
    const remediation = await db().selectFrom("remediations").selectAll().executeTakeFirstOrThrow();
    expect(remediation).toMatchObject({ number: pull.id, source_branch: pull.source, url: `https://bitbucket.org/${repo}/pull-requests/${pull.id}` });
  });

  it("asked again after the default branch moved, commit the regenerated change on top of the branch and keep the one pull request and its reviewers", async () => {
    await openFix();
    const pull = sim.pulls[0]!;
    // Someone changes the default branch's pom.xml meanwhile.
    sim.files.set(repo, { ...sim.files.get(repo)!, "pom.xml": POM("2.14.1", "\n  <description>Payments</description>") });
    await openFix();
    expect(sim.pulls).toHaveLength(1);
    expect(sim.commits).toHaveLength(2);
    // On the branch's own head (Bitbucket refuses any other parent for an existing branch).
    expect(sim.branch(repo, pull.source)!.files["pom.xml"]).toBe(POM("2.15.0", "\n  <description>Payments</description>"));
    expect(pull.reviewers).toEqual(["{a11ce}"]);
    expect(sim.mainWrites).toEqual([]);
  });

  it("make a branch left without a pull request (a crash before it was opened) again from the default branch", async () => {
    await openFix();
    const branch = sim.pulls[0]!.source;
    // As if the job had died after its commit: the branch is there, its pull request is not.
    sim.pulls.length = 0;
    sim.branches.get(repo)!.set(branch, { hash: "0ld0ld", files: { ...sim.files.get(repo)!, "pom.xml": POM("2.14.2") } });
    await db().updateTable("findings").set({ status: "open" }).execute();
    await openFix();
    expect(sim.pulls).toHaveLength(1);
    expect(sim.branch(repo, branch)!.files["pom.xml"]).toBe(POM("2.15.0"));
    expect(sim.commits.at(-1)!.parents).toBe(sim.branch(repo, "main")!.hash);
  });

  it("read the branch again when another writer moved it between the read and the commit (409)", async () => {
    await openFix();
    const pull = sim.pulls[0]!;
    sim.faults.add({
      path: /\/src$/,
      method: "POST",
      status: 409,
      times: 1,
      body: JSON.stringify({ type: "error", error: { message: "Commit parents do not match the branch's head" } }),
    });
    await openFix();
    expect(sim.pulls).toHaveLength(1);
    expect(sim.commits).toHaveLength(2);
    expect(sim.branch(repo, pull.source)!.files["pom.xml"]).toBe(POM("2.15.0"));
  });
});
