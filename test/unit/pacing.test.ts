// Pacing ahead of a service's limits: the database log of writes never lets a window see more
// than its limit, uses the whole limit, processes writing with one credential share them, reads are free, a long
// wait frees the job instead of holding it, and estimates match the pace.
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GITHUB_PACING } from "../../src/connectors/github/client.js";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
import { HttpClient, RateLimitedError } from "../../src/http.js";
import { databasePacer, estimatePush, paceWindows, reserveWrite } from "../../src/integrations/pacing.js";
import { silentLogger } from "../../src/log.js";
import { tempDir } from "../helpers.js";

let database: OpenDatabase;
beforeEach(async () => {
  database = await openDatabase(path.join(tempDir(), "patchbay.db"));
});
afterEach(() => database.close());

const GITHUB = paceWindows(GITHUB_PACING.defaults);

describe("sliding windows in the database", () => {
  it("never lets any minute see more than 80 writes or any hour more than 500, writing as fast as allowed for three hours", async () => {
    let now = Date.parse("2026-12-01T00:00:00Z");
    const granted: number[] = [];
    while (now < Date.parse("2026-12-01T03:00:00Z")) {
      const wait = await reserveWrite(database.db, "integration:1", GITHUB, now);
      if (wait === 0) granted.push(now);
      else now += wait;
    }
    const most = (windowMs: number) => {
      let max = 0;
      for (let i = 0, j = 0; j < granted.length; j++) {
        while (granted[j]! - granted[i]! >= windowMs) i++;
        max = Math.max(max, j - i + 1);
      }
      return max;
    };
    expect(most(60_000)).toBeLessThanOrEqual(80);
    expect(most(3_600_000)).toBeLessThanOrEqual(500);
    // The whole limit all the same: 500 in each hour (less a second's margin), the first 80 at once.
    expect(granted.length).toBe(1500);
    expect(granted[79]).toBe(granted[0]);
    expect(granted[80]! - granted[0]!).toBe(61_000);
  });

  it("shares one credential's tokens between writers, and keeps another credential's apart", async () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    const minute = [{ seconds: 3, max: 2 }];
    let shared = 0;
    // Two processes' pacers take turns on one log: together they get two writes, not four.
    for (let i = 0; i < 4; i++) if ((await reserveWrite(database.db, "integration:1", minute, now)) === 0) shared++;
    expect(shared).toBe(2);
    expect(await reserveWrite(database.db, "integration:2", minute, now)).toBe(0);
    // Room again when the first write leaves the window (3 s and the second's margin).
    expect(await reserveWrite(database.db, "integration:1", minute, now + 1500)).toBe(2500);
    // A process whose clock is a second behind still counts the others' writes.
    expect(await reserveWrite(database.db, "integration:1", minute, now + 3000)).toBe(1000);
    expect(await reserveWrite(database.db, "integration:1", minute, now + 4000)).toBe(0);
    expect(await reserveWrite(database.db, "integration:1", minute, now + 2000)).toBe(0);
    expect(await reserveWrite(database.db, "integration:1", minute, now + 2000)).toBe(4000);
  });

  it("takes from every window or from none", async () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    const windows = [
      { seconds: 60, max: 100 },
      { seconds: 3600, max: 10 },
    ];
    for (let i = 0; i < 1; i++) expect(await reserveWrite(database.db, "integration:1", windows, now)).toBe(0);
    // The hour's limit (10) is reached; a refused write is not logged, so the minute still has room for 90.
    for (let i = 1; i < 10; i++) expect(await reserveWrite(database.db, "integration:1", windows, now)).toBe(0);
    expect(await reserveWrite(database.db, "integration:1", windows, now)).toBe(3_601_000);
    const logged = await database.db
      .selectFrom("pace_writes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(logged.n)).toBe(10);
    // Writes an hour old are forgotten as the log moves on.
    expect(await reserveWrite(database.db, "integration:1", windows, now + 3_601_000)).toBe(0);
    const kept = await database.db
      .selectFrom("pace_writes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(kept.n)).toBe(1);
  });
});

describe("the pacer in the HTTP client", () => {
  function client(limits: { perMinute?: number; perHour?: number; concurrent?: number }, clock: { now: number }, sent: string[], hold?: Promise<void>) {
    const pacer = databasePacer({
      db: database.db,
      credential: "integration:7",
      limits,
      service: "GitHub",
      basis: "GitHub's limit",
      logger: silentLogger,
      now: () => clock.now,
      sleep: async (ms) => void (clock.now += ms),
    });
    return new HttpClient({
      service: "GitHub",
      logger: silentLogger,
      pacer,
      fetch: (async (url: string, init: RequestInit) => {
        sent.push(`${init.method} ${url}`);
        await hold;
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      }) as typeof fetch,
    });
  }

  it("lets reads through, spaces writes out, and gives a long wait back to the job before sending anything", async () => {
    const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
    const sent: string[] = [];
    const http = client({ perMinute: 20, perHour: 30 }, clock, sent);
    for (let i = 0; i < 10; i++) await http.request({ url: "https://api.github.com/repos/a/b/issues" });
    expect(clock.now).toBe(Date.parse("2026-12-01T00:00:00Z"));
    // 20 writes go at once; the 21st waits for the minute (and the second's margin).
    for (let i = 0; i < 21; i++) await http.request({ method: "POST", url: "https://api.github.com/repos/a/b/issues", body: "{}" });
    expect(clock.now - Date.parse("2026-12-01T00:00:00Z")).toBe(61_000);
    for (let i = 0; i < 9; i++) await http.request({ method: "POST", url: "https://api.github.com/repos/a/b/issues", body: "{}" });
    // The hour's 30 are spent: the next write is an hour from the first, longer than a job waits.
    const before = sent.length;
    const err = await http.request({ method: "POST", url: "https://api.github.com/repos/a/b/issues", body: "{}" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBe(3601 - 61);
    expect((err as Error).message).toContain(
      "Patchbay is pacing its writes to GitHub (at most 20 a minute and 30 an hour, GitHub's limit or the integration's setting)",
    );
    expect(sent.length).toBe(before);
  });

  it("holds requests past the concurrency limit until one is answered", async () => {
    const clock = { now: Date.parse("2026-12-01T00:00:00Z") };
    const sent: string[] = [];
    let open!: () => void;
    const hold = new Promise<void>((resolve) => (open = resolve));
    const http = client({ concurrent: 2 }, clock, sent, hold);
    const requests = [1, 2, 3].map((n) => http.request({ url: `https://api.github.com/r/${n}` }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent).toHaveLength(2);
    open();
    await Promise.all(requests);
    expect(sent).toHaveLength(3);
  });
});

describe("estimates", () => {
  it("says 1,000 GitHub issues take two hours at GitHub's limits, and that grouping is worth it", () => {
    const pace = { pacing: GITHUB_PACING, credential: "integration:1", limits: GITHUB_PACING.defaults, service: "GitHub" };
    const thousand = estimatePush(1000, pace);
    expect(thousand.seconds).toBeGreaterThanOrEqual(2 * 3600);
    expect(thousand.text).toBe("about 2 h at GitHub's pace (at most 80 a minute and 500 an hour)");
    expect(thousand.long).toBe(true);
    const few = estimatePush(40, pace);
    expect(few.text).toBe("about 5 min at GitHub's pace (at most 80 a minute and 500 an hour)");
    expect(few.long).toBe(false);
  });
});
