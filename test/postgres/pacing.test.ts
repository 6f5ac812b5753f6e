// Pacing shared by processes on PostgreSQL: the token buckets live in the database, so writers
// in two processes together never take more than a window allows (the same upsert as on SQLite,
// row-locked by PostgreSQL).
import { describe, expect, it } from "vitest";
import { GITHUB_PACING } from "../../src/connectors/github/client.js";
import { bucketShape, paceWindows, takeToken } from "../../src/integrations/pacing.js";
import { processesOnOneDatabase } from "./database.js";

const processes = processesOnOneDatabase(2);

describe("token buckets across processes", () => {
  it("grant two processes asking at once no more together than the burst", async () => {
    const windows = paceWindows(GITHUB_PACING.defaults);
    const now = Date.parse("2026-12-05T12:00:00Z");
    // 2 × 60 requests in the same instant, interleaved between the two processes.
    const waits = await Promise.all(Array.from({ length: 120 }, (_, i) => takeToken(processes[i % 2]!.db, "integration:9", windows, now)));
    const granted = waits.filter((w) => w === 0).length;
    // All or none across the windows: exactly the smallest window's burst, however the two interleave.
    expect(granted).toBe(Math.min(...windows.map((w) => bucketShape(w).burst)));
    expect(waits.filter((w) => w > 0).every((w) => w >= 1)).toBe(true);
  });
});
