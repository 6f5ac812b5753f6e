// PostgreSQL: the findings' totals (finding_counts) kept by one statement per statement, not one
// per row. A page of 500 imported findings made 500 updates of the same few counter rows in one
// transaction, each stepping over the earlier versions of that row; now each INSERT, UPDATE or
// DELETE on findings adds its rows' totals by status and severity at once, from its transition
// tables. The totals are those the row triggers kept (SQLite keeps its own row triggers).
import { type Kysely, PostgresAdapter, sql } from "kysely";

const STATEMENTS = [
  `DROP TRIGGER finding_counts_insert ON findings`,
  `DROP TRIGGER finding_counts_delete ON findings`,
  `DROP TRIGGER finding_counts_update ON findings`,
  `CREATE FUNCTION finding_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO finding_counts (status, severity_rank, n)
       SELECT status, severity_rank, count(*) FROM new_rows GROUP BY status, severity_rank
       ON CONFLICT (status, severity_rank) DO UPDATE SET n = finding_counts.n + excluded.n;
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     UPDATE finding_counts c SET n = c.n - gone.n
       FROM (SELECT status, severity_rank, count(*) AS n FROM old_rows GROUP BY status, severity_rank) gone
       WHERE c.status = gone.status AND c.severity_rank = gone.severity_rank;
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     INSERT INTO finding_counts (status, severity_rank, n)
       SELECT status, severity_rank, sum(d) FROM (
         SELECT status, severity_rank, -1 AS d FROM old_rows
         UNION ALL SELECT status, severity_rank, 1 FROM new_rows
       ) moved GROUP BY status, severity_rank HAVING sum(d) <> 0
       ON CONFLICT (status, severity_rank) DO UPDATE SET n = finding_counts.n + excluded.n;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER finding_counts_insert AFTER INSERT ON findings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_counts_added()`,
  `CREATE TRIGGER finding_counts_delete AFTER DELETE ON findings REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_counts_removed()`,
  `CREATE TRIGGER finding_counts_update AFTER UPDATE ON findings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_counts_moved()`,
  `DROP FUNCTION finding_counts_keep()`,
];

export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  throw new Error("Not undone on PostgreSQL: restore the dump taken before the upgrade.");
}
