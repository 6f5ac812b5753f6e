// What the Integration Hub does with a connector: test a connection, explain a failure,
// and the background check that keeps each card's status honest.
import type { Services } from "../services.js";
import type { Connector, Advice, ConnectionSettings, ConnectorContext, TestResult } from "../connectors/types.js";
import { ExternalError } from "../http.js";
import { connectorContext } from "../connectors/context.js";
import { jobKind, perIntegration } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { redactText, registerSecret } from "../log.js";
import { publish } from "../jobs/events.js";
import { withReused } from "./reused.js";
import { connectionFor, credentialsReplaced } from "./oauth.js";
import { findIntegration, setIntegrationStatus } from "./store.js";

export type TestOutcome = { ok: true; result: TestResult } | { ok: false; message: string; advice: Advice };

export async function testConnection(connector: Connector, connection: ConnectionSettings, ctx: ConnectorContext, link: Services): Promise<TestOutcome> {
  // Typed-in secrets are not in the vault yet: make sure no log line or message can echo them.
  for (const value of Object.values(connection.secrets)) registerSecret(value);
  try {
    return { ok: true, result: await connector.test(await withReused(link, connector, connection), ctx) };
  } catch (err) {
    const error = err instanceof ExternalError ? err : new ExternalError("remote", connector.card.name, `Unexpected error: ${(err as Error).message}`);
    if (!(err instanceof ExternalError)) ctx.logger.error("connection test crashed", { kind: connector.card.kind, error: err });
    return { ok: false, message: redactText(error.message), advice: adviceFor(connector, error) };
  }
}

/** The connector's own troubleshooting where it has some, else the Integration Hub's. */
export function adviceFor(connector: Connector, error: ExternalError): Advice {
  const specific = connector.troubleshoot?.(error);
  if (specific) return specific;
  switch (error.kind) {
    case "auth":
      return {
        title: "Connection Failed — credentials rejected",
        steps: ["Verify your credentials are correct.", "Review the error message for specific guidance."],
      };
    case "permission":
      return {
        title: "Connection Failed — missing permission",
        steps: [
          "Ensure you have the necessary permissions in the external service.",
          "Give the token or account the scopes listed under Requirements on the Overview tab.",
        ],
      };
    case "unreachable":
    case "not_found":
      return {
        title: "Connection Failed — service unreachable",
        steps: ["Check that the service is accessible from your network (from the machine running Patchbay).", "Check the URL for typing mistakes."],
      };
    case "rate_limited":
      return { title: "Connection Failed — rate limited", steps: ["The service is limiting requests; wait a minute and try again."] };
    default:
      return {
        title: "Connection Failed",
        steps: [
          "Verify your credentials are correct.",
          "Check that the service is accessible from your network.",
          "Ensure you have the necessary permissions in the external service.",
          "Review the error message for specific guidance.",
        ],
      };
  }
}

/** Job `integration.check`: re-tests a stored connection and records Connected or Error. */
/** The check after a failure, or one asked for: tests the connection again, once. */
export const CHECK_JOB = jobKind<{ integrationId: number }>("integration.check", {
  label: "Connection check",
  maxAttempts: 1,
  ...perIntegration("integration.check"),
});

export function integrationCheckHandler(deps: Services): JobHandler<{ integrationId: number }> {
  return async ({ payload, logger }) => {
    const { integrationId } = payload;
    const integration = await findIntegration(deps.db, integrationId);
    if (!integration) return; // Disconnected since the job was queued: nothing to check.
    const connector = deps.catalogue.get(integration.kind);
    if (!connector) throw new Error(`Integration ${integrationId} is of kind "${integration.kind}", which this version of Patchbay does not implement.`);
    let outcome: TestOutcome;
    for (let attempt = 1; ; attempt++) {
      let connection;
      try {
        connection = await connectionFor(deps, connector, (await findIntegration(deps.db, integrationId)) ?? integration);
        outcome = await testConnection(connector, connection, connectorContext({ ...deps.env, logger }), deps);
      } catch (err) {
        // A refresh the provider refused: the authorization was revoked.
        const error = err instanceof ExternalError ? err : new ExternalError("remote", connector.card.name, String(err));
        outcome = { ok: false, message: redactText(error.message), advice: adviceFor(connector, error) };
      }
      // Refused because another job refreshed the token meanwhile (the provider revoked the one tested): test the new one.
      if (outcome.ok || attempt === 2 || !(await credentialsReplaced(deps.db, connection))) break;
    }
    if (outcome.ok) {
      await setIntegrationStatus(deps.db, integrationId, "connected", null, deps.now());
    } else {
      await setIntegrationStatus(deps.db, integrationId, "error", outcome.message, deps.now());
      // Once per failure, not on every check while it lasts: the notification says it broke.
      if (integration.status !== "error")
        await publish(deps.db, { type: "integration.failed", integrationId, kind: integration.kind, reason: outcome.message }, deps.now());
      logger.warn("integration check failed", { integrationId, kind: integration.kind, error: outcome.message });
    }
  };
}
