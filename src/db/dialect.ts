// The few things SQLite and PostgreSQL spell differently, in one place (callers never branch on
// the database): date arithmetic over the ISO-8601 text timestamps Patchbay stores, inserts of
// many rows at once, and rows nested as JSON in a query's result. Everything
// else is written once with Kysely's builders or in SQL both accept (string_agg, lower … like,
// on conflict, returning).
import {
  CompiledQuery,
  type Insertable,
  type InsertQueryBuilder,
  type InsertResult,
  type Kysely,
  PostgresAdapter,
  type RawBuilder,
  type SelectQueryBuilder,
  sql,
} from "kysely";
import { jsonArrayFrom as postgresArray, jsonObjectFrom as postgresObject } from "kysely/helpers/postgres";
import { jsonArrayFrom as sqliteArray, jsonObjectFrom as sqliteObject } from "kysely/helpers/sqlite";
import type { Database } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/**
 * An insert of many rows (a page of findings, their scanner records, their history), to which
 * the caller adds on conflict and returning. On PostgreSQL the rows travel as one JSON parameter
 * (json_populate_recordset) instead of one parameter per value: thousands of parameters cost
 * more to send, bind and plan than the insert itself. Rows must name the same columns (a column
 * left out would be null there, not its default): otherwise, and on SQLite, plain VALUES.
 */
export function insertRows<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  rows: Insertable<Database[T]>[],
): InsertQueryBuilder<Database, T, InsertResult> {
  const columns = rows.length ? definedColumns(rows[0]!) : [];
  const uniform = rows.length > 1 && rows.every((row) => definedColumns(row).join() === columns.join());
  if (dialectOf(db) !== "postgres" || !uniform) return db.insertInto(table).values(rows);
  const refs = sql.join(columns.map((c) => sql.ref(c)));
  return db
    .insertInto(table)
    .columns(columns as never)
    .expression(sql`select ${refs} from json_populate_recordset(null::${sql.table(table)}, ${JSON.stringify(rows, wellFormed)}::json)`);
}

/**
 * insertRows, run: on conflict over `conflict` do nothing (when given), and the inserted rows back
 * (when `returning`). On SQLite, rows that name the same columns skip the query builder: the
 * statement's text depends only on the table, the columns and the number of rows, so it is written
 * once and its values bound in order (building and compiling the builder's tree cost an import of
 * a million findings about 8 s, for 12,000 statements of the same three shapes).
 */
