// The few things SQLite and PostgreSQL spell differently, in one place (callers never branch on
// the database): date arithmetic over the ISO-8601 text timestamps Patchbay stores. Everything
// else is written once with Kysely's builders or in SQL both accept (string_agg, lower … like,
// on conflict, returning).
import { type Kysely, PostgresAdapter, type RawBuilder, sql } from "kysely";

export type DialectName = "sqlite" | "postgres";

export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/** Days from one ISO timestamp column to another, with the fraction of a day. */
export function daysBetween(db: Kysely<any>, from: string, to: string): RawBuilder<number> {
  return dialectOf(db) === "postgres"
    ? sql<number>`(extract(epoch from (${sql.ref(to)}::timestamptz - ${sql.ref(from)}::timestamptz)) / 86400.0)`
    : sql<number>`(julianday(${sql.ref(to)}) - julianday(${sql.ref(from)}))`;
}

/** An ISO timestamp column plus whole days, as the same ISO text (UTC, milliseconds, Z). */
export function plusDays(db: Kysely<any>, column: string, days: number): RawBuilder<string> {
  if (!Number.isSafeInteger(days)) throw new Error(`plusDays: ${days} is not a whole number of days`);
  return dialectOf(db) === "postgres"
    ? sql<string>`to_char((${sql.ref(column)}::timestamptz + make_interval(days => ${days})) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', ${sql.ref(column)}, ${`+${days} days`})`;
}
