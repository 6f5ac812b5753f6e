// Single sign-on with OpenID Connect (authorization code flow with PKCE), through oauth4webapi, an
// OpenID-certified relying-party library: the provider's discovery document (its issuer must be
// the one configured), state bound to the browser, nonce, the code exchanged with the client
// secret, the ID token's claims checked (issuer, audience, expiry, nonce) by Patchbay's clock and
// its signature checked against the provider's keys; claims the ID token lacks are read from the
// userinfo endpoint. The user is then found by issuer and subject, or created on first sign-in,
// with the role the groups claim gives.
import { createHash } from "node:crypto";
import * as oauth from "oauth4webapi";
import type { Db, Role, User } from "../db/schema.js";
import type { Vault } from "../vault.js";
import { hashPassword } from "./password.js";
import type { OidcSettings } from "./sign-in-settings.js";
import { countAdmins, createUser, findUserByUsername, updateRole } from "./users.js";

export const OIDC_STATE_COOKIE = "patchbay_oidc";
const STATE_TTL_MS = 10 * 60_000;
const DISCOVERY_TTL_MS = 60 * 60_000;

export interface OidcContext {
  db: Db;
  vault: Vault;
  now: () => Date;
  baseUrl: string;
  /** Outbound fetch with the proxy and address rules; the global fetch when undefined. */
  fetch: typeof fetch | undefined;
}

/** A sign-in refused, with the words for the person at the browser (and the log). */
export class OidcRefused extends Error {}

const discovered = new Map<string, { at: number; as: oauth.AuthorizationServer }>();

function options(settings: OidcSettings, ctx: OidcContext) {
  const insecure = new URL(settings.issuer).protocol === "http:";
  return { ...(ctx.fetch ? { [oauth.customFetch]: ctx.fetch } : {}), ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}) };
}

async function authorizationServer(settings: OidcSettings, ctx: OidcContext): Promise<oauth.AuthorizationServer> {
  const cached = discovered.get(settings.issuer);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.as;
  const issuer = new URL(settings.issuer);
  let response: Response;
  try {
    response = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...options(settings, ctx) });
  } catch (err) {
    throw new OidcRefused(
      `Patchbay could not reach the sign-in service at ${settings.issuer} (${(err as Error).message}). Check the issuer address on Settings → Sign-in.`,
    );
  }
  let as: oauth.AuthorizationServer;
  try {
    as = await oauth.processDiscoveryResponse(issuer, response);
  } catch (err) {
    throw new OidcRefused(
      `The sign-in service's discovery document at ${settings.issuer}/.well-known/openid-configuration does not describe this issuer (${describe(err)}). Check the issuer address on Settings → Sign-in: it must be exactly the document's issuer.`,
    );
  }
  discovered.set(settings.issuer, { at: Date.now(), as });
  return as;
}

const client = (settings: OidcSettings, ctx: OidcContext): oauth.Client => ({
  client_id: settings.clientId,
  // Patchbay's clock decides whether a token has expired (oauth4webapi adds this to its own).
  [oauth.clockSkew]: Math.round((ctx.now().getTime() - Date.now()) / 1000),
  [oauth.clockTolerance]: 30,
});

export const redirectUri = (baseUrl: string) => `${baseUrl.replace(/\/$/, "")}/login/oidc/callback`;
const stateId = (state: string) => createHash("sha256").update(state).digest("hex");

/** Where to send the browser to sign in, and the state to bind to it (a cookie). */
export async function startSignIn(settings: OidcSettings, ctx: OidcContext, next: string): Promise<{ url: string; state: string }> {
  const as = await authorizationServer(settings, ctx);
  if (!as.authorization_endpoint) throw new OidcRefused("The sign-in service's discovery document names no authorization endpoint.");
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const verifier = oauth.generateRandomCodeVerifier();
  const now = ctx.now();
  await ctx.db.deleteFrom("oidc_states").where("expires_at", "<", now.toISOString()).execute();
  await ctx.db
    .insertInto("oidc_states")
    .values({ id: stateId(state), nonce, verifier: ctx.vault.encrypt(verifier), next, expires_at: new Date(now.getTime() + STATE_TTL_MS).toISOString() })
    .execute();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: settings.clientId,
    redirect_uri: redirectUri(ctx.baseUrl),
    scope: settings.scopes,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();
  return { url: url.toString(), state };
}

