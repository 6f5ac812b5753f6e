// The server as a real process: start-up failures exit non-zero with a clear message,
// and a job interrupted by kill -9 is picked up again after a restart.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/schema.js";
import { enqueueJob } from "../../src/jobs/queue.js";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, type ServerProcess, startServer } from "../process.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, startWiz } from "../sim/wiz-fixture.js";
import { trivyReport } from "../bench/reports.js";

const running: ServerProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function run(env: Record<string, string>, opts?: { uid?: number; args?: string[] }) {
  const server = await startServer(env, opts);
  running.push(server);
  return server;
}

function dataDir(): string {
  const dir = tempDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("start-up", () => {
  it("serves /healthz, creates the database in WAL mode and the key file with 0600", async () => {
    const dir = dataDir();
    const server = await run({ PATCHBAY_DATA_DIR: dir });
    await server.ready();
    const health = await (await fetch(`${server.url}/healthz`)).json();
    expect(health).toEqual({ status: "ok", database: "ok", queue: { queued: 0, running: 0, failed: 0 } });
    expect(fs.statSync(path.join(dir, "secret.key")).mode & 0o777).toBe(0o600);
    const db = new SQLite(path.join(dir, "patchbay.db"), { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    expect(await server.kill("SIGTERM")).toBe(0);
  });

  it("answers a page with its length, security headers and timing (set after the page was made), and a static file with its cache lifetime", async () => {
    const server = await run({ PATCHBAY_DATA_DIR: dataDir() });
    await server.ready();
    const page = await fetch(`${server.url}/setup`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get("content-length")).toBe(String(Buffer.byteLength(html)));
    expect(page.headers.get("server-timing")).toMatch(/^app;dur=\d+\.\d{2}$/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("x-request-id")).toBeTruthy();
    const style = html.match(/href="(\/static\/[^"]+\.css)"/)?.[1];
    expect(style).toBeTruthy();
    const css = await fetch(`${server.url}${style}`);
    expect(css.status).toBe(200);
    expect(css.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(css.headers.get("server-timing")).toMatch(/^app;dur=/);
  });

  it("refuses to start on a read-only database file, saying how to fix it", async () => {
    const dir = dataDir();
    const first = await run({ PATCHBAY_DATA_DIR: dir });
    await first.ready();
    await first.kill("SIGTERM");
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o444);
    fs.chmodSync(dir, 0o555);
    cleanups.unshift(() => fs.chmodSync(dir, 0o755));
    // root ignores file modes, so run as an unprivileged user when the tests run as root.
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const server = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: fs.readFileSync(path.join(dir, "secret.key"), "utf8").trim() }, { uid });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/patchbay: The database .*patchbay\.db cannot be written .*Give the user running Patchbay write access/);
  });

  it("refuses to start while another process holds the database locked", async () => {
    const dir = dataDir();
    const holder = new SQLite(path.join(dir, "patchbay.db"));
    holder.pragma("locking_mode = EXCLUSIVE");
    holder.exec("BEGIN EXCLUSIVE; CREATE TABLE held (x); ");
    cleanups.push(() => void holder.close());
    const server = await run({ PATCHBAY_DATA_DIR: dir });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/is locked by another process .*Stop the other Patchbay instance/);
  });

  it("refuses a malformed PATCHBAY_SECRET_KEY and a key that does not match the database", async () => {
    const dir = dataDir();
    const bad = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: "12345" });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain("PATCHBAY_SECRET_KEY is not a valid key");

    const good = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY });
    await good.ready();
    await good.kill("SIGTERM");
    const wrong = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: "f".repeat(64) });
    expect(await wrong.exited).toBe(1);
    expect(wrong.output()).toContain("is not the key this database's credentials were encrypted with");
  });

  it("prints its configuration and writes an online backup", async () => {
    const dir = dataDir();
    const server = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY });
    await server.ready();
    const config = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY }, { args: ["config"] });
    expect(await config.exited).toBe(0);
    expect(config.output()).toContain(`PATCHBAY_DATA_DIR=${dir}`);
    expect(config.output()).toContain("PATCHBAY_SECRET_KEY=(set)");
    expect(config.output()).not.toContain(TEST_KEY);
    const target = path.join(dir, "copy.db");
    const backup = await run({ PATCHBAY_DATA_DIR: dir }, { args: ["backup", target] });
    expect(await backup.exited).toBe(0);
    expect(backup.output()).toContain(`Backup written to ${target}`);
    const copy = new SQLite(target, { readonly: true });
    expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(copy.prepare("select count(*) as n from meta").get()).toEqual({ n: 1 });
    copy.close();
  });
});

