// Hostile input against every form, the webhook endpoints and the upload API: malformed,
// oversized and script-bearing values never cause a 500, are never echoed unescaped, and a
// refused request writes nothing.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type TestApp, BASE, createToken, tableNames, setUpAdmin, testApp } from "../helpers.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { type RunningSim, startSim } from "../sim/serve.js";

const SCRIPT = `<script>alert("pwned")</script>`;
const HOSTILE = [
  SCRIPT,
  `"><img src=x onerror=alert(1)>`,
  `javascript:alert(1)`,
  `' OR 1=1 --`,
  `<%= it.user.password %>`,
  `../../../../etc/passwd`,
  "\u0000\u0007\u202e\u200b",
  "x".repeat(70_000),
  `{"__proto__": {"admin": true}}`,
  "-1",
  "99999999999999999999999",
];
const FIELDS = [
  "name",
  "username",
  "password",
  "confirm",
  "current",
  "role",
  "query",
  "status",
  "reason",
  "expires",
  "scopes",
  "project",
  "ticketType",
  "next",
  "q",
  "token",
  "clientSecret",
  "apiEndpoint",
  "githubUrl",
  "webhookUrl",
  "registryUrl",
  "scope",
  "minSeverity",
  "pushMode",
  "groupBy",
  "lifetime",
  "code",
  "part",
  "issuer",
  "clientId",
  "usernameClaim",
  "groupsClaim",
  "adminGroup",
  "memberGroup",
  "localSignIn",
  "breakGlassUser",
  "requireTotp",
];

let app: TestApp;
let admin: Browser;
let jira: JiraSim;
let jiraServer: RunningSim;
let routes: { method: string; path: string }[];

beforeAll(async () => {
  jira = new JiraSim();
  jira.addToken("ATATT-hostile-0001", "svc@acme.example");
  jira.addProject("SEC", "Security");
  jiraServer = await startSim(jira.app());
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: `${jira.siteOrigin}=${jiraServer.url},https://api.atlassian.com=${jiraServer.url}` } });
  admin = await setUpAdmin(app);
  // Something to act on: a tracker with a mapping, a finding, a user, a token.
  await admin.post("/integrations/jira", { apiToken: "ATATT-hostile-0001", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: jira.siteOrigin });
  await admin.post("/trackers/1/mappings", securityBugMapping());
  await admin.post("/settings/users", { username: "dev", role: "member", password: "member password 1", confirm: "member password 1" });
  const seen = new Set<string>();
  routes = app.runtime.app.routes.filter((r) => r.method === "POST" && !seen.has(r.path) && seen.add(r.path)).map((r) => ({ method: r.method, path: r.path }));
});
afterAll(async () => {
  await app.close();
  await jiraServer.close();
});

/**
 * A digest of every table but sessions (signing in renews them) and auth_attempts (a refused
 * password check is counted there, which is the point), to tell whether anything was written.
 */
async function snapshot(): Promise<string> {
  const db = app.runtime.database.db;
  const tables = (await tableNames(app)).map((name) => ({ name }));
  const hash = createHash("sha256");
  for (const { name } of tables.filter((t) => t.name !== "sessions" && t.name !== "auth_attempts"))
    hash.update(
      name +
        JSON.stringify(
          await db
            .selectFrom(name as never)
            .selectAll()
            .execute(),
        ),
    );
  return hash.digest("hex");
}

const concrete = (path: string) => path.replace(/:kind\b(\{[^}]*\})?/g, "jira").replace(/:\w+(\{[^}]*\})?/g, "1");