export interface SignedIn {
  user: User;
  next: string;
  created: boolean;
  roleChanged: boolean;
}

/** Finishes a sign-in from the provider's answer: the user (found, created or updated), or OidcRefused. */
export async function finishSignIn(settings: OidcSettings, ctx: OidcContext, callback: URL, cookieState: string | undefined): Promise<SignedIn> {
  const state = callback.searchParams.get("state") ?? "";
  // The state must be the one this browser was given: another's answer cannot sign this browser in.
  if (!cookieState || cookieState !== state) throw new OidcRefused("This sign-in was not started in this browser, or took too long. Sign in again.");
  const stored = await ctx.db.selectFrom("oidc_states").selectAll().where("id", "=", stateId(state)).executeTakeFirst();
  await ctx.db.deleteFrom("oidc_states").where("id", "=", stateId(state)).execute();
  if (!stored || stored.expires_at <= ctx.now().toISOString())
    throw new OidcRefused("This sign-in took longer than ten minutes, or was already used. Sign in again.");
  const as = await authorizationServer(settings, ctx);
  const theClient = client(settings, ctx);
  let claims: Record<string, unknown>;
  try {
    const params = oauth.validateAuthResponse(as, theClient, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      theClient,
      oauth.ClientSecretBasic(settings.clientSecret),
      params,
      redirectUri(ctx.baseUrl),
      ctx.vault.decrypt(stored.verifier),
      options(settings, ctx),
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, theClient, response, { expectedNonce: stored.nonce, requireIdToken: true });
    await oauth.validateApplicationLevelSignature(as, response, options(settings, ctx));
    const idClaims = oauth.getValidatedIdTokenClaims(tokens)!;
    claims = { ...idClaims };
    if ((claims[settings.usernameClaim] === undefined || claims[settings.groupsClaim] === undefined) && as.userinfo_endpoint) {
      const info = await oauth.processUserInfoResponse(
        as,
        theClient,
        idClaims.sub,
        await oauth.userInfoRequest(as, theClient, tokens.access_token, options(settings, ctx)),
      );
      claims = { ...info, ...idClaims };
    }
  } catch (err) {
    if (err instanceof OidcRefused) throw err;
    throw new OidcRefused(`The sign-in service's answer was refused: ${describe(err)}.`);
  }
  return signInUser(settings, ctx, claims, stored.next);
}

