// Opening the SQLite database (WAL), running migrations, and turning the ways this can
// fail at start-up into messages that say what to do.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import {
  type DatabaseConnection,
  type Driver,
  Kysely,
  type Migration,
  Migrator,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from "kysely";
import { migrations, postgresMigrations } from "../../migrations/index.js";
import { dialectOf } from "./dialect.js";
import type { Database, Db } from "./schema.js";

export class StartupError extends Error {}

export interface OpenDatabase {
  db: Db;
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

/** Opens (creating if needed) the database file, checks it is writable, and migrates it. */
/** Queries slower than this are logged (their SQL text only: parameters may hold secrets). */
const SLOW_QUERY_MS = 100;

/**
 * SQLite runs DDL inside transactions, but Kysely's adapter says it does not, so its migrator
 * would apply migrations one statement at a time. Saying so lets an upgrade apply entirely
 * (every pending migration and its record) or not at all.
 */
class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
class PatchbaySqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlAdapter();
  }
  override createDriver(): Driver {
    return new CooperativeSqliteDriver(this.#config as SqliteDialectConfig & { database: SQLite.Database });
  }
}

/**
 * How long database work may hold the event loop before it lets other work in. better-sqlite3
 * answers synchronously, so a loop of queries (a rescore, an import) is one unbroken chain of
 * microtasks: no timer, no socket and no other request ran until it ended — a lease's heartbeat
 * missed for a minute, a scan's next page unread, every page a person asked for waiting.
 */
const SLICE_MS = 10;
let lastTurn = performance.now();
let turnNoted = false;

/** Lets the event loop turn (timers, sockets, requests) if database work has held it for a slice. */
async function breathe(): Promise<void> {
  if (performance.now() - lastTurn >= SLICE_MS) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastTurn = performance.now();
    return;
  }
  // The loop turning on its own counts too: noted when it gets round to this.
  if (!turnNoted) {
    turnNoted = true;
    setImmediate(() => {
      turnNoted = false;
      lastTurn = performance.now();
    });
  }
}

/**
 * Kysely's SQLite driver with three changes. Taking the connection may first let the event loop
 * turn (breathe); a transaction, once begun, runs to its end (it holds the write lock: yielding
 * inside it would only keep others waiting longer), so work is cut into short transactions. The one connection is handed to waiters in the order they
 * asked — Kysely's own lock lets a newcomer take it between a release and the next waiter's
 * turn, and a busy loop of short queries could keep a transaction waiting. And statements are
 * prepared once per text, not once per execution.
 */
/** Prepared statements kept per connection. */
const STATEMENTS_KEPT = 200;

class CooperativeSqliteDriver extends SqliteDriver {
  #connection: DatabaseConnection | undefined;
  #busy = false;
  readonly #waiting: (() => void)[] = [];

  readonly #sqlite: SQLite.Database;
  /** Prepared statements by their text, the most recently used last: an import's chunked inserts repeat theirs thousands of times. */
  readonly #statements = new Map<string, SQLite.Statement>();

  constructor(config: SqliteDialectConfig & { database: SQLite.Database }) {
    super(config);
    this.#sqlite = config.database;
  }

  override async init(): Promise<void> {
    await super.init();
    const inner = await super.acquireConnection();
    await super.releaseConnection();
    this.#connection = {
      executeQuery: async (query) => {
        const statement = this.#prepared(query.sql);
        if (statement.reader) return { rows: statement.all(query.parameters as unknown[]) as never[] };
        const { changes, lastInsertRowid } = statement.run(query.parameters as unknown[]);
        return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
      },
      // A stream holds its statement open: its own, never a cached one.
      streamQuery: (query, chunkSize) => inner.streamQuery(query, chunkSize),
    };
  }

  #prepared(text: string): SQLite.Statement {
    const cached = this.#statements.get(text);
    if (cached) {
      this.#statements.delete(text);
      this.#statements.set(text, cached);
      return cached;
    }
    const statement = this.#sqlite.prepare(text);
    this.#statements.set(text, statement);
    if (this.#statements.size > STATEMENTS_KEPT) this.#statements.delete(this.#statements.keys().next().value!);
    return statement;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await breathe();
    if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy = true;
    return this.#connection!;
  }

  override async releaseConnection(): Promise<void> {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#busy = false;
  }
}

/** How many backups taken before upgrades are kept. */
const UPGRADE_BACKUPS_KEPT = 3;

export async function openDatabase(file: string, onSlowQuery?: (sqlText: string, ms: number) => void): Promise<OpenDatabase> {
  const sqlite = openSqlite(file);
  const db = new Kysely<Database>({
    dialect: new PatchbaySqliteDialect({ database: sqlite }),
    log: onSlowQuery
      ? (event) => {
          if (event.queryDurationMillis >= SLOW_QUERY_MS) onSlowQuery(event.query.sql, Math.round(event.queryDurationMillis));
        }
      : undefined,
  });
  try {
    const { executed, pending } = await migrationState(db);
    // An upgrade starts from a copy: the database as the previous version left it.
    if (executed.length && pending.length && file !== ":memory:") await backupBeforeUpgrade(sqlite, file, executed.at(-1)!);
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err instanceof StartupError ? err : explainSqliteError(err, file);
  }
  return { db, sqlite, close: () => db.destroy() };
}

