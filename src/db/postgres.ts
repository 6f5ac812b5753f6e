// Opening a PostgreSQL database (a pool of `pg` connections through Kysely's Postgres dialect) and
// migrating it: the baseline, then the migrations both databases share. PostgreSQL runs DDL in
// transactions, so an upgrade applies entirely or not at all, as on SQLite.
import pg from "pg";
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type Migration,
  Migrator,
  PostgresDialect,
  type PostgresDialectConfig,
  PostgresDriver,
  type QueryResult,
  sql,
} from "kysely";
import { postgresMigrations } from "../../migrations/index.js";
import { StartupError } from "./database.js";
import { redactDatabaseUrl } from "../text.js";
import type { Database, Db } from "./schema.js";
import { countWrites, WriteEpoch } from "./write-epoch.js";

/** Kysely's PostgreSQL driver, counting the writes made through it (write-epoch.ts) as each commits. */
class CountingPostgresDriver extends PostgresDriver {
  readonly #epoch: WriteEpoch;
  readonly #counted = new WeakSet<DatabaseConnection>();
  constructor(config: PostgresDialectConfig, epoch: WriteEpoch) {
    super(config);
    this.#epoch = epoch;
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    if (!this.#counted.has(connection)) {
      this.#counted.add(connection);
      const execute = connection.executeQuery.bind(connection);
      // An INSERT, UPDATE, DELETE or MERGE (Kysely reports its row count): committed now outside a
      // transaction; inside one, the transaction's end counts again.
      connection.executeQuery = async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        const result = await execute<R>(query);
        if (result.numAffectedRows !== undefined) this.#epoch.moved();
        return result;
      };
    }
    return connection;
  }
  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      this.#epoch.moved();
    }
  }
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } finally {
      this.#epoch.moved();
    }
  }
}

class CountingPostgresDialect extends PostgresDialect {
  readonly #config: PostgresDialectConfig;
  readonly #epoch: WriteEpoch;
  constructor(config: PostgresDialectConfig, epoch: WriteEpoch) {
    super(config);
    this.#config = config;
    this.#epoch = epoch;
  }
  override createDriver(): Driver {
    return new CountingPostgresDriver(this.#config, this.#epoch);
  }
}

// bigint (count(*), ids) and numeric (sum) arrive as strings by default; Patchbay's numbers fit
// JavaScript's (2^53), and both databases must answer with numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export interface OpenPostgres {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Connects, checks the server answers, and migrates; a failure says what to do. */
export async function openPostgres(
  url: string,
  list: Record<string, Migration> = postgresMigrations,
  onSlowQuery?: (sqlText: string, ms: number) => void,
): Promise<OpenPostgres> {
  // Connections stay open a minute when idle: a page that opened four at once does not open them again for the next.
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 60_000 });
  // An idle connection the server closed (a restart, a failover, a dropped database) leaves the
  // pool; the next query opens a new one. Unheard, the pool's error event would end the process.
  pool.on("error", () => undefined);
  // JIT compilation costs a query 100-300 ms once its estimate passes jit_above_cost; Patchbay's
  // counts over a million findings ran 30% faster without it (npm run bench). Its own sessions only.
  pool.on("connect", (client) => void client.query("set jit = off").catch(() => undefined));
  const epoch = new WriteEpoch();
  const db = new Kysely<Database>({
    dialect: new CountingPostgresDialect({ pool }, epoch),
    log: onSlowQuery
      ? (event) => {
          if (event.queryDurationMillis >= 100) onSlowQuery(event.query.sql, Math.round(event.queryDurationMillis));
        }
      : undefined,
  });
  countWrites(db, epoch);
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy();
    throw new StartupError(
      `PostgreSQL at ${redactDatabaseUrl(url)} did not answer (${(err as Error).message}). Check DATABASE_URL: the host, port, user, password and database name.`,
    );
  }
  try {
    await refuseNewer(db, list);
    const { error, results } = await new Migrator({ db, provider: { getMigrations: async () => list } }).migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === "Error")?.migrationName;
      throw new StartupError(`Migration ${failed ?? "?"} failed on PostgreSQL: ${(error as Error).message}`);
    }
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, pool, close: () => db.destroy() };
}

/** A database a newer Patchbay migrated is refused, as on SQLite. */
async function refuseNewer(db: Kysely<Database>, list: Record<string, Migration>): Promise<void> {
  const table = await sql<{ name: string | null }>`select to_regclass('kysely_migration')::text as name`.execute(db);
  if (!table.rows[0]?.name) return;
  const executed = (await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db)).rows.map((r) => r.name);
  const known = Object.keys(list).sort();
  const unknown = executed.filter((name) => !known.includes(name));
  if (unknown.length)
    throw new StartupError(
      `This database was upgraded by a newer Patchbay (its migration ${unknown.at(-1)} is unknown to this version, whose last is ${known.at(-1)}). Run that newer version, or restore the dump taken before the upgrade.`,
    );
}

/**
 * What the server's settings leave undone that Patchbay relies on, each with what to do. Patchbay
 * analyzes the tables an import fills itself (refreshStatistics, from the counts `track_counts`
 * keeps), but leaves vacuuming to autovacuum: without it the summary tables every page reads
 * (counts by status, facets, per asset) and the job queue keep every dead row, and pages slow
 * down week by week.
 */
export function maintenanceWarnings(settings: Record<string, string | undefined>): string[] {
  const warnings: string[] = [];
  if (settings.autovacuum === "off")
    warnings.push(
      "PostgreSQL's autovacuum is off: the counts, facets and job rows Patchbay updates on every change keep their dead rows, and pages slow down as they build up. " +
        "Turn it on (autovacuum = on in postgresql.conf, then reload) or run VACUUM ANALYZE on Patchbay's database every night.",
    );
  if (settings.track_counts === "off")
    warnings.push(
      "PostgreSQL's track_counts is off: Patchbay cannot tell when an import has changed a table enough to refresh its planner statistics, and autovacuum cannot run. " +
        "Turn it on (track_counts = on in postgresql.conf, then reload).",
    );
  return warnings;
}

/** The server's maintenance settings as they apply to Patchbay's sessions, read through `maintenanceWarnings`. */
export async function postgresMaintenanceWarnings(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string; setting: string }>`select name, setting from pg_settings where name in ('autovacuum', 'track_counts')`.execute(db);
  return maintenanceWarnings(Object.fromEntries(rows.map((r) => [r.name, r.setting])));
}
