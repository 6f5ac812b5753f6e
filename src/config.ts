// Configuration: every environment variable Patchbay reads, parsed in one place.
// `node dist/server.js config` prints the effective values (secrets masked).
import fs from "node:fs";
import path from "node:path";
import { type TrustedProxies, parseTrustedProxies } from "./client-address.js";
import { redactDatabaseUrl } from "./text.js";
import { OIDC_DEFAULTS, type SignInEnvironment, normalScopes } from "./auth/sign-in-settings.js";

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databasePath: string;
  baseUrl: string;
  /** PATCHBAY_BASE_URL was given: only its host is accepted for pages (DNS rebinding). */
  baseUrlSet: boolean;
  secretKey: string | undefined;
  secretKeyFile: string;
  /** DATABASE_URL: PostgreSQL (postgres://…); unset: SQLite in the data directory. */
  databaseUrl: string | undefined;
  /** Where uploaded reports are spooled while they are read and imported. */
  spoolDir: string;
  logLevel: LogLevel;
  trustedProxies: TrustedProxies;
  trustedProxiesText: string;
  /** Never connect to private, loopback or link-local addresses. */
  outboundDenyPrivate: boolean;
  jobLeaseSeconds: number;
  /** Behind an authenticating proxy: the header naming the signed-in user, honoured only from a trusted proxy. */
  authProxyHeader: string | undefined;
  /** The header listing the user's groups, and the group whose members are made admins when first seen. */
  authProxyGroupsHeader: string;
  authProxyAdminGroup: string | undefined;
  /** The bearer token Prometheus scrapes /metrics with (unset: /metrics is off). */
  metricsToken: string | undefined;
  /** Daily backups kept in the data directory's backups folder (PATCHBAY_BACKUP_KEEP; 0: none taken). */
  backupKeep: number;
  /** Days the audit log keeps an entry (PATCHBAY_AUDIT_RETENTION_DAYS; 0: forever). */
  auditRetentionDays: number;
  /** How long a view's results may be reused when no write went through this process since (0: never). */
  viewReuseMs: number;
  /** Single sign-on set by PATCHBAY_OIDC_* and PATCHBAY_LOCAL_SIGN_IN (unset: Settings → Sign-in decides). */
  signIn: SignInEnvironment | undefined;
  originMap: Map<string, string>;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case): every outbound call honours them. */
  proxy: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  /** NODE_EXTRA_CA_CERTS, which Node reads at start: a corporate CA bundle. */
  extraCaCerts: string | undefined;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export class ConfigError extends Error {}

/** Environment variables that hold a secret: each may instead name a file with NAME_FILE (Docker and Kubernetes secrets). */
export const SECRET_VARIABLES = ["PATCHBAY_SECRET_KEY", "PATCHBAY_METRICS_TOKEN", "PATCHBAY_OIDC_CLIENT_SECRET", "DATABASE_URL"] as const;

