// The writer's turn between threads (src/db/writer-lock.ts): while a scan thread writes, a write
// from the main thread waits for its turn without blocking the thread — timers and requests go
// on — and is done once the scan's transaction ends; a polite holder hears that it is wanted.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { WriterLock } from "../../src/db/writer-lock.js";
import { writeMeta, readMeta } from "../../src/db/meta.js";
import { tempDir } from "../helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Timer ticks seen while `ms` pass: a blocked thread sees none. */
async function ticksDuring(ms: number): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(timer);
  return ticks;
}

it("a main-thread write waits for a scan thread's transaction without blocking the thread, then is written", async () => {
  const dir = tempDir("patchbay-lock-");
  dirs.push(dir);
  const file = path.join(dir, "patchbay.db");
  const main = new WriterLock();
  const { db, close } = await openDatabase(file, undefined, { lock: main });
  // The scan thread: its turn taken, and SQLite's write lock held by its own connection mid-transaction.
  const scan = new WriterLock({ buffer: main.buffer, id: 2, polite: true });
  await scan.acquire();
  const other = new SQLite(file, { timeout: 5000 });
  other.exec("BEGIN IMMEDIATE");
  other.prepare("insert into meta (key, value) values ('scan', 'page 1')").run();

  let written = false;
  const write = writeMeta(db, "triage", "done").then(() => (written = true));
  expect(await ticksDuring(100)).toBeGreaterThan(5);
  expect(written).toBe(false);
  expect(scan.contended()).toBe(true);

  other.exec("COMMIT");
  scan.release();
  await write;
  expect(await readMeta(db, "triage")).toBe("done");
  expect(await readMeta(db, "scan")).toBe("page 1");
  expect(scan.contended()).toBe(false);
  expect(main.holder()).toBe(0);
  other.close();
  await close();
});

it("a polite holder waits while the main thread waits, and a thread that ended gives its turn up", async () => {
  const main = new WriterLock();
  const scan = new WriterLock({ buffer: main.buffer, id: 2, polite: true });
  await scan.acquire();
  const mainTurn = main.acquire();
  // The scan's next transaction comes after the main thread's write.
  let scanAgain = false;
  scan.release();
  const next = scan.acquire().then(() => (scanAgain = true));
  await mainTurn;
  expect(main.holder()).toBe(1);
  await ticksDuring(20);
  expect(scanAgain).toBe(false);
  main.release();
  await next;
  expect(main.holder()).toBe(2);
  // The scan thread ends while holding its turn: the main thread frees it.
  main.releaseFor(2);
  expect(main.holder()).toBe(0);
  await main.acquire();
  expect(main.holder()).toBe(1);
});

it("a scan thread waiting behind a steady stream of main-thread writes gets its turn", async () => {
  const main = new WriterLock();
  const scan = new WriterLock({ buffer: main.buffer, id: 2, polite: true });
  let stop = false;
  let writes = 0;
  // Write after write: each handed its turn the moment the one before releases it.
  const stream = (async () => {
    while (!stop) {
      await main.acquire();
      await new Promise((r) => setImmediate(r));
      main.release();
      writes++;
    }
  })();
  const got = await Promise.race([scan.acquire().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2_000))]);
  expect(got).toBe(true);
  scan.release();
  stop = true;
  await stream;
  expect(writes).toBeGreaterThan(10);
});