describe("a forgotten password", () => {
  it("reset-password gives a one-time password, signs the user out everywhere, and asks for a new password at the next sign-in", async () => {
    const dir = dataDir();
    const server = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY });
    await server.ready();
    const admin = new HttpSession(server.url);
    await admin.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
    expect((await admin.send("/integrations")).status).toBe(200);

    const unknown = await run({ PATCHBAY_DATA_DIR: dir }, { args: ["reset-password", "nobody"] });
    expect(await unknown.exited).not.toBe(0);
    expect(unknown.output()).toContain(`There is no user "nobody". The users are: ${ADMIN.username}.`);

    const reset = await run({ PATCHBAY_DATA_DIR: dir }, { args: ["reset-password", ADMIN.username] });
    expect(await reset.exited).toBe(0);
    const oneTime = /One-time password for \S+: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})/.exec(reset.output())?.[1];
    expect(oneTime, reset.output()).toBeDefined();
    // Signed out everywhere: the session the admin had is gone.
    expect((await admin.send("/integrations")).headers.get("location")).toMatch(/^\/login/);
    expect((await admin.send("/login", { username: ADMIN.username, password: ADMIN.password })).headers.get("location")).not.toBe("/integrations");

    const back = new HttpSession(server.url);
    await back.send("/login", { username: ADMIN.username, password: oneTime! });
    // Every page waits until a new password is chosen.
    expect((await back.send("/integrations")).headers.get("location")).toBe("/account?reset=1");
    expect(await (await back.send("/account?reset=1")).text()).toContain("You signed in with a one-time password.");
    const changed = await back.send("/account/password", { current: oneTime!, password: "a new password 2026", confirm: "a new password 2026" });
    expect(changed.status).toBe(200);
    expect((await back.send("/integrations")).status).toBe(200);
    // The audit log tells the story: the reset from the command line, the failed and the good sign-ins.
    const audit = await (await back.send(`/settings/audit?actor=${ADMIN.username}`)).text();
    expect(audit).toContain("Changed their password");
    expect(audit).toContain("Sign-in failed");
    expect(audit).toContain("<td>127.0.0.1</td>");
    const all = await (await back.send("/settings/audit?action=auth.password_reset")).text();
    expect(all).toMatch(/Password reset \(one-time password\)[\s\S]*cli/);
  });
});

describe("restoring a backup", () => {
  it("refuses while Patchbay runs, a damaged file and another key's backup; then restores, keeping the database it replaced", async () => {
    const dir = dataDir();
    const env = { PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY };
    const server = await run(env);
    await server.ready();
    expect(fs.existsSync(path.join(dir, "patchbay.running"))).toBe(true);
    const admin = new HttpSession(server.url);
    await admin.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
    const backupFile = path.join(dir, "before.db");
    expect(await (await run(env, { args: ["backup", backupFile] })).exited).toBe(0);
    // A change after the backup: restoring takes it away.
    await admin.send("/settings/users", { username: "later", role: "member", password: "member password 1", confirm: "member password 1" });

    const whileRunning = await run(env, { args: ["restore", backupFile] });
    expect(await whileRunning.exited).toBe(1);
    expect(whileRunning.output()).toContain(`Patchbay is running on ${dir}`);
    expect(whileRunning.output()).toContain("Stop it first, then restore, then start it again.");

    expect(await server.kill("SIGTERM")).toBe(0);
    expect(fs.existsSync(path.join(dir, "patchbay.running"))).toBe(false);

    const damaged = path.join(dir, "damaged.db");
    fs.writeFileSync(damaged, "SQLite format 3\u0000 but not really a database".padEnd(4096, "x"));
    const refusedDamaged = await run(env, { args: ["restore", damaged] });
    expect(await refusedDamaged.exited).toBe(1);
    expect(refusedDamaged.output()).toContain(`${damaged} cannot be restored:`);
    const otherKey = await run({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: "b".repeat(64) }, { args: ["restore", backupFile] });
    expect(await otherKey.exited).toBe(1);
    expect(otherKey.output()).toContain("cannot be restored with this key");
    // Nothing was replaced, nothing left behind.
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("restore-"))).toEqual([]);

    const restored = await run(env, { args: ["restore", backupFile] });
    expect(await restored.exited).toBe(0);
    expect(restored.output()).toContain(`Restored ${backupFile} as ${path.join(dir, "patchbay.db")}.`);
    const kept = /kept in (\S+\.db)/.exec(restored.output())![1]!;
    const replaced = new SQLite(kept, { readonly: true });
    expect(replaced.prepare("select username from users order by id").all()).toEqual([{ username: ADMIN.username }, { username: "later" }]);
    replaced.close();

    const again = await run(env);
    await again.ready();
    const back = new HttpSession(again.url);
    await back.send("/login", { username: ADMIN.username, password: ADMIN.password });
    expect(await (await back.send("/settings/users")).text()).not.toContain("later");
  });
});

