// ServiceNow Table API client: an instance URL, Basic auth (user and password) or an OAuth
// access token from the instance's /oauth_token.do (client credentials), sysparm paging,
// and ServiceNow's error body {error: {message, detail}, status: "failure"}.
import { ExternalError, type HttpClient } from "../../http.js";
import { httpsOrigin } from "../origin.js";

export const SERVICE = "ServiceNow";

/** The instance address, https://<instance>.service-now.com. */
export const instanceUrl = httpsOrigin;

export function serviceNowErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; detail?: unknown }; error_description?: unknown };
    const message = parsed.error?.message;
    const detail = parsed.error?.detail;
    if (typeof message === "string") return typeof detail === "string" && detail ? `${message}: ${detail}` : message;
    if (typeof parsed.error_description === "string") return parsed.error_description;
  } catch {
    return body.length <= 200 && !body.trimStart().startsWith("<") ? body.trim() : undefined;
  }
  return undefined;
}

export type Credentials = { kind: "basic"; user: string; password: string } | { kind: "oauth"; clientId: string; clientSecret: string };

// Tokens by instance and client, reused until shortly before they expire.
const tokens = new Map<string, { token: string; expiresAt: number }>();

export class ServiceNowClient {
  constructor(
    private readonly http: HttpClient,
    readonly base: string,
    private readonly credentials: Credentials,
  ) {}

  private async authorization(): Promise<string> {
    const c = this.credentials;
    if (c.kind === "basic") return `Basic ${Buffer.from(`${c.user}:${c.password}`).toString("base64")}`;
    const key = `${this.base}|${c.clientId}`;
    const cached = tokens.get(key);
    if (cached && cached.expiresAt - Date.now() > 60_000) return `Bearer ${cached.token}`;
    const { data } = await this.http.json<{ access_token?: string; expires_in?: number }>({
      method: "POST",
      url: `${this.base}/oauth_token.do`,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: c.clientId, client_secret: c.clientSecret }),
      idempotent: true,
    });
    if (!data.access_token) throw new ExternalError("auth", SERVICE, "ServiceNow's token endpoint gave no access token for the OAuth client.");
    tokens.set(key, { token: data.access_token, expiresAt: Date.now() + (data.expires_in ?? 1800) * 1000 });
    return `Bearer ${data.access_token}`;
  }

  async list<T>(table: string, query: Record<string, string>, opts: { apiRoot?: boolean } = {}): Promise<T[]> {
    const params = new URLSearchParams(query);
    const { data } = await this.http.json<{ result: T[] }>({
      url: `${this.base}/api/now/table/${encodeURIComponent(table)}?${params}`,
      headers: { authorization: await this.authorization(), accept: "application/json", "user-agent": "Patchbay" },
      apiRoot: opts.apiRoot,
    });
    if (!Array.isArray(data.result)) throw new ExternalError("remote", SERVICE, `ServiceNow answered the ${table} query without a result list.`);
    return data.result;
  }

  async write<T>(method: "POST" | "PATCH", path: string, body: unknown): Promise<T> {
    const { data } = await this.http.json<{ result: T }>({
      method,
      url: `${this.base}/api/now/table/${path}`,
      headers: { authorization: await this.authorization(), accept: "application/json", "content-type": "application/json", "user-agent": "Patchbay" },
      body: JSON.stringify(body),
      idempotent: method === "PATCH",
    });
    return data.result;
  }

  /**
   * Several Table API writes in one request (the Batch API, /api/now/v1/batch): each request's
   * own status and parsed body by position, or "unserviced" where ServiceNow stopped at its
   * size or time limit before it (nothing done). Bodies travel base64-encoded both ways.
   */
  async batch(requests: { method: "POST"; path: string; body: unknown }[]): Promise<({ status: number; body: unknown } | "unserviced")[]> {
    const { data } = await this.http.json<{ serviced_requests?: unknown; unserviced_requests?: unknown }>({
      method: "POST",
      url: `${this.base}/api/now/v1/batch`,
      headers: { authorization: await this.authorization(), accept: "application/json", "content-type": "application/json", "user-agent": "Patchbay" },
      body: JSON.stringify({
        batch_request_id: "patchbay",
        rest_requests: requests.map((r, i) => ({
          id: String(i),
          method: r.method,
          url: `/api/now/table/${r.path}`,
          headers: [
            { name: "Content-Type", value: "application/json" },
            { name: "Accept", value: "application/json" },
          ],
          exclude_response_headers: true,
          body: Buffer.from(JSON.stringify(r.body)).toString("base64"),
        })),
      }),
    });
    const unmatched = (why: string) =>
      new ExternalError(
        "remote",
        SERVICE,
        `ServiceNow answered the batch ${why}, so Patchbay cannot tell which records it made: it looks for each by its correlation ID before creating any again.`,
      );
    if (!Array.isArray(data?.serviced_requests)) throw unmatched("without its list of serviced requests");
    const out = new Map<number, { status: number; body: unknown } | "unserviced">();
    for (const item of data.serviced_requests as { id?: unknown; status_code?: unknown; body?: unknown }[]) {
      const index = Number(item?.id);
      if (!Number.isInteger(index) || index < 0 || index >= requests.length || out.has(index) || typeof item.status_code !== "number")
        throw unmatched("with an answer to a request it was not sent");
      let body: unknown;
      try {
        body = typeof item.body === "string" && item.body ? JSON.parse(Buffer.from(item.body, "base64").toString("utf8")) : undefined;
      } catch {
        body = undefined;
      }
      out.set(index, { status: item.status_code, body });
    }
    for (const id of Array.isArray(data.unserviced_requests) ? data.unserviced_requests : []) {
      const index = Number(id);
      if (Number.isInteger(index) && index >= 0 && index < requests.length && !out.has(index)) out.set(index, "unserviced");
    }
    if (out.size !== requests.length) throw unmatched(`with ${out.size} answers for ${requests.length} requests`);
    return requests.map((_, i) => out.get(i)!);
  }
}