/**
 * A secret from the environment: NAME itself, or the contents of the file NAME_FILE names
 * (one trailing newline dropped, as `echo` writes it). Both at once is a mistake worth saying.
 */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: (typeof SECRET_VARIABLES)[number]): string | undefined {
  const file = env[`${name}_FILE`];
  if (file && env[name]) throw new ConfigError(`Set ${name} or ${name}_FILE, not both.`);
  if (!file) return env[name] || undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${name}_FILE names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the path and that the user running Patchbay may read it.`,
    );
  }
  const value = text.replace(/\r?\n$/, "");
  if (!value) throw new ConfigError(`${name}_FILE names ${file}, which is empty.`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = parseInteger(env.PORT, 8080, "PORT", 0, 65535);
  const dataDir = path.resolve(env.PATCHBAY_DATA_DIR || "./data");
  const baseUrl = parseBaseUrl(env.PATCHBAY_BASE_URL || `http://localhost:${port}`);
  const logLevel = (env.PATCHBAY_LOG_LEVEL || "info").toLowerCase();
  if (env.PATCHBAY_TRUST_PROXY !== undefined && env.PATCHBAY_TRUST_PROXY !== "") {
    throw new ConfigError(
      "PATCHBAY_TRUST_PROXY was replaced by PATCHBAY_TRUSTED_PROXIES: list your reverse proxies' addresses or CIDR ranges there (a client could otherwise choose its own address).",
    );
  }
  let trustedProxies: TrustedProxies;
  try {
    trustedProxies = parseTrustedProxies(env.PATCHBAY_TRUSTED_PROXIES);
  } catch (err) {
    throw new ConfigError(`PATCHBAY_TRUSTED_PROXIES: ${(err as Error).message}`);
  }
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(`PATCHBAY_LOG_LEVEL must be debug, info, warn or error (got "${logLevel}").`);
  }
  return {
    port,
    host: env.HOST || "0.0.0.0",
    dataDir,
    databasePath: path.join(dataDir, "patchbay.db"),
    baseUrl,
    baseUrlSet: Boolean(env.PATCHBAY_BASE_URL),
    secretKey: secretFromEnv(env, "PATCHBAY_SECRET_KEY"),
    secretKeyFile: path.join(dataDir, "secret.key"),
    databaseUrl: parseDatabaseUrl(env),
    spoolDir: path.resolve(env.PATCHBAY_SPOOL_DIR || path.join(dataDir, "spool")),
    logLevel: logLevel as LogLevel,
    trustedProxies,
    trustedProxiesText: env.PATCHBAY_TRUSTED_PROXIES?.trim() ?? "",
    outboundDenyPrivate: parseBoolean(env.PATCHBAY_OUTBOUND_DENY_PRIVATE, "PATCHBAY_OUTBOUND_DENY_PRIVATE"),
    jobLeaseSeconds: parseInteger(env.PATCHBAY_JOB_LEASE_SECONDS, 60, "PATCHBAY_JOB_LEASE_SECONDS", 1, 86400),
    authProxyHeader: parseAuthProxyHeader(env.PATCHBAY_AUTH_PROXY_HEADER, env.PATCHBAY_TRUSTED_PROXIES),
    authProxyGroupsHeader: (env.PATCHBAY_AUTH_PROXY_GROUPS_HEADER || "Remote-Groups").toLowerCase(),
    authProxyAdminGroup: env.PATCHBAY_AUTH_PROXY_ADMIN_GROUP?.trim() || undefined,
    metricsToken: parseMetricsToken(secretFromEnv(env, "PATCHBAY_METRICS_TOKEN")),
    backupKeep: parseInteger(env.PATCHBAY_BACKUP_KEEP, 7, "PATCHBAY_BACKUP_KEEP", 0, 365),
    auditRetentionDays: parseInteger(env.PATCHBAY_AUDIT_RETENTION_DAYS, 365, "PATCHBAY_AUDIT_RETENTION_DAYS", 0, 36500),
    viewReuseMs: parseInteger(env.PATCHBAY_VIEW_REUSE_MS, 1000, "PATCHBAY_VIEW_REUSE_MS", 0, 10_000),
    signIn: parseSignIn(env),
    originMap: parseOriginMap(env.PATCHBAY_ORIGIN_MAP),
    proxy: {
      httpsProxy: parseProxy(env.HTTPS_PROXY || env.https_proxy, "HTTPS_PROXY"),
      httpProxy: parseProxy(env.HTTP_PROXY || env.http_proxy, "HTTP_PROXY"),
      noProxy: (env.NO_PROXY || env.no_proxy || "").trim() || undefined,
    },
    extraCaCerts: env.NODE_EXTRA_CA_CERTS || undefined,
  };
}

/** DATABASE_URL (or DATABASE_URL_FILE: it holds a password): a PostgreSQL URL, which needs a secret key every replica shares. */
function parseDatabaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = secretFromEnv(env, "DATABASE_URL")?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("DATABASE_URL must be a PostgreSQL URL, like postgres://patchbay:PASSWORD@db.example.com:5432/patchbay (unset it for SQLite).");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql:// (got ${url.protocol}//); unset it to use SQLite in the data directory.`);
  if (!secretFromEnv(env, "PATCHBAY_SECRET_KEY"))
    throw new ConfigError(
      "PATCHBAY_SECRET_KEY (or PATCHBAY_SECRET_KEY_FILE) is required with PostgreSQL: every Patchbay process must decrypt the same stored credentials. Generate one with `openssl rand -hex 32` and give the same key to every replica.",
    );
  return raw;
}

