// Entry point. `node dist/server.js` serves Patchbay; `... backup [file]` writes an online
// backup of the database; `... config` prints the effective configuration; `... reset-password
// USER` gives a user a one-time password and signs them out everywhere; `... restore FILE`
// puts a checked backup in place of the database while Patchbay is stopped; `... migrate-to-postgres
// [--final]` copies the SQLite database into the PostgreSQL one DATABASE_URL names.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { serve } from "@hono/node-server";
import { ConfigError, type Config, describeConfig, loadConfig } from "./config.js";
import { StartupError, openDatabase } from "./db/database.js";
import { openVault } from "./vault.js";
import type { Db } from "./db/schema.js";
import { backupDatabase, backupName } from "./db/backups.js";
import { hashPassword } from "./auth/password.js";
import { invalidateUserSessions } from "./auth/sessions.js";
import { findUserByUsername, listUsers, updatePassword } from "./auth/users.js";
import { createLogger, type Logger } from "./log.js";
import { openRuntime } from "./runtime.js";
import { recordAudit } from "./audit/store.js";
import { openPostgres } from "./db/postgres.js";
import { MigrationRefused, changesSince, copyToPostgres, markMoved } from "./db/migrate-to-postgres.js";
import { redactDatabaseUrl } from "./text.js";

async function main(argv: string[]): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const command = argv[0] ?? "serve";
  if (command === "config") {
    process.stdout.write(describeConfig(config) + "\n");
    return;
  }
  if ((command === "backup" || command === "restore") && config.databaseUrl)
    fail(
      `"${command}" is for SQLite. With PostgreSQL (DATABASE_URL), use its own tools: pg_dump --format=custom for a backup, pg_restore into an empty database to restore.`,
    );
  if (command === "backup") return backup(config, argv[1]);
  if (command === "reset-password") return resetPassword(config, argv[1]);
  if (command === "restore") return restore(config, argv[1]);
  if (command === "migrate-to-postgres") return migrateToPostgres(config, argv.slice(1));
  if (command !== "serve")
    fail(`Unknown command "${command}". Use: serve (default), backup [file], restore FILE, config, reset-password USER, migrate-to-postgres [--final].`);
  await start(config, createLogger(config.logLevel));
}

