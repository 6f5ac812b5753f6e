// GitHub's published contracts, used as tests: the REST API description (@octokit/openapi)
// checks every request Patchbay sends to the simulator and every answer the simulator gives
// (test/sim/github-openapi.ts, in every test that uses the GitHub simulator); every webhook
// example GitHub publishes (@octokit/webhooks-examples) goes through Patchbay's webhook
// endpoint, signed as GitHub signs it, and is taken.
import crypto from "node:crypto";
import { createRequire } from "node:module";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connectorContext } from "../../src/connectors/context.js";
import { githubIssues } from "../../src/connectors/github-issues/index.js";
import { github } from "../../src/connectors/github/index.js";
import { silentLogger } from "../../src/log.js";
import { type Browser, type TestApp, runJobs, setUpAdmin, testApp } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const TOKEN = "github_pat_contract_0001";
const SECRET = "webhook-secret-contract-0001";

let sim: GitHubSim;
let server: RunningSim;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  sim = new GitHubSim();
  sim.addToken(TOKEN);
  sim.repos.push({ id: 9, full_name: "acme/security", private: true, visibility: "private", archived: false, default_branch: "main" });
  server = await startSim(sim.app());
});
afterAll(() => server.close());
beforeEach(async () => {
  sim.contractProblems.length = 0;
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url}` } });
  admin = await setUpAdmin(app);
  sim.now = () => app.clock.time;
});
afterEach(() => app.close());

describe("GitHub's REST API description", () => {
  it("refuses requests GitHub does not document, as GitHub refuses malformed ones", async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, "user-agent": "test", "content-type": "application/json" };
    const badBody = await fetch(`${server.url}/repos/acme/security/issues`, {
      method: "POST",
      headers,
      body: JSON.stringify({ title: "x", labels: "not-a-list" }),
    });
    expect(badBody.status).toBe(422);
    expect(((await badBody.json()) as { message: string }).message).toContain("issues/create: request body at /labels must be array");
    const badQuery = await fetch(`${server.url}/repos/acme/security/issues?state=all&labelz=x`, { headers });
    expect(badQuery.status).toBe(422);
    expect(sim.contractProblems.at(-1)).toBe('request: issues/list-for-repo: query parameter "labelz" is not one the operation takes');
    const unknown = await fetch(`${server.url}/repos/acme/security/issues/1/labelz`, { headers });
    expect(unknown.status).toBe(422);
    const good = await fetch(`${server.url}/repos/acme/security/issues?state=all&per_page=100`, { headers });
    expect(good.status).toBe(200);
  });

  it("holds every request of a tracker's life and every answer to it: create, find, update, labels, close, comment, states", async () => {
    const contract = sim.contract!;
    contract.seen.clear();
    const session = githubIssues.tracker!.session(
      { settings: { githubUrl: "https://github.com" }, secrets: { token: TOKEN } },
      connectorContext({ logger: silentLogger, originMap: new Map([["https://api.github.com", server.url]]), http: { sleep: async () => {} } }),
    );
    const target = { project: { id: "acme/security", name: "acme/security" }, ticketType: { id: "issue", name: "Issue" } };
    await session.projects();
    await session.fields(target);
    const content = (title: string) => ({
      marker: "patchbay-0123456789abcdef",
      fields: {
        title: { kind: "text" as const, text: title },
        body: { kind: "document" as const, blocks: [{ type: "paragraph" as const, spans: [{ text: "lodash 4.17.15 is vulnerable." }] }] },
        labels: { kind: "list" as const, items: ["security"] },
      },
    });
    const ref = await session.create(target, content("CVE-2021-23337 in lodash"));
    expect(await session.find(target, "patchbay-0123456789abcdef")).toMatchObject({ key: ref.key });
    await session.update(target, ref, content("CVE-2021-23337 in lodash 4.17.15"));
    expect(await session.transition(target, ref, "closed:not_planned")).toBe("moved");
    await session.comment(target, ref, [{ type: "paragraph", spans: [{ text: "Risk accepted." }] }]);
    expect((await session.states(target, [ref])).get(ref.id)).toMatchObject({ id: "closed:not_planned" });
    expect(await session.lookup(target, ref.url)).toMatchObject({ key: ref.key });
    expect([...contract.seen]).toEqual(
      expect.arrayContaining([
        "issues/create",
        "issues/list-for-repo",
        "issues/update",
        "issues/add-labels",
        "issues/get",
        "issues/create-comment",
        "repos/get",
        "issues/list-labels-for-repo",
        "issues/list-milestones",
      ]),
    );
    expect(sim.contractProblems).toEqual([]);
  });
});

describe("fix pull requests", () => {
  const ctx = () => connectorContext({ logger: silentLogger, originMap: new Map([["https://api.github.com", server.url]]), http: { sleep: async () => {} } });
  const connection = { settings: { githubUrl: "https://github.com" }, secrets: { token: TOKEN } };
  const repository = { fullName: "acme/security", defaultBranch: "main" };
  const fix = (version: string) => ({
    branch: "patchbay/fix-maven-log4j-core-0a1b2c3d",
    files: [{ path: "pom.xml", content: `<project><version>${version}</version></project>\n` }],
    message: `Bump log4j-core to ${version}`,
    title: `Bump org.apache.logging.log4j:log4j-core from 2.14.1 to ${version}`,
    body: `Fixes CVE-2021-44228.\n<!-- patchbay-fix 0123456789abcdef -->`,
    draft: false,
    reviewers: ["@alice", "@acme/appsec", "@octocat", "sec@acme.example", "@other/team"],
  });

  it("commits on a branch of its own and opens one pull request, however often it runs and wherever it stops", async () => {
    sim.files.set("acme/security", { "pom.xml": "<project><version>2.14.1</version></project>\n", "README.md": "# Security\n" });
    const contract = sim.contract!;
    contract.seen.clear();
    const fixes = github.scm!.fixes!;
    sim.teams.add("acme/appsec");
    const first = await fixes.open(connection, ctx(), repository, fix("2.16.0"));
    expect(first.existed).toBe(false);
    // CODEOWNERS' owners asked to review where GitHub can: accounts and the organization's teams, not the author.
    expect(first.reviewers).toEqual(["@alice", "@acme/appsec"]);
    expect(first.unrequested).toEqual([
      "@octocat (the pull request's author)",
      "sec@acme.example (GitHub asks accounts and teams, not e-mail addresses)",
      "@other/team (a team of another organization)",
    ]);
    expect(sim.pulls[0]!.reviewers).toEqual(["alice", "acme/appsec"]);
    expect(sim.branchFiles("acme/security", "patchbay/fix-maven-log4j-core-0a1b2c3d")).toEqual({
      "pom.xml": "<project><version>2.16.0</version></project>\n",
      "README.md": "# Security\n",
    });
    // The default branch is never written.
    expect(sim.files.get("acme/security")!["pom.xml"]).toBe("<project><version>2.14.1</version></project>\n");
    expect(sim.defaultBranchWrites).toEqual([]);
    expect([...contract.seen]).toEqual(
      expect.arrayContaining([
        "git/get-ref",
        "git/get-commit",
        "git/create-tree",
        "git/create-commit",
        "git/create-ref",
        "pulls/list",
        "pulls/create",
        "pulls/request-reviewers",
      ]),
    );
    expect(sim.contractProblems).toEqual([]);

    // Again, with a newer version: the same branch moves and the same pull request is updated.
    const again = await fixes.open(connection, ctx(), repository, fix("2.17.1"));
    expect(again).toMatchObject({ number: first.number, existed: true });
    expect(sim.pulls.filter((p) => p.repo === "acme/security")).toHaveLength(1);
    expect(sim.pulls[0]!.title).toContain("to 2.17.1");
    expect(sim.branchFiles("acme/security", "patchbay/fix-maven-log4j-core-0a1b2c3d")!["pom.xml"]).toContain("2.17.1");

    // The answer to the pull request's creation lost (GitHub made it): the next run finds it by its branch.
    sim.pulls.length = 0;
    sim.faults.add({ path: /\/pulls$/, method: "POST", status: 502, afterHandler: true, times: 1 });
    await expect(fixes.open(connection, ctx(), repository, fix("2.17.1"))).rejects.toThrow();
    expect(sim.pulls).toHaveLength(1);
    const recovered = await fixes.open(connection, ctx(), repository, fix("2.17.1"));
    expect(recovered).toMatchObject({ number: sim.pulls[0]!.number, existed: true });
    expect(sim.pulls).toHaveLength(1);

    // Merged by a person: the default branch takes the fix.
    sim.mergePull("acme/security", recovered.number);
    expect(sim.files.get("acme/security")!["pom.xml"]).toContain("2.17.1");
    // A token that may read but not write code is told so.
    sim.readOnly.add("octocat");
    try {
      await expect(fixes.open(connection, ctx(), repository, fix("2.17.2"))).rejects.toThrow(/403|not accessible|permission/i);
    } finally {
      sim.readOnly.delete("octocat");
    }
    await expect(fixes.open(connection, ctx(), repository, { ...fix("2.17.2"), branch: "main" })).rejects.toThrow(
      'refusing to write a fix to the branch "main"',
    );
    expect(sim.contractProblems).toEqual([]);
  });
});

describe("GitHub's published webhook examples", () => {
  it("takes every one of them through the webhook endpoint, signed as GitHub signs", async () => {
    const connected = await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN, webhookSecret: SECRET });
    expect(connected.status).toBe(303);
    const githubId = Number(/\/integrations\/github\/(\d+)/.exec(connected.headers.get("location")!)![1]);
    await admin.post("/integrations/github-issues", { source: String(githubId) });
    await runJobs(app);
    const require = createRequire(import.meta.url);
    const events = require("@octokit/webhooks-examples") as { name: string; examples: Record<string, unknown>[] }[];
    const refused: string[] = [];
    let sent = 0;
    for (const event of events) {
      for (const [i, example] of event.examples.entries()) {
        const body = JSON.stringify(example);
        const signature = `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`;
        const res = await app.runtime.app.request(`http://localhost:8080/webhooks/github/${githubId}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/044aadd",
            "x-github-event": event.name,
            "x-github-delivery": crypto.randomUUID(),
            "x-github-hook-id": "1",
            "x-hub-signature-256": signature,
          },
          body,
        });
        sent++;
        if (res.status < 200 || res.status >= 300)
          refused.push(`${event.name} #${i} (${String((example as { action?: string }).action ?? "")}): ${res.status} ${(await res.text()).slice(0, 200)}`);
      }
    }
    expect(sent).toBeGreaterThan(250);
    expect(refused).toEqual([]);
    // What they set going is done without a failure.
    await runJobs(app);
    const failed = await app.runtime.database.db.selectFrom("jobs").select(["type", "last_error"]).where("status", "=", "failed").execute();
    expect(failed).toEqual([]);
  });
});
