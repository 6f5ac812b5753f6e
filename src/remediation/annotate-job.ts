// Job `remediation.annotate`: writes the tickets that track a pull request's findings into
// the pull request's description (a marked block, replaced in place), through the source
// control integration the pull request came from. Never into a pull request from outside the
// repository.
import { loadConnected } from "../integrations/store.js";
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import { pacerFor } from "../integrations/pacing.js";
import { ExternalError } from "../http.js";
import { connectionFor } from "../integrations/oauth.js";
import type { JobHandler } from "../jobs/worker.js";

export function annotateHandler(deps: Services): JobHandler<{ remediationId: number }> {
  return async ({ payload, logger }) => {
    const { remediationId } = payload;
    const remediation = await deps.db
      .selectFrom("remediations")
      .innerJoin("repositories", "repositories.id", "remediations.repository_id")
      .select(["remediations.id", "remediations.number", "remediations.integration_id", "remediations.state", "remediations.outside", "repositories.full_name"])
      .where("remediations.id", "=", remediationId)
      .executeTakeFirst();
    // Never into an outsider's pull request: the ticket keys would tell the world what is tracked.
    if (!remediation || remediation.state !== "open" || remediation.outside) return;
    const found = await loadConnected(deps.db, deps.catalogue, remediation.integration_id, "scm");
    if (!found) return;
    const { integration, connector } = found;
    const tickets = await deps.db
      .selectFrom("remediation_findings")
      .innerJoin("ticket_findings", "ticket_findings.finding_id", "remediation_findings.finding_id")
      .innerJoin("tickets", "tickets.id", "ticket_findings.ticket_id")
      .innerJoin("tracker_mappings", "tracker_mappings.id", "tickets.mapping_id")
      .innerJoin("integrations", "integrations.id", "tracker_mappings.integration_id")
      .select(["tickets.external_key", "tickets.url", "integrations.name"])
      .where("remediation_findings.remediation_id", "=", remediationId)
      .where("tickets.linked_at", "is not", null)
      .groupBy(["tickets.id", "integrations.name"])
      .orderBy("tickets.id")
      .execute();
    if (tickets.length === 0) return;
    const text = `Tracked by Patchbay in ${tickets.map((t) => `[${t.external_key}](${t.url}) (${t.name})`).join(", ")}.`;
    const connection = await connectionFor(deps, connector, integration);
    try {
      await connector.scm.annotatePullRequest(
        connection,
        connectorContext({ ...deps.env, logger, pacer: await pacerFor(deps.db, connector, integration, logger, deps.env.pace) }),
        { repository: remediation.full_name, number: remediation.number },
        text,
      );
    } catch (err) {
      // A pull request that is gone, or a token that may not edit it, will not change by retrying.
      if (err instanceof ExternalError && (err.kind === "not_found" || err.kind === "permission")) {
        logger.warn("pull request not annotated", { remediationId, error: err.message });
        return;
      }
      throw err;
    }
    logger.info("pull request annotated", { remediationId, tickets: tickets.length });
  };
}
