// The SQLite driver answers synchronously: database work must still let the event loop turn,
// or one long loop of queries (a rescore of a million findings) holds back every timer, socket
// and request until it ends — a job's lease heartbeat included.
import path from "node:path";
import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
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
