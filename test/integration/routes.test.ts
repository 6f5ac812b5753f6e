// The route inventory: every route the app serves, found from the app itself, is checked for
// authentication (only /healthz, /readyz, /metrics (its own token), sign-in, set-up, static files, signed webhooks and the token
// API are reachable without a session), CSRF (a state change from another origin is refused)
// and roles (a member may change only what a member is allowed to). A new route is covered the
// day it is added: it must pass these checks or be listed here with the reason.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type TestApp, setUpAdmin, signIn, testApp } from "../helpers.js";

/** Reachable without a session, and why (static files are served by a catch-all, checked below). */
const PUBLIC: Record<string, string> = {
  "GET /healthz": "health checks",
  "GET /readyz": "readiness probe (the database answers, can be written, and is migrated)",
  "GET /metrics": "Prometheus scrape, authenticated by its bearer token (PATCHBAY_METRICS_TOKEN); off without one",
  "GET /login": "the sign-in page",
  "POST /login": "signing in (rate-limited)",
  "GET /setup": "first-run set-up (closed once an admin exists)",
  "POST /setup": "first-run set-up (closed once an admin exists)",
  "GET /api/v1/openapi.json": "the API's description: its paths and schemas, no data",
  "GET /login/oidc": "starting single sign-on: a redirect to the provider (or back to /login when none is set up)",
  "GET /login/oidc/callback": "the provider's answer: refused unless its state matches this browser's cookie and its ID token checks out",
  "GET /login/code": "the second sign-in step (needs the challenge cookie the right password set)",
  "POST /login/code": "the second sign-in step (a challenge of five tries, rate-limited per address and account)",
};
/** Authenticated otherwise than by a session: they answer 401 without their credential. */
const MACHINE = /^(POST \/webhooks\/.*|(GET|POST) \/api\/v1\/.*)$/;
/** State changes a member (not only an admin) may make, and why. */
const MEMBER_ALLOWED: Record<string, string> = {
  "POST /logout": "everyone signs out",
  "POST /account/password": "changing one's own password",
  "POST /vulnerabilities/:id/status": "triage: risk accepted, false positive, reopen",
  "POST /vulnerabilities/:id{[0-9]+}/push": "Push to Integrators on a finding",
  "POST /vulnerabilities/push": "Push to Integrators on the table",
  "POST /uploads": "uploading a scan report by hand",
  "POST /settings/tokens": "creating one's own API token (read and upload scopes; write and admin are refused)",
  "POST /account/two-step/start": "turning on two-step sign-in for one's own account",
  "POST /account/two-step/confirm": "confirming one's own authenticator app",
  "POST /account/two-step/disable": "turning it off on one's own account (password and code)",
  "POST /account/two-step/recovery-codes": "new recovery codes for one's own account (password and code)",
  "POST /settings/tokens/:id{[0-9]+}/revoke": "revoking one's own API token (another's is not found)",
};

let app: TestApp;
let admin: Browser;
let member: Browser;
let anonymous: Browser;
let routes: { method: string; path: string }[];

beforeAll(async () => {
  app = await testApp();
  admin = await setUpAdmin(app);
  await admin.post("/settings/users", { username: "dev", role: "member", password: "member password 1", confirm: "member password 1" });
  member = await signIn(app, "dev", "member password 1");
  anonymous = app.client();
  const seen = new Set<string>();
  routes = app.runtime.app.routes
    .filter((r) => r.method !== "ALL")
    .map((r) => ({ method: r.method, path: r.path }))
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
});
afterAll(() => app.close());

/** A concrete URL for a route pattern: numbers for ids, a real connector kind, a word elsewhere. */
function concrete(path: string): string {
  return path
    .replace(/:kind\b(\{[^}]*\})?/g, "wiz")
    .replace(/:(\w*id|number)\b(\{[^}]*\})?/gi, "1")
    .replace(/:\w+(\{[^}]*\})?/g, "x")
    .replace(/\*$/, "app.css");
}

describe("route inventory", () => {
  it("finds the app's routes", () => {
    expect(routes.length).toBeGreaterThanOrEqual(55);
    expect(routes.some((r) => r.method === "POST" && r.path === "/api/v1/scans")).toBe(true);
  });

  it("requires a session everywhere but the public pages, and a credential on machine endpoints", async () => {
    const open: string[] = [];
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      const res = await anonymous.request(concrete(r.path), {
        method: r.method,
        ...(r.method === "GET" ? {} : { body: new URLSearchParams({}), headers: { "content-type": "application/x-www-form-urlencoded" } }),
      });
      if (PUBLIC[key]) continue;
      if (MACHINE.test(key)) {
        // A webhook URL names an integration: without one it is 404, with one unsigned it is 401 (tested per service).
        expect(res.status, key).toBe(key.startsWith("POST /webhooks") ? 404 : 401);
        continue;
      }
      const toLogin = (res.status === 302 || res.status === 303) && (res.headers.get("location") ?? "").startsWith("/login");
      if (!toLogin) open.push(`${key} → ${res.status}`);
    }
    expect(open).toEqual([]);
  });

  it("refuses every state change from another origin", async () => {
    const accepted: string[] = [];
    for (const r of routes.filter((x) => x.method !== "GET" && !MACHINE.test(`${x.method} ${x.path}`))) {
      const res = await admin.request(concrete(r.path), {
        method: r.method,
        body: new URLSearchParams({}),
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://attacker.example" },
      });
      if (res.status !== 403) accepted.push(`${r.method} ${r.path} → ${res.status}`);
      const missing = await admin.request(concrete(r.path), {
        method: r.method,
        body: new URLSearchParams({}),
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "" },
      });
      if (missing.status !== 403) accepted.push(`${r.method} ${r.path} without Origin → ${missing.status}`);
    }
    expect(accepted).toEqual([]);
  });

  it("lets a member change only what members may", async () => {
    const allowed: string[] = [];
    for (const r of routes.filter((x) => x.method !== "GET" && !MACHINE.test(`${x.method} ${x.path}`) && !PUBLIC[`${x.method} ${x.path}`])) {
      const key = `${r.method} ${r.path}`;
      if (MEMBER_ALLOWED[key]) continue;
      const res = await member.request(concrete(r.path), {
        method: r.method,
        body: new URLSearchParams({}),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      if (res.status !== 403) allowed.push(`${key} → ${res.status}`);
    }
    expect(allowed).toEqual([]);
  });

  it("serves static files without a session, and nothing else under /static", async () => {
    expect((await anonymous.get("/static/app.css")).status).toBe(200);
    expect((await anonymous.get("/static/favicon.svg")).status).toBe(200);
    expect((await anonymous.get("/static/../patchbay.db")).status).not.toBe(200);
    expect((await anonymous.get("/static/%2e%2e/package.json")).status).not.toBe(200);
  });

  it("lists only routes that exist (the allowances stay honest)", () => {
    const keys = new Set(routes.map((r) => `${r.method} ${r.path}`));
    for (const key of [...Object.keys(PUBLIC), ...Object.keys(MEMBER_ALLOWED)]) expect(keys.has(key), key).toBe(true);
  });
});