export async function insertMany<T extends keyof Database & string, R = never>(
  db: Kysely<Database>,
  table: T,
  rows: Insertable<Database[T]>[],
  options: { conflict?: string[]; returning?: boolean } = {},
): Promise<R[]> {
  if (rows.length === 0) return [];
  const columns = definedColumns(rows[0]!);
  const uniform = rows.every((row) => definedColumns(row).join() === columns.join());
  if (dialectOf(db) === "postgres" || !uniform) {
    let query = insertRows(db, table, rows);
    if (options.conflict) query = query.onConflict((oc) => oc.columns(options.conflict as never).doNothing());
    return options.returning ? ((await query.returningAll().execute()) as R[]) : (await query.execute(), []);
  }
  const key = `${table}|${columns.join()}|${rows.length}|${options.conflict?.join() ?? ""}|${options.returning ? 1 : 0}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    const row = `(${columns.map(() => "?").join(", ")})`;
    text =
      `insert into ${quoted(table)} (${columns.map(quoted).join(", ")}) values ${Array.from(rows, () => row).join(", ")}` +
      (options.conflict ? ` on conflict (${options.conflict.map(quoted).join(", ")}) do nothing` : "") +
      (options.returning ? " returning *" : "");
    if (insertTexts.size >= 100) insertTexts.clear();
    insertTexts.set(key, text);
  }
  const values: unknown[] = [];
  for (const row of rows) for (const column of columns) values.push((row as Record<string, unknown>)[column]);
  const result = await db.executeQuery<R>(CompiledQuery.raw(text, values));
  return result.rows;
}

const insertTexts = new Map<string, string>();
const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
const definedColumns = (row: object) => Object.keys(row).filter((k) => (row as Record<string, unknown>)[k] !== undefined);

/**
 * column IN (values), for lists of hundreds (a page's record ids): on PostgreSQL one array
 * parameter (= any), which is planned in microseconds where hundreds of parameters took milliseconds.
 */
export function inList(db: Kysely<any>, column: string, values: readonly (string | number)[]): RawBuilder<boolean> {
  if (values.length === 0) return sql<boolean>`1 = 0`;
  return dialectOf(db) === "postgres" ? sql<boolean>`${sql.ref(column)} = any(${[...values]})` : sql<boolean>`${sql.ref(column)} in (${sql.join(values)})`;
}

/**
 * Text as PostgreSQL's json accepts it: a lone surrogate (a scanner's broken "\ud800" escape) is
 * U+FFFD, as the driver writes it in a parameter; in JSON text PostgreSQL refuses the whole document.
 */
function wellFormed(_key: string, value: unknown): unknown {
  return typeof value === "string" ? value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd") : value;
}

/**
 * A subquery's rows as one JSON array column (a page's detail and its lists in one statement,
 * not one round trip each). The subquery names its columns (SQLite's json_object needs them);
 * read the column with fromJson.
 */
export function jsonArrayFrom<O>(db: Kysely<any>, expr: SelectQueryBuilder<any, any, O>): RawBuilder<O[]> {
  return (dialectOf(db) === "postgres" ? postgresArray(expr) : sqliteArray(expr)) as RawBuilder<unknown> as RawBuilder<O[]>;
}

/** A subquery's one row (or null) as a JSON object column; read it with fromJson. */
export function jsonObjectFrom<O>(db: Kysely<any>, expr: SelectQueryBuilder<any, any, O>): RawBuilder<O | null> {
  return (dialectOf(db) === "postgres" ? postgresObject(expr) : sqliteObject(expr)) as RawBuilder<unknown> as RawBuilder<O | null>;
}

/** A column made by jsonArrayFrom or jsonObjectFrom: PostgreSQL's driver parses JSON, SQLite gives its text. */
export function fromJson<T>(value: T): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

/** Rows changed since a table's last ANALYZE before refreshStatistics analyzes it again, at the least. */
const STALE_ROWS = 1_000;

/**
 * After a batch of imported rows, PostgreSQL's planner statistics brought up to date for tables
 * that grew (or changed) by as much as they held when last analyzed. Autovacuum looks once a
 * minute; meanwhile an import into empty tables was planned as if they were still empty, and
 * each page's lookup of its records scanned every row imported so far (a 100,000-finding import
 * spent 5 of its 30 seconds there). SQLite plans without statistics: nothing to do.
 */
export async function refreshStatistics(db: Kysely<any>, tables: readonly string[]): Promise<void> {
  if (dialectOf(db) !== "postgres") return;
  const { rows } = await sql<{ name: string; changed: number; estimated: number }>`
    select c.relname as name, s.n_mod_since_analyze as changed, c.reltuples as estimated
    from pg_stat_user_tables s join pg_class c on c.oid = s.relid
    where s.schemaname = current_schema() and c.relname = any(${[...tables]})`.execute(db);
  const stale = rows.filter((r) => Number(r.changed) >= Math.max(STALE_ROWS, Number(r.estimated)));
  // Only the table's owner may analyze it (others get a warning, not an error); a failure leaves the planning to autovacuum.
  if (stale.length) await sql`analyze ${sql.join(stale.map((r) => sql.table(r.name)))}`.execute(db).catch(() => undefined);
}

/** A unique constraint refused the write (PostgreSQL's 23505, SQLite's SQLITE_CONSTRAINT_UNIQUE): another writer got there first. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE";
}
