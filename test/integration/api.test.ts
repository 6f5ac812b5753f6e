// The REST API: token scopes and owners, findings filtered and paged like the Vulnerabilities
// page, a finding in full, status changes, integrations and syncs, jobs, uploads, the export and
// the audit log. Every answer is validated against the served OpenAPI description.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../api-client.js";
import { type Browser, type TestApp, createToken, setUpAdmin, signIn, testApp, text } from "../helpers.js";
import { trivyReport } from "../bench/reports.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let app: TestApp;
let wiz: WizFixture;
let admin: Browser;
let member: Browser;
const db = () => app.runtime.database.db;

const token = (browser: Browser, scopes: string[], lifetime = "90") => createToken(browser, scopes, { lifetime });

let reader: ApiClient;
let writer: ApiClient;
let adminApi: ApiClient;
let uploader: ApiClient;

beforeAll(async () => {
  wiz = await startWiz();
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
  expect((await admin.post("/settings/users", { username: "mia", role: "member", password: "member password 1", confirm: "member password 1" })).status).toBe(
    200,
  );
  member = await signIn(app, "mia", "member password 1");
  expect((await admin.post("/integrations/ci-upload", {})).status).toBe(303);
  reader = new ApiClient(app, await token(admin, ["read"]));
  writer = new ApiClient(app, await token(admin, ["write"]));
  adminApi = new ApiClient(app, await token(admin, ["admin"]));
  uploader = new ApiClient(app, await token(member, ["upload"]));
  const res = await uploader.request("POST", "/scans", { raw: trivyReport(0.15), headers: { "content-type": "application/json" } });
  expect(res.status).toBe(201);
  expect(res.body.created).toBeGreaterThan(100);
});
afterAll(async () => {
  await app?.close();
  await wiz?.close();
});

describe("signing in to the API", () => {
  it("serves a valid OpenAPI 3.1 description without a token", async () => {
    const doc = (await new ApiClient(app, undefined).description()) as unknown as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/findings", "/findings/{id}/status", "/tickets", "/integrations/{id}/sync", "/jobs", "/uploads", "/audit"]),
    );
  });

  it("refuses no token, an unknown token and a browser session, saying what to send", async () => {
    const none = await new ApiClient(app, undefined).get("/findings");
    expect(none.status).toBe(401);
    expect(none.body.error).toContain("Authorization: Bearer");
    expect(none.res.headers.get("www-authenticate")).toMatch(/^Bearer realm="Patchbay"/);
    const unknown = await new ApiClient(app, "pbt_" + "a".repeat(32)).get("/findings");
    expect(unknown.status).toBe(401);
    expect(unknown.res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    // The session cookie of a signed-in person does not open the API.
    const cookie = await admin.get("/api/v1/findings");
    expect(cookie.status).toBe(401);
  });

  it("holds each token to its scopes and its owner's role", async () => {
    const upload = await uploader.get("/findings");
    expect(upload.status).toBe(403);
    expect(upload.body.error).toContain("read scope");
    const readOnly = await reader.post("/findings/1/status", { status: "open" });
    expect(readOnly.status).toBe(403);
    expect(readOnly.res.headers.get("www-authenticate")).toContain('scope="write"');
    expect((await writer.post("/integrations/1/sync")).status).toBe(403);
    expect((await reader.get("/audit")).status).toBe(403);
  });

  it("lets members create read and upload tokens only, and see only their own", async () => {
    const refused = await member.request("/settings/tokens", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([
        ["name", "sneaky"],
        ["lifetime", "30"],
        ["scopes", "write"],
      ]),
    });
    expect(refused.status).toBe(403);
    expect(text(await refused.text())).toContain("Only an administrator can create a token with the write scope");
    expect(await db().selectFrom("api_tokens").select("id").where("name", "=", "sneaky").executeTakeFirst()).toBeUndefined();
    const page = text(await (await member.get("/settings/tokens")).text());
    expect(page).toContain("t-upload-");
    expect(page).not.toContain("t-admin-");
    // Another person's token cannot be revoked (or confirmed to exist).
    const adminToken = await db().selectFrom("api_tokens").select("id").where("name", "like", "t-admin-%").executeTakeFirstOrThrow();
    expect((await member.post(`/settings/tokens/${adminToken.id}/revoke`, {})).status).toBe(404);
    expect((await adminApi.get("/jobs")).status).toBe(200);
  });

  it("refuses an expired token and records when a token was last used", async () => {
    const short = new ApiClient(app, await token(admin, ["read"], "30"));
    expect((await short.get("/integrations")).status).toBe(200);
    const row = await db().selectFrom("api_tokens").select(["last_used_at", "expires_at"]).orderBy("id", "desc").executeTakeFirstOrThrow();
    expect(row.last_used_at).toBe(app.clock.now().toISOString());
    app.clock.advance(31 * 86_400_000);
    try {
      const late = await short.get("/integrations");
      expect(late.status).toBe(401);
      expect(late.body.error).toContain("expired");
    } finally {
      app.clock.advance(-31 * 86_400_000);
    }
  });

  it("lowers an admin token to a member's rights when its owner stops being an admin", async () => {
    await admin.post("/settings/users", { username: "ada", role: "admin", password: "admin password 22", confirm: "admin password 22" });
    const ada = await signIn(app, "ada", "admin password 22");
    const adas = new ApiClient(app, await token(ada, ["admin"]));
    expect((await adas.get("/audit")).status).toBe(200);
    const id = (await db().selectFrom("users").select("id").where("username", "=", "ada").executeTakeFirstOrThrow()).id;
    await admin.post(`/settings/users/${id}/role`, { role: "member" });
    const demoted = await adas.get("/audit");
    expect(demoted.status).toBe(403);
    expect(demoted.body.error).toContain("no longer an administrator");
    expect((await adas.get("/findings?limit=1")).status).toBe(200);
    // Removing the person ends their tokens.
    await admin.post(`/settings/users/${id}/delete`, {});
    expect((await adas.get("/findings?limit=1")).status).toBe(401);
  });
});

