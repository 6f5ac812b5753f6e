// Findings counted by status and severity per CVE, per package, per scanner and per day of their
// SLA deadline (finding_facets,
// migration 0050): counted from scratch here, kept by triggers from then on.

/** The statements that count the facets from the findings and their scanner records (into an empty table). */
export const FACET_FILL = [
  `INSERT INTO finding_facets (facet, key, status, severity_rank, n)
     SELECT 'cve', cve, status, severity_rank, count(*) FROM findings GROUP BY cve, status, severity_rank`,
  `INSERT INTO finding_facets (facet, key, status, severity_rank, n)
     SELECT 'package', package_lc, status, severity_rank, count(*) FROM findings GROUP BY package_lc, status, severity_rank`,
  `INSERT INTO finding_facets (facet, key, status, severity_rank, n)
     SELECT 'due', substr(due_at, 1, 10), status, severity_rank, count(*) FROM findings WHERE due_at IS NOT NULL GROUP BY substr(due_at, 1, 10), status, severity_rank`,
  `INSERT INTO finding_facets (facet, key, status, severity_rank, n)
     SELECT 'scanner', CAST(s.integration_id AS TEXT), f.status, f.severity_rank, count(*)
       FROM (SELECT DISTINCT finding_id, integration_id FROM finding_sources) s JOIN findings f ON f.id = s.finding_id
       GROUP BY s.integration_id, f.status, f.severity_rank`,
];
