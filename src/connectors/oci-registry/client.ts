// OCI Distribution client: /v2/ with the registry's own authentication as the distribution
// spec's token flow describes it — anonymous, Basic, or a Bearer token fetched from the realm
// the 401 challenge names (with the credentials, per scope) — catalog and tag lists paginated
// by Link headers, manifests (indexes and images) and config blobs, following the redirects
// registries use for blobs without sending them the credentials.
import { createHash } from "node:crypto";
import { ExternalError, type HttpClient, type HttpResponse, linkHeaderNext } from "../../http.js";

export const SERVICE = "Container registry";

export const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

interface Challenge {
  scheme: "bearer" | "basic";
  realm?: string;
  service?: string;
}

/** Parses WWW-Authenticate: Bearer realm="…",service="…",scope="…" (or Basic realm="…"). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const text = header.trim();
  const space = text.search(/\s/);
  const scheme = (space < 0 ? text : text.slice(0, space)).toLowerCase();
  if (scheme !== "bearer" && scheme !== "basic") return undefined;
  const params = authParams(space < 0 ? "" : text.slice(space));
  return { scheme, realm: params.realm, service: params.service };
}

/** The next page from a Link header, relative to the registry: </v2/_catalog?last=x&n=100>; rel="next". */
export function nextLink(base: string, link: string | null): string | null {
  const target = linkHeaderNext(link);
  if (!target) return null;
  const url = new URL(target, base);
  if (url.origin !== new URL(base).origin)
    throw new ExternalError("remote", SERVICE, `The registry pointed its next page to another server (${url.origin}); it was not followed.`);
  return url.pathname + url.search;
}

/**
 * Thrown when a registry's challenge names a token service on another host that nobody
 * confirmed: the credentials are not sent there. `realm` is the origin to show for confirmation.
 */
export class UnconfirmedRealmError extends ExternalError {
  constructor(readonly realm: string) {
    super(
      "invalid_input",
      SERVICE,
      `The registry sends sign-in to ${realm}, another host than its own. If that is the registry's token service (GitLab's registry uses gitlab.com, for example), enter ${realm} as Token service and connect again; Patchbay sends the credentials only there.`,
    );
  }
}

export class RegistryClient {
  #challenge: Challenge | null | undefined;
  readonly #tokens = new Map<string, { token: string; until: number }>();

  /**
   * `tokenServices`: the https origins besides the registry's own that may receive the
   * credentials in the token flow (the service's known one, or one the user confirmed).
   */
  constructor(
    private readonly http: HttpClient,
    readonly base: string,
    private readonly credentials: { username: string; password: string } | undefined,
    private readonly tokenServices: string[] = [],
  ) {}

  /** Whether the credentials may go to this realm: the registry itself, or a confirmed https token service. */
  private mayReceiveCredentials(realm: URL): boolean {
    if (realm.origin === new URL(this.base).origin) return true;
    return realm.protocol === "https:" && this.tokenServices.includes(realm.origin);
  }

  private basic(): string | undefined {
    return this.credentials ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}` : undefined;
  }

  /** GET /v2/: what authentication the registry asks for (null: none). */
  async probe(): Promise<void> {
    try {
      await this.http.request({ url: `${this.base}/v2/`, headers: { accept: "application/json" }, apiRoot: true });
      this.#challenge = null;
    } catch (err) {
      const challenge = err instanceof ExternalError && err.status === 401 ? parseChallenge(err.headers?.get("www-authenticate") ?? null) : undefined;
      if (!challenge) throw err;
      this.#challenge = challenge;
      // With credentials, prove them now: the token service or /v2/ itself must accept them.
      await this.get("/v2/", "registry:catalog:*");
    }
  }

  private async authorization(scope: string): Promise<string | undefined> {
    if (this.#challenge === undefined) await this.probe();
    const c = this.#challenge;
    if (!c) return undefined;
    if (c.scheme === "basic") return this.basic();
    const cached = this.#tokens.get(scope);
    if (cached && cached.until > Date.now()) return `Bearer ${cached.token}`;
    if (!c.realm) throw new ExternalError("remote", SERVICE, "The registry asked for a bearer token without saying where to get one (no realm).");
    let url: URL;
    try {
      url = new URL(c.realm);
    } catch {
      throw new ExternalError("remote", SERVICE, "The registry's challenge names a token service that is not a URL.");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new ExternalError("remote", SERVICE, "The registry's challenge names a token service that is not an http(s) URL.");
    if (this.credentials && !this.mayReceiveCredentials(url)) throw new UnconfirmedRealmError(url.origin);
    if (c.service) url.searchParams.set("service", c.service);
    url.searchParams.set("scope", scope);
    const basic = this.basic();
    const { data } = await this.http.json<{ token?: string; access_token?: string; expires_in?: number }>({
      url: url.toString(),
      headers: { accept: "application/json", ...(basic ? { authorization: basic } : {}) },
    });
    const token = data.token ?? data.access_token;
    if (!token) throw new ExternalError("auth", SERVICE, "The registry's token service gave no token for these credentials.");
    this.#tokens.set(scope, { token, until: Date.now() + Math.max(30, (data.expires_in ?? 60) - 10) * 1000 });
    return `Bearer ${token}`;
  }

  /** GET with the scope's authorization; a 401 on a cached token fetches a fresh one once. */
  async get(path: string, scope: string, accept = "application/json"): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(scope);
      try {
        // Blob redirects go to storage (S3, a CDN) with a signed URL, which refuses a second
        // credential: the helper follows them without the registry's.
        return await this.http.request({
          url: this.base + path,
          headers: { accept, ...(authorization ? { authorization } : {}) },
          redirectCredentials: "never",
        });
      } catch (err) {
        if (attempt === 0 && err instanceof ExternalError && err.status === 401 && this.#tokens.has(scope)) {
          this.#tokens.delete(scope);
          continue;
        }
        throw err;
      }
    }
  }
}

export function digestOf(response: HttpResponse): string {
  return response.headers.get("docker-content-digest") ?? `sha256:${createHash("sha256").update(response.text).digest("hex")}`;
}

/** RFC 7235 auth-params: `realm="https://auth.docker.io/token",service="registry.docker.io"`. */
function authParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === "," || text[i] === " " || text[i] === "\t")) i++;
    const eq = text.indexOf("=", i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim().toLowerCase();
    let value = "";
    i = eq + 1;
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) value += text[i] === "\\" && i + 1 < text.length ? text[++i] : text[i];
      i++;
    } else {
      const end = text.indexOf(",", i);
      value = text.slice(i, end < 0 ? text.length : end).trim();
      i = end < 0 ? text.length : end;
    }
    if (name) params[name] = value;
  }
  return params;
}
