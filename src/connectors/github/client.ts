// GitHub REST client: github.com or GitHub Enterprise Server (https://HOST/api/v3), bearer
// token, the API version header, and Link-header pagination.
import { ExternalError, type HttpClient, type HttpResponse, linkHeaderNext } from "../../http.js";
import type { Pacing } from "../types.js";

export const SERVICE = "GitHub";

/**
 * GitHub's documented secondary limits: at most 80 content-creating requests a minute and 500
 * an hour per account, and 100 concurrent requests. An issue is one POST (labels included
 * where the token may set them).
 */
export const GITHUB_PACING: Pacing = { defaults: { perMinute: 80, perHour: 500, concurrent: 100 }, basis: "GitHub's limit", writesPerTicket: 1 };
const API_VERSION = "2022-11-28";

/** The REST API root for a GitHub web address: api.github.com, or /api/v3 on a GHES server. */
export function apiBase(webUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(webUrl.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.search || url.hash || !/^\/?$/.test(url.pathname)) return undefined;
  const host = url.hostname.toLowerCase();
  if (host === "github.com" || host === "www.github.com") return "https://api.github.com";
  return `${url.origin}/api/v3`;
}

/** The URL of rel="next" in a Link header, if any. */
export function nextLink(link: string | null): string | null {
  return linkHeaderNext(link);
}

export function githubErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; errors?: unknown };
    if (typeof parsed.message !== "string") return undefined;
    // A 422's details: {resource, field, code} or a custom {message} ("A pull request already exists for …").
    const details = (Array.isArray(parsed.errors) ? parsed.errors : [])
      .slice(0, 5)
      .map((e: unknown) => {
        if (typeof e === "string") return e;
        const o = (e ?? {}) as { message?: unknown; field?: unknown; code?: unknown };
        if (typeof o.message === "string") return o.message;
        return [o.field, o.code].filter((x) => typeof x === "string").join(" ");
      })
      .filter(Boolean);
    return details.length ? `${parsed.message}: ${details.join("; ")}` : parsed.message;
  } catch {
    return body.length < 200 ? body : undefined;
  }
}

export class GitHubClient {
  constructor(
    private readonly http: HttpClient,
    readonly base: string,
    /** A personal or OAuth token, or a provider of installation tokens (GitHub App). */
    private readonly token: string | (() => Promise<string>),
    /** For an App installation: its bot user's login (an installation token cannot call GET /user). */
    private readonly botLogin?: () => Promise<string>,
  ) {}

  /** The login GitHub names this account by in events: the user's, or the App's "<slug>[bot]". */
  async whoami(): Promise<string> {
    if (this.botLogin) return this.botLogin();
    const { data } = await this.get<{ login?: string }>("/user");
    if (!data.login) throw new ExternalError("remote", SERVICE, "GitHub answered /user without a login.");
    return data.login;
  }

  /** True when authenticated as a GitHub App installation. */
  get installation(): boolean {
    return typeof this.token === "function";
  }

  async headers(): Promise<Record<string, string>> {
    const token = typeof this.token === "function" ? await this.token() : this.token;
    return {
      authorization: `Bearer ${token}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": API_VERSION,
      "user-agent": "Patchbay",
    };
  }

  async get<T>(pathOrUrl: string, opts: { apiRoot?: boolean } = {}): Promise<{ data: T; response: HttpResponse }> {
    return this.http.json<T>({ url: this.url(pathOrUrl), headers: await this.headers(), apiRoot: opts.apiRoot });
  }

  /** A file's bytes as text (the contents API's raw media type). */
  async raw(path: string, maxBytes?: number): Promise<string> {
    const response = await this.http.request({
      url: this.url(path),
      headers: { ...(await this.headers()), accept: "application/vnd.github.raw+json" },
      large: true,
      maxBytes,
    });
    return response.text;
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PATCH", path, body);
  }

  async send<T>(method: "POST" | "PATCH", path: string, body: unknown): Promise<T> {
    const { data } = await this.http.json<T>({
      method,
      url: this.url(path),
      headers: { ...(await this.headers()), "content-type": "application/json" },
      body: JSON.stringify(body),
      // Setting the same description twice is harmless; creating a hook twice is not.
      idempotent: method === "PATCH",
    });
    return data;
  }

  /** Absolute URLs (from Link headers) must stay on this API's origin. */
  url(pathOrUrl: string): string {
    if (!/^https?:\/\//.test(pathOrUrl)) return this.base + pathOrUrl;
    if (new URL(pathOrUrl).origin !== new URL(this.base).origin) {
      throw new ExternalError("remote", SERVICE, `GitHub pointed to a page on another server (${new URL(pathOrUrl).origin}); it was not followed.`);
    }
    return pathOrUrl;
  }
}
