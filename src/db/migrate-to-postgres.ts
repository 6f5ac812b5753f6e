// Moving a SQLite database to PostgreSQL: every table copied from a consistent snapshot (an online
// backup, migrated to this version) into a PostgreSQL database that is empty or holds an earlier,
// non-final copy, in one transaction (a failure leaves it as it was), in foreign-key order, row
// counts checked; then how much SQLite changed since the snapshot, for the user to decide when to
// stop Patchbay and copy once more with --final. finding_counts is not copied: it is counted
// from the copied findings (as its triggers would have kept it), and checked against SQLite's.
import SQLite from "better-sqlite3";
import { type Kysely, sql } from "kysely";
import { ASSET_COUNTS_FILL, FACET_FILL, resolutionFill } from "./facets.js";

/** A refusal or failure the user can act on; its message says what to do. */
export class MigrationRefused extends Error {}

/** The meta key marking a PostgreSQL database as a copy of a SQLite one. */
const COPY_MARKER = "postgres.copied_from_sqlite";
/** The meta key marking a SQLite database as moved (written by the final copy). */
export const MOVED_MARKER = "sqlite.moved_to_postgres";
/** Tables PostgreSQL derives itself. */
const DERIVED = new Set(["finding_counts", "finding_facets", "resolution_days", "asset_counts"]);
const OWN = (name: string) => name.startsWith("kysely_") || name.startsWith("sqlite_");

export interface CopyReport {
  tables: { name: string; rows: number }[];
  rows: number;
  /** Text values that held a NUL character (PostgreSQL's text refuses it), kept with U+FFFD in its place. */
  nulReplaced: number;
}

export interface CopyOptions {
  final: boolean;
  /** Where the copy came from, recorded in the marker (a path, never a secret). */
  source: string;
  now: Date;
  onTable?: (table: string, rows: number) => void;
}

/** Copies the snapshot into PostgreSQL; throws MigrationRefused when the target is not a database to copy into. */
export async function copyToPostgres(source: SQLite.Database, target: Kysely<any>, options: CopyOptions): Promise<CopyReport> {
  const sqliteTables = source
    .prepare("select name from sqlite_master where type = 'table' order by name")
    .pluck()
    .all()
    .map(String)
    .filter((name) => !OWN(name));
  const pgTables = (
    await sql<{
      name: string;
    }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(target)
  ).rows
    .map((r) => r.name)
    .filter((name) => !OWN(name));
  const onlySqlite = sqliteTables.filter((t) => !pgTables.includes(t));
  const onlyPg = pgTables.filter((t) => !sqliteTables.includes(t));
  if (onlySqlite.length || onlyPg.length)
    throw new MigrationRefused(
      `The two databases' tables differ (only in SQLite: ${onlySqlite.join(", ") || "none"}; only in PostgreSQL: ${onlyPg.join(", ") || "none"}). ` +
        `Both were migrated by this version, so this is a Patchbay bug: please report it with this message.`,
    );
  const columns = new Map<string, string[]>();
  for (const table of sqliteTables) {
    const mine = (source.prepare(`pragma table_info(${quote(table)})`).all() as { name: string }[]).map((c) => c.name);
    const theirs = (
      await sql<{
        name: string;
      }>`select column_name as name from information_schema.columns where table_schema = current_schema() and table_name = ${table}`.execute(target)
    ).rows.map((r) => r.name);
    const differ = mine.filter((c) => !theirs.includes(c)).concat(theirs.filter((c) => !mine.includes(c)));
    if (differ.length)
      throw new MigrationRefused(
        `The two databases' columns of ${table} differ (${differ.join(", ")}). This is a Patchbay bug: please report it with this message.`,
      );
    columns.set(table, mine);
  }
  const order = foreignKeyOrder(
    source,
    sqliteTables.filter((t) => !DERIVED.has(t)),
  );
  const report: CopyReport = { tables: [], rows: 0, nulReplaced: 0 };

  await target.transaction().execute(async (trx) => {
    await refuseUnlessEmpty(trx, pgTables);
    // Emptied in one statement (an earlier copy, or a first start's key check), holding every table until the copy commits.
    await sql.raw(`truncate table ${pgTables.map(quote).join(", ")} restart identity`).execute(trx);
    // The findings' totals are counted once at the end, not by the per-row triggers: a million
    // updates of the same few rows in one transaction would each step over all their earlier versions.
    await sql`alter table findings disable trigger user`.execute(trx);
    await sql`alter table finding_sources disable trigger user`.execute(trx);
    await sql`alter table epss_scores disable trigger user`.execute(trx);
    for (const table of order) {
      const cols = columns.get(table)!;
      let rows = 0;
      let batch: Record<string, unknown>[] = [];
      let bytes = 0;
      const flush = async () => {
        if (!batch.length) return;
        const json = JSON.stringify(batch);
        try {
          await sql`insert into ${sql.table(table)} (${sql.join(cols.map((c) => sql.ref(c)))}) select ${sql.join(cols.map((c) => sql.ref(c)))} from json_populate_recordset(null::${sql.table(table)}, ${json}::json)`.execute(
            trx,
          );
        } catch (err) {
          throw new MigrationRefused(`Copying ${table} into PostgreSQL failed: ${(err as Error).message}. Nothing was copied; PostgreSQL is as it was.`);
        }
        batch = [];
        bytes = 0;
      };
      for (const row of source.prepare(`select * from ${quote(table)} order by ${orderOf(source, table)}`).iterate() as Iterable<Record<string, unknown>>) {
        for (const key of cols) {
          const value = row[key];
          if (typeof value === "string") {
            if (value.includes("\u0000")) {
              row[key] = value.replace(/\u0000/g, "\ufffd");
              report.nulReplaced++;
            }
            bytes += value.length;
          } else if (typeof value === "bigint" || Buffer.isBuffer(value)) {
            throw new MigrationRefused(`${table}.${key} holds a value PostgreSQL's column cannot take (${typeof value}). Please report this with the message.`);
          }
        }
        batch.push(row);
        rows++;
        if (batch.length >= 5000 || bytes >= 8_000_000) await flush();
      }
      await flush();
      const copied = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(trx)).rows[0]!.n);
      if (copied !== rows)
        throw new MigrationRefused(`${table}: ${rows} rows read from SQLite, but PostgreSQL holds ${copied}. Nothing was copied; please report this.`);
      report.tables.push({ name: table, rows });
      report.rows += rows;
      options.onTable?.(table, rows);
    }
    await sql`alter table findings enable trigger user`.execute(trx);
    await sql`alter table finding_sources enable trigger user`.execute(trx);
    await sql`alter table epss_scores enable trigger user`.execute(trx);
    await sql`insert into finding_counts (status, severity_rank, n) select status, severity_rank, count(*) from findings group by status, severity_rank`.execute(
      trx,
    );
    for (const statement of FACET_FILL) await sql.raw(statement).execute(trx);
    await sql.raw(resolutionFill(true)).execute(trx);
    await sql.raw(ASSET_COUNTS_FILL).execute(trx);
    await continueSequences(source, trx);
    await checkDerivedCounts(source, trx);
    const marker = JSON.stringify({ at: options.now.toISOString(), final: options.final, source: options.source });
    await sql`insert into meta (key, value) values (${COPY_MARKER}, ${marker})`.execute(trx);
  });
  // The planner's statistics for tables that were empty a moment ago, and the visibility map that
  // lets indexes answer counts without reading the rows (autovacuum would come to both later).
  await sql`vacuum analyze`.execute(target);
  return report;
}

