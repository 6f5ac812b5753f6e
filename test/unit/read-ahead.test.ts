// A scan reads the scanner's pages ahead of the import: while buffered pages are committed the
// next requests go on (the scan used to wait for each of ten pages in turn and then commit them
// with one request in flight), one request at a time, and no more than a bound of records ahead.
import { expect, it } from "vitest";
import type { SyncPage } from "../../src/connectors/types.js";
import { readAhead } from "../../src/findings/read-ahead.js";

/** A scanner of `pages` pages of `size` records whose answers the test releases one by one. */
function scanner(pages: number, size: number) {
  const asked: (string | null)[] = [];
  const waiting: { cursor: string | null; answer: (page: SyncPage) => void; fail: (err: Error) => void }[] = [];
  let inFlight = 0;
  let most = 0;
  const fetchPage = (cursor: string | null) =>
    new Promise<SyncPage>((resolve, reject) => {
      asked.push(cursor);
      most = Math.max(most, ++inFlight);
      waiting.push({
        cursor,
        answer: (p) => (inFlight--, resolve(p)),
        fail: (e) => (inFlight--, reject(e)),
      });
    });
  const pageAt = (cursor: string | null): SyncPage => {
    const n = cursor === null ? 0 : Number(cursor);
    return {
      records: Array.from({ length: size }, (_, i) => ({ externalId: `f-${n}-${i}`, raw: {}, skip: "test" })),
      nextCursor: n + 1 < pages ? String(n + 1) : null,
      total: pages * size,
    };
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    fetchPage,
    asked,
    most: () => most,
    /** Answers the request in flight; false if none is. */
    async answer(): Promise<boolean> {
      const w = waiting.shift();
      if (!w) return false;
      w.answer(pageAt(w.cursor));
      await settle();
      return true;
    },
    async fail(err: Error): Promise<void> {
      waiting.shift()!.fail(err);
      await settle();
    },
  };
}

it("goes on reading while nothing is taken, up to its bound, one request at a time", async () => {
  const s = scanner(20, 500);
  const reader = readAhead(s.fetchPage, null, 2_000);
  while (await s.answer());
  // 2,000 records ahead is four pages: the fifth is not asked for until one is taken.
  expect(s.asked).toEqual([null, "1", "2", "3"]);
  expect(s.most()).toBe(1);
  const first = await reader.take()!;
  expect(first.records[0]!.externalId).toBe("f-0-0");
  expect(s.asked.at(-1)).toBe("4");
});

it("hands every page over in order and ends after the last", async () => {
  const s = scanner(7, 10);
  const reader = readAhead(s.fetchPage, null, 25);
  const ids: string[] = [];
  for (let pending = reader.take(); pending; pending = reader.take()) {
    while (await s.answer());
    ids.push((await pending).records[0]!.externalId);
  }
  expect(ids).toEqual(["f-0-0", "f-1-0", "f-2-0", "f-3-0", "f-4-0", "f-5-0", "f-6-0"]);
  expect(s.asked).toEqual([null, "1", "2", "3", "4", "5", "6"]);
});

it("starts from a saved cursor", async () => {
  const s = scanner(5, 10);
  const reader = readAhead(s.fetchPage, "3", 100);
  while (await s.answer());
  expect(s.asked).toEqual(["3", "4"]);
  expect((await reader.take()!).records[0]!.externalId).toBe("f-3-0");
});

it("gives a failed request's error after the pages before it, and asks nothing more", async () => {
  const s = scanner(10, 10);
  const reader = readAhead(s.fetchPage, null, 100);
  await s.answer();
  await s.answer();
  await s.fail(new Error("Wiz answered 503"));
  expect(s.asked).toEqual([null, "1", "2"]);
  expect((await reader.take()!).records[0]!.externalId).toBe("f-0-0");
  expect((await reader.take()!).records[0]!.externalId).toBe("f-1-0");
  await expect(reader.take()!).rejects.toThrow("Wiz answered 503");
  expect(reader.take()).toBeUndefined();
  expect(s.asked).toHaveLength(3);
});

it("keeps a failure that comes while the taker is busy for when it asks", async () => {
  const s = scanner(10, 10);
  const reader = readAhead(s.fetchPage, null, 100);
  const pending = reader.take()!;
  // The taker holds the promise without awaiting it (committing what it has): the failure must not
  // surface as an unhandled rejection, only where the taker awaits it.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    await s.fail(new Error("connection reset"));
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
    await expect(pending).rejects.toThrow("connection reset");
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

it("asks for nothing more once stopped, past the request in flight", async () => {
  const s = scanner(20, 10);
  const reader = readAhead(s.fetchPage, null, 1_000);
  await s.answer();
  reader.stop();
  while (await s.answer());
  expect(s.asked).toEqual([null, "1"]);
  expect((await reader.take()!).records[0]!.externalId).toBe("f-0-0");
  expect((await reader.take()!).records[0]!.externalId).toBe("f-1-0");
  expect(reader.take()).toBeUndefined();
});
