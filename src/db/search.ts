// Substring search in a column: the user's text is a literal, never a pattern (% and _ match
// themselves), on SQLite and PostgreSQL alike.
import { type RawBuilder, sql } from "kysely";

export function contains(column: string, text: string): RawBuilder<boolean> {
  return sql<boolean>`${sql.ref(column)} like ${`%${text.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%`} escape '\\'`;
}