/**
 * PostgreSQL must be empty, or hold an earlier copy that was not the final one (which the copy
 * replaces). Only the key check a first start writes may be there besides.
 */
async function refuseUnlessEmpty(trx: Kysely<any>, tables: string[]): Promise<void> {
  const marker = (await sql<{ value: string }>`select value from meta where key = ${COPY_MARKER}`.execute(trx)).rows[0]?.value;
  if (marker) {
    const earlier = JSON.parse(marker) as { at: string; final: boolean };
    if (earlier.final)
      throw new MigrationRefused(
        `This PostgreSQL database already holds the final copy (made ${earlier.at}), and Patchbay may have written to it since. ` +
          `To copy again, create an empty database and point DATABASE_URL at it.`,
      );
    return;
  }
  const filled: string[] = [];
  for (const table of tables) {
    if (table === "meta" || DERIVED.has(table)) continue;
    const any = await sql`select 1 from ${sql.table(table)} limit 1`.execute(trx);
    if (any.rows.length) filled.push(table);
  }
  const settings = await sql<{ key: string }>`select key from meta where key <> 'vault.key_check' limit 1`.execute(trx);
  if (settings.rows.length) filled.push("meta");
  if (filled.length)
    throw new MigrationRefused(
      `This PostgreSQL database is not empty (it has rows in ${filled.slice(0, 5).join(", ")}${filled.length > 5 ? ", …" : ""}). ` +
        `migrate-to-postgres copies into an empty database only: create one (for example createdb patchbay) and point DATABASE_URL at it. Nothing was changed.`,
    );
}

/** Tables ordered so that every table comes after those its foreign keys point to. */
function foreignKeyOrder(source: SQLite.Database, tables: string[]): string[] {
  const parents = new Map(
    tables.map((t) => [
      t,
      (source.prepare(`pragma foreign_key_list(${quote(t)})`).all() as { table: string }[]).map((fk) => fk.table).filter((p) => p !== t && tables.includes(p)),
    ]),
  );
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (t: string) => {
    if (ordered.includes(t)) return;
    if (visiting.has(t)) throw new MigrationRefused(`The tables' foreign keys form a cycle through ${t}. Please report this.`);
    visiting.add(t);
    for (const p of parents.get(t)!) visit(p);
    visiting.delete(t);
    ordered.push(t);
  };
  for (const t of tables) visit(t);
  return ordered;
}

