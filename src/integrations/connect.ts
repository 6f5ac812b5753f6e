// Saving a connection that passed its test: a new integration or new settings for one,
// keeping what the form does not show, automatic webhook secrets, and the first sync.
import type { Services } from "../services.js";
import type { Connector, SecretValues, SettingValues } from "../connectors/types.js";
import type { Integration } from "../db/schema.js";
import { generateWebhookSecret } from "./webhook-secret.js";
import { insertIntegration, integrationSettings, updateIntegrationSettings } from "./store.js";

/** Stores a tested connection (new or updated) and starts its first sync; returns its id. */
export async function saveConnection(
  deps: Services,
  connector: Connector,
  integration: Integration | undefined,
  connection: { settings: SettingValues; secrets: SecretValues },
  by: string,
): Promise<number> {
  if (integration) {
    // Keep what the form does not show (OAuth refresh data, webhook state), unless the
    // token was replaced by hand, which ends the OAuth grant's refresh.
    const oldSettings = integrationSettings(integration);
    const oldSecrets = deps.vault.openSecrets(integration.secrets);
    const settings: SettingValues = { ...oldSettings, ...connection.settings };
    const secrets = { ...oldSecrets, ...connection.secrets };
    const tokenField = connector.oauth?.tokenSecret;
    if (tokenField && connection.settings.authMethod !== "oauth" && secrets[tokenField] !== oldSecrets[tokenField]) {
      delete secrets.refreshToken;
      delete settings.tokenExpiresAt;
      settings.authMethod = "token";
    }
    connection = { settings, secrets };
  }
  const webhook = connector.scm?.webhook;
  if (webhook?.register) {
    // No secret of the user's own: Patchbay makes one and adds the webhooks itself.
    const previous = integration ? deps.vault.openSecrets(integration.secrets)[webhook.secretField] : undefined;
    const secret = connection.secrets[webhook.secretField];
    const automatic = !secret || (connection.settings.webhookAutomatic === true && secret === previous);
    connection = {
      settings: { ...connection.settings, webhookAutomatic: automatic },
      secrets:
        automatic && !connection.secrets[webhook.secretField] ? { ...connection.secrets, [webhook.secretField]: generateWebhookSecret() } : connection.secrets,
    };
  }
  const sealedSecrets = Object.keys(connection.secrets).length ? deps.vault.sealSecrets(connection.secrets) : null;
  const now = deps.now();
  let id: number;
  if (integration) {
    await updateIntegrationSettings(deps.db, integration.id, { settings: connection.settings, sealedSecrets }, now);
    id = integration.id;
  } else {
    id = (
      await insertIntegration(
        deps.db,
        {
          kind: connector.card.kind,
          name: connector.defaultName(connection.settings),
          settings: connection.settings,
          sealedSecrets,
        },
        now,
      )
    ).id;
  }
  // The first sync starts on connecting (and again after new credentials).
  if (await deps.firstSync(deps.db, connector, id, now)) deps.notifyWorker();
  deps.logger.info(integration ? "integration updated" : "integration connected", { kind: connector.card.kind, integrationId: id, by });
  return id;
}