/** An OpenID Connect issuer: https, or http on this machine only (a provider in a test or a lab). */
export function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return `"${issuer.slice(0, 100)}" is not an address: the issuer looks like https://login.example.com/realms/acme.`;
  }
  if (url.search || url.hash) return "The issuer has no query or fragment: copy it from the provider's discovery document (its issuer field).";
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) return "The issuer must be an https:// address (http only on this machine).";
  return undefined;
}

function parseSignIn(env: NodeJS.ProcessEnv): SignInEnvironment | undefined {
  const issuer = env.PATCHBAY_OIDC_ISSUER?.trim();
  const local = env.PATCHBAY_LOCAL_SIGN_IN?.trim();
  if (!issuer) {
    if (local) throw new ConfigError("PATCHBAY_LOCAL_SIGN_IN applies with single sign-on: set PATCHBAY_OIDC_ISSUER too, or leave it unset.");
    return undefined;
  }
  const problem = issuerProblem(issuer);
  if (problem) throw new ConfigError(`PATCHBAY_OIDC_ISSUER: ${problem}`);
  const clientId = env.PATCHBAY_OIDC_CLIENT_ID?.trim();
  if (!clientId) throw new ConfigError("PATCHBAY_OIDC_CLIENT_ID is needed with PATCHBAY_OIDC_ISSUER: the client id the provider gave Patchbay.");
  const clientSecret = secretFromEnv(env, "PATCHBAY_OIDC_CLIENT_SECRET");
  if (!clientSecret) throw new ConfigError("PATCHBAY_OIDC_CLIENT_SECRET (or PATCHBAY_OIDC_CLIENT_SECRET_FILE) is needed with PATCHBAY_OIDC_ISSUER.");
  const breakGlass = /^break-glass:([a-z0-9][a-z0-9._@-]{2,63})$/.exec(local ?? "");
  if (local && local !== "all" && !breakGlass)
    throw new ConfigError(
      `PATCHBAY_LOCAL_SIGN_IN is "all" or "break-glass:USERNAME" (the one local administrator who keeps a password), not "${local.slice(0, 60)}".`,
    );
  return {
    oidc: {
      issuer,
      clientId,
      clientSecret,
      name: env.PATCHBAY_OIDC_NAME?.trim() || OIDC_DEFAULTS.name,
      scopes: normalScopes(env.PATCHBAY_OIDC_SCOPES?.trim() || OIDC_DEFAULTS.scopes),
      usernameClaim: env.PATCHBAY_OIDC_USERNAME_CLAIM?.trim() || OIDC_DEFAULTS.usernameClaim,
      groupsClaim: env.PATCHBAY_OIDC_GROUPS_CLAIM?.trim() || OIDC_DEFAULTS.groupsClaim,
      adminGroup: env.PATCHBAY_OIDC_ADMIN_GROUP?.trim() ?? "",
      memberGroup: env.PATCHBAY_OIDC_MEMBER_GROUP?.trim() ?? "",
    },
    localSignIn: breakGlass ? "break-glass" : "all",
    breakGlassUser: breakGlass?.[1] ?? "",
  };
}

