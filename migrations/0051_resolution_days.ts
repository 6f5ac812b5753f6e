// Resolved findings by the day they were resolved and their severity — how many, their days to
// resolve summed, how many had an SLA deadline and met it — kept by triggers: Trends' time to
// remediate sums 90 rows per severity instead of reading every finding resolved in 90 days
// (142 ms at a million findings). SQLite keeps it with row triggers, PostgreSQL with statement
// triggers over transition tables.
import { type Kysely, PostgresAdapter, sql } from "kysely";
import { resolutionFill } from "../src/db/facets.js";

/** A row's contribution, as (day, severity, n, days, with_sla, within_sla), for a row named `r` that is resolved. */
const contribution = (r: string, days: string, sign: string) =>
  `substr(${r}.resolved_at, 1, 10), ${r}.severity, ${sign}1, ${sign}(${days}),
   ${sign}(CASE WHEN ${r}.due_at IS NOT NULL THEN 1 ELSE 0 END), ${sign}(CASE WHEN ${r}.due_at IS NOT NULL AND ${r}.resolved_at <= ${r}.due_at THEN 1 ELSE 0 END)`;
const counted = (r: string) => `${r}.status = 'resolved' AND ${r}.resolved_at IS NOT NULL`;
const upsert = `ON CONFLICT (day, severity) DO UPDATE SET n = resolution_days.n + excluded.n, days = resolution_days.days + excluded.days,
   with_sla = resolution_days.with_sla + excluded.with_sla, within_sla = resolution_days.within_sla + excluded.within_sla`;

const sqliteDays = (r: string) => `julianday(${r}.resolved_at) - julianday(${r}.first_detected_at)`;
const SQLITE = [
  `CREATE TABLE resolution_days (day TEXT NOT NULL, severity TEXT NOT NULL, n INTEGER NOT NULL, days REAL NOT NULL, with_sla INTEGER NOT NULL,
     within_sla INTEGER NOT NULL, PRIMARY KEY (day, severity)) WITHOUT ROWID`,
  resolutionFill(false),
  `CREATE TRIGGER resolution_days_insert AFTER INSERT ON findings WHEN ${counted("new")} BEGIN
     INSERT INTO resolution_days (day, severity, n, days, with_sla, within_sla) SELECT ${contribution("new", sqliteDays("new"), "")} WHERE true ${upsert};
   END`,
  `CREATE TRIGGER resolution_days_delete AFTER DELETE ON findings WHEN ${counted("old")} BEGIN
     INSERT INTO resolution_days (day, severity, n, days, with_sla, within_sla) SELECT ${contribution("old", sqliteDays("old"), "-")} WHERE true ${upsert};
   END`,
  `CREATE TRIGGER resolution_days_update AFTER UPDATE OF status, resolved_at, first_detected_at, due_at, severity ON findings
     WHEN (${counted("old")} OR ${counted("new")}) AND (old.status IS NOT new.status OR old.resolved_at IS NOT new.resolved_at
       OR old.first_detected_at IS NOT new.first_detected_at OR old.due_at IS NOT new.due_at OR old.severity IS NOT new.severity) BEGIN
     INSERT INTO resolution_days (day, severity, n, days, with_sla, within_sla) SELECT ${contribution("old", sqliteDays("old"), "-")} WHERE ${counted("old")} ${upsert};
     INSERT INTO resolution_days (day, severity, n, days, with_sla, within_sla) SELECT ${contribution("new", sqliteDays("new"), "")} WHERE ${counted("new")} ${upsert};
   END`,
];

const pgDays = (r: string) => `extract(epoch from (${r}.resolved_at::timestamptz - ${r}.first_detected_at::timestamptz)) / 86400.0`;
/** Adds the rows' signed contributions (a query of day, severity, n, days, with_sla, within_sla) to the table, grouped. */
const apply = (rows: string) => `INSERT INTO resolution_days (day, severity, n, days, with_sla, within_sla)
     SELECT day, severity, sum(n), sum(days), sum(with_sla), sum(within_sla) FROM (${rows}) c (day, severity, n, days, with_sla, within_sla)
       GROUP BY day, severity HAVING sum(n) <> 0 OR sum(days) <> 0 OR sum(with_sla) <> 0 OR sum(within_sla) <> 0
     ${upsert}`;
const POSTGRES = [
  `CREATE TABLE resolution_days (day text COLLATE "C" NOT NULL, severity text COLLATE "C" NOT NULL, n bigint NOT NULL, days double precision NOT NULL,
     with_sla bigint NOT NULL, within_sla bigint NOT NULL, PRIMARY KEY (day, severity))`,
  resolutionFill(true),
  `CREATE FUNCTION resolution_days_added() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT ${contribution("r", pgDays("r"), "")} FROM new_rows r WHERE ${counted("r")}`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION resolution_days_removed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT ${contribution("r", pgDays("r"), "-")} FROM old_rows r WHERE ${counted("r")}`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION resolution_days_moved() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT ${contribution("r", pgDays("r"), "-")} FROM old_rows r WHERE ${counted("r")}
              UNION ALL SELECT ${contribution("r", pgDays("r"), "")} FROM new_rows r WHERE ${counted("r")}`)};
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER resolution_days_insert AFTER INSERT ON findings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resolution_days_added()`,
  `CREATE TRIGGER resolution_days_delete AFTER DELETE ON findings REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION resolution_days_removed()`,
  `CREATE TRIGGER resolution_days_update AFTER UPDATE ON findings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resolution_days_moved()`,
];

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  for (const statement of postgres ? POSTGRES : SQLITE) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) throw new Error("Not undone on PostgreSQL: restore the dump taken before the upgrade.");
  for (const t of ["insert", "delete", "update"]) await sql.raw(`DROP TRIGGER resolution_days_${t}`).execute(db);
  await sql`DROP TABLE resolution_days`.execute(db);
}