/** A table's primary key (its rows' order, and how a row is told from another). */
function primaryKey(db: SQLite.Database, table: string, schema = "main"): string[] {
  return (db.prepare(`pragma ${schema}.table_info(${quote(table)})`).all() as { name: string; pk: number }[])
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => c.name);
}

function orderOf(db: SQLite.Database, table: string): string {
  const key = primaryKey(db, table);
  return key.length ? key.map(quote).join(", ") : "rowid";
}

/**
 * Each identity column's next value after the highest id SQLite ever gave (sqlite_sequence
 * remembers ids of rows since deleted, and an id is never given twice).
 */
async function continueSequences(source: SQLite.Database, trx: Kysely<any>): Promise<void> {
  const identities = (
    await sql<{
      table: string;
      column: string;
    }>`select table_name as "table", column_name as "column" from information_schema.columns where table_schema = current_schema() and is_identity = 'YES'`.execute(
      trx,
    )
  ).rows;
  const hasSequence = source.prepare("select 1 from sqlite_master where name = 'sqlite_sequence'").get();
  for (const { table, column } of identities) {
    const highest = Number(
      (source
        .prepare(`select max(${quote(column)}) from ${quote(table)}`)
        .pluck()
        .get() as number | null) ?? 0,
    );
    const given = hasSequence ? Number((source.prepare("select seq from sqlite_sequence where name = ?").pluck().get(table) as number | undefined) ?? 0) : 0;
    await sql`select setval(pg_get_serial_sequence(${quote(table)}, ${column}), ${Math.max(highest, given) + 1}, false)`.execute(trx);
  }
}

/** PostgreSQL's triggers counted the copied findings; their totals must be SQLite's. */
async function checkDerivedCounts(source: SQLite.Database, trx: Kysely<any>): Promise<void> {
  const key = (r: { status: string; severity_rank: number; n: number }) => `${r.status}/${r.severity_rank}=${r.n}`;
  const mine = (
    source.prepare("select status, severity_rank, n from finding_counts where n <> 0").all() as { status: string; severity_rank: number; n: number }[]
  )
    .map(key)
    .sort();
  const theirs = (
    await sql<{ status: string; severity_rank: number; n: number }>`select status, severity_rank, n from finding_counts where n <> 0`.execute(trx)
  ).rows
    .map(key)
    .sort();
  if (mine.join() !== theirs.join())
    throw new MigrationRefused(
      `The findings' totals differ after the copy (SQLite: ${mine.join(", ") || "none"}; PostgreSQL: ${theirs.join(", ") || "none"}). Nothing was copied; please report this.`,
    );
}

export interface Changes {
  added: number;
  changed: number;
  deleted: number;
  /** Tables with any change, and how many rows changed in each. */
  tables: { name: string; rows: number }[];
}

/**
 * What changed in the live SQLite database since the snapshot was taken: rows added, changed and
 * deleted, table by table (compared by primary key, over the columns both have).
 */
export function changesSince(livePath: string, snapshotPath: string): Changes {
  const live = new SQLite(livePath, { readonly: true, timeout: 5000 });
  try {
    live.prepare("attach database ? as snap").run(snapshotPath);
    const tables = live
      .prepare("select name from main.sqlite_master where type = 'table' and name in (select name from snap.sqlite_master where type = 'table') order by name")
      .pluck()
      .all()
      .map(String)
      .filter((name) => !OWN(name) && !DERIVED.has(name));
    const changes: Changes = { added: 0, changed: 0, deleted: 0, tables: [] };
    for (const table of tables) {
      const theirs = new Set((live.prepare(`pragma snap.table_info(${quote(table)})`).all() as { name: string }[]).map((c) => c.name));
      const cols = (live.prepare(`pragma main.table_info(${quote(table)})`).all() as { name: string }[])
        .map((c) => c.name)
        .filter((c) => theirs.has(c))
        .map(quote)
        .join(", ");
      const key = primaryKey(live, table).map(quote).join(", ") || "rowid";
      const count = (query: string) => Number(live.prepare(`select count(*) from (${query})`).pluck().get());
      const added = count(`select ${key} from main.${quote(table)} except select ${key} from snap.${quote(table)}`);
      const deleted = count(`select ${key} from snap.${quote(table)} except select ${key} from main.${quote(table)}`);
      const differing = count(`select ${cols} from main.${quote(table)} except select ${cols} from snap.${quote(table)}`);
      const changed = differing - added;
      if (added + changed + deleted === 0) continue;
      changes.added += added;
      changes.changed += changed;
      changes.deleted += deleted;
      changes.tables.push({ name: table, rows: added + changed + deleted });
    }
    return changes;
  } finally {
    live.close();
  }
}

/** Marks the SQLite database as moved, so that starting Patchbay on it again says so. */
export function markMoved(livePath: string, where: string, now: Date): void {
  const live = new SQLite(livePath, { timeout: 5000 });
  try {
    live
      .prepare("insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value")
      .run(MOVED_MARKER, JSON.stringify({ at: now.toISOString(), to: where }));
  } finally {
    live.close();
  }
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
