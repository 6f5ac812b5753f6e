// OAuth 2.0 connection, as the Integration Hub seed describes it: Connect → the provider's
// authorization page → grant → back to Patchbay with the integration connected. The team's
// own OAuth application (client id and secret typed in the Configuration tab) is used, with a
// random `state` and, where the provider supports it, PKCE (S256). Tokens that expire are
// refreshed before use.
import type { Services } from "../services.js";
import crypto from "node:crypto";
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { TokenRequestResult } from "@oslojs/oauth2";
import type { Connector, OAuthProvider, SecretValues, SettingValues } from "../connectors/types.js";
import type { Integration } from "../db/schema.js";
import { ExternalError } from "../http.js";
import { connectorContext } from "../connectors/context.js";
import { claimTokenRefresh, findIntegration, integrationSettings, releaseTokenRefresh, setIntegrationCredentials } from "./store.js";

export const CALLBACK_PATH = "/integrations/oauth/callback";
const STATE_TTL_MS = 10 * 60 * 1000;
/** Refresh a token this long before it expires. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

interface Pending {
  settings: SettingValues;
  secrets: SecretValues;
  verifier: string | null;
}

export function callbackUrl(baseUrl: string): string {
  return baseUrl + CALLBACK_PATH;
}

/** Records the authorization about to start and returns the provider URL to send the browser to. */
export async function startAuthorization(
  deps: Services,
  connector: Connector & { oauth: OAuthProvider },
  connection: { settings: SettingValues; secrets: SecretValues },
  userId: number,
  integrationId: number | null,
): Promise<string> {
  const oauth = connector.oauth;
  const state = encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)));
  const verifier = oauth.pkce ? encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32))) : null;
  const now = deps.now();
  const pending: Pending = { settings: connection.settings, secrets: connection.secrets, verifier };
  await deps.db.deleteFrom("oauth_states").where("expires_at", "<", now.toISOString()).execute();
  await deps.db
    .insertInto("oauth_states")
    .values({
      state,
      kind: connector.card.kind,
      integration_id: integrationId,
      user_id: userId,
      sealed: deps.vault.encrypt(JSON.stringify(pending)),
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + STATE_TTL_MS).toISOString(),
    })
    .execute();
  const url = new URL(oauth.endpoints(connection.settings).authorize);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", String(connection.settings[oauth.clientIdField] ?? ""));
  url.searchParams.set("redirect_uri", callbackUrl(deps.baseUrl));
  url.searchParams.set("scope", oauth.scopes.join(" "));
  url.searchParams.set("state", state);
  if (verifier) {
    url.searchParams.set("code_challenge", encodeBase64urlNoPadding(sha256(new TextEncoder().encode(verifier))));
    url.searchParams.set("code_challenge_method", "S256");
  }
  return url.toString();
}

export type CallbackOutcome =
  | { ok: true; kind: string; integrationId: number | null; settings: SettingValues; secrets: SecretValues }
  | { ok: false; kind: string | undefined; integrationId: number | null; message: string };

