// Uploads across replicas: a report is spooled on the disk of the replica that receives it. Another
// replica starting up leaves it alone while its receiver is alive, and gives it up (interrupted,
// upload it again) only after its receiver has been silent for 15 minutes; a resume that needs
// the spool is a job pinned to its replica, which no other replica's worker claims.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimJob, enqueue } from "../../src/jobs/queue.js";
import { UPLOAD_RESUME_JOB, spoolOwner } from "../../src/uploads/import.js";
import { MAINTENANCE_JOB } from "../../src/schedules.js";
import { type TestApp, runJobs, testApp } from "../helpers.js";

let first: TestApp;
const others: TestApp[] = [];
beforeAll(async () => {
  first = await testApp();
});
afterAll(async () => {
  for (const app of others) await app.runtime.close();
  await first.close();
});

const replica = async () => {
  const app = await testApp({ env: { DATABASE_URL: first.config.databaseUrl! } });
  others.push(app);
  return app;
};

describe("uploads on several replicas", () => {
  it("are left to the replica receiving them, and given up only once it has been silent for 15 minutes", async () => {
    const db = first.runtime.database.db;
    const stamp = new Date().toISOString();
    const integration = await db
      .insertInto("integrations")
      .values({ kind: "ci-upload", name: "CI uploads", settings: "{}", secrets: null, status: "connected", created_at: stamp, updated_at: stamp })
      .returning("id")
      .executeTakeFirstOrThrow();
    const upload = (receiver: string, seenMinutesAgo: number) =>
      db
        .insertInto("uploads")
        .values({
          integration_id: integration.id,
          by: "ci",
          status: "running",
          receiver,
          seen_at: new Date(Date.now() - seenMinutesAgo * 60_000).toISOString(),
          created_at: stamp,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
    const receiving = await upload("replica-a:/data/spool", 0);
    const gone = await upload("replica-b:/data/spool", 20);
    await replica(); // starts, and recovers what is its own
    const rows = await db.selectFrom("uploads").select(["id", "status", "error"]).orderBy("id").execute();
    expect(rows.find((r) => r.id === receiving.id)).toMatchObject({ status: "running", error: null });
    expect(rows.find((r) => r.id === gone.id)).toMatchObject({
      status: "interrupted",
      error: "The Patchbay replica that received it (replica-b) stopped before importing it and has not come back. Nothing was imported: upload it again.",
    });
    // With no replica starting, the hourly clean-up gives up on one whose receiver fell silent.
    const silent = await upload("replica-c:/data/spool", 16);
    await enqueue(db, MAINTENANCE_JOB, null, first.clock.now());
    await runJobs(first);
    expect(await db.selectFrom("uploads").select("status").where("id", "in", [silent.id, receiving.id]).orderBy("id").execute()).toEqual([
      { status: "running" },
      { status: "interrupted" },
    ]);
  });

  it("resume on the replica that holds the spool: a job pinned to it is claimed by no other", async () => {
    const other = await replica();
    const db = first.runtime.database.db;
    const now = new Date();
    const id = await enqueue(db, UPLOAD_RESUME_JOB, { uploadId: 12345 }, now, { pinnedTo: spoolOwner(first.config.spoolDir) });
    for (let claimed; (claimed = await claimJob(db, "other", 60_000, now, { pin: spoolOwner(other.config.spoolDir) }));) expect(claimed.id).not.toBe(id);
    expect(await claimJob(db, "unpinned", 60_000, now)).toBeUndefined();
    expect((await claimJob(db, "first", 60_000, now, { pin: spoolOwner(first.config.spoolDir) }))?.id).toBe(id);
  });
});
