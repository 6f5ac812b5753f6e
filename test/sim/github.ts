// GitHub simulator: the REST API as api.github.com serves it (and GitHub Enterprise Server
// under /api/v3): bearer or token auth, the version and scope headers, repository listing
// with Link pagination, GitHub's error body, primary and secondary rate limits, fault knobs.
import crypto from "node:crypto";
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export interface GitHubSimRepo {
  id: number;
  full_name: string;
  private: boolean;
  visibility: "public" | "private" | "internal";
  archived: boolean;
  default_branch: string;
}

export interface GitHubSimToken {
  login: string;
  /** Classic tokens report their scopes; fine-grained ones do not (null). */
  scopes: string[] | null;
  revoked?: boolean;
}

const DOCS = "https://docs.github.com/rest";

export class GitHubSim {
  readonly faults = new FaultKnobs();
  readonly tokens = new Map<string, GitHubSimToken>();
  readonly repos: GitHubSimRepo[] = [];
  /** Pull request descriptions by "owner/name#number". */
  readonly pullBodies = new Map<string, string | null>();
  /** Requests left in the primary rate limit window; at 0 GitHub answers 403. */
  rateLimitRemaining = 5000;
  /** The web origin the API belongs to (html_url and friends point there). */
  webOrigin = "https://github.com";
  /** Public origins the API is reached at: Link headers point there, as GitHub's do. */
  apiOrigin = "https://api.github.com";
  enterpriseOrigin = "https://github.example.com";

  addToken(token: string, login = "octocat", scopes: string[] | null = ["repo", "read:org", "security_events"]): void {
    this.tokens.set(token, { login, scopes });
  }

  addRepos(owner: string, count: number, start = 1): void {
    for (let i = start; i < start + count; i++) {
      this.repos.push({ id: 1000 + i, full_name: `${owner}/service-${String(i).padStart(3, "0")}`, private: i % 2 === 0, visibility: i % 2 === 0 ? "private" : "public", archived: i % 10 === 0, default_branch: "main" });
    }
  }

