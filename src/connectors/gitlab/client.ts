// GitLab REST v4 client: gitlab.com or a self-managed server, bearer auth (OAuth tokens and
// personal, group or project access tokens), and offset pagination by the X-Next-Page header.
import { ExternalError, type HttpClient, type HttpResponse } from "../../http.js";
import { withoutTrailingSlash } from "../../text.js";

export const SERVICE = "GitLab";

/** The API root for a GitLab address, which may sit under a relative path (https://host/gitlab). */
export function apiBase(webUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(webUrl.trim());
  } catch {
    return undefined;
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) return undefined;
  return `${url.origin}${withoutTrailingSlash(url.pathname)}/api/v4`;
}

export function gitlabErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown; error_description?: unknown };
    const message = parsed.message ?? parsed.error_description ?? parsed.error;
    if (typeof message === "string") return message;
    if (message && typeof message === "object") return JSON.stringify(message);
  } catch {
    return body.length < 200 ? body : undefined;
  }
  return undefined;
}

export class GitLabClient {
  constructor(
    private readonly http: HttpClient,
    readonly base: string,
    private readonly token: string,
  ) {}

  private headers(): Record<string, string> {
    // Bearer works for OAuth tokens and for personal, group and project access tokens alike.
    return { authorization: `Bearer ${this.token}`, accept: "application/json", "user-agent": "Patchbay" };
  }

  get<T>(path: string, opts: { apiRoot?: boolean } = {}): Promise<{ data: T; response: HttpResponse }> {
    return this.http.json<T>({ url: this.base + path, headers: this.headers(), apiRoot: opts.apiRoot });
  }

  /** A response's body as text (raw file endpoints). */
  async raw(path: string, maxBytes?: number): Promise<string> {
    return (await this.http.request({ url: this.base + path, headers: { ...this.headers(), accept: "*/*" }, large: true, maxBytes })).text;
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PUT", path, body);
  }

  async send<T>(method: "POST" | "PUT", path: string, body: unknown): Promise<T> {
    const { data } = await this.http.json<T>({
      method,
      url: this.base + path,
      headers: { ...this.headers(), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return data;
  }
}

/** The next page number from X-Next-Page (empty on the last page). */
export function nextPage(response: HttpResponse): string | null {
  const next = response.headers.get("x-next-page");
  return next && /^\d+$/.test(next) ? next : null;
}

export function expectList<T>(data: unknown, what: string): T[] {
  if (!Array.isArray(data)) throw new ExternalError("remote", SERVICE, `GitLab answered ${what} with something that is not a list.`);
  return data as T[];
}
