// Opening the SQLite database (WAL), running migrations, and turning the ways this can
// fail at start-up into messages that say what to do.
import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import {
  CompiledQuery,
  type QueryResult,
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
import { countWrites, WriteEpoch } from "./write-epoch.js";
import type { WriterLock } from "./writer-lock.js";

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
  constructor(config: SqliteDialectConfig & { lock?: WriterLock; epoch: WriteEpoch }) {
    super(config);
    this.#config = config;
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlAdapter();
  }
  override createDriver(): Driver {
    return new CooperativeSqliteDriver(this.#config as SqliteDialectConfig & { database: SQLite.Database; lock?: WriterLock; epoch: WriteEpoch });
  }
}

/**
 * How long database work may hold the event loop before it lets other work in. better-sqlite3
 * answers synchronously, so a loop of queries (a rescore, an import) is one unbroken chain of
 * microtasks: no timer, no socket and no other request ran until it ended — a lease's heartbeat
 * missed for a minute, a scan's next page unread, every page a person asked for waiting.
 */
const SLICE_MS = 10;
/** How long background work's transaction runs before it lets the event loop turn (see asBackground). */
const BACKGROUND_SLICE_MS = 40;
let lastTurn = performance.now();
let turnNoted = false;

/** Lets the event loop turn (timers, sockets, requests) if database work has held it for a slice. */
async function breathe(slice = SLICE_MS): Promise<void> {
  if (performance.now() - lastTurn >= slice) {
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

/** Prepared statements kept per connection. */
const STATEMENTS_KEPT = 200;

const background = new AsyncLocalStorage<true>();

/**
 * Runs work (a job) as background work: its transactions let the event loop turn every 40 ms, and
 * when people's requests wait for the writer too, the two take it by turns, each about half the
 * time it is held — not one turn in fifty for an import among fifty people browsing.
 */
export function asBackground<T>(work: () => Promise<T>): Promise<T> {
  return background.run(true, work);
}

/** How fast the time each class held the connection is forgotten (seconds). */
const SHARE_MEMORY_S = 1;

/**
 * Kysely's SQLite driver, changed so that people's pages stay quick while background work writes:
 * - reads outside a transaction go to a second, read-only connection, which in WAL mode never
 *   waits for a write transaction (a page read during an import's commit is answered at once);
 * - taking the connection first lets the event loop turn once database work has held it for
 *   10 ms (breathe), and background work (asBackground) does so inside its transactions every
 *   40 ms, so requests run while an import's transaction is open;
 * - the writer is handed to waiters first come first served within a class, and between people's
 *   requests and background work to the one that held it less lately (Kysely's own lock let a
 *   newcomer take it between a release and the next waiter's turn);
 * - statements are prepared once per text, not once per execution;
 * - the handle's writes are counted (write-epoch.ts) as each commits.
 * A foreground transaction runs to its end without yielding: two runtimes in one process (a test)
 * would otherwise wait on each other's write lock inside one thread.
 */
class CooperativeSqliteDriver extends SqliteDriver {
  readonly #writer: SQLite.Database;
  /** A read-only connection for reads outside transactions: in WAL they never wait for a write transaction. */
  #reader: SQLite.Database | undefined;
  #busy = false;
  readonly #waiting: { resolve: () => void; background: boolean }[] = [];
  /** Who holds the writer, since when; and the time each class held it lately (decaying). */
  #holder = { background: false, since: 0 };
  readonly #held = { background: 0, foreground: 0, at: performance.now() };
  /** Prepared statements by their text, the most recently used last: an import's chunked inserts repeat theirs thousands of times. */
  readonly #statements = new Map<SQLite.Database, Map<string, SQLite.Statement>>();

  /** The writer's turn shared with the process's other threads (scan threads), if any. */
  readonly #lock: WriterLock | undefined;
  readonly #epoch: WriteEpoch;

  constructor(config: SqliteDialectConfig & { database: SQLite.Database; lock?: WriterLock; epoch: WriteEpoch }) {
    super(config);
    this.#writer = config.database;
    this.#lock = config.lock;
    this.#epoch = config.epoch;
  }

  override async init(): Promise<void> {
    await super.init();
    if (!this.#writer.memory) this.#reader = openReader(this.#writer.name);
  }

  override async destroy(): Promise<void> {
    this.#reader?.close();
    await super.destroy();
  }

  #prepared(on: SQLite.Database, text: string): SQLite.Statement {
    let cache = this.#statements.get(on);
    if (!cache) this.#statements.set(on, (cache = new Map()));
    const cached = cache.get(text);
    if (cached) {
      cache.delete(text);
      cache.set(text, cached);
      return cached;
    }
    // A query that comes after the database was closed (work still running while Patchbay stops) says which it was.
    if (!on.open) throw new Error(`The database is closed; this query came after it was: ${text.slice(0, 200)}`);
    const statement = on.prepare(text);
    cache.set(text, statement);
    if (cache.size > STATEMENTS_KEPT) cache.delete(cache.keys().next().value!);
    return statement;
  }

  #run(on: SQLite.Database, query: CompiledQuery): QueryResult<never> {
    const statement = this.#prepared(on, query.sql);
    if (statement.reader) return { rows: statement.all(query.parameters as unknown[]) as never[] };
    const { changes, lastInsertRowid } = statement.run(query.parameters as unknown[]);
    // Outside a transaction it is committed now; inside one, the transaction's end counts again.
    this.#epoch.moved();
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  /**
   * A handle on the database for one query or one transaction. Reads outside a transaction go to
   * the reader at once; a write, or a transaction, first takes the writer (waiting its turn).
   */
  override async acquireConnection(): Promise<DatabaseConnection> {
    await breathe();
    const isBackground = background.getStore() === true;
    let holds = false;
    let inTransaction = false;
    const take = async () => {
      if (holds) return;
      if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push({ resolve, background: isBackground }));
      else this.#busy = true;
      // Then the other threads' turn: waited for here, not in SQLite's busy handler, which blocks the thread.
      await this.#lock?.acquire();
      this.#holder = { background: isBackground, since: performance.now() };
      holds = true;
    };
    const handle: DatabaseConnection & { begin(): Promise<void>; end(): void; release(): void } = {
      executeQuery: async (query) => {
        if (!holds && this.#reader && this.#prepared(this.#writer, query.sql).readonly) return this.#run(this.#reader, query);
        await take();
        // Background work lets the event loop turn inside its transactions too: people's reads go on meanwhile.
        if (inTransaction && isBackground) await breathe(BACKGROUND_SLICE_MS);
        return this.#run(this.#writer, query);
      },
      streamQuery: (query) => this.#stream(holds || !this.#reader ? this.#writer : this.#reader, query),
      begin: async () => {
        await take();
        inTransaction = true;
      },
      end: () => {
        inTransaction = false;
      },
      release: () => {
        if (holds) this.#release();
        holds = false;
      },
    };
    return handle;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as unknown as { begin(): Promise<void> }).begin();
    await connection.executeQuery(CompiledQuery.raw("begin"));
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw("commit"));
    } finally {
      this.#epoch.moved();
    }
    (connection as unknown as { end(): void }).end();
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw("rollback"));
    } finally {
      this.#epoch.moved();
    }
    (connection as unknown as { end(): void }).end();
  }

  override async releaseConnection(connection?: DatabaseConnection): Promise<void> {
    (connection as unknown as { release(): void } | undefined)?.release();
  }

  async *#stream(on: SQLite.Database, query: CompiledQuery): AsyncIterableIterator<QueryResult<never>> {
    // A stream holds its statement open: its own, never a cached one.
    for (const row of on.prepare(query.sql).iterate(query.parameters as unknown[])) yield { rows: [row as never] };
  }

  #release(): void {
    this.#lock?.release();
    const now = performance.now();
    const held = this.#held;
    const decay = Math.exp(-(now - held.at) / 1000 / SHARE_MEMORY_S);
    held.background *= decay;
    held.foreground *= decay;
    held.at = now;
    held[this.#holder.background ? "background" : "foreground"] += now - this.#holder.since;
    if (this.#waiting.length === 0) {
      this.#busy = false;
      return;
    }
    // First come first served within a class; between the two, the one that held the writer less lately.
    const first = (bg: boolean) => this.#waiting.findIndex((w) => w.background === bg);
    const [bg, fg] = [first(true), first(false)];
    const index = bg === -1 ? fg : fg === -1 ? bg : held.background <= held.foreground ? bg : fg;
    this.#waiting.splice(index, 1)[0]!.resolve();
  }
}