describe("crash safety", () => {
  it("picks up a job interrupted by kill -9 after a restart", async () => {
    const wiz = await startWiz();
    cleanups.push(() => wiz.close());
    const dir = dataDir();
    const env = { PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_ORIGIN_MAP: wiz.originMap, PATCHBAY_JOB_LEASE_SECONDS: "1" };
    const first = await run(env);
    await first.ready();
    const session = new HttpSession(first.url);
    expect((await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password })).status).toBe(303);
    const connect = await session.send("/integrations/wiz", {
      apiEndpoint: WIZ_ENDPOINT,
      clientId: WIZ_CLIENT.id,
      clientSecret: WIZ_CLIENT.secret,
      scanSca: "on",
    });
    expect(connect.status).toBe(303);

    const sqlite = new SQLite(path.join(dir, "patchbay.db"), { timeout: 5000 });
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    cleanups.push(() => db.destroy());
    wiz.sim.faults.clear();
    wiz.sim.faults.add({ path: /graphql/, latencyMs: 60_000, times: 1 });
    const jobId = await enqueueJob(db, "integration.check", { integrationId: 1 }, new Date());
    const job = () => db.selectFrom("jobs").selectAll().where("id", "=", jobId).executeTakeFirstOrThrow();

    await until(() => wiz.sim.faults.requests.some((r) => r.path === "/graphql"));
    expect((await job()).status).toBe("running");
    expect(await first.kill("SIGKILL")).toBe("SIGKILL");
    expect((await job()).status).toBe("running");

    const second = await run(env);
    await second.ready();
    await until(async () => (await job()).status === "succeeded");
    const finished = await job();
    expect(finished.attempts).toBe(2);
    const integration = await db.selectFrom("integrations").selectAll().executeTakeFirstOrThrow();
    expect(integration.status).toBe("connected");
    expect(sqlite.pragma("integrity_check", { simple: true })).toBe("ok");
  });
});

describe("uploads cut off by kill -9", () => {
  it("a report still being received is marked interrupted; one completely spooled is imported after the restart", { timeout: 120_000 }, async () => {
    const dir = dataDir();
    const env = { PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY };
    const first = await run(env);
    await first.ready();
    const session = new HttpSession(first.url);
    await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
    await session.send("/integrations/ci-upload", {});
    const token = /pbt_[a-z2-7]{32}/.exec(await (await session.send("/settings/tokens", { name: "ci", scopes: "upload" })).text())![0];
    const sqlite = new SQLite(path.join(dir, "patchbay.db"), { readonly: true, timeout: 5000 });
    cleanups.push(() => void sqlite.close());
    const uploads = () => sqlite.prepare("select id, status, error from uploads order by id").all() as { id: number; status: string; error: string | null }[];
    const spool = path.join(dir, "spool");
    const report = trivyReport(20);

    // 1. Half a report sent, the rest never comes: Patchbay dies while receiving it.
    const half = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(report.slice(0, report.length / 2)));
      },
    });
    void fetch(`${first.url}/api/v1/scans`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: half,
      duplex: "half",
    } as RequestInit).catch(() => undefined);
    await until(() => uploads().length === 1 && fs.existsSync(path.join(spool, `upload-${uploads()[0]!.id}`, "items.ndjson")));
    await first.kill("SIGKILL");

    // 2. After a restart: interrupted, its spool removed, nothing imported.
    const second = await run(env);
    await second.ready();
    expect(uploads()).toEqual([
      { id: 1, status: "interrupted", error: "Patchbay stopped before the report was completely received. Nothing was imported: upload it again." },
    ]);
    expect(fs.readdirSync(spool)).toEqual([]);
    expect((sqlite.prepare("select count(*) as n from findings").get() as { n: number }).n).toBe(0);

    // 3. A whole report spooled, then Patchbay dies while importing it: the restart finishes the import.
    void fetch(`${second.url}/api/v1/scans`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: report,
    }).catch(() => undefined);
    await until(() => fs.existsSync(path.join(spool, "upload-2", "spooled.json")), 60_000);
    await second.kill("SIGKILL");
    expect(uploads()[1]!.status).toBe("running");
    const third = await run(env);
    await third.ready();
    await until(() => uploads()[1]!.status === "succeeded", 60_000);
    const expected = report.split('"VulnerabilityID"').length - 1;
    expect((sqlite.prepare("select count(*) as n from findings").get() as { n: number }).n).toBe(expected);
    expect(fs.readdirSync(spool)).toEqual([]);
  });
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
