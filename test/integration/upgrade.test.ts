// Upgrades that cannot half-fail: pending migrations apply together or not at all, the
// database is copied before an upgrade touches it, and a database a newer Patchbay wrote is
// refused with what to do. And the daily backup that runs as a job.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { migrations } from "../../migrations/index.js";
import { StartupError, migrate, openDatabase } from "../../src/db/database.js";
import { BACKUP_JOB, SCHEDULES } from "../../src/schedules.js";
import { runJobs, tempDir, testApp } from "../helpers.js";

const names = Object.keys(migrations).sort();
const last = names.at(-1)!;
/** The upgrade tested starts from the version before this migration (it adds users.must_change_password). */
const REWOUND = "0032_one_time_passwords";

describe("upgrades", () => {
  it("applies pending migrations all together or not at all", async () => {
    const file = path.join(tempDir(), "patchbay.db");
    const { db, close } = await openDatabase(file);
    const failing = {
      ...migrations,
      "9998_first": { up: async (k: typeof db) => void (await sql`create table upgrade_first (x integer)`.execute(k)) },
      "9999_second": {
        up: async (k: typeof db) => {
          await sql`create table upgrade_second (x integer)`.execute(k);
          throw new Error("the second migration failed half-way");
        },
      },
    };
    await expect(migrate(db, failing as never)).rejects.toThrow("the second migration failed half-way");
    const tables = await sql<{ name: string }>`select name from sqlite_master where name like 'upgrade_%'`.execute(db);
    expect(tables.rows).toEqual([]);
    const recorded = await sql<{ name: string }>`select name from kysely_migration where name like '999%'`.execute(db);
    expect(recorded.rows).toEqual([]);
    await close();
  });

  it("copies the database before an upgrade (the newest three copies kept), then upgrades it", async () => {
    const dir = tempDir();
    const file = path.join(dir, "patchbay.db");
    // The database as an older version left it: every migration from 0032 on undone.
    const fresh = await openDatabase(file);
    const undone = names.filter((n) => n >= REWOUND);
    for (const name of [...undone].reverse()) {
      await (migrations[name] as { down(db: unknown): Promise<void> }).down(fresh.db);
      await fresh.db
        .deleteFrom("kysely_migration" as never)
        .where("name" as never, "=", name as never)
        .execute();
    }
    await fresh.close();
    const backups = path.join(dir, "backups");
    fs.mkdirSync(backups);
    for (let i = 0; i < 4; i++) {
      const old = path.join(backups, `pre-upgrade-000${i}_old.db`);
      fs.writeFileSync(old, "");
      fs.utimesSync(old, new Date(2026, 0, i + 1), new Date(2026, 0, i + 1));
    }

    const { db, close } = await openDatabase(file);
    const copy = path.join(backups, `pre-upgrade-${names[names.indexOf(REWOUND) - 1]}.db`);
    expect(fs.existsSync(copy)).toBe(true);
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600);
    const before = new SQLite(copy, { readonly: true });
    expect(before.pragma("integrity_check", { simple: true })).toBe("ok");
    expect((before.prepare("pragma table_info(users)").all() as { name: string }[]).map((c) => c.name)).not.toContain("must_change_password");
    before.close();
    expect(fs.readdirSync(backups).sort()).toEqual(
      ["pre-upgrade-0002_old.db", "pre-upgrade-0003_old.db", `pre-upgrade-${names[names.indexOf(REWOUND) - 1]}.db`].sort(),
    );
    const columns = await sql<{ name: string }>`pragma table_info(users)`.execute(db);
    expect(columns.rows.map((c) => c.name)).toContain("must_change_password");
    await close();
    // Nothing to apply: no copy.
    await (await openDatabase(file)).close();
    expect(fs.readdirSync(backups)).toHaveLength(3);
  });

  it("refuses a database a newer Patchbay upgraded, saying what to do", async () => {
    const file = path.join(tempDir(), "patchbay.db");
    await (await openDatabase(file)).close();
    const raw = new SQLite(file);
    raw.prepare("insert into kysely_migration (name, timestamp) values (?, ?)").run("9999_from_the_future", new Date().toISOString());
    raw.close();
    const opening = openDatabase(file);
    await expect(opening).rejects.toBeInstanceOf(StartupError);
    await expect(opening).rejects.toThrow(
      `This database was upgraded by a newer Patchbay (its migration 9999_from_the_future is unknown to this version, whose last is ${last}). Run that newer version, or restore the backup taken before the upgrade`,
    );
  });
});

describe("scheduled backups", () => {
  it("writes a checked daily backup as a durable job and keeps the newest PATCHBAY_BACKUP_KEEP", async () => {
    const app = await testApp({ env: { PATCHBAY_BACKUP_KEEP: "3" } });
    try {
      const dir = path.join(app.config.dataDir, "backups");
      fs.mkdirSync(dir, { recursive: true });
      // Older backups, and a file of the admin's own that pruning leaves alone.
      for (const day of ["01", "02", "03"]) fs.writeFileSync(path.join(dir, `patchbay-2026-01-${day}T02-10-00-000Z.db`), "");
      fs.writeFileSync(path.join(dir, "before-migrating-to-postgres.db"), "");
      const schedule = SCHEDULES.find((s) => s.name === "backups")!;
      expect(schedule.pattern).toBe("10 2 * * *");
      await schedule.enqueue(app.runtime.database.db, app.runtime.services.catalogue, app.clock.now());
      await runJobs(app);
      const job = await app.runtime.database.db.selectFrom("jobs").selectAll().where("type", "=", BACKUP_JOB.type).executeTakeFirstOrThrow();
      expect(job.status).toBe("succeeded");
      const files = fs.readdirSync(dir).sort();
      expect(files).toHaveLength(4);
      expect(files).toContain("before-migrating-to-postgres.db");
      expect(files).not.toContain("patchbay-2026-01-01T02-10-00-000Z.db");
      const written = files.find((f) => f.startsWith(`patchbay-${app.clock.now().toISOString().slice(0, 10)}`))!;
      const copy = new SQLite(path.join(dir, written), { readonly: true });
      expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
      expect((copy.prepare("select count(*) as n from meta").get() as { n: number }).n).toBeGreaterThan(0);
      copy.close();
      expect(fs.statSync(path.join(dir, written)).mode & 0o777).toBe(0o600);
    } finally {
      await app.close();
    }
  });
});
