// Remediation pull requests through GitHub webhooks: signatures, replays, linking rules and
// state transitions, against a Patchbay that listens on loopback like the real one.
import crypto from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mentionedCves, parseBump } from "../../src/remediation/fixes.js";
import { type Browser, type TestApp, setUpAdmin, testApp, text, runJobs } from "../helpers.js";
import { GitHubSim, type GitHubSimRepo } from "../sim/github.js";
import { type RunningSim, startSim } from "../sim/serve.js";
import { wizFinding } from "../sim/wiz-data.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const TOKEN = "github_pat_remediation_0001";
const SECRET = "webhook-secret-0123456789";
let github: GitHubSim;
let githubServer: RunningSim;
let wiz: WizFixture;
let app: TestApp;
let patchbay: RunningSim;
let admin: Browser;
let hookUrl: string;
let repo: GitHubSimRepo;

beforeAll(async () => {
  github = new GitHubSim();
  github.addToken(TOKEN);
  github.addRepos("acme", 3);
  repo = github.repos[0]!;
  githubServer = await startSim(github.app());
  wiz = await startWiz();
});
afterAll(async () => {
  await githubServer.close();
  await wiz.close();
});
beforeEach(async () => {
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `https://api.github.com=${githubServer.url},${wiz.originMap}` } });
  patchbay = await startSim(app.runtime.app);
  admin = await setUpAdmin(app);
  const res = await admin.post("/integrations/github", { githubUrl: "https://github.com", token: TOKEN, webhookSecret: SECRET });
  expect(res.status).toBe(303);
  hookUrl = `${patchbay.url}/webhooks/github/1`;
  await drain();
  // Wiz reports lodash and axios findings on the first repository.
  wiz.sim.findings.length = 0;
  const asset = {
    __typename: "VulnerableAssetRepositoryBranch",
    id: "a1",
    type: "REPOSITORY_BRANCH",
    name: "main",
    repositoryName: repo.full_name,
    providerUniqueId: `https://github.com/${repo.full_name}`,
  };
  wiz.sim.findings.push(
    wizFinding(0, asset, { name: "CVE-2021-23337", detailedName: "lodash", version: "4.17.15", fixedVersion: "4.17.21", locationPath: "package-lock.json" }),
    wizFinding(1, asset, { name: "CVE-2020-28500", detailedName: "lodash", version: "4.17.15", fixedVersion: "4.17.21", locationPath: "package-lock.json" }),
    wizFinding(2, asset, { name: "CVE-2021-3749", detailedName: "axios", version: "0.21.1", fixedVersion: "0.21.2", locationPath: "yarn.lock" }),
  );
  await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
  await drain(5_000);
  expect(await db().selectFrom("findings").select("id").execute()).toHaveLength(3);
});
afterEach(async () => {
  await patchbay.close();
  await app.close();
});

const db = () => app.runtime.database.db;

const drain = (advanceMs = 0) => runJobs(app, advanceMs);

async function statuses(): Promise<Record<string, string>> {
  const rows = await db().selectFrom("findings").select(["cve", "status"]).execute();
  return Object.fromEntries(rows.map((r) => [r.cve, r.status]));
}

async function pr(action: string, fields: { number?: number; title: string; body?: string; branch?: string; merged?: boolean }, opts: { form?: boolean } = {}) {
  const res = await github.deliver(hookUrl, "pull_request", github.pullRequestPayload({ action, repo, number: fields.number ?? 7, ...fields }), {
    secret: SECRET,
    ...opts,
  });
  expect(res.status).toBe(202);
  await drain();
}

