// After a large import the write-ahead log is checkpointed into the database; the file it leaves
// beside the database must not keep the import's size (200 MB and more) for as long as Patchbay
// runs: on a small box that is disk a person is never given back.
import fs from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { afterEach, expect, it } from "vitest";
import { openDatabase, type OpenDatabase } from "../../src/db/database.js";
import { tempDir } from "../helpers.js";

let database: OpenDatabase | undefined;
afterEach(() => database?.close());

const MB = 1024 * 1024;

it("gives the write-ahead log's space back once a large write is checkpointed", { timeout: 60_000 }, async () => {
  const file = path.join(tempDir(), "patchbay.db");
  database = await openDatabase(file);
  const { db } = database;
  await sql`create table bulk (payload blob not null)`.execute(db);
  // 240 MB in 24 transactions: past the automatic checkpoint (50,000 pages, about 200 MB).
  let largest = 0;
  for (let i = 0; i < 24; i++) {
    await db.transaction().execute(async (trx) => {
      for (let j = 0; j < 160; j++) await sql`insert into bulk (payload) values (zeroblob(${64 * 1024}))`.execute(trx);
    });
    largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
  }
  expect(largest).toBeGreaterThan(150 * MB);
  // The next writes start the log over, from the checkpointed start.
  for (let i = 0; i < 3; i++) await sql`delete from bulk where rowid = ${i + 1}`.execute(db);
  expect(fs.statSync(`${file}-wal`).size).toBeLessThanOrEqual(64 * MB);
  // The data is all there.
  const count = await sql<{ n: number }>`select count(*) as n from bulk`.execute(db);
  expect(count.rows[0]!.n).toBe(24 * 160 - 3);
});
