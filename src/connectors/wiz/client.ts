// Wiz HTTP client: OAuth 2.0 client-credentials against Wiz's token service, a bearer
// token cached until shortly before it expires, and GraphQL requests whose `errors[]`
// (Wiz answers query and permission problems with HTTP 200) become typed errors.
import { ExternalError, type HttpClient } from "../../http.js";

export const SERVICE = "Wiz";

/** Where an API endpoint's tenant authenticates: commercial, Wiz for Government, FedRAMP. */
const TENANTS = [
  { host: /^api\.([a-z0-9-]+)\.app\.wiz\.io$/, tokenUrl: "https://auth.app.wiz.io/oauth/token" },
  { host: /^api\.([a-z0-9-]+)\.gov\.wiz\.io$/, tokenUrl: "https://auth.gov.wiz.io/oauth/token" },
  { host: /^api\.([a-z0-9-]+)\.app\.wiz\.us$/, tokenUrl: "https://auth.app.wiz.us/oauth/token" },
];

export interface WizEndpoint {
  graphqlUrl: string;
  tokenUrl: string;
  dataCenter: string;
}

/** Parses the API Endpoint URL from Wiz's Tenant Info, with or without the /graphql suffix. */
export function parseEndpoint(raw: string): WizEndpoint | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" || url.search || url.hash || url.username || url.port) return undefined;
  if (!/^\/(graphql\/?)?$/.test(url.pathname)) return undefined;
  for (const tenant of TENANTS) {
    const match = tenant.host.exec(url.hostname);
    if (match) return { graphqlUrl: `https://${url.hostname}/graphql`, tokenUrl: tenant.tokenUrl, dataCenter: match[1]! };
  }
  return undefined;
}

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

export class WizClient {
  readonly #http: HttpClient;
  readonly #endpoint: WizEndpoint;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #now: () => number;
  #token: CachedToken | undefined;

  constructor(http: HttpClient, endpoint: WizEndpoint, clientId: string, clientSecret: string, now: () => number = Date.now) {
    this.#http = http;
    this.#endpoint = endpoint;
    this.#clientId = clientId;
    this.#clientSecret = clientSecret;
    this.#now = now;
  }

  /** A bearer token, fetched again when less than a minute of it is left. */
  async token(): Promise<string> {
    if (this.#token && this.#token.expiresAt - 60_000 > this.#now()) return this.#token.value;
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: this.#clientId,
      client_secret: this.#clientSecret,
      audience: "wiz-api",
    });
    let data: { access_token?: unknown; expires_in?: unknown };
    try {
      ({ data } = await this.#http.json<typeof data>({
        method: "POST",
        url: this.#endpoint.tokenUrl,
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body,
        idempotent: true,
      }));
    } catch (err) {
      throw tokenError(err);
    }
    if (typeof data.access_token !== "string" || !data.access_token) {
      throw new ExternalError("remote", SERVICE, "Wiz's token service answered without an access token.");
    }
    const ttl = typeof data.expires_in === "number" ? data.expires_in : 3600;
    this.#token = { value: data.access_token, expiresAt: this.#now() + ttl * 1000 };
    return data.access_token;
  }

  async graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const hadToken = this.#token !== undefined;
    try {
      return await this.#graphqlOnce<T>(query, variables);
    } catch (err) {
      // A cached token Wiz no longer accepts (expired early, revoked): fetch a new one once.
      if (!(err instanceof ExternalError && err.kind === "auth" && hadToken)) throw err;
      this.#token = undefined;
      return this.#graphqlOnce<T>(query, variables);
    }
  }

  async #graphqlOnce<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const token = await this.token();
    const { data } = await this.#http.json<{ data?: T; errors?: GraphQLError[] }>({
      method: "POST",
      url: this.#endpoint.graphqlUrl,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
      idempotent: true,
      apiRoot: true,
    });
    if (data.errors?.length) throw graphqlError(data.errors);
    if (data.data === undefined) throw new ExternalError("remote", SERVICE, "Wiz answered without data or errors.");
    return data.data;
  }
}

/** The token service speaks OAuth: a 400/401 with invalid_client or access_denied means bad credentials. */
function tokenError(err: unknown): unknown {
  if (!(err instanceof ExternalError)) return err;
  if (err.kind === "auth" || (err.status === 400 && /invalid_client|invalid_grant|access_denied|unauthorized/i.test(err.remoteMessage ?? ""))) {
    const said = err.remoteMessage ? ` Wiz said: "${err.remoteMessage}".` : "";
    return new ExternalError("auth", SERVICE, `Wiz did not accept the Client ID and Client Secret.${said}`, {
      status: err.status,
      remoteMessage: err.remoteMessage,
    });
  }
  return err;
}

function graphqlError(errors: GraphQLError[]): ExternalError {
  const first = errors[0]!;
  const code = first.extensions?.code;
  const remoteMessage = first.message;
  switch (code) {
    case "UNAUTHENTICATED":
      return new ExternalError("auth", SERVICE, "Wiz did not accept the access token.", { remoteMessage });
    case "UNAUTHORIZED":
    case "FORBIDDEN_IP":
      return new ExternalError("permission", SERVICE, `Wiz refused the query: ${remoteMessage}`, { remoteMessage });
    case "RATE_LIMIT_EXCEEDED":
      return new ExternalError("rate_limited", SERVICE, "Wiz is rate-limiting this service account.", { remoteMessage });
    default:
      return new ExternalError("remote", SERVICE, `Wiz rejected the query: ${remoteMessage}`, { remoteMessage });
  }
}

/** Wiz's token service and GraphQL API put their explanation in different fields. */
export function wizErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    if (typeof parsed.error_description === "string") return `${parsed.error ?? "error"}: ${parsed.error_description}`;
    if (typeof parsed.error === "string") return parsed.error;
    const errors = parsed.errors as GraphQLError[] | undefined;
    if (Array.isArray(errors) && errors[0]?.message) return errors[0].message;
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    return body.length < 200 ? body : undefined;
  }
  return undefined;
}
