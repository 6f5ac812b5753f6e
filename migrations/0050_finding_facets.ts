// Findings counted by status and severity per CVE, per package, per scanner, per day of their SLA
// deadline and per EPSS band of their CVE, kept by triggers as findings, their scanner records and
// EPSS scores are written: the Vulnerabilities page counts a CVE or package prefix, the KEV and
// EPSS filters, a scanner's findings and the overdue ones from these rows instead of reading the
// findings themselves (a scanner's findings at a million: 322 ms on SQLite, 519 on PostgreSQL).
//
// A finding counts once per scanner however many of that scanner's records it has. SQLite keeps
// the rows with row triggers; PostgreSQL with statement triggers over transition tables (an import
// writes 500 findings a statement), but a finding's deletion row by row before it happens: its
// scanner records go with it (ON DELETE CASCADE), after which its status is no longer there to read.
import { type Kysely, PostgresAdapter, sql } from "kysely";
import { FACET_FILL, epssBand } from "../src/db/facets.js";

const SQLITE = [
  `CREATE TABLE finding_facets (facet TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, severity_rank INTEGER NOT NULL, n INTEGER NOT NULL,
     PRIMARY KEY (facet, key, status, severity_rank)) WITHOUT ROWID`,
  ...FACET_FILL,
  `CREATE TRIGGER finding_facets_insert AFTER INSERT ON findings BEGIN
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'cve', new.cve, new.status, new.severity_rank, 1
       UNION ALL SELECT 'package', new.package_lc, new.status, new.severity_rank, 1
       UNION ALL SELECT 'due', substr(new.due_at, 1, 10), new.status, new.severity_rank, 1 WHERE new.due_at IS NOT NULL
       UNION ALL SELECT 'epss', ${epssBand("e.score")}, new.status, new.severity_rank, 1 FROM epss_scores e WHERE e.cve = new.cve
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + 1;
   END`,
  // Before the row goes: its scanner records are still there to say which scanners counted it.
  `CREATE TRIGGER finding_facets_delete BEFORE DELETE ON findings BEGIN
     UPDATE finding_facets SET n = n - 1
       WHERE status = old.status AND severity_rank = old.severity_rank
         AND ((facet = 'cve' AND key = old.cve) OR (facet = 'package' AND key = old.package_lc) OR (facet = 'due' AND key = substr(old.due_at, 1, 10))
           OR (facet = 'epss' AND key = (SELECT ${epssBand("e.score")} FROM epss_scores e WHERE e.cve = old.cve))
           OR (facet = 'scanner' AND key IN (SELECT CAST(integration_id AS TEXT) FROM finding_sources WHERE finding_id = old.id)));
   END`,
  // What moved: each facet whose key or counted status and severity changed (a deadline moved within its day changes none).
  `CREATE TRIGGER finding_facets_update AFTER UPDATE OF status, severity_rank, cve, package_lc, due_at ON findings
     WHEN old.status IS NOT new.status OR old.severity_rank IS NOT new.severity_rank OR old.cve IS NOT new.cve OR old.package_lc IS NOT new.package_lc
       OR substr(old.due_at, 1, 10) IS NOT substr(new.due_at, 1, 10) BEGIN
     UPDATE finding_facets SET n = n - 1
       WHERE status = old.status AND severity_rank = old.severity_rank
         AND ((facet = 'cve' AND key = old.cve) OR (facet = 'package' AND key = old.package_lc) OR (facet = 'due' AND key = substr(old.due_at, 1, 10))
           OR (facet = 'epss' AND key = (SELECT ${epssBand("e.score")} FROM epss_scores e WHERE e.cve = old.cve))
           OR (facet = 'scanner' AND key IN (SELECT CAST(integration_id AS TEXT) FROM finding_sources WHERE finding_id = new.id)));
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'cve', new.cve, new.status, new.severity_rank, 1
       UNION ALL SELECT 'package', new.package_lc, new.status, new.severity_rank, 1
       UNION ALL SELECT 'due', substr(new.due_at, 1, 10), new.status, new.severity_rank, 1 WHERE new.due_at IS NOT NULL
       UNION ALL SELECT 'epss', ${epssBand("e.score")}, new.status, new.severity_rank, 1 FROM epss_scores e WHERE e.cve = new.cve
       UNION ALL SELECT DISTINCT 'scanner', CAST(integration_id AS TEXT), new.status, new.severity_rank, 1 FROM finding_sources WHERE finding_id = new.id
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + 1;
   END`,
  // A scanner counts a finding with its first record of it, and stops with its last.
  `CREATE TRIGGER finding_facets_source_insert AFTER INSERT ON finding_sources
     WHEN NOT EXISTS (SELECT 1 FROM finding_sources s WHERE s.finding_id = new.finding_id AND s.integration_id = new.integration_id AND s.id <> new.id) BEGIN
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'scanner', CAST(new.integration_id AS TEXT), status, severity_rank, 1 FROM findings WHERE id = new.finding_id
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + 1;
   END`,
  `CREATE TRIGGER finding_facets_source_delete AFTER DELETE ON finding_sources
     WHEN NOT EXISTS (SELECT 1 FROM finding_sources s WHERE s.finding_id = old.finding_id AND s.integration_id = old.integration_id) BEGIN
     UPDATE finding_facets SET n = n - 1
       WHERE facet = 'scanner' AND key = CAST(old.integration_id AS TEXT)
         AND (status, severity_rank) IN (SELECT status, severity_rank FROM findings WHERE id = old.finding_id);
   END`,
  `CREATE TRIGGER finding_facets_source_update AFTER UPDATE OF finding_id, integration_id ON finding_sources
     WHEN old.finding_id IS NOT new.finding_id OR old.integration_id IS NOT new.integration_id BEGIN
     UPDATE finding_facets SET n = n - 1
       WHERE facet = 'scanner' AND key = CAST(old.integration_id AS TEXT)
         AND NOT EXISTS (SELECT 1 FROM finding_sources s WHERE s.finding_id = old.finding_id AND s.integration_id = old.integration_id)
         AND (status, severity_rank) IN (SELECT status, severity_rank FROM findings WHERE id = old.finding_id);
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'scanner', CAST(new.integration_id AS TEXT), status, severity_rank, 1 FROM findings
         WHERE id = new.finding_id
           AND NOT EXISTS (SELECT 1 FROM finding_sources s WHERE s.finding_id = new.finding_id AND s.integration_id = new.integration_id AND s.id <> new.id)
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + 1;
   END`,
  // A CVE's EPSS score moving to another band (or first scored, or gone) moves its findings' counts, read from its per-CVE rows.
  `CREATE TRIGGER finding_facets_epss_insert AFTER INSERT ON epss_scores BEGIN
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'epss', ${epssBand("new.score")}, c.status, c.severity_rank, c.n FROM finding_facets c WHERE c.facet = 'cve' AND c.key = new.cve AND c.n <> 0
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + excluded.n;
   END`,
  `CREATE TRIGGER finding_facets_epss_update AFTER UPDATE OF score ON epss_scores WHEN ${epssBand("old.score")} IS NOT ${epssBand("new.score")} BEGIN
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'epss', ${epssBand("old.score")}, c.status, c.severity_rank, -c.n FROM finding_facets c WHERE c.facet = 'cve' AND c.key = old.cve AND c.n <> 0
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + excluded.n;
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'epss', ${epssBand("new.score")}, c.status, c.severity_rank, c.n FROM finding_facets c WHERE c.facet = 'cve' AND c.key = new.cve AND c.n <> 0
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + excluded.n;
   END`,
  `CREATE TRIGGER finding_facets_epss_delete AFTER DELETE ON epss_scores BEGIN
     INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT 'epss', ${epssBand("old.score")}, c.status, c.severity_rank, -c.n FROM finding_facets c WHERE c.facet = 'cve' AND c.key = old.cve AND c.n <> 0
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = n + excluded.n;
   END`,
];

