// The remediations table family: pull/merge requests and the findings each fixes.
import type { PullRequestEvent } from "../connectors/types.js";
import type { Db, RemediationState } from "../db/schema.js";
import type { Fix } from "./fixes.js";

/** The latest remediations (in one state, or all), each with its repository's name and the findings it fixes, worst first. */
export async function listRemediations(db: Db, opts: { state?: RemediationState; id?: number; limit: number }) {
  let query = db
    .selectFrom("remediations")
    .innerJoin("repositories", "repositories.id", "remediations.repository_id")
    .selectAll("remediations")
    .select(["repositories.full_name as repository"])
    .orderBy("remediations.updated_at", "desc")
    .orderBy("remediations.id", "desc")
    .limit(opts.limit);
  if (opts.state) query = query.where("remediations.state", "=", opts.state);
  if (opts.id !== undefined) query = query.where("remediations.id", "=", opts.id);
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
  const byRemediation = new Map<number, typeof links>();
  for (const l of links) byRemediation.set(l.remediation_id, [...(byRemediation.get(l.remediation_id) ?? []), l]);
  return rows.map((r) => ({ ...r, findings: byRemediation.get(r.id) ?? [] }));
}

/** Records a pull request's latest state (a new remediation, or the one this repository and number already have). */
export async function saveRemediation(
  db: Db,
  at: { integrationId: number; repositoryId: number },
  pr: Pick<PullRequestEvent, "number" | "title" | "url" | "sourceBranch" | "author" | "outside">,
  state: RemediationState,
  stamp: string,
): Promise<{ id: number; existed: boolean }> {
  const fields = {
    title: pr.title,
    url: pr.url,
    source_branch: pr.sourceBranch,
    author: pr.author,
    outside: pr.outside,
    state,
    updated_at: stamp,
    merged_at: state === "merged" ? stamp : null,
    closed_at: state === "open" ? null : stamp,
  };
  // Inserted unless it exists (two deliveries of one pull request's events, in two processes, race here).
  const inserted = await db
    .insertInto("remediations")
    .values({ integration_id: at.integrationId, repository_id: at.repositoryId, number: pr.number, created_at: stamp, ...fields })
    .onConflict((oc) => oc.columns(["repository_id", "number"]).doNothing())
    .returning("id")
    .executeTakeFirst();
  if (inserted) return { id: inserted.id, existed: false };
  const existing = await db
    .selectFrom("remediations")
    .select("id")
    .where("repository_id", "=", at.repositoryId)
    .where("number", "=", pr.number)
    .executeTakeFirstOrThrow();
  await db.updateTable("remediations").set(fields).where("id", "=", existing.id).execute();
  return { id: existing.id, existed: true };
}

/** Records which findings a remediation fixes, and why; a finding already recorded keeps its first reason. */
export async function addFixes(db: Db, remediationId: number, fixes: Fix[]): Promise<void> {
  for (const fix of fixes) {
    await db
      .insertInto("remediation_findings")
      .values({ remediation_id: remediationId, finding_id: fix.findingId, reason: fix.reason })
      .onConflict((oc) => oc.columns(["remediation_id", "finding_id"]).doNothing())
      .execute();
  }
}

/** The findings a remediation fixes. */
export async function findingsFixedBy(db: Db, remediationId: number): Promise<number[]> {
  return (await db.selectFrom("remediation_findings").select("finding_id").where("remediation_id", "=", remediationId).execute()).map((r) => r.finding_id);
}

/** Of these findings, those another open remediation (not this one) also fixes. */
export async function coveredByOtherOpen(db: Db, findingIds: number[], remediationId: number): Promise<Set<number>> {
  if (findingIds.length === 0) return new Set();
  const rows = await db
    .selectFrom("remediation_findings")
    .innerJoin("remediations", "remediations.id", "remediation_findings.remediation_id")
    .select("remediation_findings.finding_id")
    .where("remediation_findings.finding_id", "in", findingIds)
    .where("remediations.state", "=", "open")
    .where("remediations.id", "!=", remediationId)
    .execute();
  return new Set(rows.map((r) => r.finding_id));
}
