// How people sign in, set by an administrator on Settings → Sign-in or by environment variables
// (which then win, and the page shows them read-only): single sign-on with an OpenID Connect
// provider, whether local passwords still work (all accounts, or one break-glass administrator),
// and whether local accounts must use two-step sign-in. Kept in the meta table (every replica
// reads the same); the client secret is sealed by the vault.
import { readMeta, writeMeta } from "../db/meta.js";
import type { Db } from "../db/schema.js";

/** Its meta key (the session lookup reads it beside the session: one round trip per page, not two). */
export const SIGN_IN_SETTINGS_KEY = "sign_in_settings";
const KEY = SIGN_IN_SETTINGS_KEY;

export interface OidcSettings {
  /** The provider's issuer identifier; its discovery document is at /.well-known/openid-configuration. */
  issuer: string;
  clientId: string;
  /** Sealed by the vault in the database; plain when it comes from the environment. */
  clientSecret: string;
  /** The name on the sign-in button: "Sign in with Okta". */
  name: string;
  /** Scopes asked for, space-separated; openid is always among them (add groups where the provider needs it for the groups claim). */
  scopes: string;
  /** The claim that names the user (preferred_username by default; email works too). */
  usernameClaim: string;
  /** The claim listing the user's groups. */
  groupsClaim: string;
  /** Members of this group are administrators (checked at every sign-in). */
  adminGroup: string;
  /** When set, only members of this group (or the admin group) may sign in. */
  memberGroup: string;
}

export interface SignInSettings {
  /** Local accounts must turn on two-step sign-in before using Patchbay. */
  requireTotp: boolean;
  oidc: OidcSettings | undefined;
  /** With single sign-on: "all" local accounts may still use their passwords, or only the break-glass administrator. */
  localSignIn: "all" | "break-glass";
  /** The one local administrator who may sign in with a password when local sign-in is off. */
  breakGlassUser: string;
  /** Set by environment variables: the page shows them and cannot change them. */
  fromEnvironment: boolean;
}

/** Environment variables for single sign-on (PATCHBAY_OIDC_*), parsed in config.ts. */
export type SignInEnvironment = Omit<SignInSettings, "requireTotp" | "fromEnvironment">;

const DEFAULTS: SignInSettings = { requireTotp: false, oidc: undefined, localSignIn: "all", breakGlassUser: "", fromEnvironment: false };

export const OIDC_DEFAULTS = { usernameClaim: "preferred_username", groupsClaim: "groups", name: "single sign-on", scopes: "openid profile email" };

/** Scopes as asked for: openid first, each once, only scope characters. */
export function normalScopes(text: string): string {
  const words = text.split(/\s+/).filter((w) => /^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/.test(w));
  return [...new Set(["openid", ...words])].slice(0, 20).join(" ");
}

export async function loadSignInSettings(db: Db, environment?: SignInEnvironment): Promise<SignInSettings> {
  return parseSignInSettings(await readMeta(db, KEY), environment);
}

/** The settings from their stored text (undefined: none stored yet, the defaults). */
export function parseSignInSettings(text: string | undefined, environment?: SignInEnvironment): SignInSettings {
  const stored = text ? (JSON.parse(text) as Partial<SignInSettings>) : {};
  const base: SignInSettings = {
    requireTotp: stored.requireTotp === true,
    oidc: stored.oidc,
    localSignIn: stored.localSignIn === "break-glass" ? "break-glass" : "all",
    breakGlassUser: stored.breakGlassUser ?? "",
    fromEnvironment: false,
  };
  return environment?.oidc ? { ...DEFAULTS, ...base, ...environment, fromEnvironment: true } : { ...DEFAULTS, ...base };
}

export async function saveSignInSettings(db: Db, settings: Omit<SignInSettings, "fromEnvironment">): Promise<void> {
  const { requireTotp, oidc, localSignIn, breakGlassUser } = settings;
  await writeMeta(db, KEY, JSON.stringify({ requireTotp, oidc, localSignIn, breakGlassUser }));
}
