// The remediations table family: pull/merge requests and the findings each fixes.
import type { Db, RemediationState } from "../db/schema.js";

/** The latest remediations (in one state, or all), each with its repository's name and the findings it fixes, worst first. */
export async function listRemediations(db: Db, opts: { state?: RemediationState; limit: number }) {
  let query = db
    .selectFrom("remediations")
    .innerJoin("repositories", "repositories.id", "remediations.repository_id")
    .selectAll("remediations")
    .select(["repositories.full_name as repository"])
    .orderBy("remediations.updated_at", "desc")
    .orderBy("remediations.id", "desc")
    .limit(opts.limit);
  if (opts.state) query = query.where("remediations.state", "=", opts.state);
  const rows = await query.execute();
  const links = rows.length
    ? await db
        .selectFrom("remediation_findings")
        .innerJoin("findings", "findings.id", "remediation_findings.finding_id")
        .select([
          "remediation_findings.remediation_id",
          "remediation_findings.reason",
          "findings.id",
          "findings.cve",
          "findings.package",
          "findings.severity",
          "findings.status",
        ])
        .where(
          "remediation_findings.remediation_id",
          "in",
          rows.map((r) => r.id),
        )
        .orderBy("findings.severity_rank", "desc")
        .execute()
    : [];
  return rows.map((r) => ({ ...r, findings: links.filter((l) => l.remediation_id === r.id) }));
}