async function start(config: Config, logger: Logger): Promise<void> {
  const started = performance.now();
  let runtime;
  try {
    runtime = await openRuntime(config, logger, { scanThreads: true });
  } catch (err) {
    if (err instanceof StartupError) fail(err.message, logger);
    throw err;
  }
  // A 200 MB report from a slow CI runner, or one waiting its turn behind two others, takes
  // longer than Node's default five minutes per request; headers must still come within 60 s.
  const server = serve(
    { fetch: runtime.app.fetch, port: config.port, hostname: config.host, serverOptions: { requestTimeout: 30 * 60 * 1000, headersTimeout: 60 * 1000 } },
    (info) => {
      logger.info("Patchbay is listening", {
        url: config.baseUrl,
        port: info.port,
        dataDir: config.dataDir,
        database: config.databaseUrl ? "postgresql" : "sqlite",
        startupMs: Math.round(performance.now() - started),
      });
    },
  );
  const marker = markRunning(config);
  server.on("error", (err: NodeJS.ErrnoException) => {
    fail(err.code === "EADDRINUSE" ? `Port ${config.port} is already in use. Stop the other program or set PORT.` : err.message, logger);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal });
    marker.stop();
    server.close();
    runtime.close().then(
      () => process.exit(0),
      (err) => {
        logger.error("shutdown failed", { error: err });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

/**
 * A forgotten password: a one-time password printed here (it signs in once, then its user must
 * choose their own), and every session of that user ended. Works while Patchbay runs.
 */
async function resetPassword(config: Config, username: string | undefined): Promise<void> {
  if (!username) fail("Name the user: reset-password USER (the user names are on Settings → Users).");
  if (!config.databaseUrl && !fs.existsSync(config.databasePath)) fail(`There is no database at ${config.databasePath}. Check PATCHBAY_DATA_DIR.`);
  const database = config.databaseUrl ? await openPostgres(config.databaseUrl) : await openDatabase(config.databasePath);
  try {
    const user = await findUserByUsername(database.db, username.toLowerCase());
    if (!user) fail(`There is no user "${username}". The users are: ${(await listUsers(database.db)).map((u) => u.username).join(", ") || "none"}.`);
    const password = oneTimePassword();
    await updatePassword(database.db, user.id, await hashPassword(password), new Date(), true);
    await invalidateUserSessions(database.db, user.id);
    await recordAudit(database.db, { actor: null, via: "cli", action: "auth.password_reset", target: user.username }, new Date());
    process.stdout.write(
      `One-time password for ${user.username}: ${password}\n` +
        `${user.username} was signed out everywhere, signs in with it once and then chooses a new password.\n`,
    );
  } finally {
    await database.close();
  }
}

/** Sixteen random letters and digits in groups of four, none easily mistaken for another: about 79 bits. */
function oneTimePassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  const limit = 256 - (256 % alphabet.length); // no byte value favours a character
  const chars: string[] = [];
  while (chars.length < 16)
    for (const b of crypto.getRandomValues(new Uint8Array(32))) if (b < limit && chars.length < 16) chars.push(alphabet[b % alphabet.length]!);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join("")).join("-");
}

/** The file that says a server runs on this data directory; touched while it runs, removed when it stops. */
const RUNNING_FILE = "patchbay.running";
const RUNNING_TOUCH_MS = 20_000;
/** A marker not touched for this long belongs to a server that is gone (a crash, a killed container). */
const RUNNING_STALE_MS = 60_000;

function markRunning(config: Config): { stop(): void } {
  const file = path.join(config.dataDir, RUNNING_FILE);
  fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname(), started: new Date().toISOString() }) + "\n", { mode: 0o600 });
  const timer = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(file, now, now);
    } catch {
      // The data directory went away: nothing to mark.
    }
  }, RUNNING_TOUCH_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      fs.rmSync(file, { force: true });
    },
  };
}

/** A server that still runs on this data directory, described; undefined when none does. */
function runningServer(config: Config): string | undefined {
  const file = path.join(config.dataDir, RUNNING_FILE);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return undefined;
  }
  if (Date.now() - stat.mtimeMs > RUNNING_STALE_MS) return undefined;
  try {
    const { pid, host } = JSON.parse(fs.readFileSync(file, "utf8")) as { pid: number; host: string };
    return `process ${pid} on ${host}`;
  } catch {
    return "another process";
  }
}

/**
 * Puts a backup in place of the database: only while no server runs on it, only a backup
 * that passes integrity_check and that this key opens (it is migrated to this version first,
 * on a copy). The database it replaces is kept in backups/pre-restore-<time>.db.
 */
