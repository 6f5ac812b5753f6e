// Backups while Patchbay works: an online backup taken in the middle of a large import is a
// consistent database, and restored into a fresh Patchbay it resumes the interrupted scan and
// ends with exactly the findings the original ended with.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, seedRepositoriesIn, type ServerProcess, startServer } from "../process.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

const FINDINGS = 20_000;
const servers: ServerProcess[] = [];
const dirs: string[] = [];
let wiz: WizFixture | undefined;
afterAll(async () => {
  for (const s of servers) await s.kill("SIGKILL");
  await wiz?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function until<T>(check: () => T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fingerprints = (file: string) => {
  const db = new SQLite(file, { readonly: true });
  try {
    return (db.prepare("select fingerprint from findings where status = 'open' order by fingerprint").all() as { fingerprint: string }[]).map(
      (r) => r.fingerprint,
    );
  } finally {
    db.close();
  }
};

it("takes a consistent backup during an import, and a restore finishes that import to the same findings", { timeout: 180_000 }, async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: FINDINGS, repositories: DEFAULT_REPOSITORIES.slice(0, 2), images: 20 }));
  // Slow pages, so the backup lands in the middle of the import.
  wiz.sim.faults.add({ path: /graphql/, latencyMs: 150 });
  const dir = tempDir();
  dirs.push(dir);
  // Short job leases, so the restored copy takes over the interrupted scan without a long wait.
  const env = { PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_ORIGIN_MAP: wiz.originMap, PATCHBAY_JOB_LEASE_SECONDS: "3" };
  const server = await startServer(env);
  servers.push(server);
  await server.ready();
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  const live = new SQLite(path.join(dir, "patchbay.db"), { readonly: true, timeout: 10_000 });
  seedRepositoriesIn(dir, DEFAULT_REPOSITORIES.slice(0, 2));
  await session.send("/integrations/wiz", WIZ_FORM);
  await until(() => (live.prepare("select count(*) as n from findings").get() as { n: number }).n > FINDINGS / 5);

  const target = path.join(dir, "mid-import.db");
  const backup = await startServer({ PATCHBAY_DATA_DIR: dir }, { args: ["backup", target] });
  expect(await backup.exited, backup.output()).toBe(0);
  const during = (live.prepare("select count(*) as n from findings").get() as { n: number }).n;
  expect(during).toBeLessThan(FINDINGS); // the import was still running

  const copy = new SQLite(target, { readonly: true });
  expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
  expect(copy.pragma("foreign_key_check")).toEqual([]);
  const count = (sql: string) => (copy.prepare(sql).get() as { n: number }).n;
  const inBackup = count("select count(*) as n from findings");
  expect(inBackup).toBeGreaterThan(0);
  expect(inBackup).toBeLessThan(FINDINGS);
  // Committed together or not at all: every finding has its source and its first history entry.
  expect(count("select count(*) as n from findings f where not exists (select 1 from finding_sources s where s.finding_id = f.id)")).toBe(0);
  expect(count("select count(*) as n from findings f where not exists (select 1 from finding_events e where e.finding_id = f.id)")).toBe(0);
  expect(count("select count(*) as n from sync_runs where status in ('running', 'interrupted')")).toBe(1);
  copy.close();

  // The original finishes.
  await until(() => (live.prepare("select count(*) as n from sync_runs where status = 'succeeded'").get() as { n: number }).n === 1, 120_000);
  live.close();
  await server.kill("SIGTERM");

  // The backup, restored beside the key into a fresh data directory, resumes and finishes the scan.
  const restored = tempDir();
  dirs.push(restored);
  fs.copyFileSync(target, path.join(restored, "patchbay.db"));
  wiz.sim.faults.clear();
  const again = await startServer({
    PATCHBAY_DATA_DIR: restored,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_ORIGIN_MAP: wiz.originMap,
    PATCHBAY_JOB_LEASE_SECONDS: "3",
  });
  servers.push(again);
  await again.ready();
  const check = new SQLite(path.join(restored, "patchbay.db"), { readonly: true, timeout: 10_000 });
  await until(() => (check.prepare("select count(*) as n from sync_runs where status = 'succeeded'").get() as { n: number }).n === 1, 120_000);
  check.close();
  await again.kill("SIGTERM");
  expect(fingerprints(path.join(restored, "patchbay.db"))).toEqual(fingerprints(path.join(dir, "patchbay.db")));
});

it("keeps the data directory, the database and backups to the user running Patchbay", async () => {
  const root = tempDir("patchbay-modes-");
  dirs.push(root);
  const dir = path.join(root, "data");
  const server = await startServer({ PATCHBAY_DATA_DIR: dir });
  servers.push(server);
  await server.ready();
  const mode = (f: string) => (fs.statSync(f).mode & 0o777).toString(8);
  expect(mode(dir)).toBe("700");
  for (const f of ["patchbay.db", "patchbay.db-wal", "patchbay.db-shm", "secret.key"]) expect(mode(path.join(dir, f)), f).toBe("600");
  const backup = await startServer({ PATCHBAY_DATA_DIR: dir }, { args: ["backup"] });
  expect(await backup.exited, backup.output()).toBe(0);
  const folder = path.join(dir, "backups");
  expect(mode(folder)).toBe("700");
  expect(fs.readdirSync(folder).map((f) => mode(path.join(folder, f)))).toEqual(["600"]);
});
