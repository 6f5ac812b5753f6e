// Pacing ahead of a service's limits: the database token buckets never let a window see more
// than its limit, processes writing with one credential share them, reads are free, a long
// wait frees the job instead of holding it, and estimates match the pace.
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GITHUB_PACING } from "../../src/connectors/github/client.js";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
import { HttpClient, RateLimitedError } from "../../src/http.js";
import { databasePacer, estimatePush, paceWindows, takeToken } from "../../src/integrations/pacing.js";
import { silentLogger } from "../../src/log.js";
import { tempDir } from "../helpers.js";

let database: OpenDatabase;
beforeEach(async () => {
  database = await openDatabase(path.join(tempDir(), "patchbay.db"));
});
afterEach(() => database.close());

const GITHUB = paceWindows(GITHUB_PACING.defaults);

describe("token buckets in the database", () => {
  it("never lets any minute see more than 80 writes or any hour more than 500, writing as fast as allowed for three hours", async () => {
    let now = Date.parse("2026-12-01T00:00:00Z");
    const granted: number[] = [];
    while (now < Date.parse("2026-12-01T03:00:00Z")) {
      const wait = await takeToken(database.db, "integration:1", GITHUB, now);
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
    // Close to the limit all the same: a burst of 50, then 450 an hour.
    expect(granted.length).toBeGreaterThanOrEqual(50 + 3 * 450 - 2);
  });

  it("shares one credential's tokens between writers, and keeps another credential's apart", async () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    const minute = [{ seconds: 60, max: 20 }];
    let shared = 0;
    // Two processes' pacers take turns on one bucket: together they get the burst of two, not four.
    for (let i = 0; i < 4; i++) if ((await takeToken(database.db, "integration:1", minute, now)) === 0) shared++;
    expect(shared).toBe(2);
    expect(await takeToken(database.db, "integration:2", minute, now)).toBe(0);
    // 18 a minute refill: the next token is 60/18 s away.
    expect(await takeToken(database.db, "integration:1", minute, now)).toBe(Math.ceil(60_000 / 18));
  });

  it("takes from every window or from none", async () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    const windows = [
      { seconds: 60, max: 100 },
      { seconds: 3600, max: 10 },
    ];
    for (let i = 0; i < 1; i++) expect(await takeToken(database.db, "integration:1", windows, now)).toBe(0);
    // The hour's burst (1) is gone; a refused take leaves the minute's bucket as it was.
    expect(await takeToken(database.db, "integration:1", windows, now)).toBeGreaterThan(0);
    const minute = await database.db.selectFrom("pace_buckets").select("tokens").where("key", "=", "integration:1|60").executeTakeFirstOrThrow();
    expect(minute.tokens).toBe(9);
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
    // The minute's burst is two: the third write waits for the refill (18 a minute).
    for (let i = 0; i < 3; i++) await http.request({ method: "POST", url: "https://api.github.com/repos/a/b/issues", body: "{}" });
    expect(clock.now - Date.parse("2026-12-01T00:00:00Z")).toBeGreaterThanOrEqual(Math.ceil(60_000 / 18) - 1);
    // The hour's burst (3) is spent: the next write is two minutes away, longer than a job waits.
    const before = sent.length;
    const err = await http.request({ method: "POST", url: "https://api.github.com/repos/a/b/issues", body: "{}" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    // 27 an hour refill: a token every 133 s, less what the minute's wait already refilled.
    expect((err as RateLimitedError).retryAfterSeconds).toBeGreaterThan(120);
    expect((err as RateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(Math.ceil(3600 / 27));
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
  it("says 1,000 GitHub issues take over two hours at GitHub's limits, and that grouping is worth it", () => {
    const pace = { pacing: GITHUB_PACING, credential: "integration:1", limits: GITHUB_PACING.defaults, service: "GitHub" };
    const thousand = estimatePush(1000, pace);
    expect(thousand.seconds).toBeGreaterThan(2 * 3600);
    expect(thousand.text).toBe("about 2 h 13 min at GitHub's pace (at most 80 a minute and 500 an hour)");
    expect(thousand.long).toBe(true);
    const few = estimatePush(40, pace);
    expect(few.text).toBe("about 5 min at GitHub's pace (at most 80 a minute and 500 an hour)");
    expect(few.long).toBe(false);
  });
});
