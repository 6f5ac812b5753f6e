// Job `remediation.open-fix`: opens (or updates) the fix pull request an admin asked for. The
// change is made again from the default branch as it is when the job runs, never from what the
// page showed earlier; the connector finds the branch and the pull request by name, so a job
// that dies at any step and runs again opens no second one. The opened pull request is recorded
// as the webhook would record it: its findings go in remediation at once.
import type { Services } from "../services.js";
import { jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { connectorContext } from "../connectors/context.js";
import { loadConnected } from "../integrations/store.js";
import { connectionFor } from "../integrations/oauth.js";
import { pacerFor } from "../integrations/pacing.js";
import { proposeFixes } from "./proposals.js";
import { applyPullRequest } from "./process.js";
import { repositoryRemediation } from "./settings.js";
import { markUnfixable } from "./fix-store.js";

export const OPEN_FIX_JOB = jobKind<{ findingId: number; path: string; by: string }>("remediation.open-fix", {
  label: "Fix pull request",
  dedupe: (p) => `remediation.open-fix:${p.findingId}:${p.path}`,
});

export function openFixHandler(deps: Services): JobHandler<{ findingId: number; path: string; by: string }> {
  return async ({ payload, logger }) => {
    const { proposals, reasons } = await proposeFixes(deps, payload.findingId);
    const proposal = proposals.find((p) => p.path === payload.path);
    if (!proposal) {
      // The repository or the findings changed since the page was shown: nothing to open now.
      logger.warn("fix pull request not opened", { findingId: payload.findingId, path: payload.path, reasons });
      // A proposal queued from Fixes to approve says why on that page.
      await markUnfixable(deps.db, payload.findingId, payload.path, reasons.join(" ").slice(0, 2000) || "The fix no longer applies.", deps.now());
      return;
    }
    const found = await loadConnected(deps.db, deps.catalogue, proposal.repository.integrationId, "scm");
    const fixes = found?.connector.scm.fixes;
    if (!found || !fixes) {
      logger.warn("fix pull request not opened", { findingId: payload.findingId, reason: "the repository's integration cannot open pull requests" });
      return;
    }
    const { integration, connector } = found;
    const { settings } = await repositoryRemediation(deps.db, proposal.repository.id);
    const opened = await fixes.open(
      await connectionFor(deps, connector, integration),
      connectorContext({ ...deps.env, logger, pacer: await pacerFor(deps.db, connector, integration, logger, deps.env.pace) }),
      { fullName: proposal.repository.fullName, defaultBranch: proposal.repository.defaultBranch },
      {
        branch: proposal.branch,
        files: proposal.changes.map((c) => ({ path: c.path, content: c.after })),
        message: `${proposal.title}\n\n${proposal.why}`,
        title: proposal.title,
        body: proposal.body,
        draft: settings.draft,
        reviewers: proposal.reviewers,
      },
    );
    const url = opened.url;
    const detail = await applyPullRequest(
      deps.db,
      integration.id,
      proposal.repository.id,
      {
        action: "opened",
        repository: { externalId: proposal.repository.externalId ?? "", fullName: proposal.repository.fullName, url: proposal.repository.url ?? "" },
        number: opened.number,
        title: proposal.title,
        body: proposal.body,
        url,
        sourceBranch: proposal.branch,
        author: null,
        outside: null,
      },
      deps.now(),
    );
    logger.info("fix pull request opened", {
      findingId: payload.findingId,
      number: opened.number,
      existed: opened.existed,
      by: payload.by,
      detail,
      reviewers: opened.reviewers,
      ...(opened.unrequested.length ? { notAskedToReview: opened.unrequested } : {}),
      ...(opened.note ? { note: opened.note } : {}),
    });
  };
}
