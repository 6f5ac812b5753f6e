// Substring search in a column, in any case: the user's text is a literal, never a pattern (% and
// _ match themselves), on SQLite and PostgreSQL alike (lower() on both sides: PostgreSQL's like
// is case-sensitive, SQLite's is not).
import { type RawBuilder, sql } from "kysely";

export function contains(column: string, text: string): RawBuilder<boolean> {
  return sql<boolean>`lower(${sql.ref(column)}) like lower(${`%${text.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%`}) escape '\\'`;
}
