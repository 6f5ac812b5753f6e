// Bitbucket Cloud REST 2.0 client: https://api.bitbucket.org/2.0, a workspace, project or
// repository access token (Bearer) or an API token / app password with its username (Basic),
// and pagination by the `next` URL in the body.
import { ExternalError, type HttpClient } from "../../http.js";

export const SERVICE = "Bitbucket";
export const API_BASE = "https://api.bitbucket.org/2.0";

export function bitbucketErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string; detail?: string } };
    const message = parsed.error?.message;
    return message ? (parsed.error?.detail ? `${message} (${parsed.error.detail})` : message) : undefined;
  } catch {
    return body.length < 200 ? body : undefined;
  }
}

export interface Paged<T> {
  values: T[];
  next?: string;
}

export class BitbucketClient {
  constructor(
    private readonly http: HttpClient,
    private readonly auth: string,
  ) {}

  private headers(): Record<string, string> {
    return { authorization: this.auth, accept: "application/json", "user-agent": "Patchbay" };
  }

  async get<T>(pathOrUrl: string, opts: { apiRoot?: boolean } = {}): Promise<T> {
    return (await this.getWithHeaders<T>(pathOrUrl, opts)).data;
  }

  /** The answer with its headers (X-OAuth-Scopes: what an access token may do). */
  async getWithHeaders<T>(pathOrUrl: string, opts: { apiRoot?: boolean } = {}): Promise<{ data: T; headers: Headers }> {
    const { data, response } = await this.http.json<T>({ url: this.url(pathOrUrl), headers: this.headers(), apiRoot: opts.apiRoot });
    return { data, headers: response.headers };
  }

  /** A response's body as text (the src endpoint serves a file's raw bytes). */
  async raw(path: string, maxBytes?: number): Promise<string> {
    return (await this.http.request({ url: this.url(path), headers: { ...this.headers(), accept: "*/*" }, large: true, maxBytes })).text;
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PUT", path, body);
  }

  async send<T>(method: "POST" | "PUT", path: string, body: unknown): Promise<T> {
    const { data } = await this.http.json<T>({
      method,
      url: this.url(path),
      headers: { ...this.headers(), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return data;
  }

  /** A form post (the src endpoint's commit: fields and files as x-www-form-urlencoded); its answer has no body to read. */
  async form(path: string, fields: [string, string][]): Promise<{ status: number; location: string | null }> {
    const res = await this.http.request({
      method: "POST",
      url: this.url(path),
      headers: { ...this.headers(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });
    return { status: res.status, location: res.headers.get("location") };
  }

  async delete(path: string): Promise<void> {
    await this.http.request({ method: "DELETE", url: this.url(path), headers: this.headers() });
  }

  /** `next` links must stay on the API. */
  url(pathOrUrl: string): string {
    if (!/^https?:\/\//.test(pathOrUrl)) return API_BASE + pathOrUrl;
    if (new URL(pathOrUrl).origin !== new URL(API_BASE).origin) {
      throw new ExternalError("remote", SERVICE, `Bitbucket pointed to a page on another server (${new URL(pathOrUrl).origin}); it was not followed.`);
    }
    return pathOrUrl;
  }
}

export function authorization(username: string, token: string): string {
  return username ? `Basic ${Buffer.from(`${username}:${token}`).toString("base64")}` : `Bearer ${token}`;
}
