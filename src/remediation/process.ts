// Job `webhook.process`: turns a recorded, verified delivery into remediation state.
//   opened   → the open findings it fixes become in remediation
//   merged   → the findings it fixes become resolved (pending confirmation by the next scan)
//   closed   → findings this PR put in remediation go back to open, unless another open PR
//              still covers them
// A pull request from outside the repository (a fork by someone without write access) is
// ignored unless the integration is set to follow such pull requests.
// Each transition is written with its domain event in one transaction.
import type { Services } from "../services.js";
import type { PullRequestEvent } from "../connectors/types.js";
import type { Db, FindingStatus, RemediationState } from "../db/schema.js";
import type { JobHandler } from "../jobs/worker.js";
import { publish } from "../jobs/events.js";
import { moveFindings, noteFindings } from "../findings/status.js";
import { requestTicketSweep } from "../tickets/sweep.js";
import { acceptedDelivery, settleDelivery } from "./deliveries.js";
import { findFixes } from "./fixes.js";
import { repositoryByExternalId } from "../scm/store.js";
import { addFixes, coveredByOtherOpen, findingsFixedBy, saveRemediation } from "./store.js";
import { applyTicketEvent, ticketDelivery } from "../tickets/inbound.js";
import { LINK_OUTSIDE_PULL_REQUESTS } from "../connectors/pull-requests.js";
import { findIntegration, integrationSettings } from "../integrations/store.js";

export function webhookProcessHandler(deps: Services): JobHandler<{ deliveryId: number }> {
  return async ({ payload, logger }) => {
    const { deliveryId } = payload;
    const db = deps.db;
    const delivery = await acceptedDelivery(db, deliveryId);
    if (!delivery) return;
    const integration = await findIntegration(db, delivery.integrationId);
    const scm = integration && deps.catalogue.get(integration.kind)?.scm;
    const settle = (outcome: string, detail: string) => settleDelivery(db, deliveryId, outcome, detail);
    const { contentType, body } = delivery;
    // A tracker's own delivery (Jira), or a ticket event through source control's webhook (GitHub Issues).
    const ticketEvent = integration ? await ticketDelivery(deps, integration, delivery.event, body, contentType) : undefined;
    if (ticketEvent) {
      const result = await applyTicketEvent(db, ticketEvent.tracker, ticketEvent.event, deps.now());
      await settle(result.outcome, result.detail);
      logger.info("ticket event processed", { integrationId: ticketEvent.tracker.integrationId, outcome: result.outcome, detail: result.detail });
      return;
    }
    if (!integration || !scm)
      return void (await settle("ignored", integration ? `Event ${delivery.event} does not concern Patchbay's tickets.` : "The integration is gone."));

    const pr = scm.webhook.parse(delivery.event, body, contentType);
    if (!pr) return void (await settle("ignored", `Event ${delivery.event} does not concern pull requests or Patchbay's tickets.`));
    // Anyone can open a pull request on a public repository: an outsider's must not move triage.
    if (pr.outside && integrationSettings(integration)[LINK_OUTSIDE_PULL_REQUESTS] !== true) {
      return void (await settle(
        "ignored",
        `PR #${pr.number} comes ${pr.outside}: only the repository's own pull requests are followed (see the integration's setting for forks).`,
      ));
    }
    const repository = await repositoryByExternalId(db, integration.id, pr.repository.externalId);
    if (!repository) {
      return void (await settle(
        "ignored",
        `Repository ${pr.repository.fullName} is not among ${integration.name}'s repositories yet; it will be after the next repository sync.`,
      ));
    }
    const detail = await applyPullRequest(db, integration.id, repository.id, pr, deps.now());
    await settle("processed", detail);
    logger.info("pull request event processed", { integrationId: integration.id, pr: pr.number, action: pr.action, detail });
  };
}

export async function applyPullRequest(db: Db, integrationId: number, repositoryId: number, pr: PullRequestEvent, now: Date): Promise<string> {
  const stamp = now.toISOString();
  const state: RemediationState = pr.action === "merged" ? "merged" : pr.action === "closed" ? "closed" : "open";
  return db.transaction().execute(async (trx) => {
    const saved = await saveRemediation(trx, { integrationId, repositoryId }, pr, state, stamp);
    const remediationId = saved.id;

    if (state === "open") {
      const { fixes, unreadable } = await findFixes(trx, repositoryId, pr);
      // Said once, when the pull request is first seen, on the finding's history.
      if (!saved.existed && unreadable.length)
        await noteOnFindings(
          trx,
          unreadable.map((u) => ({ ...u, note: `PR #${pr.number}: ${u.note}` })),
          "remediation",
          stamp,
        );
      await addFixes(trx, remediationId, fixes);
    }
    const fixing = await findingsFixedBy(trx, remediationId);
    const label = `PR #${pr.number}`;
    let moved: number[] = [];
    if (state === "open") {
      moved = await transition(trx, fixing, ["open"], "in_remediation", `${label} opened: ${pr.url}`, stamp);
      await publish(trx, { type: "remediation.opened", remediationId, findingIds: fixing }, now);
    } else if (state === "merged") {
      moved = await transition(trx, fixing, ["open", "in_remediation"], "resolved", `Fixed by ${label} (merged); the next scan confirms`, stamp);
      await publish(trx, { type: "remediation.merged", remediationId, findingIds: fixing }, now);
    } else {
      const stillCovered = await coveredByOtherOpen(trx, fixing, remediationId);
      moved = await transition(
        trx,
        fixing.filter((id) => !stillCovered.has(id)),
        ["in_remediation"],
        "open",
        `${label} closed without merging`,
        stamp,
      );
      await publish(trx, { type: "remediation.closed", remediationId, findingIds: fixing }, now);
    }
    if (fixing.length) await requestTicketSweep(trx, now);
    return `${label} ${pr.action}: ${fixing.length} linked finding${fixing.length === 1 ? "" : "s"}, ${moved.length} changed status.`;
  });
}

async function transition(db: Db, findingIds: number[], from: FindingStatus[], to: FindingStatus, note: string, stamp: string): Promise<number[]> {
  if (findingIds.length === 0) return [];
  const rows = await db.selectFrom("findings").select(["id", "status"]).where("id", "in", findingIds).where("status", "in", from).execute();
  await moveFindings(db, rows, { to, actor: "remediation", note }, stamp);
  return rows.map((r) => r.id);
}

/** A line on each finding's history that leaves its status as it is. */
async function noteOnFindings(db: Db, notes: { findingId: number; note: string }[], actor: string, stamp: string): Promise<void> {
  const found = new Map(
    (
      await db
        .selectFrom("findings")
        .select(["id", "status"])
        .where(
          "id",
          "in",
          notes.map((n) => n.findingId),
        )
        .execute()
    ).map((r) => [r.id, r]),
  );
  await noteFindings(
    db,
    notes.flatMap((n) => (found.has(n.findingId) ? [{ finding: found.get(n.findingId)!, note: n.note }] : [])),
    actor,
    stamp,
  );
}
