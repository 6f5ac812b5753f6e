// The SQLite driver answers synchronously: database work must still let the event loop turn,
// or one long loop of queries (a rescore of a million findings) holds back every timer, socket
// and request until it ends — a job's lease heartbeat included.
import path from "node:path";
import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, expect, it } from "vitest";
import { asBackground, openDatabase, type OpenDatabase } from "../../src/db/database.js";
import type { Database } from "../../src/db/schema.js";
import { tempDir } from "../helpers.js";

let database: OpenDatabase;
beforeEach(async () => {
  database = await openDatabase(path.join(tempDir(), "patchbay.db"));
});
afterEach(() => database.close());

/** One statement of a millisecond or two inside SQLite. */
const statement = (db: Kysely<Database>) =>
  sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 5000) select count(*) from n`.execute(db);

/** Statements one after another for about `ms`. */
async function busy(db: Kysely<Database>, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await statement(db);
}

it("lets a timer run while a loop of queries and short transactions goes on", async () => {
  let fired: number | undefined;
  const started = performance.now();
  setTimeout(() => (fired = performance.now() - started), 0);
  await busy(database.db, 150);
  for (let i = 0; i < 30; i++) await database.db.transaction().execute((trx) => busy(trx, 5));
  const took = performance.now() - started;
  expect(fired).toBeDefined();
  // It ran within a few slices, not when the 300 ms of work had ended.
  expect(fired!).toBeLessThan(took / 4);
});

it("hands the connection to waiters in the order they asked, past a loop of short queries", async () => {
  const order: string[] = [];
  const loop = (async () => {
    for (let i = 0; i < 100; i++) {
      await statement(database.db);
      order.push("loop");
    }
  })();
  // A transaction asks while the loop runs (from a timer, as a request would): it gets the
  // connection after a slice of the loop's statements, not after the loop.
  const trx = new Promise<void>((resolve, reject) =>
    setTimeout(
      () =>
        database.db
          .transaction()
          .execute(async (t) => {
            await t.selectFrom("meta").select("key").execute();
            order.push("transaction");
          })
          .then(resolve, reject),
      0,
    ),
  );
  await Promise.all([loop, trx]);
  expect(order.indexOf("transaction")).toBeGreaterThan(0);
  expect(order.indexOf("transaction")).toBeLessThan(50);
});

it("answers a read while a job's long transaction is open, from the read-only connection", async () => {
  const db = database.db;
  await db.insertInto("meta").values({ key: "seen", value: "before" }).execute();
  let readAt: number | undefined;
  let read: string | undefined;
  const started = performance.now();
  // A person's page reads while the job writes, 5 ms in.
  let reading: Promise<void> | undefined;
  setTimeout(() => {
    reading = (async () => {
      read = (await db.selectFrom("meta").select("value").where("key", "=", "seen").executeTakeFirst())?.value;
      readAt = performance.now() - started;
    })();
  }, 5);
  await asBackground(() =>
    db.transaction().execute(async (trx) => {
      await trx.updateTable("meta").set({ value: "during" }).where("key", "=", "seen").execute();
      await busy(trx, 300);
    }),
  );
  const took = performance.now() - started;
  await reading;
  // Answered within a slice or two of the job's work, with what was committed (not the job's uncommitted write).
  expect(readAt).toBeDefined();
  expect(readAt!).toBeLessThan(took / 2);
  expect(read).toBe("before");
  expect((await db.selectFrom("meta").select("value").where("key", "=", "seen").executeTakeFirst())?.value).toBe("during");
});