async function restore(config: Config, source: string | undefined): Promise<void> {
  if (!source) fail("Name the backup: restore FILE (the daily ones are in the data directory's backups folder).");
  const file = path.resolve(source);
  if (!fs.existsSync(file)) fail(`There is no file ${file}.`);
  const running = runningServer(config);
  if (running) fail(`Patchbay is running on ${config.dataDir} (${running}). Stop it first, then restore, then start it again.`);
  const staging = path.join(config.dataDir, `restore-${process.pid}.db`);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  let refused: string | undefined;
  try {
    // The backup itself is never changed: its copy is checked, migrated and opened with this key.
    try {
      await backupDatabase(file, staging);
    } catch (err) {
      refuse(`${file} cannot be restored: ${(err as Error).message}. Choose another backup.`);
    }
    let database;
    try {
      database = await openDatabase(staging);
    } catch (err) {
      refuse(`${file} cannot be restored: ${(err as Error).message}`);
    }
    try {
      const hasSecrets = await database.db.selectFrom("meta").select("key").where("key", "=", "vault.key_check").executeTakeFirst();
      if (!hasSecrets) refuse(`${file} is not a Patchbay database (it has no key check). Choose another backup.`);
      await openVault(database.db, { secretKey: config.secretKey, secretKeyFile: config.secretKeyFile });
    } catch (err) {
      if (err instanceof RestoreRefused) throw err;
      if (err instanceof StartupError) refuse(`${file} cannot be restored with this key: ${err.message}`);
      throw err;
    } finally {
      await database.close();
    }
    // The database as it is now, kept: with its WAL replayed, as one file.
    let kept: string | undefined;
    if (fs.existsSync(config.databasePath)) {
      kept = path.join(config.dataDir, "backups", `pre-restore-${new Date().toISOString().replace(/[:.]/g, "-")}.db`);
      await backupDatabase(config.databasePath, kept);
    }
    for (const f of [config.databasePath, `${config.databasePath}-wal`, `${config.databasePath}-shm`]) fs.rmSync(f, { force: true });
    fs.renameSync(staging, config.databasePath);
    process.stdout.write(
      `Restored ${file} as ${config.databasePath}.\n` + (kept ? `The database it replaced is kept in ${kept}.\n` : "") + "Start Patchbay again.\n",
    );
  } catch (err) {
    if (!(err instanceof RestoreRefused)) throw err;
    refused = err.message;
  } finally {
    fs.rmSync(staging, { force: true });
    for (const f of [`${staging}-wal`, `${staging}-shm`]) fs.rmSync(f, { force: true });
  }
  if (refused) fail(refused);
}

class RestoreRefused extends Error {}
function refuse(message: string): never {
  throw new RestoreRefused(message);
}

/**
 * Copies the SQLite database in the data directory into the PostgreSQL database DATABASE_URL
 * names, from an online backup (Patchbay may keep running), and says how much changed since; with
 * --final, once Patchbay is stopped, the copy to switch to.
 */
