// An integration that reuses another's connection (GitHub Issues through a connected GitHub):
// its "integration" field names the other, whose settings and secrets (with OAuth tokens
// refreshed) are handed to the connector as `reused`.
import { findIntegration } from "./store.js";
import type { Services } from "../services.js";
import type { Connector, ConnectionSettings } from "../connectors/types.js";
import type { Integration } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { connectionFor } from "./oauth.js";

export async function withReused(deps: Services, connector: Connector, connection: ConnectionSettings): Promise<ConnectionSettings> {
  const field = connector.fields.find((f) => f.type === "integration" && connection.settings[f.name]);
  if (!field) return connection;
  const id = Number(connection.settings[field.name]);
  const integration = await findIntegration(deps.db, id);
  const other = integration ? deps.catalogue.get(integration.kind) : undefined;
  if (!integration || !other || integration.kind !== field.integrationKind) {
    throw new ExternalError(
      "invalid_input",
      connector.card.name,
      `The ${field.label} chosen is no longer connected. Choose another, or enter credentials of its own.`,
    );
  }
  const reused = await connectionFor(deps, other, integration);
  return { ...connection, reused };
}

/** A background job's connection: stored settings and secrets, OAuth refreshed, and the reused one. */
export async function connectionOf(deps: Services, connector: Connector, integration: Integration): Promise<ConnectionSettings> {
  return withReused(deps, connector, await connectionFor(deps, connector, integration));
}
