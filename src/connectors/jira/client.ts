// Jira Cloud REST v3 client. Classic API tokens work on the site (https://<site>.atlassian.net);
// scoped tokens only through Atlassian's gateway (https://api.atlassian.com/ex/jira/<cloudId>).
// Both use Basic auth with the service account's email and the token. A refusal for want of
// a scope names the scopes the call needs.
import { ExternalError, type HttpClient, type HttpResponse } from "../../http.js";

export const SERVICE = "Jira Cloud";
export const GATEWAY = "https://api.atlassian.com";

export function gatewayBase(cloudId: string): string {
  return `${GATEWAY}/ex/jira/${encodeURIComponent(cloudId)}`;
}

/** Jira's error bodies: {errorMessages:[…], errors:{field: message}}; the gateway's {code, message}. */
export function jiraErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { errorMessages?: unknown; errors?: unknown; message?: unknown };
    const parts: string[] = [];
    if (Array.isArray(parsed.errorMessages)) parts.push(...parsed.errorMessages.filter((m): m is string => typeof m === "string"));
    if (parsed.errors && typeof parsed.errors === "object") {
      for (const [field, message] of Object.entries(parsed.errors as Record<string, unknown>)) parts.push(`${field}: ${String(message)}`);
    }
    if (typeof parsed.message === "string") parts.push(parsed.message);
    return parts.length ? parts.join("; ") : undefined;
  } catch {
    return body.length <= 200 && !body.trimStart().startsWith("<") ? body.trim() : undefined;
  }
}

/** What each kind of call needs, in classic and granular scopes (the seed's lists). */
export const SCOPES = {
  account: { what: "read the service account", classic: ["read:jira-user"], granular: ["read:user:jira"] },
  projects: { what: "list projects", classic: ["read:jira-work"], granular: ["read:project:jira"] },
  metadata: {
    what: "read the create metadata (issue types and fields)",
    classic: ["read:jira-work"],
    granular: ["read:issue-type:jira", "read:project:jira", "read:field.default-value:jira", "read:screenable-field:jira"],
  },
  statuses: { what: "read workflow statuses", classic: ["read:jira-work"], granular: ["read:status:jira"] },
  search: { what: "search issues", classic: ["read:jira-work"], granular: ["read:issue-details:jira", "read:issue:jira"] },
  write: { what: "create and edit issues", classic: ["write:jira-work"], granular: ["write:issue:jira"] },
  comment: { what: "add comments", classic: ["write:jira-work"], granular: ["write:comment:jira"] },
  transition: { what: "transition issues", classic: ["read:jira-work", "write:jira-work"], granular: ["read:issue:jira", "write:issue:jira"] },
} as const;

export type Operation = keyof typeof SCOPES;

export const DC_SERVICE = "Jira Data Center";

/** Cloud: Basic with the account's email and API token. Data Center: a personal access token as Bearer. */
export type JiraAuth = { kind: "basic"; email: string; token: string } | { kind: "bearer"; token: string };

export class JiraClient {
  private readonly authorization: string;
  /** The product name errors use. */
  readonly service: string;

  constructor(
    private readonly http: HttpClient,
    readonly base: string,
    auth: JiraAuth | string,
    token?: string,
    service: string = SERVICE,
  ) {
    const a: JiraAuth = typeof auth === "string" ? { kind: "basic", email: auth, token: token ?? "" } : auth;
    this.authorization = a.kind === "basic" ? `Basic ${Buffer.from(`${a.email}:${a.token}`).toString("base64")}` : `Bearer ${a.token}`;
    this.service = a.kind === "bearer" ? DC_SERVICE : service;
  }

  private headers(json: boolean): Record<string, string> {
    // X-Atlassian-Token: no-check keeps Data Center's XSRF check from refusing API writes.
    return {
      authorization: this.authorization,
      accept: "application/json",
      "user-agent": "Patchbay",
      "x-atlassian-token": "no-check",
      ...(json ? { "content-type": "application/json" } : {}),
    };
  }

  async get<T>(op: Operation, path: string, opts: { apiRoot?: boolean } = {}): Promise<T> {
    return scoped(op, this.service, async () => (await this.http.json<T>({ url: this.base + path, headers: this.headers(false), apiRoot: opts.apiRoot })).data);
  }

  /** POST or PUT with a JSON body; resolves with the parsed body, or undefined for 204. */
  async send<T>(
    op: Operation,
    method: "POST" | "PUT",
    path: string,
    body: unknown,
    opts: { idempotent?: boolean; answers?: number[] } = {},
  ): Promise<T | undefined> {
    return scoped(op, this.service, async () => {
      const response: HttpResponse = await this.http.request({
        method,
        url: this.base + path,
        headers: this.headers(true),
        body: JSON.stringify(body),
        idempotent: opts.idempotent,
        answers: opts.answers,
      });
      return response.status === 204 || !response.text ? undefined : response.json<T>();
    });
  }
}

async function scoped<T>(op: Operation, service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ExternalError)) throw err;
    if (service === DC_SERVICE) {
      // Data Center tokens have no scopes: a 403 is the account's permission in Jira.
      if (err.status !== 403) throw err;
      const said = err.remoteMessage ? ` Jira said: "${err.remoteMessage}".` : "";
      throw new ExternalError(
        "permission",
        service,
        `Jira refused to ${SCOPES[op].what} (HTTP 403): give the token's user Browse Projects, Create Issues, Edit Issues, Transition Issues and Add Comments in the project.${said}`,
        { status: 403, remoteMessage: err.remoteMessage },
      );
    }
    // The gateway answers a token without the scope with 401 "scope does not match".
    const scopeProblem = err.status === 403 || (err.status === 401 && /scope/i.test(err.remoteMessage ?? ""));
    if (!scopeProblem) throw err;
    const need = SCOPES[op];
    const said = err.remoteMessage ? ` Jira said: "${err.remoteMessage}".` : "";
    throw new ExternalError(
      "permission",
      SERVICE,
      `Jira Cloud refused to ${need.what} (HTTP ${err.status}): the API token lacks a scope, or the service account lacks the Jira permission. ` +
        `Needed: ${need.classic.join(", ")} (classic scopes) or ${need.granular.join(", ")} (granular scopes).${said}`,
      { status: err.status, remoteMessage: err.remoteMessage },
    );
  }
}
