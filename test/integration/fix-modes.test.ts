// Remediation modes: off by default (nothing proposed or opened by itself); hybrid (the fix sweep
// proposes, fixes wait on Fixes to approve for an admin to open or dismiss); automated (opened at
// once, at most N open per repository, the rest opening as earlier ones are merged); a
// repository's own setting over the default; major upgrades only where allowed; drafts where
// the plan has them; and Propose fixes on the filtered Vulnerabilities table.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Browser, type TestApp, BASE, runJobs, setUpAdmin, signIn, testApp, text, uploadReport, uploadToken } from "../helpers.js";
import { GitHubSim } from "../sim/github.js";
import { type TrivyVulnerability, trivyFilesystemReport } from "../bench/reports.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const GITHUB_TOKEN = "github_pat_modes_000001";
const WEBHOOK_SECRET = "webhook-secret-modes-001";

function pom(deps: [string, string][]): string {
  const entries = deps.map(
    ([coordinates, version]) =>
      `    <dependency>\n      <groupId>${coordinates.split(":")[0]}</groupId>\n      <artifactId>${coordinates.split(":")[1]}</artifactId>\n      <version>${version}</version>\n    </dependency>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.acme</groupId>\n  <artifactId>payments</artifactId>\n  <version>1.0.0</version>\n  <dependencies>\n${entries.join("\n")}\n  </dependencies>\n</project>\n`;
}

const LOG4J = "org.apache.logging.log4j:log4j-core";
const TEXT = "org.apache.commons:commons-text";
const JACKSON = "com.fasterxml.jackson.core:jackson-databind";

let app: TestApp;
let admin: Browser;
let github: GitHubSim;
let server: RunningSim;
let token: string;

beforeEach(async () => {
  github = new GitHubSim();
  github.addToken(GITHUB_TOKEN);
  github.repos.push({ id: 901, full_name: "acme/payments", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.repos.push({ id: 902, full_name: "acme/ledger", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/payments", {
    "pom.xml": pom([
      [LOG4J, "2.14.1"],
      [TEXT, "1.9"],
      [JACKSON, "2.13.0"],
    ]),
  });
  github.files.set("acme/ledger", { "pom.xml": pom([[LOG4J, "2.14.1"]]) });
  server = await startSim(github.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${server.url}` } });
  admin = await setUpAdmin(app);
  expect((await admin.post("/integrations/github", { githubUrl: "https://github.com", token: GITHUB_TOKEN, webhookSecret: WEBHOOK_SECRET })).status).toBe(303);
  await runJobs(app);
  token = await uploadToken(admin);
});
afterEach(async () => {
  await app.close();
  await server.close();
});

const db = () => app.runtime.database.db;
const repositoryId = async (name: string) => (await db().selectFrom("repositories").select("id").where("full_name", "=", name).executeTakeFirstOrThrow()).id;

async function scan(asset: string, vulnerabilities: TrivyVulnerability[]) {
  await uploadReport(app, token, asset, trivyFilesystemReport(vulnerabilities));
}

const PAYMENTS: TrivyVulnerability[] = [
  { id: "CVE-2021-44228", pkg: LOG4J, installed: "2.14.1", fixed: "2.15.0", severity: "CRITICAL" },
  { id: "CVE-2022-42889", pkg: TEXT, installed: "1.9", fixed: "1.10.0", severity: "CRITICAL" },
];

async function pullClosed(number: number, merged: boolean): Promise<void> {
  const pull = github.pulls.find((p) => p.number === number)!;
  pull.state = "closed";
  pull.merged = merged;
  const integration = await db().selectFrom("integrations").select("id").where("kind", "=", "github").executeTakeFirstOrThrow();
  const res = await app.runtime.app.request(`${BASE}/webhooks/github/${integration.id}`, {
    method: "POST",
    ...github.pullRequestDelivery(number, "closed", WEBHOOK_SECRET),
  });
  expect(res.status).toBe(202);
  await runJobs(app);
}

describe("remediation modes", () => {
  it("are off by default: a fixable finding proposes and opens nothing by itself", async () => {
    await scan("acme/payments", PAYMENTS);
    expect(github.pulls).toEqual([]);
    expect(await db().selectFrom("fix_proposals").selectAll().execute()).toEqual([]);
    expect(await db().selectFrom("jobs").select("id").where("type", "=", "remediation.fix-sweep").execute()).toEqual([]);
    const page = text(await (await admin.get("/fixes")).text());
    expect(page).toContain("No fix is waiting.");
    expect(page).toContain("The default mode is off");
  });

  it("hybrid: fixes wait on Fixes to approve until an admin opens one; a member cannot", async () => {
    const id = await repositoryId("acme/payments");
    expect((await admin.post(`/repositories/${id}/remediation`, { mode: "hybrid", maxOpen: "", draft: "default", majorUpgrades: "default" })).status).toBe(303);
    await scan("acme/payments", PAYMENTS);
    // Proposed, not opened.
    expect(github.pulls).toEqual([]);
    const page = text(await (await admin.get("/fixes")).text());
    expect(page).toContain("Waiting (2)");
    expect(page).toContain(`Bump ${LOG4J} from 2.14.1 to 2.15.0`);
    expect(page).toContain(`Bump ${TEXT} from 1.9 to 1.10.0`);
    // The other repository follows the default (off): nothing proposed there.
    expect(page).not.toContain("acme/ledger");

    const waiting = await db().selectFrom("fix_proposals").selectAll().where("state", "=", "waiting").where("package_lc", "like", "%log4j%").execute();
    await admin.post("/settings/users", { username: "dev", role: "member", password: "member password 1", confirm: "member password 1" });
    const member = await signIn(app, "dev", "member password 1");
    expect((await member.post(`/fixes/${waiting[0]!.id}/open`, {})).status).toBe(403);
    expect((await member.get("/fixes")).status).toBe(200);

    const opened = await admin.post(`/fixes/${waiting[0]!.id}/open`, {});
    expect(opened.status).toBe(303);
    await runJobs(app);
    expect(github.pulls).toHaveLength(1);
    expect(github.pulls[0]!.title).toBe(`Bump ${LOG4J} from 2.14.1 to 2.15.0`);
    // Its findings are in remediation: no longer waiting; the other fix still is.
    const after = text(await (await admin.get("/fixes")).text());
    expect(after).toContain("Waiting (1)");
    expect(after).not.toContain(`Bump ${LOG4J} from 2.14.1 to 2.15.0`);
    // Asking twice changes nothing.
    expect((await admin.post(`/fixes/${waiting[0]!.id}/open`, {})).status).toBe(404);
  });

  it("hybrid: a dismissed fix is not proposed again until a newer fixed version is known", async () => {
    const id = await repositoryId("acme/payments");
    await admin.post(`/repositories/${id}/remediation`, { mode: "hybrid", maxOpen: "", draft: "default", majorUpgrades: "default" });
    await scan("acme/payments", [PAYMENTS[0]!]);
    const proposal = await db().selectFrom("fix_proposals").selectAll().executeTakeFirstOrThrow();
    expect((await admin.post(`/fixes/${proposal.id}/dismiss`, {})).status).toBe(303);
    expect(text(await (await admin.get("/fixes")).text())).toContain("Dismissed (1)");
    // A new finding of the package with the same fix: still dismissed.
    await scan("acme/payments", [PAYMENTS[0]!, { id: "CVE-2021-4104", pkg: LOG4J, installed: "2.14.1", fixed: "2.15.0", severity: "HIGH" }]);
    expect((await db().selectFrom("fix_proposals").select("state").executeTakeFirstOrThrow()).state).toBe("dismissed");
    // A newer fixed version: proposed again.
    await scan("acme/payments", [PAYMENTS[0]!, { id: "CVE-2021-45046", pkg: LOG4J, installed: "2.14.1", fixed: "2.16.0", severity: "CRITICAL" }]);
    const renewed = await db().selectFrom("fix_proposals").selectAll().executeTakeFirstOrThrow();
    expect(renewed).toMatchObject({ state: "waiting", to_version: "2.16.0" });
    expect(github.pulls).toEqual([]);
  });

  it("automated: opens at most N fix pull requests per repository, and the next when one is merged", async () => {
    github.draftsOnPrivate = true;
    expect((await admin.post("/settings/remediation", { mode: "automated", maxOpen: "1", draft: "yes", majorUpgrades: "no" })).status).toBe(303);
    await scan("acme/payments", PAYMENTS);
    await runJobs(app);
    expect(github.pulls).toHaveLength(1);
    expect(github.pulls[0]!.draft).toBe(true);
    const page = text(await (await admin.get("/fixes")).text());
    expect(page).toContain("Waiting (1)");
    expect(page).toContain("1 fix pull requests are open in this repository, its limit");
    // The first is merged: its findings resolve, and the waiting fix opens.
    await pullClosed(github.pulls[0]!.number, true);
    await runJobs(app);
    expect(github.pulls).toHaveLength(2);
    expect(github.pulls[1]!.state).toBe("open");
    expect(new Set(github.pulls.map((p) => p.head)).size).toBe(2);
    // Running again opens nothing more (one pull request per repository, manifest and package).
    await scan("acme/payments", PAYMENTS.slice(1));
    await runJobs(app);
    expect(github.pulls).toHaveLength(2);
    expect(github.defaultBranchWrites).toEqual([]);
  });

  it("automated: a draft where the plan has none opens ready for review", async () => {
    const id = await repositoryId("acme/ledger");
    await admin.post(`/repositories/${id}/remediation`, { mode: "automated", maxOpen: "3", draft: "yes", majorUpgrades: "default" });
    await scan("acme/ledger", [PAYMENTS[0]!]);
    await runJobs(app);
    expect(github.pulls).toHaveLength(1);
    expect(github.pulls[0]).toMatchObject({ repo: "acme/ledger", draft: false, state: "open" });
  });

  it("a repository's own setting wins over the default, and major upgrades are proposed only where allowed", async () => {
    await admin.post("/settings/remediation", { mode: "hybrid", maxOpen: "5", draft: "no", majorUpgrades: "no" });
    const payments = await repositoryId("acme/payments");
    await admin.post(`/repositories/${payments}/remediation`, { mode: "off", maxOpen: "", draft: "default", majorUpgrades: "default" });
    await scan("acme/payments", PAYMENTS);
    await scan("acme/ledger", [{ id: "CVE-2021-44228", pkg: LOG4J, installed: "2.14.1", fixed: "3.0.1", severity: "CRITICAL" }]);
    const rows = await db().selectFrom("fix_proposals").innerJoin("repositories", "repositories.id", "fix_proposals.repository_id").selectAll().execute();
    expect(rows.map((r) => r.full_name)).toEqual(["acme/ledger"]);
    expect(rows[0]).toMatchObject({ state: "unfixable" });
    expect(rows[0]!.reason).toContain("The fix requires a major upgrade (2.14.1 → 3.0.1)");
    const page = text(await (await admin.get(`/repositories/${payments}/remediation`)).text());
    expect(page).toContain("Off — fixes are opened only from a proposal, by an admin (this repository's)");

    const ledger = await repositoryId("acme/ledger");
    await admin.post(`/repositories/${ledger}/remediation`, { mode: "default", maxOpen: "", draft: "default", majorUpgrades: "yes" });
    await runJobs(app);
    // The settings changed, the findings did not: the same proposal is kept until they change.
    await scan("acme/ledger", [
      { id: "CVE-2021-44228", pkg: LOG4J, installed: "2.14.1", fixed: "3.0.1", severity: "CRITICAL" },
      { id: "CVE-2021-45046", pkg: LOG4J, installed: "2.14.1", fixed: "3.0.1", severity: "HIGH" },
    ]);
    const renewed = await db().selectFrom("fix_proposals").selectAll().where("repository_id", "=", ledger).executeTakeFirstOrThrow();
    expect(renewed).toMatchObject({ state: "waiting", to_version: "3.0.1" });
  });

  it("refuses settings it cannot use and keeps the old ones", async () => {
    const bad = await admin.post("/settings/remediation", { mode: "sometimes", maxOpen: "0", draft: "no", majorUpgrades: "no" });
    expect(bad.status).toBe(422);
    const shown = text(await bad.text());
    expect(shown).toContain("Choose off, hybrid or automated.");
    expect(shown).toContain("Enter a whole number from 1 to 50.");
    expect(text(await (await admin.get("/settings/remediation")).text())).not.toContain("Saved.");
    const id = await repositoryId("acme/payments");
    expect((await admin.post(`/repositories/${id}/remediation`, { mode: "hybrid", maxOpen: "many" })).status).toBe(422);
    expect((await db().selectFrom("repositories").select("remediation").where("id", "=", id).executeTakeFirstOrThrow()).remediation).toBeNull();
  });

  it("Propose fixes on the filtered table shows each repository's fix for the package, and sends nothing", async () => {
    await scan("acme/payments", PAYMENTS);
    await scan("acme/ledger", [PAYMENTS[0]!]);
    const table = await (await admin.get("/vulnerabilities?q=org.apache.logging")).text();
    expect(table).toContain('href="/vulnerabilities/fixes?q=org.apache.logging"');
    const page = text(await (await admin.get("/vulnerabilities/fixes?q=org.apache.logging")).text());
    expect(page).toContain(`${LOG4J} in acme/payments`);
    expect(page).toContain(`${LOG4J} in acme/ledger`);
    expect(page).not.toContain(TEXT);
    expect(page.split(`Bump ${LOG4J} from 2.14.1 to 2.15.0`).length - 1).toBeGreaterThanOrEqual(2);
    expect(github.pulls).toEqual([]);
    expect(github.writes.size).toBe(0);
  });
});
