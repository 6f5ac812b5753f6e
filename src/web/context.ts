// What every route module is given, and the Hono environment they share.
import type { Eta } from "eta";
import type { User } from "../db/schema.js";
import type { Services } from "../services.js";
import type { TrustedProxies } from "../client-address.js";
import type { TokenGrant } from "../auth/api-tokens.js";
import type { SignInEnvironment } from "../auth/sign-in-settings.js";

/** What every route module is given: the services, and what only the web layer needs. */
export interface AppDeps extends Services {
  views: Eta;
  /** PATCHBAY_BASE_URL was set: pages answer only on its host. */
  baseUrlSet: boolean;
  trustedProxies: TrustedProxies;
  /** The bearer token of /metrics (unset: off). */
  metricsToken: string | undefined;
  /** Single sign-on set by environment variables (then Settings → Sign-in cannot change it). */
  signIn: SignInEnvironment | undefined;
  /** Days the audit log keeps an entry (0: forever). */
  auditRetentionDays: number;
  /** How long a view's results may be reused while no write went through this process (0: never; view-cache.ts). */
  viewReuseMs: number;
  /** Sign-in by an authenticating proxy's header (unset: off). */
  authProxy: { header: string; groupsHeader: string; adminGroup: string | undefined } | undefined;
  /** Why the database cannot be written now (a full disk), or undefined. */
  storageProblem: () => string | undefined;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    user: User | undefined;
    sessionId: string | undefined;
    clientIp: string;
    /** The connection comes from one of PATCHBAY_TRUSTED_PROXIES. */
    peerTrusted: boolean;
    /** How the user came: "token <name>" for the API, "proxy" for an authenticating proxy; unset for a session. */
    via: string | undefined;
    /** The API token's grant, on API requests. */
    grant: TokenGrant | undefined;
  };
}
