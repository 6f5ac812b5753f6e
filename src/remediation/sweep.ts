// Job `remediation.fix-sweep`: the remediation modes at work. For every repository whose mode is
// hybrid or automated, each package with open findings that have a fixed version is proposed
// (the same proposals "Propose fix" shows) and recorded in fix_proposals:
//   hybrid     the proposal waits on the Fixes to approve page until an admin opens or
//              dismisses it;
//   automated  it is opened at once, while the repository has fewer than its limit of open fix
//              pull requests; past that it waits, and goes when one of them is merged or closed.
// A package is proposed again only when its open findings or their fixed versions change (the
// signature), so a sweep after every scan reads source control only for what is new. A
// dismissed version stays dismissed until a newer fixed version exists; a fix a person declined
// (its pull request closed unmerged) is a reason, as on the proposal page.
import crypto from "node:crypto";
import type { Services } from "../services.js";
import type { Insertable } from "kysely";
import type { Db, FixProposalState, FixProposalTable } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { enqueue, releaseDedupeKey } from "../jobs/queue.js";
import { FIX_SWEEP_JOB } from "../jobs/events.js";
import type { JobHandler } from "../jobs/worker.js";
import { compareVersions } from "../vuln/versions/index.js";
import { redactText } from "../log.js";
import { OPEN_FIX_JOB } from "./open-fix.js";
import { type Proposal, proposeFixes } from "./proposals.js";
import { activeRepositories, type RemediationSettings } from "./settings.js";
import { deleteFixProposals, markQueued, noteWaiting, saveProposals } from "./fix-store.js";

export { FIX_SWEEP_JOB };

/** Packages proposed (source control read) in one run; the rest are left to the next run, queued at once. */
const PROPOSALS_PER_RUN = 40;

/** Patchbay's fix branches: how its open fix pull requests are counted. */
export const FIX_BRANCH_PREFIX = "patchbay/fix-";

interface Candidate {
  packageLc: string;
  anchor: number;
  signature: string;
}

/** Each package with open, fixable findings in the repository, with the signature of those findings. */
async function candidates(db: Db, repositoryId: number): Promise<Candidate[]> {
  const rows = await db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select(["findings.id", "findings.package_lc", "findings.installed_version", "findings.fixed_version"])
    .where("assets.repository_id", "=", repositoryId)
    .where("findings.status", "=", "open")
    .where("findings.fixed_version", "is not", null)
    .orderBy("findings.package_lc")
    .orderBy("findings.id")
    .execute();
  const byPackage = new Map<string, typeof rows>();
  for (const row of rows) {
    const list = byPackage.get(row.package_lc);
    if (list) list.push(row);
    else byPackage.set(row.package_lc, [row]);
  }
  return [...byPackage].map(([packageLc, list]) => ({
    packageLc,
    anchor: list[0]!.id,
    signature: crypto
      .createHash("sha256")
      .update(list.map((r) => `${r.id}\u0000${r.installed_version}\u0000${r.fixed_version}`).join("\n"))
      .digest("hex")
      .slice(0, 32),
  }));
}

/** Open pull requests from Patchbay's fix branches in the repository, by branch. */
async function openFixBranches(db: Db, repositoryId: number): Promise<Set<string>> {
  const rows = await db
    .selectFrom("remediations")
    .select("source_branch")
    .where("repository_id", "=", repositoryId)
    .where("state", "=", "open")
    .where("source_branch", "like", `${FIX_BRANCH_PREFIX}%`)
    .execute();
  return new Set(rows.map((r) => r.source_branch!));
}

export function fixSweepHandler(deps: Services): JobHandler {
  return async ({ job, logger }) => {
    await releaseDedupeKey(deps.db, job.id);
    const repositories = await activeRepositories(deps.db);
    let proposed = 0;
    let opened = 0;
    let more = false;
    for (const repository of repositories) {
      const list = await candidates(deps.db, repository.id);
      const known = await deps.db
        .selectFrom("fix_proposals")
        .select(["id", "package_lc", "path", "signature", "state", "to_version"])
        .where("repository_id", "=", repository.id)
        .execute();
      // Packages no longer fixable here (fixed, resolved, gone): their proposals go, a dismissal stays.
      const wanted = new Set(list.map((c) => c.packageLc));
      const stale = known.filter((k) => !wanted.has(k.package_lc) && k.state !== "dismissed").map((k) => k.id);
      await deleteFixProposals(deps.db, stale);
      for (const candidate of list) {
        const rows = known.filter((k) => k.package_lc === candidate.packageLc);
        if (rows.length && rows.every((r) => r.signature === candidate.signature)) continue;
        if (proposed >= PROPOSALS_PER_RUN) {
          more = true;
          break;
        }
        proposed++;
        await record(deps, repository.id, candidate, rows, repository.settings);
      }
      if (repository.settings.mode === "automated") opened += await openWaiting(deps, repository.id, repository.settings);
    }
    if (more) await enqueue(deps.db, FIX_SWEEP_JOB, null, deps.now());
    if (opened || more) deps.notifyWorker();
    logger.info("fix sweep done", { repositories: repositories.length, proposed, opened, more });
  };
}