describe("findings", () => {
  it("pages through every finding of a filter with cursors", async () => {
    const total = Number(
      (
        await db()
          .selectFrom("findings")
          .select((eb) => eb.fn.countAll().as("n"))
          .where("severity", "in", ["critical", "high"])
          .where("status", "in", ["open", "in_remediation"])
          .executeTakeFirstOrThrow()
      ).n,
    );
    const seen = new Set<number>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await reader.get(`/findings?severity=critical&severity=high&limit=20${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      for (const f of res.body.items) {
        expect(["critical", "high"]).toContain(f.severity);
        seen.add(f.id);
      }
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    expect(seen.size).toBe(total);
    expect(pages).toBe(Math.ceil(total / 20));
  });

  it("refuses unknown parameters and values instead of ignoring them", async () => {
    for (const [query, words] of [
      ["severity=urgent", "severity is one of"],
      ["serverity=high", 'Unknown parameter "serverity"'],
      ["limit=1000", "limit is a whole number from 1 to 500"],
      ["cursor=garbage", "cursor"],
      ["sort=random", "sort is one of"],
    ] as const) {
      const res = await reader.get(`/findings?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toContain(words);
    }
  });

  it("gives one finding with its sources and history, and 404 for one that does not exist", async () => {
    const first = (await reader.get("/findings?limit=1")).body.items[0];
    const detail = await reader.get(`/findings/${first.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.sources[0].integration.kind).toBe("ci-upload");
    expect(detail.body.history[0].to).toBe("open");
    expect(detail.body.url).toBe(`http://localhost:8080/vulnerabilities/${first.id}`);
    expect((await reader.get("/findings/999999")).status).toBe(404);
  });

  it("changes a finding's status as its token's owner, with the same checks as the page, and audits it", async () => {
    const first = (await reader.get("/findings?limit=1")).body.items[0];
    const missing = await writer.post(`/findings/${first.id}/status`, { status: "risk_accepted", reason: "" });
    expect(missing.status).toBe(422);
    expect(missing.body.fields).toEqual({ reason: "Say why the risk is accepted.", expires: "Choose the date the acceptance ends." });
    expect((await db().selectFrom("findings").select("status").where("id", "=", first.id).executeTakeFirstOrThrow()).status).toBe("open");
    const expires = new Date(app.clock.now().getTime() + 30 * 86_400_000).toISOString().slice(0, 10);
    const done = await writer.post(`/findings/${first.id}/status`, { status: "risk_accepted", reason: "compensating WAF rule", expires });
    expect(done.status).toBe(200);
    expect(done.body.status).toBe("risk_accepted");
    expect(done.body.status_reason).toBe("compensating WAF rule");
    const history = (await reader.get(`/findings/${first.id}`)).body.history;
    expect(history[0]).toMatchObject({ actor: "admin", from: "open", to: "risk_accepted" });
    const audit = await adminApi.get("/audit?action=finding");
    expect(audit.body.items[0]).toMatchObject({ actor: "admin", action: "finding.status_changed", target: `finding ${first.id}` });
    expect(audit.body.items[0].via).toMatch(/^token t-write-/);
    // Not JSON: refused with what to send.
    const raw = await writer.request("POST", `/findings/${first.id}/status`, {
      raw: "status=open",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(raw.status).toBe(415);
  });

  it("exports the filter as CSV", async () => {
    const res = await reader.get("/findings/export?format=csv&severity=critical");
    expect(res.status).toBe(200);
    const lines = (res.body as string).trimEnd().split("\r\n");
    expect(lines[0]!.startsWith("id,cve,title,severity")).toBe(true);
    expect(lines.slice(1).every((l) => l.includes(",critical,"))).toBe(true);
  });
});

describe("integrations, jobs, uploads, tickets", () => {
  it("lists integrations and starts a sync with an admin token, followed as a job", async () => {
    const list = await reader.get("/integrations");
    const uploads = list.body.items.find((i: { kind: string }) => i.kind === "ci-upload");
    expect(uploads).toMatchObject({ name: expect.any(String), can_sync: false });
    const nothing = await adminApi.post(`/integrations/${uploads.id}/sync`);
    expect(nothing.status).toBe(409);
    await admin.post("/integrations/wiz", { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on" });
    const scanner = (await reader.get("/integrations")).body.items.find((i: { kind: string }) => i.kind === "wiz");
    expect(scanner).toMatchObject({ can_sync: true, status: "connected" });
    const started = await adminApi.post(`/integrations/${scanner.id}/sync`);
    expect(started.status).toBe(202);
    const job = await reader.get(`/jobs/${started.body.job}`);
    expect(job.body).toMatchObject({ id: started.body.job, status: "queued" });
    const jobs = await reader.get("/jobs?status=queued&limit=2");
    expect(jobs.status).toBe(200);
    expect(jobs.body.items.length).toBeLessThanOrEqual(2);
    expect((await adminApi.get("/audit?action=integration.sync_requested")).body.items[0]).toMatchObject({ actor: "admin", target: scanner.name });
    // Connecting was audited with the settings changed, and the secret only by name.
    const connected = (await adminApi.get("/audit?action=integration.connected")).body.items[0];
    expect(connected.detail.secrets).toEqual(["clientSecret"]);
    expect(JSON.stringify(connected)).not.toContain(WIZ_CLIENT.secret);
  });

  it("lists uploads and tickets, a page at a time", async () => {
    const uploads = await reader.get("/uploads");
    expect(uploads.body.items[0]).toMatchObject({ status: "succeeded", format: "trivy" });
    expect(uploads.body.items[0].by).toMatch(/^token t-upload-/);
    const tickets = await reader.get("/tickets?limit=5");
    expect(tickets.status).toBe(200);
    expect(tickets.body.next_cursor).toBeNull();
  });

  it("answers an unknown API path with JSON, not a page", async () => {
    const res = await reader.get("/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body.error).toContain("openapi.json");
  });
});
