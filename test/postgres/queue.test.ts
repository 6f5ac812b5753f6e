// The job queue with workers in three processes on one PostgreSQL database (three pools): every
// job runs exactly once, the workers skip rows another is claiming (FOR UPDATE SKIP LOCKED), an
// integration's lane holds across processes, and two enqueues of one dedupe key make one job.
import { describe, expect, it } from "vitest";
import { enqueueJob } from "../../src/jobs/queue.js";
import { Worker } from "../../src/jobs/worker.js";
import { silentLogger } from "../../src/log.js";
import { processesOnOneDatabase } from "./database.js";

const processes = processesOnOneDatabase(3);

async function until(done: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("jobs across processes", () => {
  it("runs each of 150 jobs once, with an integration's lane held across processes", async () => {
    const db = processes[0]!.db;
    const now = () => new Date();
    const runs = new Map<number, number>();
    let laneRunning = 0;
    let laneMost = 0;
    const handlers = new Map([
      [
        "work",
        async ({ job }: { job: { id: number } }) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 2));
        },
      ],
      [
        "lane",
        async ({ job }: { job: { id: number } }) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          laneMost = Math.max(laneMost, ++laneRunning);
          await new Promise((r) => setTimeout(r, 20));
          laneRunning--;
        },
      ],
    ]);
    const ids: number[] = [];
    for (let i = 0; i < 130; i++) ids.push(await enqueueJob(db, "work", { i }, now()));
    for (let i = 0; i < 20; i++) ids.push(await enqueueJob(db, "lane", { i }, now(), { lane: "integration:7" }));
    const workers = processes.map(
      (p) => new Worker({ db: p.db, handlers: handlers as never, logger: silentLogger, now, leaseMs: 30_000, concurrency: 4, laneLimit: 1, pollMs: 20 }),
    );
    for (const w of workers) w.start();
    try {
      await until(async () => (await db.selectFrom("jobs").select("id").where("status", "in", ["queued", "running"]).execute()).length === 0);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(150);
    const statuses = await db.selectFrom("jobs").select("status").distinct().execute();
    expect(statuses).toEqual([{ status: "succeeded" }]);
    // laneLimit 1 per worker; across three processes the lane still ran one job at a time.
    expect(laneMost).toBe(1);
  });

  it("keeps one queued job per dedupe key when two processes enqueue it at once", async () => {
    const now = new Date();
    const made = await Promise.all(processes.map((p) => enqueueJob(p.db, "work", {}, now, { dedupeKey: "sweep" }).catch((err: Error) => err)));
    const ids = made.filter((m): m is number => typeof m === "number");
    expect(made.filter((m) => m instanceof Error)).toEqual([]);
    expect(new Set(ids).size).toBe(1);
  });
});