/** A proxy's URL ("http://proxy.corp:3128", with credentials if it needs them). */
function parseProxy(raw: string | undefined, name: string): string | undefined {
  const text = raw?.trim();
  if (!text) return undefined;
  let url: URL;
  try {
    url = new URL(text.includes("://") ? text : `http://${text}`);
  } catch {
    throw new ConfigError(`${name} must be the proxy's address, like http://proxy.example.com:3128 (got "${text.slice(0, 80)}").`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError(`${name} must be an http:// or https:// proxy address (got ${url.protocol}).`);
  return url.toString().replace(/\/$/, "");
}

/** A proxy address with its credentials masked, for display. */
function shownProxy(proxy: string | undefined): string {
  if (!proxy) return "(unset)";
  const url = new URL(proxy);
  if (url.username || url.password) {
    url.username = "***";
    url.password = "";
  }
  return url.toString().replace(/\/$/, "");
}

/** The effective configuration as printable lines, with the secret key masked. */
export function describeConfig(config: Config): string {
  const rows: [string, string][] = [
    ["PORT", String(config.port)],
    ["HOST", config.host],
    ["PATCHBAY_DATA_DIR", config.dataDir],
    ["PATCHBAY_BASE_URL", config.baseUrl],
    ["PATCHBAY_SECRET_KEY", config.secretKey ? "(set)" : `(unset: ${config.secretKeyFile})`],
    ["DATABASE_URL", config.databaseUrl ? redactDatabaseUrl(config.databaseUrl) : "(unset: SQLite in PATCHBAY_DATA_DIR)"],
    ["PATCHBAY_SPOOL_DIR", config.spoolDir],
    ["PATCHBAY_LOG_LEVEL", config.logLevel],
    ["PATCHBAY_TRUSTED_PROXIES", config.trustedProxiesText || "(empty)"],
    ["PATCHBAY_OUTBOUND_DENY_PRIVATE", String(config.outboundDenyPrivate)],
    ["PATCHBAY_JOB_LEASE_SECONDS", String(config.jobLeaseSeconds)],
    ["PATCHBAY_BACKUP_KEEP", String(config.backupKeep)],
    ["PATCHBAY_AUDIT_RETENTION_DAYS", String(config.auditRetentionDays)],
    ["PATCHBAY_VIEW_REUSE_MS", String(config.viewReuseMs)],
    ["PATCHBAY_METRICS_TOKEN", config.metricsToken ? "(set)" : "(unset: /metrics is off)"],
    ["PATCHBAY_AUTH_PROXY_HEADER", config.authProxyHeader ?? "(unset)"],
    ["PATCHBAY_OIDC_ISSUER", config.signIn?.oidc?.issuer ?? "(unset: Settings → Sign-in)"],
    ["PATCHBAY_OIDC_CLIENT_SECRET", config.signIn ? "(set)" : "(unset)"],
    ["PATCHBAY_ORIGIN_MAP", [...config.originMap].map(([a, b]) => `${a}=${b}`).join(",") || "(empty)"],
    ["HTTPS_PROXY", shownProxy(config.proxy.httpsProxy)],
    ["HTTP_PROXY", shownProxy(config.proxy.httpProxy)],
    ["NO_PROXY", config.proxy.noProxy ?? "(unset)"],
    [
      "NODE_EXTRA_CA_CERTS",
      config.extraCaCerts ? `${config.extraCaCerts}${fs.existsSync(config.extraCaCerts) ? "" : " (no such file: Node ignores it)"}` : "(unset)",
    ],
  ];
  return rows.map(([k, v]) => `${k}=${v}`).join("\n");
}

function parseInteger(raw: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}").`);
  }
  return value;
}

function parseBoolean(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === "") return false;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}").`);
}

function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PATCHBAY_BASE_URL must be an absolute http(s) URL such as https://patchbay.example.com (got "${raw}").`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`PATCHBAY_BASE_URL must start with http:// or https:// (got "${raw}").`);
  }
  return url.href.replace(/\/$/, "");
}

function parseMetricsToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (token.length < 16 || /\s/.test(token)) {
    throw new ConfigError("PATCHBAY_METRICS_TOKEN must be at least 16 characters without spaces (for example the output of `openssl rand -hex 24`).");
  }
  return token;
}

/** The header an authenticating proxy names the user in; it needs the proxies it may come from. */
function parseAuthProxyHeader(raw: string | undefined, proxies: string | undefined): string | undefined {
  const header = raw?.trim();
  if (!header) return undefined;
  if (!/^[A-Za-z0-9-]{1,64}$/.test(header)) throw new ConfigError(`PATCHBAY_AUTH_PROXY_HEADER must be a header name such as Remote-User (got "${header}").`);
  if (!proxies?.trim()) {
    throw new ConfigError(
      "PATCHBAY_AUTH_PROXY_HEADER needs PATCHBAY_TRUSTED_PROXIES: list the authenticating proxy's address, or anyone could send the header and be signed in.",
    );
  }
  return header.toLowerCase();
}

function parseOriginMap(raw: string | undefined): Map<string, string> {
  const map = new Map<string, string>();
  if (!raw) return map;
  for (const pair of raw.split(",")) {
    const [from, to] = pair.split("=").map((s) => s.trim());
    try {
      if (!from || !to) throw new Error();
      map.set(new URL(from).origin, new URL(to).origin);
    } catch {
      throw new ConfigError(`PATCHBAY_ORIGIN_MAP entries must look like https://service=http://127.0.0.1:PORT (got "${pair}").`);
    }
  }
  return map;
}