describe("hostile input", () => {
  it("never answers 500, never echoes a script, and writes nothing when it refuses", async () => {
    const failures: string[] = [];
    for (const route of routes.filter((r) => !/^\/(webhooks|api\/v1|logout|setup|login)/.test(r.path))) {
      for (const value of HOSTILE) {
        const before = await snapshot();
        const form = Object.fromEntries(FIELDS.map((f) => [f, value]));
        const res = await admin.post(concrete(route.path), form);
        const body = await res.text();
        const label = `${route.path} with ${JSON.stringify(value.slice(0, 30))}`;
        if (res.status >= 500) failures.push(`${label} → ${res.status}`);
        if (body.includes(SCRIPT) || /<img src=x onerror/i.test(body)) failures.push(`${label} echoed the script unescaped`);
        if (res.status >= 400 && (await snapshot()) !== before) failures.push(`${label} → ${res.status} but wrote to the database`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("answers hostile API parameters and bodies with a JSON error, never a 500, and changes nothing", async () => {
    const token = await createToken(admin, ["admin"], { name: "hostile", lifetime: "30" });
    const api = (path: string, init: RequestInit = {}) =>
      app.runtime.app.request(`${BASE}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
    // An id past what a number holds names nothing, on pages as in the API (PostgreSQL's bigint would refuse it).
    for (const path of ["/vulnerabilities/99999999999999999999999", "/trackers/99999999999999999999999", "/jobs/99999999999999999999999/retry"])
      expect([404, 403], path).toContain((path.endsWith("retry") ? await admin.post(path, {}) : await admin.get(path)).status);
    // The token's first use is recorded (then at most once a minute): done before the snapshots.
    expect((await api("/integrations")).status).toBe(200);
    const failures: string[] = [];
    for (const value of HOSTILE.filter((v) => v.length < 10_000)) {
      const before = await snapshot();
      const q = encodeURIComponent(value);
      for (const path of [
        `/findings?severity=${q}`,
        `/findings?cursor=${q}`,
        `/findings?limit=${q}`,
        `/findings?${q}=1`,
        `/jobs?status=${q}`,
        `/audit?from=${q}`,
        `/tickets?cursor=${q}`,
        `/findings/${q}`,
      ]) {
        const res = await api(path);
        if (res.status >= 500 || !(res.headers.get("content-type") ?? "").startsWith("application/json"))
          failures.push(`GET ${path.slice(0, 60)} → ${res.status}`);
      }
      for (const body of [value, JSON.stringify({ status: value, reason: value, expires: value }), JSON.stringify([value])]) {
        const res = await api("/findings/1/status", { method: "POST", headers: { "content-type": "application/json" }, body });
        if (res.status >= 500) failures.push(`POST status ${body.slice(0, 40)} → ${res.status}`);
      }
      if ((await snapshot()) !== before) failures.push(`${JSON.stringify(value.slice(0, 30))} changed the database`);
    }
    expect(failures).toEqual([]);
  });

  it("refuses oversized forms with a page that says so", async () => {
    const res = await admin.post("/settings/tokens", { name: "y".repeat(200_000) });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("The form was larger than 64 KB");
  });

  it("answers malformed webhook deliveries and uploads without a 500", async () => {
    const bodies = ["", "{", "null", "[]", `{"action": ${"[".repeat(5000)}}`, SCRIPT, "\u0000".repeat(100), "x".repeat(2_000_000)];
    for (const body of bodies) {
      for (const kind of ["github", "gitlab", "bitbucket", "jira", "wiz"]) {
        const res = await app.runtime.app.request(`${BASE}/webhooks/${kind}/1`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "pull_request",
            "x-hub-signature-256": "sha256=00",
            "x-gitlab-token": "x",
            "x-event-key": "pullrequest:created",
          },
          body,
        });
        expect(res.status, `${kind} ${body.slice(0, 20)}`).toBeLessThan(500);
        expect(await res.text()).not.toContain(SCRIPT);
      }
      const upload = await app.runtime.app.request(`${BASE}/api/v1/scans?asset=${encodeURIComponent(SCRIPT)}&format=${encodeURIComponent(SCRIPT)}`, {
        method: "POST",
        headers: { authorization: "Bearer pbt_" + "a".repeat(32), "content-type": "multipart/form-data; boundary=" },
        body,
      });
      expect(upload.status).toBe(401);
    }
  });
});