/** The read-only connection beside the writer (same file, WAL): a smaller page cache of its own. */
function openReader(file: string): SQLite.Database {
  const reader = new SQLite(file, { readonly: true, timeout: 5000 });
  reader.pragma("cache_size = -32768");
  reader.pragma("temp_store = MEMORY");
  return reader;
}

const writerLocks = new WeakMap<Db, WriterLock>();

/** Whether the main thread waits for the writer this database's thread holds: time to end the transaction. */
export function writerWanted(db: Db): boolean {
  return writerLocks.get(db)?.contended() ?? false;
}

/** How many backups taken before upgrades are kept. */
const UPGRADE_BACKUPS_KEPT = 3;

/**
 * `lock`: the writer's turn shared with the process's other threads. `beside`: a second handle a
 * thread opens on a database the process has opened already (a scan thread's): it neither proves
 * it can write nor migrates — the first handle did both.
 */
export async function openDatabase(
  file: string,
  onSlowQuery?: (sqlText: string, ms: number) => void,
  options: { lock?: WriterLock; beside?: boolean } = {},
): Promise<OpenDatabase> {
  const sqlite = openSqlite(file, !options.beside);
  const epoch = new WriteEpoch();
  const db = new Kysely<Database>({
    dialect: new PatchbaySqliteDialect({ database: sqlite, lock: options.lock, epoch }),
    log: onSlowQuery
      ? (event) => {
          if (event.queryDurationMillis >= SLOW_QUERY_MS) onSlowQuery(event.query.sql, Math.round(event.queryDurationMillis));
        }
      : undefined,
  });
  if (options.lock) writerLocks.set(db, options.lock);
  countWrites(db, epoch);
  if (options.beside) return { db, sqlite, close: () => db.destroy() };
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

/** `first`: the process's first handle on the file, which proves it can write; a second one (a scan thread's) does not. */
function openSqlite(file: string, first = true): SQLite.Database {
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
    // Fewer, larger checkpoints: an import rewrites the same index pages commit after commit, and a
    // page is copied into the database once per checkpoint however often it changed since. 50,000
    // pages (a WAL of up to 200 MB): a million-finding import took 142–144 s, about 150 s with 10,000.
    sqlite.pragma("wal_autocheckpoint = 50000");
    // ...but once checkpointed, the log is cut back to 64 MB when the next write starts it over: it
    // would otherwise keep an import's 200 MB beside the database for as long as Patchbay runs.
    sqlite.pragma("journal_size_limit = 67108864");
    // A second handle in the process (a scan thread's) takes half: a million-finding import peaked at
    // 404 MB with two 64 MB caches beside each other, 362 MB with this and a smaller young generation.
    if (!first) sqlite.pragma("cache_size = -32768");
    // Prove now, not at the first user action, that this process can write.
    if (first) sqlite.exec("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS _write_probe (x INTEGER); DROP TABLE _write_probe; COMMIT;");
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