/** What went wrong in words, from oauth4webapi's error (its code and message), never a token. */
function describe(err: unknown): string {
  if (err instanceof oauth.AuthorizationResponseError)
    return `the sign-in service says ${err.error}${err.error_description ? `: ${err.error_description}` : ""}`;
  if (err instanceof oauth.ResponseBodyError) return `the sign-in service answered ${err.error}${err.error_description ? `: ${err.error_description}` : ""}`;
  if (err instanceof oauth.OperationProcessingError) {
    const claim = (err.cause as { claim?: string } | undefined)?.claim;
    if (err.code === oauth.JWT_TIMESTAMP_CHECK) return "the ID token has expired or is not valid yet (check this machine's clock)";
    if (err.code === oauth.JWT_CLAIM_COMPARISON && claim === "iss") return "the ID token was issued by another issuer than the one configured";
    if (err.code === oauth.JWT_CLAIM_COMPARISON && claim === "aud") return "the ID token is for another client";
    if (err.code === oauth.JWT_CLAIM_COMPARISON && claim === "nonce") return "the ID token's nonce does not match this sign-in";
    if (err.code === oauth.KEY_SELECTION || /signature/i.test(err.message)) return "the ID token's signature does not verify with the provider's keys";
    return err.message;
  }
  if (err instanceof oauth.UnsupportedOperationError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** The groups in a claim: a list, or one string of names. */
function groupsOf(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === "string");
  if (typeof value === "string") return value.split(/[,\s]+/).filter(Boolean);
  return undefined;
}

async function signInUser(settings: OidcSettings, ctx: OidcContext, claims: Record<string, unknown>, next: string): Promise<SignedIn> {
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  const externalId = `${settings.issuer}#${sub}`;
  const groups = groupsOf(claims[settings.groupsClaim]);
  const needsGroups = Boolean(settings.memberGroup || settings.adminGroup);
  if (needsGroups && groups === undefined)
    throw new OidcRefused(
      `The sign-in service sent no "${settings.groupsClaim}" claim, which Patchbay needs to decide who may sign in. Ask your administrator to add the groups claim to the ID token or userinfo for Patchbay's client.`,
    );
  const admin = Boolean(settings.adminGroup) && (groups ?? []).includes(settings.adminGroup);
  if (settings.memberGroup && !admin && !(groups ?? []).includes(settings.memberGroup))
    throw new OidcRefused(`Your account is not in the group "${settings.memberGroup}" that may use Patchbay. Ask your administrator to add you to it.`);
  const role: Role = admin ? "admin" : "member";
  const existing = await ctx.db.selectFrom("users").selectAll().where("external_id", "=", externalId).executeTakeFirst();
  if (existing) {
    // The provider's groups are the truth at every sign-in (the last administrator is kept one).
    let roleChanged = false;
    if (settings.adminGroup && existing.role !== role && !(existing.role === "admin" && (await countAdmins(ctx.db)) <= 1)) {
      await updateRole(ctx.db, existing.id, role);
      roleChanged = true;
    }
    return { user: { ...existing, role: roleChanged ? role : existing.role }, next, created: false, roleChanged };
  }
  const raw = claims[settings.usernameClaim] ?? claims.email;
  const username = typeof raw === "string" ? raw.trim().toLowerCase() : "";
  if (!/^[a-z0-9][a-z0-9._@-]{2,63}$/.test(username))
    throw new OidcRefused(
      `The sign-in service named you "${String(raw ?? "").slice(0, 80)}" in its "${settings.usernameClaim}" claim, which Patchbay cannot use as a user name (3 to 64 of a-z, 0-9, . _ @ -). Ask your administrator to choose another username claim.`,
    );
  const clash = await findUserByUsername(ctx.db, username);
  // The same person's other sign-in (another tab, another replica) made the account since the lookup above.
  if (clash && clash.external_id === externalId) return { user: clash, next, created: false, roleChanged: false };
  if (clash)
    throw new OidcRefused(
      `Patchbay already has an account named ${username} that signs in ${clash.external_id ? "through another identity" : "with a password"}. Ask an administrator to remove or rename it on Settings → Users; your next sign-in then creates your account.`,
    );
  const user = await createUser(
    ctx.db,
    // No password of their own: this account signs in through the provider.
    { username, passwordHash: await hashPassword(crypto.randomUUID() + crypto.randomUUID()), role: settings.adminGroup ? role : "member", externalId },
    ctx.now(),
  );
  if (!user) {
    // The same person's other sign-in (another tab, another replica) created the account a moment ago.
    const raced = await ctx.db.selectFrom("users").selectAll().where("external_id", "=", externalId).executeTakeFirst();
    if (raced) return { user: raced, next, created: false, roleChanged: false };
    throw new OidcRefused(
      `Patchbay already has an account named ${username}. Ask an administrator to remove or rename it on Settings → Users; your next sign-in then creates your account.`,
    );
  }
  return { user, next, created: true, roleChanged: false };
}

/** Forgets discovery documents (after the settings change). */
export function forgetDiscovery(): void {
  discovered.clear();
}
