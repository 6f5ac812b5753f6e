// GitHub App installation authentication: a short-lived JWT (RS256, signed with the app's
// private key) buys an installation access token, valid for an hour; Patchbay caches it and
// buys a new one a few minutes before it expires.
import crypto from "node:crypto";
import { signRs256 } from "../jwt.js";
import { ExternalError, type HttpClient } from "../../http.js";
import { SERVICE } from "./client.js";

export interface AppCredentials {
  appId: string;
  installationId: string;
  privateKey: string;
}

export function appJwt(appId: string, privateKey: string, now: number = Date.now()): string {
  const seconds = Math.floor(now / 1000);
  // iat a minute early for clock drift; GitHub allows at most ten minutes.
  return signRs256({ iat: seconds - 60, exp: seconds + 540, iss: appId }, privateKey);
}

export function privateKeyError(pem: string): string | undefined {
  try {
    const key = crypto.createPrivateKey(pem);
    return key.asymmetricKeyType === "rsa" ? undefined : "GitHub App private keys are RSA keys.";
  } catch {
    return "Paste the whole private key file GitHub gave you, from -----BEGIN to END-----.";
  }
}

const cache = new Map<string, { token: string; expiresAt: number }>();

/** An installation access token, from the cache while it has more than five minutes left. */
export async function installationToken(http: HttpClient, base: string, credentials: AppCredentials): Promise<string> {
  const key = `${base}|${credentials.appId}|${credentials.installationId}`;
  const cached = cache.get(key);
  if (cached && cached.expiresAt - Date.now() > 5 * 60_000) return cached.token;
  const { data } = await http.json<{ token?: string; expires_at?: string }>({
    method: "POST",
    url: `${base}/app/installations/${encodeURIComponent(credentials.installationId)}/access_tokens`,
    headers: {
      authorization: `Bearer ${appJwt(credentials.appId, credentials.privateKey)}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      "user-agent": "Patchbay",
    },
    idempotent: true,
  });
  if (!data.token) throw new ExternalError("remote", SERVICE, "GitHub answered without an installation token.");
  cache.set(key, { token: data.token, expiresAt: data.expires_at ? Date.parse(data.expires_at) : Date.now() + 3_600_000 });
  return data.token;
}

const logins = new Map<string, string>();

/** The App's bot user, "<slug>[bot]", as GitHub names the App's own actions in events (GET /app with the JWT). */
export async function appLogin(http: HttpClient, base: string, credentials: AppCredentials): Promise<string> {
  const key = `${base}|${credentials.appId}`;
  const known = logins.get(key);
  if (known) return known;
  const { data } = await http.json<{ slug?: string }>({
    url: `${base}/app`,
    headers: {
      authorization: `Bearer ${appJwt(credentials.appId, credentials.privateKey)}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      "user-agent": "Patchbay",
    },
  });
  if (!data.slug) throw new ExternalError("remote", SERVICE, "GitHub answered GET /app without the App's slug.");
  logins.set(key, `${data.slug}[bot]`);
  return `${data.slug}[bot]`;
}
