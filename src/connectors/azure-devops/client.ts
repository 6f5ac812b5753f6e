// Azure DevOps Services REST client: an organization URL (https://dev.azure.com/<org>, or the
// older https://<org>.visualstudio.com), Basic auth with a personal access token, api-version
// 7.1, JSON Patch bodies for work items, and Azure DevOps' error bodies ({message, typeKey}).
import { ExternalError, type HttpClient, type HttpResponse } from "../../http.js";
import { withoutTrailingSlash } from "../../text.js";

export const SERVICE = "Azure DevOps";
export const API_VERSION = "7.1";

/** The organization's base URL, or undefined for anything else. */
export function organizationUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" || url.search || url.hash) return undefined;
  const path = withoutTrailingSlash(url.pathname);
  if (url.hostname === "dev.azure.com") return /^\/[^/]+$/.test(path) ? `${url.origin}${path}` : undefined;
  if (url.hostname.endsWith(".visualstudio.com")) return path === "" ? url.origin : undefined;
  // Azure DevOps Server (on premises): https://host/tfs/<collection>.
  return path ? `${url.origin}${path}` : undefined;
}

export function adoErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === "string" ? parsed.message : undefined;
  } catch {
    return body.length <= 200 && !body.trimStart().startsWith("<") ? body.trim() : undefined;
  }
}

export interface PatchOperation {
  op: "add" | "replace" | "remove" | "test";
  path: string;
  value?: unknown;
}

export class AzureDevOpsClient {
  constructor(
    private readonly http: HttpClient,
    readonly base: string,
    private readonly token: string,
  ) {}

  private headers(contentType?: string): Record<string, string> {
    return {
      authorization: `Basic ${Buffer.from(`:${this.token}`).toString("base64")}`,
      accept: "application/json",
      "user-agent": "Patchbay",
      ...(contentType ? { "content-type": contentType } : {}),
    };
  }

  url(path: string, apiVersion = API_VERSION): string {
    return `${this.base}${path}${path.includes("?") ? "&" : "?"}api-version=${apiVersion}`;
  }

  async get<T>(path: string, opts: { apiRoot?: boolean; apiVersion?: string } = {}): Promise<{ data: T; response: HttpResponse }> {
    const response = await this.http.request({ url: this.url(path, opts.apiVersion), headers: this.headers(), apiRoot: opts.apiRoot });
    return { data: parse<T>(response), response };
  }

  async send<T>(
    method: "POST" | "PATCH",
    path: string,
    body: unknown,
    opts: { contentType?: string; apiVersion?: string; idempotent?: boolean } = {},
  ): Promise<T> {
    const response = await this.http.request({
      method,
      url: this.url(path, opts.apiVersion),
      headers: this.headers(opts.contentType ?? "application/json"),
      body: JSON.stringify(body),
      idempotent: opts.idempotent,
    });
    return parse<T>(response);
  }
}

/** A 203 with HTML is Azure DevOps' sign-in page: the token was not accepted. */
function parse<T>(response: HttpResponse): T {
  if (response.status === 203 || response.text.trimStart().startsWith("<")) {
    throw new ExternalError(
      "auth",
      SERVICE,
      "Azure DevOps answered with its sign-in page: the personal access token was not accepted (it may have expired or been revoked).",
      { status: response.status },
    );
  }
  return response.json<T>();
}