/** Proposes the package's fix again and records what came out, keeping a dismissal of the same version. */
async function record(
  deps: Services,
  repositoryId: number,
  candidate: Candidate,
  before: { id: number; path: string; state: FixProposalState; to_version: string | null }[],
  settings: RemediationSettings,
): Promise<void> {
  let result: { proposals: Proposal[]; reasons: string[] };
  try {
    result = await proposeFixes(deps, candidate.anchor);
  } catch (err) {
    if (!(err instanceof ExternalError)) throw err;
    result = { proposals: [], reasons: [`The repository could not be read: ${redactText(err.message)}`] };
  }
  const stamp = deps.now().toISOString();
  const rows: Insertable<FixProposalTable>[] = result.proposals.map((p) => {
    const earlier = before.find((b) => b.path === p.path);
    const dismissedSame = earlier?.state === "dismissed" && earlier.to_version !== null && (compareVersions(p.ecosystem, p.to, earlier.to_version) ?? 1) <= 0;
    const state: FixProposalState = dismissedSame ? "dismissed" : "waiting";
    return {
      repository_id: repositoryId,
      package_lc: candidate.packageLc,
      path: p.path,
      finding_id: candidate.anchor,
      signature: candidate.signature,
      state,
      branch: p.branch,
      title: p.title,
      to_version: p.to,
      findings: p.findings.length,
      reason: null,
      by: dismissedSame ? null : settings.mode === "automated" ? "automatic" : null,
      created_at: stamp,
      updated_at: stamp,
    };
  });
  // No proposal: one row that says why, so the page can tell and the next sweep skips it.
  if (rows.length === 0) {
    rows.push({
      repository_id: repositoryId,
      package_lc: candidate.packageLc,
      path: "",
      finding_id: candidate.anchor,
      signature: candidate.signature,
      state: "unfixable",
      branch: null,
      title: null,
      to_version: null,
      findings: 0,
      reason: result.reasons.join(" ").slice(0, 2000) || "No fix can be proposed.",
      by: null,
      created_at: stamp,
      updated_at: stamp,
    });
  }
  const keep = new Set<string>(rows.map((r) => r.path));
  await saveProposals(
    deps.db,
    rows,
    before.filter((b) => !keep.has(b.path)).map((b) => b.id),
  );
}

/**
 * Automated mode: opens the repository's waiting proposals while it has fewer open fix pull
 * requests than its limit. A proposal whose pull request is already open is updated (it takes no
 * new place); the others wait, saying why.
 */
async function openWaiting(deps: Services, repositoryId: number, settings: RemediationSettings): Promise<number> {
  const open = await openFixBranches(deps.db, repositoryId);
  const waiting = await deps.db
    .selectFrom("fix_proposals")
    .select(["id", "finding_id", "path", "branch"])
    .where("repository_id", "=", repositoryId)
    .where("state", "=", "waiting")
    .orderBy("id")
    .execute();
  let queued = 0;
  let places = settings.maxOpen - open.size;
  for (const proposal of waiting) {
    const updating = proposal.branch !== null && open.has(proposal.branch);
    if (!updating && places <= 0) {
      await noteWaiting(
        deps.db,
        proposal.id,
        `${settings.maxOpen} fix pull requests are open in this repository, its limit: this one opens when one of them is merged or closed.`,
      );
      continue;
    }
    if (!updating) places--;
    await queueOpen(deps.db, proposal, "automatic", deps.now());
    queued++;
  }
  return queued;
}

/** Queues the job that opens (or updates) a proposal's pull request, and marks it queued. */
export async function queueOpen(db: Db, proposal: { id: number; finding_id: number; path: string }, by: string, now: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await markQueued(trx, proposal.id, by, now);
    await enqueue(trx, OPEN_FIX_JOB, { findingId: proposal.finding_id, path: proposal.path, by }, now);
  });
}