/** Adds signed counts (a query giving facet, key, status, severity_rank, d) to the rows. */
const apply = (deltas: string) => `INSERT INTO finding_facets (facet, key, status, severity_rank, n)
       SELECT facet, key, status, severity_rank, sum(d) FROM (${deltas}) deltas GROUP BY facet, key, status, severity_rank HAVING sum(d) <> 0
       ON CONFLICT (facet, key, status, severity_rank) DO UPDATE SET n = finding_facets.n + excluded.n`;

const POSTGRES = [
  `CREATE TABLE finding_facets (facet text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, status text NOT NULL, severity_rank integer NOT NULL,
     n bigint NOT NULL, PRIMARY KEY (facet, key, status, severity_rank))`,
  ...FACET_FILL,
  `CREATE FUNCTION finding_facets_added() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'cve' AS facet, cve AS key, status, severity_rank, 1 AS d FROM new_rows
              UNION ALL SELECT 'package', package_lc, status, severity_rank, 1 FROM new_rows
              UNION ALL SELECT 'due', substr(due_at, 1, 10), status, severity_rank, 1 FROM new_rows WHERE due_at IS NOT NULL
              UNION ALL SELECT 'epss', ${epssBand("e.score")}, r.status, r.severity_rank, 1 FROM new_rows r JOIN epss_scores e ON e.cve = r.cve`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_facets_removed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'cve' AS facet, cve AS key, status, severity_rank, -1 AS d FROM old_rows
              UNION ALL SELECT 'package', package_lc, status, severity_rank, -1 FROM old_rows
              UNION ALL SELECT 'due', substr(due_at, 1, 10), status, severity_rank, -1 FROM old_rows WHERE due_at IS NOT NULL
              UNION ALL SELECT 'epss', ${epssBand("e.score")}, r.status, r.severity_rank, -1 FROM old_rows r JOIN epss_scores e ON e.cve = r.cve`)};
     RETURN NULL;
   END $$`,
  // Row by row, before the finding goes (rare: a merge of two spellings of a package, a scanner removed).
  `CREATE FUNCTION finding_facets_removing() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     UPDATE finding_facets SET n = n - 1
       WHERE facet = 'scanner' AND status = OLD.status AND severity_rank = OLD.severity_rank
         AND key IN (SELECT DISTINCT integration_id::text FROM finding_sources WHERE finding_id = OLD.id);
     RETURN OLD;
   END $$`,
  `CREATE FUNCTION finding_facets_moved() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     WITH changed AS (
       SELECT o.id, o.status AS old_status, o.severity_rank AS old_rank, n.status AS new_status, n.severity_rank AS new_rank
         FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE o.status IS DISTINCT FROM n.status OR o.severity_rank IS DISTINCT FROM n.severity_rank
     ), changed_epss AS (
       SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE o.status IS DISTINCT FROM n.status OR o.severity_rank IS DISTINCT FROM n.severity_rank OR o.cve IS DISTINCT FROM n.cve
     )
     ${apply(`SELECT 'cve' AS facet, cve AS key, status, severity_rank, -1 AS d FROM old_rows
              UNION ALL SELECT 'package', package_lc, status, severity_rank, -1 FROM old_rows
              UNION ALL SELECT 'due', substr(due_at, 1, 10), status, severity_rank, -1 FROM old_rows WHERE due_at IS NOT NULL
              UNION ALL SELECT 'cve', cve, status, severity_rank, 1 FROM new_rows
              UNION ALL SELECT 'package', package_lc, status, severity_rank, 1 FROM new_rows
              UNION ALL SELECT 'due', substr(due_at, 1, 10), status, severity_rank, 1 FROM new_rows WHERE due_at IS NOT NULL
              UNION ALL SELECT 'epss', ${epssBand("e.score")}, o.status, o.severity_rank, -1 FROM changed_epss c JOIN old_rows o ON o.id = c.id JOIN epss_scores e ON e.cve = o.cve
              UNION ALL SELECT 'epss', ${epssBand("e.score")}, n.status, n.severity_rank, 1 FROM changed_epss c JOIN new_rows n ON n.id = c.id JOIN epss_scores e ON e.cve = n.cve
              UNION ALL SELECT 'scanner', s.integration_id::text, c.old_status, c.old_rank, -1 FROM changed c, LATERAL
                (SELECT DISTINCT integration_id FROM finding_sources WHERE finding_id = c.id) s
              UNION ALL SELECT 'scanner', s.integration_id::text, c.new_status, c.new_rank, 1 FROM changed c, LATERAL
                (SELECT DISTINCT integration_id FROM finding_sources WHERE finding_id = c.id) s`)};
     RETURN NULL;
   END $$`,
  // Sources: a (finding, scanner) pair counts when its first record arrives and stops with its last.
  `CREATE FUNCTION finding_facets_sources_added() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'scanner' AS facet, p.integration_id::text AS key, f.status, f.severity_rank, 1 AS d
              FROM (SELECT finding_id, integration_id, count(*) AS added FROM new_rows GROUP BY finding_id, integration_id) p
              JOIN findings f ON f.id = p.finding_id
              WHERE (SELECT count(*) FROM finding_sources s WHERE s.finding_id = p.finding_id AND s.integration_id = p.integration_id) = p.added`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_facets_sources_removed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'scanner' AS facet, p.integration_id::text AS key, f.status, f.severity_rank, -1 AS d
              FROM (SELECT DISTINCT finding_id, integration_id FROM old_rows) p
              JOIN findings f ON f.id = p.finding_id
              WHERE NOT EXISTS (SELECT 1 FROM finding_sources s WHERE s.finding_id = p.finding_id AND s.integration_id = p.integration_id)`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_facets_sources_moved() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'scanner' AS facet, p.integration_id::text AS key, f.status, f.severity_rank, -1 AS d
              FROM (SELECT DISTINCT o.finding_id, o.integration_id FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE o.finding_id <> n.finding_id OR o.integration_id <> n.integration_id) p
              JOIN findings f ON f.id = p.finding_id
              WHERE NOT EXISTS (SELECT 1 FROM finding_sources s WHERE s.finding_id = p.finding_id AND s.integration_id = p.integration_id)
              UNION ALL
              SELECT 'scanner', p.integration_id::text, f.status, f.severity_rank, 1
              FROM (SELECT n.finding_id, n.integration_id, count(*) AS added FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE o.finding_id <> n.finding_id OR o.integration_id <> n.integration_id GROUP BY n.finding_id, n.integration_id) p
              JOIN findings f ON f.id = p.finding_id
              WHERE (SELECT count(*) FROM finding_sources s WHERE s.finding_id = p.finding_id AND s.integration_id = p.integration_id) = p.added`)};
     RETURN NULL;
   END $$`,
  // A CVE's EPSS score moving to another band (or first scored) moves its findings' counts, read from its per-CVE rows.
  `CREATE FUNCTION finding_facets_epss_added() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'epss' AS facet, ${epssBand("s.score")} AS key, c.status, c.severity_rank, c.n AS d
              FROM new_rows s JOIN finding_facets c ON c.facet = 'cve' AND c.key = s.cve WHERE c.n <> 0`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_facets_epss_removed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'epss' AS facet, ${epssBand("s.score")} AS key, c.status, c.severity_rank, -c.n AS d
              FROM old_rows s JOIN finding_facets c ON c.facet = 'cve' AND c.key = s.cve WHERE c.n <> 0`)};
     RETURN NULL;
   END $$`,
  `CREATE FUNCTION finding_facets_epss_moved() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     ${apply(`SELECT 'epss' AS facet, ${epssBand("o.score")} AS key, c.status, c.severity_rank, -c.n AS d
              FROM old_rows o JOIN new_rows n ON n.cve = o.cve JOIN finding_facets c ON c.facet = 'cve' AND c.key = o.cve
              WHERE c.n <> 0 AND ${epssBand("o.score")} <> ${epssBand("n.score")}
              UNION ALL SELECT 'epss', ${epssBand("n.score")}, c.status, c.severity_rank, c.n
              FROM old_rows o JOIN new_rows n ON n.cve = o.cve JOIN finding_facets c ON c.facet = 'cve' AND c.key = n.cve
              WHERE c.n <> 0 AND ${epssBand("o.score")} <> ${epssBand("n.score")}`)};
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER finding_facets_epss_insert AFTER INSERT ON epss_scores REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_epss_added()`,
  `CREATE TRIGGER finding_facets_epss_delete AFTER DELETE ON epss_scores REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_epss_removed()`,
  `CREATE TRIGGER finding_facets_epss_update AFTER UPDATE ON epss_scores REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_epss_moved()`,
  `CREATE TRIGGER finding_facets_insert AFTER INSERT ON findings REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_added()`,
  `CREATE TRIGGER finding_facets_delete AFTER DELETE ON findings REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_removed()`,
  `CREATE TRIGGER finding_facets_deleting BEFORE DELETE ON findings FOR EACH ROW EXECUTE FUNCTION finding_facets_removing()`,
  `CREATE TRIGGER finding_facets_update AFTER UPDATE ON findings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_moved()`,
  `CREATE TRIGGER finding_facets_source_insert AFTER INSERT ON finding_sources REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_sources_added()`,
  `CREATE TRIGGER finding_facets_source_delete AFTER DELETE ON finding_sources REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_sources_removed()`,
  `CREATE TRIGGER finding_facets_source_update AFTER UPDATE ON finding_sources REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_facets_sources_moved()`,
];

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  for (const statement of postgres ? POSTGRES : SQLITE) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) throw new Error("Not undone on PostgreSQL: restore the dump taken before the upgrade.");
  for (const t of ["insert", "delete", "update", "source_insert", "source_delete", "source_update", "epss_insert", "epss_update", "epss_delete"])
    await sql.raw(`DROP TRIGGER finding_facets_${t}`).execute(db);
  await sql`DROP TABLE finding_facets`.execute(db);
}
