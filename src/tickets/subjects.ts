// What a ticket is about: one finding, or a finding group (by package, by CVE, by asset, or by
// owning team and package), and which findings an assignment covers. Subject keys are stable strings, so a
// ticket row, a push job and an error row all name the same subject the same way.
import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import type { Database, Db, Finding, GroupBy, TrackerAssignment } from "../db/schema.js";
import { SEVERITY_RANK } from "../findings/normalize.js";

export const OPEN_STATUSES = ["open", "in_remediation"] as const;

/** A finding as subject keys read it: with its repository's owning team when grouping by owner ("" when none). */
export type Keyed = Pick<Finding, "id" | "ecosystem" | "package_lc" | "cve" | "asset_id"> & { owner?: string | null };

export function subjectKeyOf(groupBy: GroupBy, finding: Keyed): string {
  switch (groupBy) {
    case "owner":
      return `owner:${encodeURIComponent(finding.owner ?? "")}:${finding.ecosystem ?? ""}:${finding.package_lc}`;
    case "finding":
      return `finding:${finding.id}`;
    case "package":
      return `package:${finding.ecosystem ?? ""}:${finding.package_lc}`;
    case "cve":
      return `cve:${finding.cve}`;
    case "asset":
      return `asset:${finding.asset_id}`;
  }
}

export type Subject =
  | { groupBy: "finding"; findingId: number }
  | { groupBy: "package"; ecosystem: string | null; packageLc: string }
  | { groupBy: "cve"; cve: string }
  | { groupBy: "asset"; assetId: number }
  /** Owner "" : findings of repositories without an owner (and of images without a repository). */
  | { groupBy: "owner"; owner: string; ecosystem: string | null; packageLc: string };

