// The fix sweep's records (fix_proposals, written only here): the proposals waiting for an admin
// (Fixes to approve), the ones queued, dismissed or not possible; and the packages of a filtered
// table a "Propose fixes" page proposes for.
import type { Insertable, Selectable } from "kysely";
import type { Db, FixProposalState, FixProposalTable } from "../db/schema.js";
import { type FindingFilter, filterWhere } from "../findings/query.js";

/** A proposal as the pages list it, with its repository's name. */
export type FixProposalRow = Omit<Selectable<FixProposalTable>, "signature" | "created_at"> & { full_name: string };

export async function listFixProposals(db: Db, state: FixProposalState, limit: number): Promise<FixProposalRow[]> {
  return db
    .selectFrom("fix_proposals")
    .innerJoin("repositories", "repositories.id", "fix_proposals.repository_id")
    .select([
      "fix_proposals.id",
      "fix_proposals.repository_id",
      "repositories.full_name",
      "fix_proposals.package_lc",
      "fix_proposals.path",
      "fix_proposals.finding_id",
      "fix_proposals.state",
      "fix_proposals.branch",
      "fix_proposals.title",
      "fix_proposals.to_version",
      "fix_proposals.findings",
      "fix_proposals.reason",
      "fix_proposals.by",
      "fix_proposals.updated_at",
    ])
    .where("fix_proposals.state", "=", state)
    .orderBy("repositories.full_name")
    .orderBy("fix_proposals.package_lc")
    .orderBy("fix_proposals.path")
    .limit(limit)
    .execute();
}

export async function countFixProposals(db: Db): Promise<Record<FixProposalState, number>> {
  const rows = await db
    .selectFrom("fix_proposals")
    .select(["state", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("state")
    .execute();
  const out: Record<FixProposalState, number> = { waiting: 0, queued: 0, dismissed: 0, unfixable: 0 };
  for (const r of rows) out[r.state] = Number(r.n);
  return out;
}

export async function findFixProposal(db: Db, id: number) {
  return db.selectFrom("fix_proposals").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Dismissed: this version is not proposed again; a newer fixed version is. */
export async function dismissFixProposal(db: Db, id: number, by: string, now: Date): Promise<boolean> {
  const done = await db
    .updateTable("fix_proposals")
    .set({ state: "dismissed", by, reason: null, updated_at: now.toISOString() })
    .where("id", "=", id)
    .where("state", "=", "waiting")
    .executeTakeFirst();
  return Number(done.numUpdatedRows) === 1;
}

/**
 * The (repository, package) pairs among the table's matching findings that a fix could reach
 * (open or in remediation, in a repository, with a fixed version), most severe first: one
 * finding of each, which the proposal is computed from.
 */
export async function fixablePackages(db: Db, filter: FindingFilter, limit: number): Promise<{ findingId: number; fullName: string; package: string }[]> {
  const rows = await db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .innerJoin("repositories", "repositories.id", "assets.repository_id")
    .select([
      "repositories.full_name",
      "findings.package_lc",
      (eb) => eb.fn.min("findings.id").as("finding_id"),
      (eb) => eb.fn.min("findings.package").as("package"),
      (eb) => eb.fn.max("findings.severity_rank").as("rank"),
    ])
    .where(filterWhere(filter))
    .where("findings.status", "in", ["open", "in_remediation"])
    .where("findings.fixed_version", "is not", null)
    .groupBy(["repositories.full_name", "findings.package_lc"])
    .orderBy("rank", "desc")
    .orderBy("repositories.full_name")
    .orderBy("findings.package_lc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ findingId: Number(r.finding_id), fullName: r.full_name, package: String(r.package) }));
}

export function deleteFixProposals(db: Db, ids: number[]) {
  return ids.length ? db.deleteFrom("fix_proposals").where("id", "in", ids).execute() : Promise.resolve([]);
}

/** A package's proposals as the sweep computed them now: the ones it no longer makes go, the others are written. */
export async function saveProposals(db: Db, rows: Insertable<FixProposalTable>[], gone: number[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await deleteFixProposals(trx, gone);
    for (const row of rows) {
      await trx
        .insertInto("fix_proposals")
        .values(row)
        .onConflict((oc) =>
          oc.columns(["repository_id", "package_lc", "path"]).doUpdateSet({
            finding_id: row.finding_id,
            signature: row.signature,
            state: row.state,
            branch: row.branch,
            title: row.title,
            to_version: row.to_version,
            findings: row.findings,
            reason: row.reason,
            by: row.by,
            updated_at: row.updated_at,
          }),
        )
        .execute();
    }
  });
}

/** Why a waiting proposal waits (the repository's limit of open fix pull requests). */
export async function noteWaiting(db: Db, id: number, reason: string): Promise<void> {
  await db.updateTable("fix_proposals").set({ reason }).where("id", "=", id).execute();
}

export async function markQueued(db: Db, id: number, by: string, now: Date): Promise<void> {
  await db.updateTable("fix_proposals").set({ state: "queued", by, reason: null, updated_at: now.toISOString() }).where("id", "=", id).execute();
}

/** A queued proposal that could not be opened (the repository or its findings changed): why, on Fixes to approve. */
export async function markUnfixable(db: Db, findingId: number, path: string, reason: string, now: Date): Promise<void> {
  await db
    .updateTable("fix_proposals")
    .set({ state: "unfixable", reason, updated_at: now.toISOString() })
    .where("finding_id", "=", findingId)
    .where("path", "=", path)
    .where("state", "=", "queued")
    .execute();
}