/** Which of this code's migrations the database has applied, and which it has not; refuses a database a newer Patchbay wrote. */
async function migrationState(db: Kysely<Database>, list: Record<string, Migration> = migrations): Promise<{ executed: string[]; pending: string[] }> {
  const known = Object.keys(list).sort();
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(db);
  if (!tables.rows.length) return { executed: [], pending: known };
  const executed = (await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db)).rows.map((r) => r.name);
  const unknown = executed.filter((name) => !known.includes(name));
  if (unknown.length) {
    throw new StartupError(
      `This database was upgraded by a newer Patchbay (its migration ${unknown.at(-1)} is unknown to this version, whose last is ${known.at(-1)}). ` +
        `Run that newer version, or restore the backup taken before the upgrade (backups/pre-upgrade-*.db in the data directory).`,
    );
  }
  return { executed, pending: known.filter((name) => !executed.includes(name)) };
}

/** An online copy of the database before migrations change it, named by its last migration; the newest few are kept. */
async function backupBeforeUpgrade(sqlite: SQLite.Database, file: string, lastMigration: string): Promise<void> {
  const dir = path.join(path.dirname(file), "backups");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = path.join(dir, `pre-upgrade-${lastMigration}.db`);
  try {
    await sqlite.backup(target);
    // One self-contained file (no -wal or -shm beside it once opened).
    const copy = new SQLite(target);
    copy.pragma("journal_mode = DELETE");
    copy.close();
    fs.chmodSync(target, 0o600);
  } catch (err) {
    throw new StartupError(
      `Patchbay upgrades its database only after copying it, and could not copy it to ${target}: ${(err as Error).message}. Free some disk space or fix the folder's permissions, then start again.`,
    );
  }
  const older = fs
    .readdirSync(dir)
    .filter((f) => /^pre-upgrade-.*\.db$/.test(f))
    .map((f) => ({ f, at: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { f } of older.slice(UPGRADE_BACKUPS_KEPT)) fs.rmSync(path.join(dir, f), { force: true });
}

function openSqlite(file: string): SQLite.Database {
  if (file !== ":memory:") {
    try {
      // Only the user running Patchbay reads the data directory: it holds credentials' ciphertext and the key file.
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StartupError(
        `Cannot create the data directory ${path.dirname(file)}: ${(err as Error).message}. ` +
          `Create it and give the user running Patchbay write access, or set PATCHBAY_DATA_DIR.`,
      );
    }
  }
  let sqlite: SQLite.Database | undefined;
  try {
    sqlite = new SQLite(file, { timeout: 5000 });
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    // A 64 MB page cache: imports touch indexes across 100,000s of findings.
    sqlite.pragma("cache_size = -65536");
    sqlite.pragma("temp_store = MEMORY");
    sqlite.pragma("wal_autocheckpoint = 10000");
    // Prove now, not at the first user action, that this process can write.
    sqlite.exec("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS _write_probe (x INTEGER); DROP TABLE _write_probe; COMMIT;");
    if (file !== ":memory:") ownerOnly(file);
    return sqlite;
  } catch (err) {
    sqlite?.close();
    throw explainSqliteError(err, file);
  }
}

/** The database and its WAL files readable by their owner only (SQLite creates them by the umask). */
function ownerOnly(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

/** Translates SQLite's error codes into a start-up message naming the file and the fix. */
export function explainSqliteError(err: unknown, file: string): Error {
  if (err instanceof StartupError) return err;
  const code = (err as { code?: string }).code ?? "";
  const detail = (err as Error).message;
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM")) {
    return new StartupError(
      `The database ${file} cannot be written (${detail}). ` +
        `Give the user running Patchbay write access to the file and to its directory (SQLite needs to create -wal and -shm files beside it).`,
    );
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new StartupError(
      `The database ${file} is locked by another process (${detail}). ` + `Stop the other Patchbay instance or tool holding it open, then start again.`,
    );
  }
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new StartupError(`The file ${file} is not a readable Patchbay database (${detail}). Restore it from a backup or move it away to start fresh.`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Refreshes the query planner's statistics (SQLite's ANALYZE; about 0.2 s at 100,000
 * findings). Without them SQLite sorts every open finding for a page it could read straight
 * off an index; sampled statistics (analysis_limit) mislead it the same way. Run after imports.
 */
export async function refreshPlannerStatistics(db: Kysely<Database>): Promise<void> {
  await sql`ANALYZE`.execute(db);
}

/** Applies every pending migration in one transaction (see TransactionalDdlAdapter): all of them, or none. */
export async function migrate(db: Kysely<Database>, list: Record<string, Migration> = migrations): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => list } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error) {
    throw failed ? Object.assign(error as Error, { message: `Migration ${failed.migrationName} failed: ${(error as Error).message}` }) : error;
  }
}

/** Migrations this code knows that the database has not applied yet (none once start-up migrated). */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  const list = dialectOf(db) === "postgres" ? postgresMigrations : migrations;
  const migrator = new Migrator({ db, provider: { getMigrations: async () => list } });
  return (await migrator.getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
}

/** Whether the database answers a query at all (liveness); throws what the driver threw. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
