// Test helpers: a real Patchbay runtime on a fresh SQLite file, driven through
// app.request() with a cookie jar and a same-origin Origin header, like a browser.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig, type Config } from "../src/config.js";
import { addRepository } from "../src/scm/store.js";
import { silentLogger, type Logger } from "../src/log.js";
import { openRuntime, type Runtime, type RuntimeOptions } from "../src/runtime.js";
import { freshDatabase } from "./postgres/database.js";
import { sql } from "kysely";

export const BASE = "http://localhost:8080";
export const TEST_KEY = "a".repeat(64);
export const ADMIN = { username: "admin", password: "correct horse battery" };

const tempDirs: string[] = [];

/** A fresh temporary directory, removed after the test file (see test/setup.ts). */
export function tempDir(prefix = "patchbay-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) {
    try {
      fs.chmodSync(dir, 0o755);
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class TestClock {
  constructor(public time = new Date("2026-11-01T12:00:00Z").getTime()) {}
  now = () => new Date(this.time);
  advance(ms: number): void {
    this.time += ms;
  }
}

export interface TestApp {
  runtime: Runtime;
  config: Config;
  clock: TestClock;
  client(): Browser;
  close(): Promise<void>;
}

const postgresByDir = new Map<string, string>();

/** PATCHBAY_TEST_DATABASE=postgres: each test app on a fresh PostgreSQL database (dropped on close), as npm run test:postgres runs the integration suite. */
const ON_POSTGRES = process.env.PATCHBAY_TEST_DATABASE === "postgres";

export async function testApp(
  opts: { env?: Record<string, string>; logger?: Logger; runtime?: RuntimeOptions; clock?: TestClock; sqlite?: boolean } = {},
): Promise<TestApp> {
  const dir = tempDir();
  // A second app on the same data directory (another process on one database) shares its PostgreSQL database too.
  const shared = opts.env?.PATCHBAY_DATA_DIR ? postgresByDir.get(opts.env.PATCHBAY_DATA_DIR) : undefined;
  const postgres = ON_POSTGRES && !shared && !opts.sqlite && !opts.env?.DATABASE_URL ? await freshDatabase() : undefined;
  if (postgres) postgresByDir.set(opts.env?.PATCHBAY_DATA_DIR ?? dir, postgres.url);
  const databaseUrl = shared ?? postgres?.url;
  const config = loadConfig({
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_BASE_URL: BASE,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  const clock = opts.clock ?? new TestClock(Date.now());
  const runtime = await openRuntime(config, opts.logger ?? silentLogger, {
    background: false,
    now: clock.now,
    http: { sleep: async () => {}, timeoutMs: 2000 },
    // Pacing waits on the test clock: a paced write moves time on instead of sleeping.
    pace: { now: () => clock.time, sleep: async (ms) => clock.advance(ms) },
    ...opts.runtime,
  });
  return {
    runtime,
    config,
    clock,
    client: () => new Browser(runtime, config.baseUrl),
    close: async () => {
      await runtime.close();
      await postgres?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal browser: keeps cookies, sends Origin on unsafe requests, never follows redirects. */
export class Browser {
  readonly cookies = new Map<string, string>();
  origin: string | undefined;

  /** Browses Patchbay at its base URL, as people reach it. */
  constructor(
    private readonly runtime: Runtime,
    private readonly baseUrl: string = BASE,
  ) {
    this.origin = new URL(baseUrl).origin;
  }

  async request(pathname: string, init: RequestInit & { htmx?: boolean; target?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const method = (init.method ?? "GET").toUpperCase();
    if (method !== "GET" && this.origin && !headers.has("origin")) headers.set("origin", this.origin);
    if (init.htmx) headers.set("hx-request", "true");
    if (init.target) headers.set("hx-target", init.target);
    const res = await this.runtime.app.request(new URL(this.baseUrl).origin + pathname, { ...init, headers });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair, ...attrs] = cookie.split(";");
      const [name, value] = pair!.split("=");
      const expired = attrs.some((a) => /max-age=0/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || !value) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    return res;
  }

  get(pathname: string, init: { htmx?: boolean; target?: string } = {}): Promise<Response> {
    return this.request(pathname, init);
  }

  post(pathname: string, form: Record<string, string>, init: { htmx?: boolean; target?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    return this.request(pathname, {
      method: "POST",
      body: new URLSearchParams(form),
      headers: { "content-type": "application/x-www-form-urlencoded", ...init.headers },
      htmx: init.htmx,
      target: init.target,
    });
  }

  /** A multipart/form-data POST, as a form with a file input sends it. */
  postMultipart(pathname: string, fields: Record<string, string>, files: Record<string, { name: string; content: string }> = {}): Promise<Response> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    for (const [k, f] of Object.entries(files)) form.append(k, new Blob([f.content]), f.name);
    return this.request(pathname, { method: "POST", body: form });
  }
}

/** Creates the admin through the setup page and returns a signed-in browser. */
export async function setUpAdmin(app: TestApp): Promise<Browser> {
  const browser = app.client();
  const res = await browser.post("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  if (res.status !== 303) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  return browser;
}

export async function signIn(app: TestApp, username: string, password: string): Promise<Browser> {
  const browser = app.client();
  const res = await browser.post("/login", { username, password });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  return browser;
}

/** Every table of the app's database (SQLite's or PostgreSQL's), migrations' own aside. */
export async function tableNames(app: TestApp): Promise<string[]> {
  const db = app.runtime.database.db;
  const rows = app.runtime.database.sqlite
    ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)
    : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(db);
  return rows.rows.map((r) => r.name).filter((n) => !n.startsWith("kysely_") && !n.startsWith("sqlite_"));
}

/** An API token made on Settings → API tokens by this browser's user, with these scopes; throws with the page's status when refused. */
export async function createToken(browser: Browser, scopes: string[], opts: { name?: string; lifetime?: string } = {}): Promise<string> {
  const res = await browser.request("/settings/tokens", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams([
      ["name", opts.name ?? `t-${scopes.join("-")}-${Math.random().toString(36).slice(2, 6)}`],
      ["lifetime", opts.lifetime ?? "90"],
      ...scopes.map((s) => ["scopes", s]),
    ]),
  });
  const found = /pbt_[a-z2-7]{32}/.exec(await res.text());
  if (!found) throw new Error(`no token created: ${res.status}`);
  return found[0];
}

/** CI uploads connected, and an API token that may upload (as CI is given one). */
export async function uploadToken(admin: Browser): Promise<string> {
  const connected = await admin.post("/integrations/ci-upload", {});
  if (connected.status !== 303) throw new Error(`connecting CI uploads answered ${connected.status}`);
  return createToken(admin, ["upload"], { name: "ci" });
}

/** A scan report uploaded through the API as CI uploads it (asset= names what it is about), then the jobs it queued run. */
export async function uploadReport(app: TestApp, token: string, asset: string, report: string): Promise<void> {
  const res = await app.runtime.app.request(`${BASE}/api/v1/scans?asset=${encodeURIComponent(asset)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: report,
  });
  if (res.status !== 201) throw new Error(`the upload answered ${res.status}: ${await res.text()}`);
  await runJobs(app);
}

/** Visible text of an HTML fragment, for assertions about what a person reads. */
export function text(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, "")
    .replace(/<\/?(strong|em|span|a|code|time|b|i)\b[^>]*>/g, "")
    .replace(/<[^>]+>/g, " ")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/\s+/g, " ")
    .trim();
}

/** Accessible repositories, as a source control sync would have listed them. */
export async function seedRepositories(app: TestApp, names: string[]): Promise<void> {
  for (const name of names) {
    await addRepository(
      app.runtime.database.db,
      { integrationId: null, provider: "github", fullName: name, url: `https://github.com/${name}` },
      app.clock.now(),
    );
  }
}

/** Runs due jobs until none is left, advancing the clock by `advanceMs` before each (past retry delays). */
export async function runJobs(app: TestApp, advanceMs = 0): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if (advanceMs) app.clock.advance(advanceMs);
    if (!(await app.runtime.worker.runOnce())) return;
  }
}

/** Changes the SLA policy as an admin does: proposes it, waits for its preview, applies it. */
export async function applySla(app: TestApp, admin: Browser, form: Record<string, string>): Promise<void> {
  const proposed = await admin.post("/settings/sla", form);
  if (proposed.status !== 303) throw new Error(`SLA form refused: ${proposed.status}`);
  await runJobs(app);
  const { loadSlaProposal } = await import("../src/findings/sla.js");
  const proposal = await loadSlaProposal(app.runtime.database.db);
  if (!proposal?.result) throw new Error("The SLA preview did not run");
  const applied = await admin.post("/settings/sla/apply", { proposal: proposal.at });
  if (applied.status !== 303) throw new Error(`SLA apply refused: ${applied.status}`);
  await runJobs(app);
}
