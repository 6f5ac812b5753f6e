// Pacing shared by processes on PostgreSQL: the log of writes lives in the database, so writers
// in two processes together never make more than a window allows (the credential's row lock
// lines them up).
import { describe, expect, it } from "vitest";
import { GITHUB_PACING } from "../../src/connectors/github/client.js";
import { paceWindows, reserveWrite } from "../../src/integrations/pacing.js";
import { processesOnOneDatabase } from "./database.js";

const processes = processesOnOneDatabase(2);

describe("sliding windows across processes", () => {
  it("let two processes asking at once make no more writes together than the minute allows", async () => {
    const windows = paceWindows(GITHUB_PACING.defaults);
    const now = Date.parse("2026-12-05T12:00:00Z");
    // 2 × 60 requests in the same instant, interleaved between the two processes.
    const waits = await Promise.all(Array.from({ length: 120 }, (_, i) => reserveWrite(processes[i % 2]!.db, "integration:9", windows, now)));
    const granted = waits.filter((w) => w === 0).length;
    // Exactly the minute's limit, however the two interleave; the rest wait the minute out.
    expect(granted).toBe(GITHUB_PACING.defaults.perMinute);
    expect(waits.filter((w) => w > 0).every((w) => w === 61_000)).toBe(true);
  });
});