/** Checks the state and exchanges the code for tokens. The caller stores the integration. */
export async function completeAuthorization(
  deps: Services,
  query: { code?: string; state?: string; error?: string; error_description?: string },
  userId: number,
): Promise<CallbackOutcome> {
  const row = query.state ? await deps.db.selectFrom("oauth_states").selectAll().where("state", "=", query.state).executeTakeFirst() : undefined;
  if (!row || row.user_id !== userId) {
    return {
      ok: false,
      kind: row?.kind,
      integrationId: null,
      message: "The authorization could not be matched to one started here (state mismatch). Start it again from the Configuration tab.",
    };
  }
  // A state is good for one return only.
  await deps.db.deleteFrom("oauth_states").where("state", "=", row.state).execute();
  const fail = (message: string): CallbackOutcome => ({ ok: false, kind: row.kind, integrationId: row.integration_id, message });
  if (Date.parse(row.expires_at) < deps.now().getTime()) return fail("The authorization took longer than 10 minutes and expired. Start it again.");
  if (query.error) {
    return fail(
      query.error === "access_denied"
        ? "The authorization was declined on the provider's page, so nothing was connected."
        : `The provider refused the authorization: ${query.error}${query.error_description ? ` (${query.error_description})` : ""}.`,
    );
  }
  if (!query.code) return fail("The provider sent no authorization code back.");
  const connector = deps.catalogue.get(row.kind);
  if (!connector?.oauth) return fail("This integration does not connect by OAuth.");
  const pending = JSON.parse(deps.vault.decrypt(row.sealed)) as Pending;
  try {
    const tokens = await tokenRequest(deps, connector as Connector & { oauth: OAuthProvider }, pending.settings, pending.secrets, {
      grant_type: "authorization_code",
      code: query.code,
      redirect_uri: callbackUrl(deps.baseUrl),
      ...(pending.verifier ? { code_verifier: pending.verifier } : {}),
    });
    return {
      ok: true,
      kind: row.kind,
      integrationId: row.integration_id,
      settings: { ...pending.settings, ...tokens.settings },
      secrets: { ...pending.secrets, ...tokens.secrets },
    };
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

/** The stored (sealed) credentials a connection was loaded from. */
const SEALED = Symbol("sealed credentials");

function sealedAs<T extends object>(connection: T, integrationId: number, sealed: string | null): T {
  // Enumerable, so that copies ({ ...connection }) keep it; a symbol, so that nothing lists or sends it.
  Object.defineProperty(connection, SEALED, { value: { integrationId, sealed }, enumerable: true });
  return connection;
}

/**
 * True when the integration's stored credentials are no longer those this connection was loaded
 * from: another job or process refreshed the OAuth token (GitLab and Bitbucket revoke the old
 * access token as they issue the new one) or someone entered new ones. A refusal of the old
 * credentials then says nothing about the new: the work is retried, the integration not flagged.
 */
export async function credentialsReplaced(db: Services["db"], connection: object | undefined): Promise<boolean> {
  const loaded = [connection, (connection as { reused?: object } | undefined)?.reused]
    .map((c) => (c && SEALED in c ? (c as { [SEALED]: { integrationId: number; sealed: string | null } })[SEALED] : undefined))
    .filter((l) => l !== undefined);
  for (const { integrationId, sealed } of loaded) {
    const current = await findIntegration(db, integrationId);
    if (current && current.secrets !== sealed) return true;
  }
  return false;
}

/**
 * Refreshes in progress in this process, by database handle and integration: jobs of one process
 * share one refresh; other processes wait on the database lock (loadOrRefresh).
 */
const inProcess = new WeakMap<Services["db"], Map<number, Promise<{ settings: SettingValues; secrets: SecretValues }>>>();

/**
 * The integration's connection, with its OAuth token refreshed first when it is about to
 * expire (the new tokens are stored). Jobs load connections through this; concurrent callers
 * for one integration share one refresh.
 */
export async function connectionFor(
  deps: Services,
  connector: Connector,
  integration: Integration,
): Promise<{ settings: SettingValues; secrets: SecretValues }> {
  let refreshing = inProcess.get(deps.db);
  if (!refreshing) inProcess.set(deps.db, (refreshing = new Map()));
  const inFlight = refreshing.get(integration.id);
  if (inFlight) return inFlight;
  const work = loadOrRefresh(deps, connector, integration);
  refreshing.set(integration.id, work);
  try {
    return await work;
  } finally {
    refreshing.delete(integration.id);
  }
}

/** How long a process may hold the refresh lock before others stop waiting for it (a token request times out well before). */
const REFRESH_LOCK_MS = 60_000;
/** How often a process waiting for another's refresh looks again, and for how long in all. */
const REFRESH_POLL_MS = 100;
const REFRESH_WAIT_MS = 65_000;

async function loadOrRefresh(deps: Services, connector: Connector, stale: Integration): Promise<{ settings: SettingValues; secrets: SecretValues }> {
  const waitUntil = Date.now() + REFRESH_WAIT_MS;
  for (;;) {
    // Read the row again: another job, or another process, may have refreshed the token since this one loaded it.
    const integration = (await findIntegration(deps.db, stale.id)) ?? stale;
    const settings = integrationSettings(integration);
    const secrets = deps.vault.openSecrets(integration.secrets);
    const expiresAt = typeof settings.tokenExpiresAt === "string" ? Date.parse(settings.tokenExpiresAt) : NaN;
    if (!connector.oauth || !secrets.refreshToken || Number.isNaN(expiresAt) || expiresAt - deps.now().getTime() > REFRESH_MARGIN_MS) {
      return sealedAs({ settings, secrets }, integration.id, integration.secrets);
    }
    // One process refreshes (providers that rotate refresh tokens refuse a second refresh with the
    // same one); the others wait for its new token, then read it.
    const now = deps.now();
    if (await claimTokenRefresh(deps.db, integration.id, now, new Date(now.getTime() + REFRESH_LOCK_MS))) {
      try {
        const fresh = (await findIntegration(deps.db, stale.id)) ?? integration;
        if (fresh.secrets !== integration.secrets) continue;
        const tokens = await tokenRequest(deps, connector as Connector & { oauth: OAuthProvider }, settings, secrets, {
          grant_type: "refresh_token",
          refresh_token: secrets.refreshToken,
        });
        const next = { settings: { ...settings, ...tokens.settings }, secrets: { ...secrets, ...tokens.secrets } };
        const sealed = deps.vault.sealSecrets(next.secrets);
        await setIntegrationCredentials(deps.db, integration.id, next.settings, sealed, deps.now());
        return sealedAs(next, integration.id, sealed);
      } finally {
        await releaseTokenRefresh(deps.db, integration.id);
      }
    }
    if (Date.now() > waitUntil)
      throw new ExternalError(
        "unreachable",
        connector.card.name,
        `Another Patchbay process has been refreshing the ${connector.card.name} token for over a minute. Try again shortly.`,
      );
    await new Promise((resolve) => setTimeout(resolve, REFRESH_POLL_MS));
  }
}

async function tokenRequest(
  deps: Services,
  connector: Connector & { oauth: OAuthProvider },
  settings: SettingValues,
  secrets: SecretValues,
  grant: Record<string, string>,
): Promise<{ settings: SettingValues; secrets: SecretValues }> {
  const oauth = connector.oauth;
  const clientId = String(settings[oauth.clientIdField] ?? "");
  const clientSecret = secrets[oauth.clientSecretField] ?? "";
  const body = new URLSearchParams(grant);
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json", "user-agent": "Patchbay" };
  if (oauth.clientAuth === "basic") headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`;
  else {
    body.set("client_id", clientId);
    body.set("client_secret", clientSecret);
  }
  const http = connectorContext(deps.env).http(connector.card.name, { errorMessage: oauthErrorMessage });
  let raw: object;
  try {
    ({ data: raw } = await http.json<object>({ method: "POST", url: oauth.endpoints(settings).token, headers, body, idempotent: false }));
  } catch (err) {
    if (err instanceof ExternalError && (err.status === 400 || err.status === 401)) {
      throw new ExternalError("auth", connector.card.name, explainTokenError(connector.card.name, err.remoteMessage ?? "", grant.grant_type!), {
        status: err.status,
        remoteMessage: err.remoteMessage,
      });
    }
    throw err;
  }
  const result = new TokenRequestResult(raw);
  // GitHub answers a bad or expired code with HTTP 200 and an error field.
  if (result.hasErrorCode()) {
    throw new ExternalError(
      "auth",
      connector.card.name,
      explainTokenError(connector.card.name, `${result.errorCode()}${result.hasErrorDescription() ? `: ${result.errorDescription()}` : ""}`, grant.grant_type!),
    );
  }
  const out = { settings: { authMethod: "oauth" } as SettingValues, secrets: { [oauth.tokenSecret]: result.accessToken() } as SecretValues };
  if (result.hasRefreshToken()) out.secrets.refreshToken = result.refreshToken();
  if ("expires_in" in raw) out.settings.tokenExpiresAt = new Date(deps.now().getTime() + result.accessTokenExpiresInSeconds() * 1000).toISOString();
  return out;
}

/** OAuth error bodies: {error, error_description} (RFC 6749 §5.2). */
function oauthErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    if (typeof parsed.error === "string") return typeof parsed.error_description === "string" ? `${parsed.error}: ${parsed.error_description}` : parsed.error;
  } catch {
    // not JSON
  }
  return body.length < 200 ? body : undefined;
}

function explainTokenError(service: string, detail: string, grantType: string): string {
  if (grantType === "refresh_token" && /invalid_grant/i.test(detail)) {
    return `${service} no longer accepts Patchbay's authorization: it was revoked or has expired (${detail}). Choose Connect with ${service} again in the integration's Configuration tab.`;
  }
  if (/bad_verification_code|invalid_grant/i.test(detail)) {
    return `${service} did not accept the authorization code: it expired or was already used (${detail}). Start the authorization again.`;
  }
  if (/invalid_client|incorrect_client_credentials|unauthorized_client/i.test(detail)) {
    return `${service} did not accept the OAuth application's client ID and secret (${detail}). Check them in the Configuration tab.`;
  }
  return `${service} refused to issue a token${detail ? ` (${detail})` : ""}.`;
}