describe("webhook authentication", () => {
  it("refuses unsigned and wrongly signed deliveries with 401, and answers a replay 202 without processing it again", async () => {
    const payload = github.pullRequestPayload({ action: "opened", repo, number: 1, title: "Fix CVE-2021-23337" });
    expect((await github.deliver(hookUrl, "pull_request", payload)).status).toBe(401);
    expect((await github.deliver(hookUrl, "pull_request", payload, { secret: "another-secret-value" })).status).toBe(401);
    expect((await github.deliver(hookUrl, "pull_request", payload, { signature: "sha256=abc" })).status).toBe(401);
    expect(await db().selectFrom("webhook_deliveries").select("id").execute()).toHaveLength(0);

    const first = await github.deliver(hookUrl, "pull_request", payload, { secret: SECRET, deliveryId: "d-1" });
    expect(first.status).toBe(202);
    // GitHub's redelivery (same id), and the same signed body under a fresh id (the id is an unsigned header).
    for (const deliveryId of ["d-1", "d-2-forged"]) {
      const replay = await github.deliver(hookUrl, "pull_request", payload, { secret: SECRET, deliveryId });
      expect(replay.status).toBe(202);
      expect(await replay.json()).toEqual({ status: "already processed", deliveryId });
    }
    expect(await db().selectFrom("webhook_deliveries").select("delivery_id").execute()).toEqual([{ delivery_id: "d-1" }]);
    expect(await db().selectFrom("jobs").select("id").where("type", "=", "webhook.process").execute()).toHaveLength(1);
    expect((await github.deliver(`${patchbay.url}/webhooks/github/999`, "ping", {}, { secret: SECRET })).status).toBe(404);
  });

  it("checks the signature over the body's bytes, and refuses bodies that are not UTF-8 or are nested without end", async () => {
    const send = (body: Buffer | string, signed: Buffer | string = body) =>
      fetch(hookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "ping",
          "x-github-delivery": crypto.randomUUID(),
          "x-hub-signature-256": `sha256=${crypto.createHmac("sha256", SECRET).update(signed).digest("hex")}`,
        },
        body: typeof body === "string" ? body : new Blob([new Uint8Array(body)]),
      });
    // Bytes that are not UTF-8: decoding them as text would change what was signed.
    const latin1 = Buffer.from('{"zen":"caf\xe9"}', "latin1");
    const notUtf8 = await send(latin1);
    expect(notUtf8.status).toBe(400);
    expect((await notUtf8.json()).error).toContain("not UTF-8");
    expect((await send(Buffer.from('{"zen":"café"}'), Buffer.from('{"zen":"caf\uFFFD"}'))).status).toBe(401);
    const deep = await send(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    expect(deep.status).toBe(400);
    expect((await deep.json()).error).toContain("nested deeper");
    expect(await db().selectFrom("webhook_deliveries").select("id").execute()).toHaveLength(0);
  });

  it("reads GitHub's documented maximum (25 MB) and no more, refuses a signed body that is empty or not JSON, and an unsigned one unread", async () => {
    const send = (body: string, headers: Record<string, string> = {}) =>
      fetch(hookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": crypto.randomUUID(),
          "x-hub-signature-256": `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`,
          ...headers,
        },
        body,
      });
    // A pull request with a 12 MB description: above the 10 MB other services get, within GitHub's 25 MB.
    const payload = github.pullRequestPayload({ action: "opened", repo, number: 31, title: "Fix CVE-2021-23337", body: "x".repeat(12 * 1024 * 1024) });
    const big = await send(JSON.stringify(payload));
    expect(big.status).toBe(202);
    const tooBig = await send(JSON.stringify({ ...payload, padding: "y".repeat(26 * 1024 * 1024) }));
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json()).error).toBe("The delivery is larger than 25 MB, the most GitHub sends.");
    // Signed, but nothing to read: 400 with the reason, and no job.
    const empty = await send("");
    expect([empty.status, (await empty.json()).error]).toEqual([400, "The delivery is signed, but its body is empty: there is no event to process."]);
    const notJson = await send("action=opened");
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error).toMatch(/^The delivery is signed, but its body is not JSON/);
    const unsigned = await fetch(hookUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "u-1" },
      body: "{}",
    });
    expect([unsigned.status, (await unsigned.json()).error]).toEqual([
      401,
      "The delivery is not signed (no x-hub-signature-256 header); its body was not read.",
    ]);
    expect((await db().selectFrom("webhook_deliveries").select("event").execute()).map((d) => d.event)).toEqual(["pull_request"]);
    expect(await db().selectFrom("jobs").select("id").where("type", "=", "webhook.process").execute()).toHaveLength(1);
  });

  it("reads at most two large bodies at once per integration: a third waits (503, Retry-After)", async () => {
    const http = await import("node:http");
    const url = new URL(hookUrl);
    const headers = {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": "slow",
      "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
      "content-length": String(3 * 1024 * 1024),
    };
    // Two senders start a 3 MB body and stall half-way: their bodies are being read.
    const slow = [0, 1].map(() => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { ...headers, "x-github-delivery": crypto.randomUUID() },
      });
      req.on("error", () => undefined);
      req.write(Buffer.alloc(1024 * 1024, 0x20));
      return req;
    });
    await new Promise((r) => setTimeout(r, 300));
    const third = await fetch(hookUrl, { method: "POST", headers: { ...headers, "x-github-delivery": "third" }, body: " ".repeat(3 * 1024 * 1024) });
    expect(third.status).toBe(503);
    expect(third.headers.get("retry-after")).toBe("5");
    for (const req of slow) req.destroy();
    await new Promise((r) => setTimeout(r, 300));
    // Once they are gone, a large delivery is read again (and its bad signature refused).
    const after = await fetch(hookUrl, { method: "POST", headers: { ...headers, "x-github-delivery": "after" }, body: " ".repeat(3 * 1024 * 1024) });
    expect(after.status).toBe(401);
  });

  it("needs no session or Origin, and records other events as ignored", async () => {
    const res = await github.deliver(hookUrl, "ping", { zen: "Keep it logically awesome." }, { secret: SECRET, deliveryId: "ping-1" });
    expect(res.status).toBe(202);
    await drain();
    const row = await db().selectFrom("webhook_deliveries").selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ event: "ping", outcome: "ignored", payload: null });
  });
});