async function migrateToPostgres(config: Config, args: string[]): Promise<void> {
  const final = args.includes("--final");
  const unknown = args.filter((a) => a !== "--final");
  if (unknown.length) fail(`Unknown argument "${unknown[0]}". Use: migrate-to-postgres [--final].`);
  if (!config.databaseUrl)
    fail(
      "Set DATABASE_URL to the empty PostgreSQL database to copy into (postgres://user:password@host:5432/patchbay), and PATCHBAY_SECRET_KEY to this installation's key.",
    );
  if (!fs.existsSync(config.databasePath)) fail(`There is no SQLite database at ${config.databasePath} to copy. Check PATCHBAY_DATA_DIR.`);
  if (final) {
    const running = runningServer(config);
    if (running)
      fail(
        `Patchbay is running on ${config.dataDir} (${running}). Stop it first (a server that was killed stops counting a minute later), then run migrate-to-postgres --final again.`,
      );
  }
  const target = redactDatabaseUrl(config.databaseUrl);
  const work = path.join(config.dataDir, `migrate-${process.pid}`);
  const snapshot = path.join(work, "snapshot.db");
  const started = performance.now();
  let refused: string | undefined;
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  try {
    process.stdout.write(`Copying ${config.databasePath} (an online backup of it) into PostgreSQL at ${target}${final ? ", the final copy" : ""}.\n`);
    try {
      await backupDatabase(config.databasePath, snapshot);
    } catch (err) {
      throw new MigrationRefused(`The backup of ${config.databasePath} failed: ${(err as Error).message}. Check the free space in ${config.dataDir}.`);
    }
    let source;
    try {
      source = await openDatabase(snapshot);
    } catch (err) {
      throw new MigrationRefused(`The SQLite database cannot be read: ${(err as Error).message}`);
    }
    try {
      await sealedWithThisKey(config, source.db);
      let postgres;
      try {
        postgres = await openPostgres(config.databaseUrl);
      } catch (err) {
        if (err instanceof StartupError) throw new MigrationRefused(err.message);
        throw err;
      }
      try {
        const report = await copyToPostgres(source.sqlite, postgres.db, {
          final,
          source: config.databasePath,
          now: new Date(),
          onTable: (table, rows) => process.stdout.write(`  ${table}: ${rows.toLocaleString("en")} rows\n`),
        });
        const seconds = Math.round((performance.now() - started) / 1000);
        process.stdout.write(
          `Copied ${report.rows.toLocaleString("en")} rows in ${report.tables.length} tables in ${seconds} s; every table's row count and the findings' totals were checked. Stored credentials stay encrypted under the same key.\n`,
        );
        if (report.nulReplaced)
          process.stdout.write(
            `${report.nulReplaced} text values held a NUL character, which PostgreSQL cannot store; each is kept with U+FFFD in its place.\n`,
          );
      } finally {
        await postgres.close();
      }
    } finally {
      await source.close();
    }
    if (final) {
      markMoved(config.databasePath, target, new Date());
      process.stdout.write(
        `This is the copy to switch to. Set DATABASE_URL (and this PATCHBAY_SECRET_KEY) for every Patchbay replica and start them.\n` +
          `${config.databasePath} stays as it was, as a fallback; Patchbay on PostgreSQL no longer writes to it.\n`,
      );
    } else {
      const changes = changesSince(config.databasePath, snapshot);
      const where = changes.tables.map((t) => `${t.name} ${t.rows}`).join(", ");
      process.stdout.write(
        (changes.tables.length
          ? `Since the copy began, SQLite has changed: ${changes.added} rows added, ${changes.changed} changed, ${changes.deleted} deleted (${where}).\n`
          : "Nothing changed in SQLite since the copy began.\n") +
          `Patchbay keeps writing to SQLite while it runs. When you are ready to switch: stop Patchbay, run migrate-to-postgres --final (it copies everything again, up to the stop), then set DATABASE_URL for every replica and start them.\n`,
      );
    }
  } catch (err) {
    if (!(err instanceof MigrationRefused)) throw err;
    refused = err.message;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (refused) fail(refused);
}

/** The SQLite database's credentials must open with PATCHBAY_SECRET_KEY, which every replica will use. */
async function sealedWithThisKey(config: Config, db: Db): Promise<void> {
  try {
    await openVault(db, { secretKey: config.secretKey, secretKeyFile: config.secretKeyFile });
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    const fromFile =
      fs.existsSync(config.secretKeyFile) &&
      (await openVault(db, { secretKey: undefined, secretKeyFile: config.secretKeyFile }).then(
        () => true,
        () => false,
      ));
    throw new MigrationRefused(
      fromFile
        ? `The SQLite database's credentials are encrypted with the key in ${config.secretKeyFile}, not with PATCHBAY_SECRET_KEY. Set PATCHBAY_SECRET_KEY to that file's contents (PATCHBAY_SECRET_KEY=$(cat ${config.secretKeyFile})), here and for every replica, and run this again.`
        : `PATCHBAY_SECRET_KEY is not the key the SQLite database's credentials were encrypted with. Set it to this installation's key (PATCHBAY_SECRET_KEY, or the contents of ${config.secretKeyFile}) and run this again.`,
    );
  }
}

/** SQLite's online backup: consistent while Patchbay keeps running. */
async function backup(config: Config, target: string | undefined): Promise<void> {
  if (!fs.existsSync(config.databasePath)) fail(`There is no database at ${config.databasePath} to back up. Check PATCHBAY_DATA_DIR.`);
  const file = path.resolve(target ?? path.join(config.dataDir, "backups", backupName(new Date())));
  try {
    await backupDatabase(config.databasePath, file);
  } catch (err) {
    fail(`The backup to ${file} failed: ${(err as Error).message}. Check the free space and the folder's permissions.`);
  }
  process.stdout.write(
    `Backup written to ${file} (integrity checked)\n` +
      `Keep it with the secret key (PATCHBAY_SECRET_KEY or ${config.secretKeyFile}): without the key, stored credentials cannot be decrypted.\n`,
  );
}

function fail(message: string, logger?: Logger): never {
  logger?.error("Patchbay cannot start", { error: message });
  process.stderr.write(`patchbay: ${message}\n`);
  process.exit(1);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`patchbay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