export function parseSubjectKey(key: string): Subject | undefined {
  const [kind, ...rest] = key.split(":");
  const tail = rest.join(":");
  if (kind === "finding" && /^\d+$/.test(tail)) return { groupBy: "finding", findingId: Number(tail) };
  if (kind === "asset" && /^\d+$/.test(tail)) return { groupBy: "asset", assetId: Number(tail) };
  if (kind === "cve" && tail) return { groupBy: "cve", cve: tail };
  if (kind === "package" && rest.length >= 2) return { groupBy: "package", ecosystem: rest[0] || null, packageLc: rest.slice(1).join(":") };
  if (kind === "owner" && rest.length >= 3) {
    try {
      return { groupBy: "owner", owner: decodeURIComponent(rest[0]!), ecosystem: rest[1] || null, packageLc: rest.slice(2).join(":") };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

type FindingsEb = ExpressionBuilder<Database, "findings">;

/** The finding's asset's repository, when it has an owner. */
const ownedAsset = (eb: FindingsEb) =>
  eb
    .selectFrom("assets")
    .innerJoin("repositories", "repositories.id", "assets.repository_id")
    .select("assets.id")
    .whereRef("assets.id", "=", "findings.asset_id")
    .where("repositories.owner", "is not", null);

/** The finding's owning team (its repository's owner), as a column for subjectKeyOf. */
export const ownerColumn = (eb: FindingsEb) =>
  eb
    .selectFrom("assets")
    .innerJoin("repositories", "repositories.id", "assets.repository_id")
    .select("repositories.owner")
    .whereRef("assets.id", "=", "findings.asset_id")
    .as("owner");

/** The findings of a group (or the one finding). */
export function subjectPredicate(subject: Subject) {
  return (eb: FindingsEb): Expression<SqlBool> => {
    switch (subject.groupBy) {
      case "finding":
        return eb("findings.id", "=", subject.findingId);
      case "asset":
        return eb("findings.asset_id", "=", subject.assetId);
      case "cve":
        return eb("findings.cve", "=", subject.cve);
      case "package":
        return eb.and([
          eb("findings.package_lc", "=", subject.packageLc),
          subject.ecosystem === null ? eb("findings.ecosystem", "is", null) : eb("findings.ecosystem", "=", subject.ecosystem),
        ]);
      case "owner":
        return eb.and([
          eb("findings.package_lc", "=", subject.packageLc),
          subject.ecosystem === null ? eb("findings.ecosystem", "is", null) : eb("findings.ecosystem", "=", subject.ecosystem),
          subject.owner === "" ? eb.not(eb.exists(ownedAsset(eb))) : eb.exists(ownedAsset(eb).where("repositories.owner", "=", subject.owner)),
        ]);
    }
  };
}

export function repositoryIds(assignment: Pick<TrackerAssignment, "repository_ids">): number[] | null {
  return assignment.repository_ids ? (JSON.parse(assignment.repository_ids) as number[]) : null;
}

/**
 * The findings an assignment covers: its repositories (or all) at or above its minimum severity,
 * that the remediation policy lets go to its mapping (not "do not push", nor "push only to"
 * another mapping).
 */
export function assignmentScope(assignment: Pick<TrackerAssignment, "repository_ids" | "min_severity" | "mapping_id">) {
  const repos = repositoryIds(assignment);
  return (eb: FindingsEb): Expression<SqlBool> => {
    const parts: Expression<SqlBool>[] = [
      eb("findings.severity_rank", ">=", SEVERITY_RANK[assignment.min_severity]),
      eb.or([eb("findings.policy_push", "is", null), eb("findings.policy_push", "=", `mapping:${assignment.mapping_id}`)]),
    ];
    if (repos) {
      parts.push(
        eb.exists(
          eb
            .selectFrom("assets")
            .select("assets.id")
            .whereRef("assets.id", "=", "findings.asset_id")
            .where("assets.repository_id", "in", repos.length ? repos : [-1]),
        ),
      );
    }
    return eb.and(parts);
  };
}

/**
 * assignmentScope for one finding already read, given its asset's repository: the same rule,
 * checked without a statement (a test holds the two together).
 */
export function assignmentCovers(
  assignment: Pick<TrackerAssignment, "repository_ids" | "min_severity" | "mapping_id">,
  finding: Pick<Finding, "severity_rank" | "policy_push">,
  repositoryId: number | null,
): boolean {
  if (finding.severity_rank < SEVERITY_RANK[assignment.min_severity]) return false;
  if (finding.policy_push !== null && finding.policy_push !== `mapping:${assignment.mapping_id}`) return false;
  const repos = repositoryIds(assignment);
  return repos === null || (repositoryId !== null && repos.includes(repositoryId));
}

/** Does the finding fall in any of these assignments? */
export function anyAssignmentScope(assignments: Pick<TrackerAssignment, "repository_ids" | "min_severity" | "mapping_id">[]) {
  return (eb: FindingsEb): Expression<SqlBool> => eb.or(assignments.map((a) => assignmentScope(a)(eb)));
}

/**
 * The findings a subject's ticket covers now: the subject's open findings inside the
 * mapping's assignments, plus those already on the ticket (so a group is done once every
 * finding on it is resolved, without gathering long-resolved ones).
 */
export async function subjectFindingIds(db: Db, mappingId: number, subjectKey: string, ticketId: number | undefined): Promise<number[]> {
  const subject = parseSubjectKey(subjectKey);
  if (!subject) return [];
  if (subject.groupBy === "finding") {
    const found = await db.selectFrom("findings").select("id").where("id", "=", subject.findingId).executeTakeFirst();
    return found ? [found.id] : [];
  }
  const assignments = await db
    .selectFrom("tracker_assignments")
    .selectAll()
    .where("mapping_id", "=", mappingId)
    .where("group_by", "=", subject.groupBy)
    .execute();
  const current = assignments.length
    ? await db
        .selectFrom("findings")
        .select("findings.id")
        .where(subjectPredicate(subject))
        .where("findings.status", "in", [...OPEN_STATUSES])
        .where(anyAssignmentScope(assignments))
        .execute()
    : [];
  const onTicket = ticketId ? await db.selectFrom("ticket_findings").select("finding_id as id").where("ticket_id", "=", ticketId).execute() : [];
  return [...new Set([...current, ...onTicket].map((r) => r.id))].sort((a, b) => a - b);
}