  app(): Hono {
    const root = new Hono();
    const api = new Hono();
    api.use("*", this.faults.middleware((status) => JSON.stringify({ message: status >= 500 ? "Server Error" : "Error", documentation_url: DOCS, status: String(status) })));
    api.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const token = /^(?:Bearer|token) (.+)$/.exec(header)?.[1];
      const entry = token ? this.tokens.get(token) : undefined;
      if (!entry || entry.revoked) return c.json({ message: "Bad credentials", documentation_url: DOCS, status: "401" }, 401);
      if (!c.req.header("user-agent")) {
        return c.json({ message: "Request forbidden by administrative rules. Please make sure your request has a User-Agent header", documentation_url: DOCS }, 403);
      }
      const reset = Math.floor(Date.now() / 1000) + 60;
      if (this.rateLimitRemaining <= 0) {
        c.header("x-ratelimit-limit", "5000");
        c.header("x-ratelimit-remaining", "0");
        c.header("x-ratelimit-reset", String(reset));
        return c.json({ message: `API rate limit exceeded for user ID 1.`, documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api` }, 403);
      }
      this.rateLimitRemaining--;
      await next();
      c.header("x-ratelimit-limit", "5000");
      c.header("x-ratelimit-remaining", String(this.rateLimitRemaining));
      c.header("x-ratelimit-reset", String(reset));
      c.header("x-github-api-version-selected", "2022-11-28");
      if (entry.scopes) c.header("x-oauth-scopes", entry.scopes.join(", "));
    });
    api.get("/user", (c) => {
      const entry = this.tokenOf(c.req.header("authorization"));
      return c.json({ login: entry.login, id: 1, type: "User", html_url: `${this.webOrigin}/${entry.login}` });
    });
    api.get("/user/repos", (c) => {
      const perPage = Math.min(100, Math.max(1, Number(c.req.query("per_page") ?? 30)));
      const page = Math.max(1, Number(c.req.query("page") ?? 1));
      const sorted = [...this.repos].sort((a, b) => a.full_name.localeCompare(b.full_name));
      const slice = sorted.slice((page - 1) * perPage, page * perPage);
      const last = Math.max(1, Math.ceil(sorted.length / perPage));
      const served = new URL(c.req.url);
      const enterprise = served.pathname.startsWith("/api/v3/");
      const url = new URL(served.pathname + served.search, enterprise ? this.enterpriseOrigin : this.apiOrigin);
      const link = (p: number) => {
        url.searchParams.set("page", String(p));
        url.searchParams.set("per_page", String(perPage));
        return url.toString();
      };
      const rels = [];
      if (page < last) rels.push(`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`);
      if (page > 1) rels.push(`<${link(1)}>; rel="first"`, `<${link(page - 1)}>; rel="prev"`);
      if (rels.length) c.header("link", rels.join(", "));
      return c.json(
        slice.map((r) => ({
          id: r.id,
          node_id: `R_${r.id}`,
          name: r.full_name.split("/")[1],
          full_name: r.full_name,
          private: r.private,
          visibility: r.visibility,
          archived: r.archived,
          default_branch: r.default_branch,
          html_url: `${this.webOrigin}/${r.full_name}`,
          clone_url: `${this.webOrigin}/${r.full_name}.git`,
          ssh_url: `git@${new URL(this.webOrigin).host}:${r.full_name}.git`,
          owner: { login: r.full_name.split("/")[0] },
        })),
      );
    });
    api.get("/repos/:owner/:repo/pulls/:number", (c) => {
      const key = `${c.req.param("owner")}/${c.req.param("repo")}#${c.req.param("number")}`;
      if (!this.pullBodies.has(key)) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      return c.json({ number: Number(c.req.param("number")), body: this.pullBodies.get(key), state: "open" });
    });
    api.patch("/repos/:owner/:repo/pulls/:number", async (c) => {
      const key = `${c.req.param("owner")}/${c.req.param("repo")}#${c.req.param("number")}`;
      if (!this.pullBodies.has(key)) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      const body = (await c.req.json()) as { body?: string };
      if (typeof body.body === "string") this.pullBodies.set(key, body.body);
      return c.json({ number: Number(c.req.param("number")), body: this.pullBodies.get(key), state: "open" });
    });
    root.route("/", api);
    // GitHub Enterprise Server serves the same API under /api/v3.
    root.route("/api/v3", api);
    return root;
  }

  /** A pull_request event payload as GitHub sends it (the fields Patchbay reads, and more). */
  pullRequestPayload(input: { action: string; repo: GitHubSimRepo; number: number; title: string; body?: string; branch?: string; merged?: boolean }) {
    return {
      action: input.action,
      number: input.number,
      pull_request: {
        url: `${this.apiOrigin}/repos/${input.repo.full_name}/pulls/${input.number}`,
        html_url: `${this.webOrigin}/${input.repo.full_name}/pull/${input.number}`,
        number: input.number,
        state: input.action === "closed" ? "closed" : "open",
        title: input.title,
        body: input.body ?? null,
        user: { login: "dependabot[bot]", type: "Bot" },
        head: { ref: input.branch ?? `fix/${input.number}`, sha: "0".repeat(40) },
        base: { ref: input.repo.default_branch },
        merged: input.merged ?? false,
        merged_at: input.merged ? new Date().toISOString() : null,
      },
      repository: { id: input.repo.id, full_name: input.repo.full_name, html_url: `${this.webOrigin}/${input.repo.full_name}`, private: input.repo.private },
      sender: { login: "dependabot[bot]" },
    };
  }

  /**
   * Sends a webhook delivery the way GitHub does: X-GitHub-Event, X-GitHub-Delivery (a GUID),
   * X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(secret, raw body), JSON or form-encoded.
   */
  async deliver(
    url: string,
    event: string,
    payload: unknown,
    opts: { secret?: string; deliveryId?: string; form?: boolean; signature?: string | null } = {},
  ): Promise<Response> {
    const json = JSON.stringify(payload);
    const body = opts.form ? new URLSearchParams({ payload: json }).toString() : json;
    const headers: Record<string, string> = {
      "content-type": opts.form ? "application/x-www-form-urlencoded" : "application/json",
      "user-agent": "GitHub-Hookshot/abc123",
      "x-github-event": event,
      "x-github-delivery": opts.deliveryId ?? crypto.randomUUID(),
      "x-github-hook-id": "123456",
    };
    const signature = opts.signature !== undefined ? opts.signature : opts.secret ? `sha256=${crypto.createHmac("sha256", opts.secret).update(body).digest("hex")}` : null;
    if (signature !== null) headers["x-hub-signature-256"] = signature;
    return fetch(url, { method: "POST", headers, body });
  }

  private tokenOf(header: string | undefined): GitHubSimToken {
    return this.tokens.get(/^(?:Bearer|token) (.+)$/.exec(header ?? "")![1]!)!;
  }
}
