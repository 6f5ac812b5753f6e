// A view reused between writes (src/web/view-cache.ts), on a handle whose writes are counted.
import { describe, expect, it } from "vitest";
import type { Db } from "../../src/db/schema.js";
import { countWrites, WriteEpoch } from "../../src/db/write-epoch.js";
import { VIEW_REUSE_MS, ViewCache } from "../../src/web/view-cache.js";

function setUp(max = 8) {
  const db = {} as Db;
  const epoch = new WriteEpoch();
  countWrites(db, epoch);
  let time = 0;
  const cache = new ViewCache<string>({ max, clock: () => time });
  let made = 0;
  const make = (label: string) => async () => `${label}#${++made}`;
  return { db, epoch, cache, make, advance: (ms: number) => (time += ms) };
}

describe("ViewCache", () => {
  it("reuses a view until a write or the end of its moment, whichever comes first", async () => {
    const { db, epoch, cache, make, advance } = setUp();
    expect(await cache.get(db, "a", make("a"))).toBe("a#1");
    advance(VIEW_REUSE_MS - 1);
    expect(await cache.get(db, "a", make("a"))).toBe("a#1");
    epoch.moved();
    expect(await cache.get(db, "a", make("a"))).toBe("a#2");
    advance(VIEW_REUSE_MS);
    expect(await cache.get(db, "a", make("a"))).toBe("a#3");
    expect(await cache.get(db, "b", make("b"))).toBe("b#4");
  });

  it("shares one making among those who ask at once, and keeps none that failed", async () => {
    const { db, cache } = setUp();
    let calls = 0;
    let release!: () => void;
    const slow = () => {
      calls++;
      return new Promise<string>((resolve) => (release = () => resolve("slow")));
    };
    const both = Promise.all([cache.get(db, "k", slow), cache.get(db, "k", slow)]);
    release();
    expect(await both).toEqual(["slow", "slow"]);
    expect(calls).toBe(1);

    const failing = async () => {
      throw new Error("database gone");
    };
    await expect(cache.get(db, "f", failing)).rejects.toThrow("database gone");
    expect(await cache.get(db, "f", async () => "made again")).toBe("made again");
  });

  it("keeps at most its number of views, the least recently made going first", async () => {
    const { db, cache, make } = setUp(2);
    await cache.get(db, "a", make("a"));
    await cache.get(db, "b", make("b"));
    await cache.get(db, "c", make("c"));
    expect(await cache.get(db, "c", make("c"))).toBe("c#3");
    expect(await cache.get(db, "b", make("b"))).toBe("b#2");
    expect(await cache.get(db, "a", make("a"))).toBe("a#4");
  });

  it("reuses nothing on a handle whose writes are not counted, nor when reuse is off", async () => {
    const { db, cache, make } = setUp();
    const uncounted = {} as Db;
    expect(await cache.get(uncounted, "a", make("a"))).toBe("a#1");
    expect(await cache.get(uncounted, "a", make("a"))).toBe("a#2");
    const off = new ViewCache<string>({ max: 8, reuseMs: 0, clock: () => 0 });
    expect(await off.get(db, "a", make("a"))).toBe("a#3");
    expect(await off.get(db, "a", make("a"))).toBe("a#4");
  });
});
