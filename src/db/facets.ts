// Findings counted by status and severity per CVE, per package, per scanner, per day of their SLA
// deadline and per EPSS band of their CVE (finding_facets,
// migration 0050): counted from scratch here, kept by triggers from then on.

/**
 * The EPSS band of a score as the facets key it: '3' from 50%, '2' from 10%, '1' from 1%, '0' below
 * — the thresholds the Vulnerabilities page offers (EPSS_THRESHOLDS, held together by a test).
 */
export const EPSS_BANDS = [0.01, 0.1, 0.5];
export function epssBand(score: string): string {
  return `(CASE WHEN ${score} >= 0.5 THEN '3' WHEN ${score} >= 0.1 THEN '2' WHEN ${score} >= 0.01 THEN '1' ELSE '0' END)`;
}

/** The statements that count the facets from the findings, their scanner records and the EPSS scores (into an empty table). */
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
  `INSERT INTO finding_facets (facet, key, status, severity_rank, n)
     SELECT 'epss', ${epssBand("e.score")}, f.status, f.severity_rank, count(*) FROM findings f JOIN epss_scores e ON e.cve = f.cve
       GROUP BY ${epssBand("e.score")}, f.status, f.severity_rank`,
];

/** Counts the resolved findings by the day they were resolved and their severity (into an empty resolution_days). */
export function resolutionFill(postgres: boolean): string {
  const days = postgres
    ? "extract(epoch from (resolved_at::timestamptz - first_detected_at::timestamptz)) / 86400.0"
    : "julianday(resolved_at) - julianday(first_detected_at)";
  return `INSERT INTO resolution_days (day, severity, n, days, with_sla, within_sla)
     SELECT substr(resolved_at, 1, 10), severity, count(*), sum(${days}),
            sum(CASE WHEN due_at IS NOT NULL THEN 1 ELSE 0 END), sum(CASE WHEN due_at IS NOT NULL AND resolved_at <= due_at THEN 1 ELSE 0 END)
       FROM findings WHERE status = 'resolved' AND resolved_at IS NOT NULL GROUP BY substr(resolved_at, 1, 10), severity`;
}

/** Counts the findings by asset, status and severity (into an empty asset_counts, migration 0052). */
export const ASSET_COUNTS_FILL = `INSERT INTO asset_counts (asset_id, status, severity_rank, n)
     SELECT asset_id, status, severity_rank, count(*) FROM findings GROUP BY asset_id, status, severity_rank`;
