// Schedules across processes: every Patchbay process on one database runs the same cron
// schedules, and each tick enqueues once. Three runtimes on one SQLite file stand for three
// processes (each its own connection); the tick's claim is what decides, not the job's dedupe key
// (a job that already finished would not stop a second run of the same tick).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAINTENANCE_JOB, SCHEDULES, runTick } from "../../src/schedules.js";
import { type TestApp, runJobs, tempDir, testApp } from "../helpers.js";

let apps: TestApp[];

beforeAll(async () => {
  const dir = tempDir();
  apps = [];
  // The first creates and migrates the database; the others open the same file.
  for (let i = 0; i < 3; i++) apps.push(await testApp({ env: { PATCHBAY_DATA_DIR: dir } }));
});
afterAll(async () => {
  // The others first; the first app's close also drops the PostgreSQL database they share (test:postgres).
  for (const app of apps.slice(1).reverse()) await app.runtime.close();
  await apps[0]!.close();
});

/**
 * Runs each process's tick at once on PostgreSQL; on SQLite one after another, for the three
 * runtimes share this Node process and better-sqlite3 waits for a lock synchronously (a wait
 * would block the very transaction it waits for; separate processes wait on each other as they should).
 */
async function together<T>(runs: (() => Promise<T>)[]): Promise<T[]> {
  if (!apps[0]!.runtime.database.sqlite) return Promise.all(runs.map((run) => run()));
  const results: T[] = [];
  for (const run of runs) results.push(await run());
  return results;
}

describe("schedule ticks", () => {
  it("run once across processes, even when the first run finished before the others fire", async () => {
    const schedule = SCHEDULES.find((s) => s.name === "maintenance")!;
    const db = apps[0]!.runtime.database.db;
    const tick = new Date("2026-12-05T10:17:00.250Z");
    // The first process fires and its job runs to the end before the others' crons fire (clocks a second apart).
    expect(await runTick(apps[0]!.runtime.database.db, apps[0]!.runtime.services.catalogue, schedule, tick)).toBe(true);
    await runJobs(apps[0]!);
    const late = await together(
      apps.slice(1).map((app, i) => () => runTick(app.runtime.database.db, app.runtime.services.catalogue, schedule, new Date(tick.getTime() + 900 * (i + 1)))),
    );
    expect(late).toEqual([false, false]);
    await runJobs(apps[1]!);
    const runs = await db.selectFrom("jobs").select(["status"]).where("type", "=", MAINTENANCE_JOB.type).execute();
    expect(runs).toEqual([{ status: "succeeded" }]);
  });

  it("let each process race for the same tick: exactly one enqueues", async () => {
    const schedule = SCHEDULES.find((s) => s.name === "notifications")!;
    const tick = new Date("2026-12-05T10:18:00.000Z");
    const won = await together(apps.map((app) => () => runTick(app.runtime.database.db, app.runtime.services.catalogue, schedule, tick)));
    expect(won.filter(Boolean)).toHaveLength(1);
    // The next minute is a new tick.
    expect(await runTick(apps[2]!.runtime.database.db, apps[2]!.runtime.services.catalogue, schedule, new Date("2026-12-05T10:19:00.000Z"))).toBe(true);
  });

  it("leave a tick unclaimed when its enqueue fails (a process dying between the two): another process runs it", async () => {
    const real = SCHEDULES.find((s) => s.name === "maintenance")!;
    const tick = new Date("2026-12-05T11:17:00.000Z");
    const dying = { ...real, enqueue: async () => Promise.reject(new Error("the process died here")) };
    await expect(runTick(apps[0]!.runtime.database.db, apps[0]!.runtime.services.catalogue, dying, tick)).rejects.toThrow("the process died here");
    const db = apps[1]!.runtime.database.db;
    expect(await db.selectFrom("schedule_ticks").select("tick").where("tick", "=", tick.toISOString()).execute()).toEqual([]);
    expect(await runTick(db, apps[1]!.runtime.services.catalogue, real, new Date(tick.getTime() + 900))).toBe(true);
  });
});