describe("remediation states", () => {
  it("opened → in remediation, merged → resolved, with history and domain events", async () => {
    await pr("opened", { title: "Fix CVE-2021-23337 in lodash", body: "Also addresses cve-2020-28500." });
    expect(await statuses()).toEqual({ "CVE-2021-23337": "in_remediation", "CVE-2020-28500": "in_remediation", "CVE-2021-3749": "open" });
    await pr("closed", { title: "Fix CVE-2021-23337 in lodash", merged: true });
    expect(await statuses()).toEqual({ "CVE-2021-23337": "resolved", "CVE-2020-28500": "resolved", "CVE-2021-3749": "open" });
    const events = await db().selectFrom("domain_events").select(["type", "payload"]).where("type", "like", "remediation.%").orderBy("id").execute();
    expect(events.map((e) => e.type)).toEqual(["remediation.opened", "remediation.merged"]);
    expect(JSON.parse(events[1]!.payload).findingIds).toHaveLength(2);
    const finding = await db().selectFrom("findings").select("id").where("cve", "=", "CVE-2021-23337").executeTakeFirstOrThrow();
    const page = text(await (await admin.get(`/vulnerabilities/${finding.id}`)).text());
    expect(page).toContain("remediation: In remediation → Resolved — Fixed by PR #7 (merged); the next scan confirms");
    expect(page).toContain(`remediation: Open → In remediation — PR #7 opened: https://github.com/${repo.full_name}/pull/7`);
  });

  it("lists linked pull requests on the Remediations page", async () => {
    expect(text(await (await admin.get("/remediations")).text())).toContain("No remediation pull requests yet.");
    await pr("opened", { number: 11, title: "Bump lodash from 4.17.15 to 4.17.21", branch: "dependabot/npm_and_yarn/lodash-4.17.21" });
    const page = text(await (await admin.get("/remediations")).text());
    expect(page).toContain(`#11 Bump lodash from 4.17.15 to 4.17.21 dependabot/npm_and_yarn/lodash-4.17.21 ${repo.full_name} open`);
    expect(page).toContain("CVE-2021-23337 lodash");
    expect(page).toContain("by dependency bump");
    expect(text(await (await admin.get("/remediations?state=merged")).text())).not.toContain("#11");
  });

  it("lists the first few findings of a large pull request and links to all of them", async () => {
    const asset = wiz.sim.findings[0]!.vulnerableAsset;
    for (let i = 0; i < 7; i++)
      wiz.sim.findings.push(
        wizFinding(10 + i, asset, {
          name: `CVE-2024-${4100 + i}`,
          detailedName: "lodash",
          version: "4.17.15",
          fixedVersion: "4.17.21",
          locationPath: "package-lock.json",
        }),
      );
    await admin.post("/integrations/wiz/2/sync", {});
    await drain(5_000);
    await pr("opened", { number: 12, title: "Bump lodash from 4.17.15 to 4.17.21", branch: "dependabot/npm_and_yarn/lodash-4.17.21" });
    const list = await (await admin.get("/remediations")).text();
    expect(list.match(/href="\/vulnerabilities\/\d+"/g)).toHaveLength(5);
    expect(text(list)).toContain("and 4 more findings fixed by #12");
    const id = /href="\/remediations\/(\d+)"/.exec(list)![1];
    const all = await (await admin.get(`/remediations/${id}`)).text();
    expect(all.match(/href="\/vulnerabilities\/\d+"/g)).toHaveLength(9);
    expect(text(all)).toContain("#12 Bump lodash from 4.17.15 to 4.17.21 fixes 9 findings");
    expect((await admin.get("/remediations/999")).status).toBe(404);
  });

  it("closed without merging → back to open, unless another open PR still covers the finding", async () => {
    await pr("opened", { number: 1, title: "Fix CVE-2021-23337" });
    await pr("opened", { number: 2, title: "Fix CVE-2021-23337 and CVE-2021-3749" });
    await pr("closed", { number: 1, title: "Fix CVE-2021-23337" });
    expect(await statuses()).toMatchObject({ "CVE-2021-23337": "in_remediation", "CVE-2021-3749": "in_remediation" });
    await pr("closed", { number: 2, title: "Fix CVE-2021-23337 and CVE-2021-3749" });
    expect(await statuses()).toMatchObject({ "CVE-2021-23337": "open", "CVE-2021-3749": "open" });
    expect(await db().selectFrom("remediations").select(["number", "state"]).orderBy("number").execute()).toEqual([
      { number: 1, state: "closed" },
      { number: 2, state: "closed" },
    ]);
  });

  it("links a dependency bump that reaches the fixed version, and not one that falls short", async () => {
    await pr("opened", { number: 3, title: "Bump axios from 0.21.1 to 0.21.0", branch: "dependabot/npm_and_yarn/axios-0.21.0" });
    expect((await statuses())["CVE-2021-3749"]).toBe("open");
    await pr("opened", { number: 4, title: "Bump lodash from 4.17.15 to 4.17.21", branch: "dependabot/npm_and_yarn/lodash-4.17.21" });
    expect(await statuses()).toEqual({ "CVE-2021-23337": "in_remediation", "CVE-2020-28500": "in_remediation", "CVE-2021-3749": "open" });
    await pr("opened", { number: 5, title: "fix(deps): update dependency axios to v0.21.4" }, { form: true });
    expect((await statuses())["CVE-2021-3749"]).toBe("in_remediation");
    const reasons = await db().selectFrom("remediation_findings").select("reason").distinct().execute();
    expect(reasons).toEqual([{ reason: "bump" }]);
  });

  it("orders the bump by the package's ecosystem: a pre-release of the fix is not the fix, and a version npm cannot read is said on the finding", async () => {
    await pr("opened", { number: 3, title: "Bump lodash from 4.17.15 to 4.17.21-beta.1" });
    await pr("opened", { number: 4, title: "Bump axios from 0.21.1 to 0.22" });
    expect(await statuses()).toEqual({ "CVE-2021-23337": "open", "CVE-2020-28500": "open", "CVE-2021-3749": "open" });
    const notes = await db()
      .selectFrom("finding_events")
      .innerJoin("findings", "findings.id", "finding_events.finding_id")
      .select(["findings.cve", "finding_events.note", "finding_events.to_status"])
      .where("finding_events.actor", "=", "remediation")
      .execute();
    expect(notes).toEqual([
      {
        cve: "CVE-2021-3749",
        to_status: "open",
        note: 'PR #4: Not linked to the bump of axios to 0.22: "0.22" is not MAJOR.MINOR.PATCH with an optional -pre-release and +build, so SemVer (npm) cannot order it.',
      },
    ]);
    // An edit of the same pull request does not say it again.
    await pr("edited", { number: 4, title: "Bump axios from 0.21.1 to 0.22" });
    expect(await db().selectFrom("finding_events").select("id").where("actor", "=", "remediation").execute()).toHaveLength(1);
    const axios = await db().selectFrom("findings").select("id").where("cve", "=", "CVE-2021-3749").executeTakeFirstOrThrow();
    const page = text(await (await admin.get(`/vulnerabilities/${axios.id}`)).text());
    expect(page).toContain("SemVer (npm) cannot order it");
  });

  it("links a CVE named only in the branch, and picks up a CVE added by an edit", async () => {
    await pr("opened", { number: 8, title: "Security fixes", branch: "fix/cve-2021-3749" });
    expect((await statuses())["CVE-2021-3749"]).toBe("in_remediation");
    await pr("edited", { number: 8, title: "Security fixes for CVE-2020-28500", branch: "fix/cve-2021-3749" });
    expect((await statuses())["CVE-2020-28500"]).toBe("in_remediation");
  });

  it("opens a merged fix again when the next scan still reports it", async () => {
    await pr("opened", { title: "Fix CVE-2021-3749" });
    await pr("closed", { title: "Fix CVE-2021-3749", merged: true });
    expect((await statuses())["CVE-2021-3749"]).toBe("resolved");
    await admin.post("/integrations/wiz/2/sync", {});
    await drain();
    expect((await statuses())["CVE-2021-3749"]).toBe("open");
    const finding = await db().selectFrom("findings").select("id").where("cve", "=", "CVE-2021-3749").executeTakeFirstOrThrow();
    expect(text(await (await admin.get(`/vulnerabilities/${finding.id}`)).text())).toContain("Still reported by the scanner after it was marked resolved");
  });

  it("ignores a pull request in a repository Patchbay does not list yet", async () => {
    const stranger = { ...repo, id: 999_999, full_name: "acme/unknown" };
    const res = await github.deliver(
      hookUrl,
      "pull_request",
      github.pullRequestPayload({ action: "opened", repo: stranger, number: 1, title: "Fix CVE-2021-3749" }),
      { secret: SECRET },
    );
    expect(res.status).toBe(202);
    await drain();
    const row = await db().selectFrom("webhook_deliveries").selectAll().executeTakeFirstOrThrow();
    expect(row.outcome).toBe("ignored");
    expect(row.detail).toContain("acme/unknown is not among GitHub's repositories yet");
    expect((await statuses())["CVE-2021-3749"]).toBe("open");
  });

  it("shows the webhook URL and what to configure in the GitHub dialog", async () => {
    const dialog = text(await (await admin.get("/integrations/github/1?tab=configuration")).text());
    expect(dialog).toContain("Webhook URL: http://localhost:8080/webhooks/github/1");
    expect(dialog).toContain("tick Pull requests");
    expect(dialog).toContain("No delivery received yet.");
    await pr("opened", { number: 21, title: "Fix CVE-2021-3749" });
    const after = text(await (await admin.get("/integrations/github/1?tab=configuration")).text());
    expect(after).toMatch(/Recent deliveries .* pull_request [0-9a-f-]{36} processed — PR #21 opened: 1 linked finding, 1 changed status\./);
    expect(dialog).not.toContain(SECRET);
  });
});

describe("linking rules", () => {
  it("finds CVE ids in any case, once each", () => {
    expect(mentionedCves("fix CVE-2021-23337, cve-2021-23337 and CVE-2020-28500")).toEqual(["CVE-2021-23337", "CVE-2020-28500"]);
  });

  it("reads Dependabot, Renovate and plain bump titles", () => {
    expect(parseBump("Bump lodash from 4.17.15 to 4.17.21")).toEqual({ package: "lodash", to: "4.17.21" });
    expect(parseBump("build(deps): bump com.fasterxml.jackson.core:jackson-databind from 2.9.10 to 2.12.7.1 in /api")).toEqual({
      package: "com.fasterxml.jackson.core:jackson-databind",
      to: "2.12.7.1",
    });
    expect(parseBump("chore(deps): update dependency axios to v0.21.4")).toEqual({ package: "axios", to: "0.21.4" });
    expect(parseBump("fix(deps): update module golang.org/x/net to v0.17.0")).toEqual({ package: "golang.org/x/net", to: "0.17.0" });
    expect(parseBump("bump requests to 2.31.0")).toEqual({ package: "requests", to: "2.31.0" });
    expect(parseBump("Update README")).toBeUndefined();
    expect(parseBump("Bump the npm_and_yarn group across 1 directory with 2 updates")).toBeUndefined();
  });
});
