import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
import { RateLimitedError } from "../../src/http.js";
import { claimJob, enqueueJob, findJob, listJobs, pruneJobs, retryDelayMs, retryFailedJob, setJobProgress } from "../../src/jobs/queue.js";
import { type JobHandler, NotYet, Worker } from "../../src/jobs/worker.js";
import { silentLogger } from "../../src/log.js";
import { TestClock, tempDir } from "../helpers.js";

let database: OpenDatabase;
let clock: TestClock;
beforeEach(async () => {
  database = await openDatabase(path.join(tempDir(), "patchbay.db"));
  clock = new TestClock();
});
afterEach(() => database.close());

function worker(handlers: Record<string, JobHandler>, leaseMs = 60_000) {
  return new Worker({ db: database.db, handlers: new Map(Object.entries(handlers)), logger: silentLogger, now: clock.now, leaseMs });
}

describe("job queue", () => {
  it("runs a job once and records success", async () => {
    const seen: unknown[] = [];
    const w = worker({ greet: async ({ payload }) => void seen.push(payload) });
    const id = await enqueueJob(database.db, "greet", { name: "ada" }, clock.now());
    expect(await w.runOnce()).toBe(true);
    expect(await w.runOnce()).toBe(false);
    expect(seen).toEqual([{ name: "ada" }]);
    expect((await findJob(database.db, id))!.status).toBe("succeeded");
  });

  it("runs a job asked for again while it ran once more after it, and only once; one asked for while queued or after it ended is not doubled", async () => {
    const seen: unknown[] = [];
    const key = { dedupeKey: "scan:1", again: true };
    let first = true;
    const w = worker({
      scan: async ({ payload }) => {
        seen.push(payload);
        if (!first) return;
        first = false;
        // A person presses "Scan now" twice while the scan reads the service as it was.
        expect(await enqueueJob(database.db, "scan", { integrationId: 1 }, clock.now(), key)).toBe(id);
        await enqueueJob(database.db, "scan", { integrationId: 1 }, clock.now(), key);
      },
    });
    const id = await enqueueJob(database.db, "scan", { integrationId: 1 }, clock.now(), key);
    // Asked for again while still queued: the queued one will read the service afresh.
    expect(await enqueueJob(database.db, "scan", { integrationId: 1 }, clock.now(), key)).toBe(id);
    expect(await w.runOnce()).toBe(true);
    expect(await w.runOnce()).toBe(true);
    expect(await w.runOnce()).toBe(false);
    expect(seen).toEqual([{ integrationId: 1 }, { integrationId: 1 }]);
    const jobs = await listJobs(database.db, { type: "scan" });
    expect(jobs.map((j) => j.status)).toEqual(["succeeded", "succeeded"]);
    // Asked for after it ended: a new one, as any enqueue.
    expect(await enqueueJob(database.db, "scan", { integrationId: 1 }, clock.now(), key)).not.toBe(id);
  });

  it("does not run a job before its time", async () => {
    const w = worker({ later: async () => {} });
    await enqueueJob(database.db, "later", {}, clock.now(), { runAt: new Date(clock.time + 60_000) });
    expect(await w.runOnce()).toBe(false);
    clock.advance(60_000);
    expect(await w.runOnce()).toBe(true);
  });

  it("retries a throwing handler with growing delays, then marks it failed with the error", async () => {
    let calls = 0;
    const w = worker({
      flaky: async () => {
        calls++;
        throw new Error(`boom ${calls}`);
      },
    });
    const id = await enqueueJob(database.db, "flaky", {}, clock.now(), { maxAttempts: 3 });
    await w.runOnce();
    let job = (await findJob(database.db, id))!;
    expect(job.status).toBe("queued");
    expect(job.last_error).toBe("boom 1");
    expect(Date.parse(job.run_at) - clock.time).toBe(retryDelayMs(1));
    expect(await w.runOnce()).toBe(false);
    clock.advance(retryDelayMs(1));
    await w.runOnce();
    clock.advance(retryDelayMs(2));
    await w.runOnce();
    job = (await findJob(database.db, id))!;
    expect(job.status).toBe("failed");
    expect(job.attempts).toBe(3);
    expect(job.last_error).toBe("boom 3");
    expect(calls).toBe(3);
    expect(await retryFailedJob(database.db, id, clock.now())).toBe(true);
    expect((await findJob(database.db, id))!.status).toBe("queued");
  });

  it("waits at least as long as a rate limit asks before retrying", async () => {
    const w = worker({ limited: async () => Promise.reject(new RateLimitedError("Jira", "slow down", 900)) });
    const id = await enqueueJob(database.db, "limited", {}, clock.now());
    await w.runOnce();
    expect(Date.parse((await findJob(database.db, id))!.run_at) - clock.time).toBe(900_000);
  });

  it("puts a job whose turn has not come back until it has, without using up its attempts; its companions too", async () => {
    let turns = 0;
    const w = worker({
      push: async ({ job, companions }) => {
        if (job.id === companion) return;
        turns++;
        for (const c of await companions.claim("push:1:", 5)) await companions.settle(c, { error: new NotYet("another push holds it", 45_000) });
        throw new NotYet("another push holds it", 45_000);
      },
    });
    const id = await enqueueJob(database.db, "push", { n: 0 }, clock.now(), { dedupeKey: "push:1:a", maxAttempts: 2 });
    const companion = await enqueueJob(database.db, "push", { n: 1 }, clock.now(), { dedupeKey: "push:1:b", maxAttempts: 2 });
    // Far more turns than attempts: none is counted, none ends in failure.
    for (let i = 0; i < 5; i++) {
      expect(await w.runOnce()).toBe(true);
      for (const jobId of [id, companion])
        expect(await findJob(database.db, jobId)).toMatchObject({ status: "queued", attempts: 0, last_error: "another push holds it" });
      expect(Date.parse((await findJob(database.db, id))!.run_at) - clock.time).toBe(45_000);
      expect(await w.runOnce()).toBe(false);
      clock.advance(45_000);
    }
    expect(turns).toBe(5);
  });

  it("fails a job of an unknown type at once, with a message", async () => {
    const id = await enqueueJob(database.db, "nobody-handles-this", {}, clock.now());
    await worker({}).runOnce();
    const job = (await findJob(database.db, id))!;
    expect(job.status).toBe("failed");
    expect(job.last_error).toContain('No handler is registered for jobs of type "nobody-handles-this"');
  });

  it("takes over a running job whose lease expired (its worker died)", async () => {
    const id = await enqueueJob(database.db, "work", {}, clock.now());
    const crashed = await claimJob(database.db, "dead-worker", 30_000, clock.now());
    expect(crashed!.id).toBe(id);
    const ran: number[] = [];
    const w = worker({ work: async ({ job }) => void ran.push(job.attempts) });
    expect(await w.runOnce()).toBe(false);
    clock.advance(30_001);
    expect(await w.runOnce()).toBe(true);
    expect(ran).toEqual([2]);
    expect((await findJob(database.db, id))!.status).toBe("succeeded");
  });

  it("lets a stalled attempt that lost its lease finish nothing, even when the same worker took the job over", async () => {
    const id = await enqueueJob(database.db, "slow", {}, clock.now());
    const gate = () => {
      let resolve!: () => void;
      return { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
    };
    const gates = [gate(), gate()];
    const signals: AbortSignal[] = [];
    const w = worker(
      {
        slow: async ({ signal }) => {
          const n = signals.push(signal) - 1;
          await gates[n]!.promise;
          if (n === 1) throw new Error("the second attempt failed");
        },
      },
      30_000,
    );
    // The first attempt stalls past its lease (a blocked event loop, a hung call)...
    const first = w.runOnce();
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(30_001);
    // ...the same worker takes the expired job over, and the stale attempt ends while the new one runs.
    const second = w.runOnce();
    await new Promise((r) => setTimeout(r, 20));
    gates[0]!.resolve();
    await first;
    expect(await findJob(database.db, id)).toMatchObject({ status: "running", attempts: 2 });
    // The attempt that holds the job decides how it ends.
    gates[1]!.resolve();
    await second;
    expect(await findJob(database.db, id)).toMatchObject({ status: "queued", attempts: 2, last_error: "the second attempt failed" });
  });

  it("tells a handler when its lease is lost, so it can stop", async () => {
    const id = await enqueueJob(database.db, "watch", {}, clock.now());
    let seen: AbortSignal | undefined;
    const w = worker(
      {
        watch: async ({ signal }) => {
          seen = signal;
          // Another worker takes the job over meanwhile.
          clock.advance(60);
          await database.db.updateTable("jobs").set({ locked_by: "another-worker#1" }).where("id", "=", id).execute();
          await new Promise((r) => setTimeout(r, 150));
        },
      },
      90,
    );
    await w.runOnce();
    expect(seen!.aborted).toBe(true);
    expect((await findJob(database.db, id))!.status).toBe("running");
  });

  it("gives up on a job that kills its worker every time, after ten deaths", async () => {
    const id = await enqueueJob(database.db, "poison", {}, clock.now(), { maxAttempts: 2 });
    for (let death = 1; death <= 10; death++) {
      expect((await claimJob(database.db, `w${death}`, 1000, clock.now()))!.attempts).toBe(death);
      clock.advance(1001);
    }
    expect(await claimJob(database.db, "w11", 1000, clock.now())).toBeUndefined();
    const job = (await findJob(database.db, id))!;
    expect(job.status).toBe("failed");
    expect(job.last_error).toMatch(/process stopped while running this job/);
  });

  it("resumes a job whose process stopped after it made progress, without using up an attempt", async () => {
    const id = await enqueueJob(database.db, "scan", {}, clock.now(), { maxAttempts: 2 });
    for (let crash = 1; crash <= 5; crash++) {
      const job = await claimJob(database.db, `w${crash}`, 1000, clock.now());
      expect(job!.id).toBe(id);
      expect(job!.attempts).toBe(1); // progress each time: the same attempt goes on
      await setJobProgress(database.db, id, { done: crash * 100, total: 1000 }, clock.now());
      clock.advance(1001);
    }
    // Two workers after the same crashed job: one gets it.
    const [a, b] = await Promise.all([claimJob(database.db, "x", 1000, clock.now()), claimJob(database.db, "y", 1000, clock.now())]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    // Without progress the deaths count: it is failed after ten.
    for (let death = 2; death <= 10; death++) {
      clock.advance(1001);
      expect((await claimJob(database.db, `z${death}`, 1000, clock.now()))!.attempts).toBe(death);
    }
    clock.advance(1001);
    expect(await claimJob(database.db, "last", 1000, clock.now())).toBeUndefined();
    expect((await findJob(database.db, id))!.status).toBe("failed");
  });

  it("claims past a lane that has as many jobs running as its limit; a dead worker's jobs do not count", async () => {
    const db = database.db;
    for (let i = 0; i < 3; i++) await enqueueJob(db, "push", { i }, clock.now(), { lane: "integration:1" });
    const other = await enqueueJob(db, "scan", {}, clock.now(), { lane: "integration:2" });
    const unlaned = await enqueueJob(db, "prune", {}, clock.now());
    const first = await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 });
    const second = await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 });
    expect([first!.lane, second!.lane]).toEqual(["integration:1", "integration:1"]);
    // Lane 1 is full: the next claims go to the other lane and to the job without one.
    expect((await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 }))!.id).toBe(other);
    expect((await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 }))!.id).toBe(unlaned);
    expect(await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 })).toBeUndefined();
    // Without a limit (runOnce, tests) the lane does not matter.
    expect((await claimJob(db, "w", 60_000, clock.now()))!.lane).toBe("integration:1");
    await db.updateTable("jobs").set({ status: "queued", lease_until: null }).where("id", "in", [first!.id, second!.id]).execute();
    await db.deleteFrom("jobs").where("status", "=", "running").where("lane", "=", "integration:1").execute();
    // A lane whose running jobs' leases ran out (their worker died) is free again.
    const a = (await claimJob(db, "w", 1_000, clock.now(), { laneLimit: 1 }))!;
    expect(a.lane).toBe("integration:1");
    expect(await claimJob(db, "w", 1_000, clock.now(), { laneLimit: 1 })).toBeUndefined();
    clock.advance(2_000);
    expect((await claimJob(db, "w", 1_000, clock.now(), { laneLimit: 1 }))!.lane).toBe("integration:1");
  });

  it("runs at most two of one person's bulk pushes at once, and keeps a worker's last slot for other lanes", async () => {
    const db = database.db;
    for (let i = 1; i <= 3; i++) await enqueueJob(db, "batch", { i }, clock.now(), { lane: `integration:${i}`, group: "bulk:ada" });
    const bob = await enqueueJob(db, "batch", {}, clock.now(), { lane: "integration:9", group: "bulk:bob" });
    const claimed = [];
    for (let i = 0; i < 4; i++) claimed.push((await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 }))?.id);
    expect(claimed.slice(0, 3)).toEqual([1, 2, bob]);
    expect(claimed[3]).toBeUndefined();
    // A worker's last free slot does not go to a lane it already runs.
    const lane1 = await enqueueJob(db, "push", {}, clock.now(), { lane: "integration:1" });
    const free = await enqueueJob(db, "scan", {}, clock.now(), { lane: "integration:5" });
    expect((await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2, avoidLanes: ["integration:1"] }))!.id).toBe(free);
    expect((await claimJob(db, "w", 60_000, clock.now(), { laneLimit: 2 }))!.id).toBe(lane1);
  });

  it("keeps one queued job per dedupe key", async () => {
    const a = await enqueueJob(database.db, "check", {}, clock.now(), { dedupeKey: "check:1" });
    const b = await enqueueJob(database.db, "check", {}, clock.now(), { dedupeKey: "check:1" });
    const [c, d] = await Promise.all([
      enqueueJob(database.db, "check", {}, clock.now(), { dedupeKey: "check:2" }),
      enqueueJob(database.db, "check", {}, clock.now(), { dedupeKey: "check:2" }),
    ]);
    expect(b).toBe(a);
    expect(d).toBe(c);
    expect(await listJobs(database.db)).toHaveLength(2);
    await worker({ check: async () => {} }).runOnce();
    expect(await enqueueJob(database.db, "check", {}, clock.now(), { dedupeKey: "check:1" })).not.toBe(a);
  });

  it("lets a job do due jobs of its kind with its own: each ends on its own outcome, one left over is tried again", async () => {
    const key = (mapping: number, n: number) => `push:${mapping}:finding:${n}`;
    const enqueue = (mapping: number, n: number, runAt = clock.now()) =>
      enqueueJob(database.db, "push", { mapping, n }, clock.now(), { dedupeKey: key(mapping, n), runAt, maxAttempts: 2 });
    const first = await enqueue(1, 0);
    const ok = await enqueue(1, 1);
    const refused = await enqueue(1, 2);
    const forgotten = await enqueue(1, 3);
    const skipped = await enqueue(1, 4);
    const later = await enqueue(1, 5, new Date(clock.time + 60_000));
    const otherMapping = await enqueue(10, 6);
    const seen: number[][] = [];
    const w = worker({
      push: async ({ job, companions }) => {
        if (job.id !== first) return;
        const claimed = await companions.claim("push:1:", 10, async (candidates) => candidates.filter((c) => c.id !== skipped));
        seen.push(claimed.map((c) => c.id));
        for (const c of claimed) {
          expect(c).toMatchObject({ status: "running", attempts: 1 });
          if (c.id === ok) await companions.settle(c);
          if (c.id === refused) await companions.settle(c, { error: new RateLimitedError("Jira", "slow down", 120) });
        }
      },
    });
    await w.runOnce();
    // Not the skipped one, not one not yet due, not another mapping's (push:10: sorts between push:1: and its bound).
    expect(seen).toEqual([[ok, refused, forgotten]]);
    const job = async (id: number) => (await findJob(database.db, id))!;
    expect(await job(first)).toMatchObject({ status: "succeeded" });
    expect(await job(ok)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(await job(refused)).toMatchObject({ status: "queued", attempts: 1, last_error: "slow down" });
    expect(Date.parse((await job(refused)).run_at) - clock.time).toBe(120_000);
    expect(await job(forgotten)).toMatchObject({ status: "queued", attempts: 1, last_error: expect.stringContaining("ended without doing this job's work") });
    for (const id of [skipped, later, otherMapping]) expect(await job(id)).toMatchObject({ status: "queued", attempts: 0 });
  });

  it("records progress for long work", async () => {
    const w = worker({ long: async ({ progress }) => progress({ done: 40, total: 100, message: "page 2" }) });
    const id = await enqueueJob(database.db, "long", {}, clock.now());
    await w.runOnce();
    expect(JSON.parse((await findJob(database.db, id))!.progress!)).toEqual({ done: 40, total: 100, message: "page 2" });
  });

  it("prunes old finished jobs but keeps recent ones", async () => {
    const w = worker({ t: async () => {} });
    await enqueueJob(database.db, "t", {}, clock.now());
    await w.runOnce();
    clock.advance(8 * 24 * 3600_000);
    await enqueueJob(database.db, "t", {}, clock.now());
    await w.runOnce();
    expect(await pruneJobs(database.db, clock.now())).toBe(1);
    expect(await listJobs(database.db)).toHaveLength(1);
  });

  it("the worker loop runs jobs concurrently and stops cleanly", async () => {
    let active = 0;
    let peak = 0;
    const w = new Worker({
      db: database.db,
      handlers: new Map([
        [
          "slow",
          async () => {
            active++;
            peak = Math.max(peak, active);
            await new Promise((r) => setTimeout(r, 50));
            active--;
          },
        ],
      ]),
      logger: silentLogger,
      now: () => new Date(),
      leaseMs: 60_000,
      pollMs: 10,
      concurrency: 3,
    });
    for (let i = 0; i < 6; i++) await enqueueJob(database.db, "slow", {}, new Date(Date.now() - 1000));
    w.start();
    for (let i = 0; i < 100 && (await listJobs(database.db, { status: "succeeded" })).length < 6; i++) await new Promise((r) => setTimeout(r, 20));
    await w.stop();
    expect(await listJobs(database.db, { status: "succeeded" })).toHaveLength(6);
    expect(peak).toBe(3);
  });
});
