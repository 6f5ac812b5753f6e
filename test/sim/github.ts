// GitHub simulator: the REST API as api.github.com serves it (and GitHub Enterprise Server
// under /api/v3): bearer or token auth, the version and scope headers, repository listing
// with Link pagination, GitHub's error body, primary and secondary rate limits, fault knobs.
import { ticketPage } from "./pages.js";
import crypto from "node:crypto";
import fs from "node:fs";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";
import { type GitHubContract, githubContract } from "./github-openapi.js";
import { type RepoFiles, directoriesOf, gitBlobSha } from "./files.js";
import { eventStamp } from "./stamps.js";

export interface GitHubSimRepo {
  id: number;
  full_name: string;
  private: boolean;
  visibility: "public" | "private" | "internal";
  archived: boolean;
  default_branch: string;
  topics?: string[];
}

export interface GitHubSimToken {
  login: string;
  /** Classic tokens report their scopes; fine-grained ones do not (null). */
  scopes: string[] | null;
  /** When the token expires (sent on every answer as GitHub-Authentication-Token-Expiration). */
  expires?: Date;
  revoked?: boolean;
  /** Installation access tokens belong to one installation of a GitHub App. */
  installation?: number;
}

const DOCS = "https://docs.github.com/rest";

export interface GitHubSimIssue {
  repo: string;
  number: number;
  title: string;
  body: string | null;
  labels: string[];
  assignees: string[];
  milestone: number | null;
  state: "open" | "closed";
  state_reason: "completed" | "not_planned" | "duplicate" | "reopened" | null;
  comments: string[];
  /** The login that created it (the issue list filters on it: creator=). */
  creator?: string;
}

/** A pull request opened through the API. */
export interface GitHubSimPull {
  repo: string;
  number: number;
  title: string;
  body: string | null;
  head: string;
  base: string;
  draft: boolean;
  state: "open" | "closed";
  merged: boolean;
  author: string;
  reviewers: string[];
}

const WEB_ISSUE_PAGE = /^\/[^/]+\/[^/]+\/issues\/\d+$/;

export class GitHubSim {
  readonly faults = new FaultKnobs();
  readonly tokens = new Map<string, GitHubSimToken>();
  readonly repos: GitHubSimRepo[] = [];
  /** OAuth Apps registered on this server: client id → secret and callback URL. */
  readonly oauthApps = new Map<string, { secret: string; callback: string }>();
  /** Authorization codes issued and not yet exchanged. */
  readonly #codes = new Map<string, { clientId: string; redirectUri: string; challenge: string | null; expiresAt: number; login: string }>();
  /** Who is "signed in" on the simulated github.com when a browser reaches the consent page. */
  signedInAs = "octocat";
  /** GitHub Apps: app id → public key (PEM) to verify their JWTs. */
  readonly apps = new Map<string, string>();
  /** App installations: installation id → app id and the repositories granted. */
  readonly installations = new Map<number, { appId: string; repositories: string[] }>();
  /** Repository webhooks by "owner/name". */
  readonly hooks = new Map<string, { id: number; events: string[]; config: { url: string; secret?: string; content_type?: string } }[]>();
  /** The token may not manage webhooks: GitHub answers 404 then. */
  hooksForbidden = false;
  #hookIds = 1;
  /** Pull request descriptions by "owner/name#number". */
  readonly pullBodies = new Map<string, string | null>();
  /** Requests left in the primary rate limit window; at 0 GitHub answers 403. */
  rateLimitRemaining = 5000;
  /**
   * GitHub's secondary limits on content-creating requests (any method but GET and HEAD) per
   * account, over sliding windows: beyond them GitHub answers 403 "You have exceeded a secondary
   * rate limit", with Retry-After for the per-minute one.
   */
  secondaryLimits = { perMinute: 80, perHour: 500 };
  /**
   * Whether the account's plan has draft pull requests in private repositories (GitHub Free
   * does not: a draft there is refused with 422). Public repositories always have them.
   */
  draftsOnPrivate = false;
  /** The sim's clock for its limits (a test sets its own). */
  now: () => number = Date.now;
  /** Content-creating requests per login, as times (ms). */
  readonly writes = new Map<string, number[]>();
  /** Requests refused for a secondary limit. */
  secondaryRefusals = 0;
  /** The web origin the API belongs to (html_url and friends point there). */
  webOrigin = "https://github.com";
  /** Public origins the API is reached at: Link headers point there, as GitHub's do. */
  apiOrigin = "https://api.github.com";
  enterpriseOrigin = "https://github.example.com";
  /** Issues by repository, numbered per repository as GitHub does. */
  readonly issues: GitHubSimIssue[] = [];
  /** Labels defined per repository ("owner/name" → names). */
  readonly labels = new Map<string, string[]>();
  readonly milestones = new Map<string, { number: number; title: string }[]>();
  /** Container packages by owner (organization or user): ghcr.io/<owner>/<name>. */
  /** Files on each repository's default branch, by "owner/name". */
  readonly files = new Map<string, RepoFiles>();
  readonly packages = new Map<string, { name: string; kind: "org" | "user" }[]>();
  /** Users who may be assigned issues (collaborators with push access). */
  readonly assignable = new Set(["octocat", "alice", "bob"]);

  addToken(token: string, login = "octocat", scopes: string[] | null = ["repo", "read:org", "security_events"]): void {
    this.tokens.set(token, { login, scopes });
  }

  addRepos(owner: string, count: number, start = 1): void {
    for (let i = start; i < start + count; i++) {
      this.repos.push({
        id: 1000 + i,
        full_name: `${owner}/service-${String(i).padStart(3, "0")}`,
        private: i % 2 === 0,
        visibility: i % 2 === 0 ? "private" : "public",
        archived: i % 10 === 0,
        default_branch: "main",
      });
    }
  }

  /**
   * GitHub's published REST API description: a request it does not document is answered 422 (as
   * GitHub answers a malformed one) and recorded; every successful answer is checked against it.
   */
  contract: GitHubContract | undefined = process.env.GITHUB_CONTRACT === "off" ? undefined : githubContract();
  /** What broke the contract: Patchbay's requests, or the simulator's own answers. */
  readonly contractProblems: string[] = [];

  app(): Hono {
    const root = new Hono();
    root.use("*", async (c, next) => {
      // The web pages (sign-in, an issue's page) are not the REST API the contract describes.
      if (!this.contract || c.req.path.startsWith("/login/") || WEB_ISSUE_PAGE.test(c.req.path)) return next();
      const path = c.req.path.replace(/^\/api\/v3(?=\/)/, "");
      const body = c.req.method === "GET" || c.req.method === "HEAD" ? "" : await c.req.raw.clone().text();
      const problems = this.contract.checkRequest(c.req.method, path, new URL(c.req.url).searchParams, body);
      if (problems.length) {
        this.contractProblems.push(...problems.map((p) => `request: ${p}`));
        if (process.env.GITHUB_CONTRACT_LOG) fs.appendFileSync(process.env.GITHUB_CONTRACT_LOG, problems.map((p) => `request: ${p}\n`).join(""));
        return c.json({ message: `Invalid request.\n\n${problems.join("\n")}`, documentation_url: DOCS, status: "422" }, 422);
      }
      await next();
      if (c.res.status >= 300 || c.res.headers.get("x-sim-fault")) return;
      let text = await c.res.clone().text();
      const type = c.res.headers.get("content-type") ?? "";
      if (/^application\/json/.test(type) && text) {
        // What the simulator does not model is filled in with values of the documented type.
        text = JSON.stringify(this.contract.complete(c.req.method, path, c.res.status, JSON.parse(text)));
        c.res = new Response(text, { status: c.res.status, headers: c.res.headers });
      }
      const answer = this.contract.checkResponse(c.req.method, path, c.res.status, c.res.headers.get("content-type") ?? "", text);
      if (answer.length) {
        // The simulator's own answer breaks the contract: a loud failure, never data.
        this.contractProblems.push(...answer.map((p) => `answer: ${p}`));
        if (process.env.GITHUB_CONTRACT_LOG) fs.appendFileSync(process.env.GITHUB_CONTRACT_LOG, answer.map((p) => `answer: ${p}\n`).join(""));
        c.res = new Response(JSON.stringify({ message: `The simulator's answer breaks GitHub's published contract: ${answer.join("; ")}` }), {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      }
    });
    const api = new Hono();
    api.use(
      "*",
      this.faults.middleware((status) =>
        JSON.stringify({ message: status >= 500 ? "Server Error" : "Error", documentation_url: DOCS, status: String(status) }),
      ),
    );
    api.use("*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const token = /^(?:Bearer|token) (.+)$/.exec(header)?.[1];
      const entry = token ? this.tokens.get(token) : undefined;
      if (!entry || entry.revoked) return c.json({ message: "Bad credentials", documentation_url: DOCS, status: "401" }, 401);
      if (!c.req.header("user-agent")) {
        return c.json(
          { message: "Request forbidden by administrative rules. Please make sure your request has a User-Agent header", documentation_url: DOCS },
          403,
        );
      }
      const reset = Math.floor(Date.now() / 1000) + 60;
      if (this.rateLimitRemaining <= 0) {
        c.header("x-ratelimit-limit", "5000");
        c.header("x-ratelimit-remaining", "0");
        c.header("x-ratelimit-reset", String(reset));
        return c.json({ message: `API rate limit exceeded for user ID 1.`, documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api` }, 403);
      }
      this.rateLimitRemaining--;
      if (c.req.method !== "GET" && c.req.method !== "HEAD") {
        const at = this.now();
        const times = (this.writes.get(entry.login) ?? []).filter((t) => t > at - 3_600_000);
        const lastMinute = times.filter((t) => t > at - 60_000).length;
        if (lastMinute >= this.secondaryLimits.perMinute || times.length >= this.secondaryLimits.perHour) {
          this.secondaryRefusals++;
          if (lastMinute >= this.secondaryLimits.perMinute) c.header("retry-after", "60");
          return c.json(
            {
              message:
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
              documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
              status: "403",
            },
            403,
          );
        }
        times.push(at);
        this.writes.set(entry.login, times);
      }
      await next();
      c.header("x-ratelimit-limit", "5000");
      c.header("x-ratelimit-remaining", String(this.rateLimitRemaining));
      c.header("x-ratelimit-reset", String(reset));
      c.header("x-github-api-version-selected", "2022-11-28");
      if (entry.scopes) c.header("x-oauth-scopes", entry.scopes.join(", "));
      if (entry.expires)
        c.header(
          "github-authentication-token-expiration",
          entry.expires
            .toISOString()
            .replace("T", " ")
            .replace(/\.\d{3}Z$/, " UTC"),
        );
    });
    api.get("/user", (c) => {
      const entry = this.tokenOf(c.req.header("authorization"));
      // As GitHub: an installation token is not a user.
      if (entry.installation !== undefined) return c.json({ message: "Resource not accessible by integration", documentation_url: DOCS, status: "403" }, 403);
      return c.json({ login: entry.login, id: 1, type: "User", html_url: `${this.webOrigin}/${entry.login}` });
    });
    api.get("/installation/repositories", (c) => {
      const entry = this.tokenOf(c.req.header("authorization"));
      const installation = entry.installation !== undefined ? this.installations.get(entry.installation) : undefined;
      if (!installation)
        return c.json(
          {
            message: "You must authenticate with an installation access token in order to list repositories for an installation.",
            documentation_url: DOCS,
            status: "403",
          },
          403,
        );
      const perPage = Math.min(100, Math.max(1, Number(c.req.query("per_page") ?? 30)));
      const page = Math.max(1, Number(c.req.query("page") ?? 1));
      const granted = this.repos.filter((r) => installation.repositories.includes(r.full_name));
      if (page * perPage < granted.length) {
        const served = new URL(c.req.url);
        const next = new URL(served.pathname + served.search, served.pathname.startsWith("/api/v3/") ? this.enterpriseOrigin : this.apiOrigin);
        next.searchParams.set("page", String(page + 1));
        c.header("link", `<${next}>; rel="next"`);
      }
      return c.json({
        total_count: granted.length,
        repositories: granted.slice((page - 1) * perPage, page * perPage).map((r) => ({
          id: r.id,
          full_name: r.full_name,
          private: r.private,
          visibility: r.visibility,
          archived: r.archived,
          default_branch: r.default_branch,
          topics: r.topics ?? [],
          html_url: `${this.webOrigin}/${r.full_name}`,
        })),
      });
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
          topics: r.topics ?? [],
          html_url: `${this.webOrigin}/${r.full_name}`,
          clone_url: `${this.webOrigin}/${r.full_name}.git`,
          ssh_url: `git@${new URL(this.webOrigin).host}:${r.full_name}.git`,
          owner: { login: r.full_name.split("/")[0] },
        })),
      );
    });
    const hookGuard = (c: { req: { param(name: string): string } }) => {
      const name = `${c.req.param("owner")}/${c.req.param("repo")}`;
      return this.hooksForbidden || !this.repos.some((r) => r.full_name === name) ? undefined : name;
    };
    api.get("/repos/:owner/:repo/hooks", (c) => {
      const name = hookGuard(c);
      if (!name) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      return c.json(
        (this.hooks.get(name) ?? []).map((h) => ({
          id: h.id,
          name: "web",
          active: true,
          events: h.events,
          config: { url: h.config.url, content_type: h.config.content_type, insecure_ssl: "0", secret: h.config.secret ? "********" : undefined },
        })),
      );
    });
    api.post("/repos/:owner/:repo/hooks", async (c) => {
      const name = hookGuard(c);
      if (!name) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      const body = (await c.req.json()) as { events?: string[]; config?: { url?: string; secret?: string; content_type?: string } };
      if (!body.config?.url)
        return c.json(
          { message: "Validation Failed", errors: [{ resource: "Hook", code: "custom", message: "url is missing" }], documentation_url: DOCS, status: "422" },
          422,
        );
      const hook = {
        id: this.#hookIds++,
        events: body.events ?? ["push"],
        config: { url: body.config.url, secret: body.config.secret, content_type: body.config.content_type },
      };
      this.hooks.set(name, [...(this.hooks.get(name) ?? []), hook]);
      return c.json({ id: hook.id, name: "web", active: true, events: hook.events, config: { url: hook.config.url } }, 201);
    });
    api.patch("/repos/:owner/:repo/hooks/:id", async (c) => {
      const name = hookGuard(c);
      const hook = name ? this.hooks.get(name)?.find((h) => h.id === Number(c.req.param("id"))) : undefined;
      if (!hook) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      const body = (await c.req.json()) as { events?: string[]; config?: { url?: string; secret?: string; content_type?: string } };
      if (body.events) hook.events = body.events;
      if (body.config) hook.config = { ...hook.config, ...body.config } as typeof hook.config;
      return c.json({ id: hook.id, name: "web", active: true, events: hook.events, config: { url: hook.config.url } });
    });
    api.get("/repos/:owner/:repo/pulls/:number", (c) => {
      const pull = this.pulls.find((p) => p.repo === `${c.req.param("owner")}/${c.req.param("repo")}` && p.number === Number(c.req.param("number")));
      if (pull) return c.json(this.#pullJson!(pull));
      const key = `${c.req.param("owner")}/${c.req.param("repo")}#${c.req.param("number")}`;
      if (!this.pullBodies.has(key)) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      return c.json({ number: Number(c.req.param("number")), body: this.pullBodies.get(key), state: "open" });
    });
    api.patch("/repos/:owner/:repo/pulls/:number", async (c) => {
      const pull = this.pulls.find((p) => p.repo === `${c.req.param("owner")}/${c.req.param("repo")}` && p.number === Number(c.req.param("number")));
      if (pull) {
        const body = (await c.req.json()) as { title?: string; body?: string; state?: "open" | "closed" };
        if (typeof body.title === "string") pull.title = body.title;
        if (typeof body.body === "string") pull.body = body.body;
        if (body.state === "closed" && !pull.merged) pull.state = "closed";
        if (body.state === "open" && !pull.merged) {
          if (this.pulls.some((p) => p !== pull && p.repo === pull.repo && p.head === pull.head && p.state === "open"))
            return c.json({ message: "Validation Failed", documentation_url: DOCS, status: "422" }, 422);
          pull.state = "open";
        }
        return c.json(this.#pullJson!(pull));
      }
      const key = `${c.req.param("owner")}/${c.req.param("repo")}#${c.req.param("number")}`;
      if (!this.pullBodies.has(key)) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      const body = (await c.req.json()) as { body?: string };
      if (typeof body.body === "string") this.pullBodies.set(key, body.body);
      return c.json({ number: Number(c.req.param("number")), body: this.pullBodies.get(key), state: "open" });
    });
    this.#contentRoutes(api);
    this.#gitRoutes(api);
    this.#alertRoutes(api);
    this.#issueRoutes(api);
    for (const scope of ["orgs", "users"] as const) {
      api.get(`/${scope}/:owner/packages`, (c) => {
        const entry = this.tokenOf(c.req.header("authorization"));
        if (entry.scopes && !entry.scopes.includes("read:packages")) {
          return c.json({ message: "You need at least read:packages scope to list packages.", documentation_url: DOCS, status: "403" }, 403);
        }
        const owned = this.packages.get(c.req.param("owner")) ?? [];
        if (!owned.length || owned[0]!.kind !== (scope === "orgs" ? "org" : "user"))
          return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
        if (c.req.query("package_type") !== "container") return c.json([]);
        return c.json(
          owned.map((p, i) => ({
            id: 3000 + i,
            name: p.name,
            package_type: "container",
            visibility: "private",
            url: `${this.apiOrigin}/${scope}/${c.req.param("owner")}/packages/container/${encodeURIComponent(p.name)}`,
          })),
        );
      });
    }
    this.#oauthRoutes(root);
    const apps = this.#appRoutes();
    root.route("/", apps);
    root.route("/api/v3", apps);
    root.route("/", api);
    // GitHub Enterprise Server serves the same API under /api/v3.
    root.route("/api/v3", api);
    // An issue's web page (html_url), as a person opens it from Patchbay.
    root.get("/:owner/:repo/issues/:number{[0-9]+}", (c) => {
      const repo = `${c.req.param("owner")}/${c.req.param("repo")}`;
      const i = this.issues.find((x) => x.repo === repo && x.number === Number(c.req.param("number")));
      if (!i) return c.html("<!doctype html><title>Not found</title><p>No such issue.</p>", 404);
      return c.html(
        ticketPage({
          service: "GitHub",
          key: `${repo}#${i.number}`,
          title: i.title,
          facts: [
            ["State", i.state],
            ["Labels", i.labels.join(", ")],
            ["Assignees", i.assignees.join(", ")],
          ],
          body: i.body ?? "",
          comments: i.comments,
        }),
      );
    });
    return root;
  }

  /** Git trees (recursive) and file contents, raw or base64 JSON (REST "Git database" and "Repository contents"). */
  #contentRoutes(api: Hono): void {
    const repoOf = (c: { req: { param(name: string): string } }) => this.repos.find((r) => r.full_name === `${c.req.param("owner")}/${c.req.param("repo")}`);
    const notFound = { message: "Not Found", documentation_url: DOCS, status: "404" };
    api.get("/repos/:owner/:repo/git/trees/:ref", (c) => {
      const repo = repoOf(c);
      if (!repo) return c.json(notFound, 404);
      const files = this.files.get(repo.full_name);
      if (!files || Object.keys(files).length === 0) return c.json({ message: "Git Repository is empty.", documentation_url: DOCS, status: "409" }, 409);
      const ref = c.req.param("ref");
      if (ref !== repo.default_branch && ref !== "HEAD") return c.json(notFound, 404);
      const recursive = c.req.query("recursive") !== undefined;
      const entries = [
        ...directoriesOf(files)
          .filter((d) => recursive || !d.includes("/"))
          .map((path) => ({
            path,
            mode: "040000",
            type: "tree",
            sha: gitBlobSha(`tree:${path}`),
            url: `${this.apiOrigin}/repos/${repo.full_name}/git/trees/${gitBlobSha(`tree:${path}`)}`,
          })),
        ...Object.entries(files)
          .filter(([path]) => recursive || !path.includes("/"))
          .map(([path, content]) => ({
            path,
            mode: "100644",
            type: "blob",
            sha: gitBlobSha(content),
            size: Buffer.byteLength(content),
            url: `${this.apiOrigin}/repos/${repo.full_name}/git/blobs/${gitBlobSha(content)}`,
          })),
      ].sort((a, b) => a.path.localeCompare(b.path));
      return c.json({
        sha: gitBlobSha(JSON.stringify(files)),
        url: `${this.apiOrigin}/repos/${repo.full_name}/git/trees/${ref}`,
        tree: entries,
        truncated: false,
      });
    });
    api.get("/repos/:owner/:repo/contents/*", (c) => {
      const repo = repoOf(c);
      const path = decodeURIComponent(c.req.path.replace(/^.*?\/contents\//, ""));
      const content = repo ? this.files.get(repo.full_name)?.[path] : undefined;
      const ref = c.req.query("ref");
      if (!repo || content === undefined || (ref && ref !== repo.default_branch && ref !== "HEAD")) return c.json(notFound, 404);
      this.contentReads.push(`${repo.full_name}:${path}`);
      if ((c.req.header("accept") ?? "").includes("application/vnd.github.raw")) {
        return c.body(content, 200, { "content-type": "application/vnd.github.raw+json; charset=utf-8" });
      }
      return c.json({
        type: "file",
        encoding: "base64",
        size: Buffer.byteLength(content),
        name: path.split("/").at(-1),
        path,
        content: Buffer.from(content).toString("base64"),
        sha: gitBlobSha(content),
      });
    });
  }

  /** Blobs, trees and commits written through the Git database API, by sha. */
  readonly #blobs = new Map<string, string>();
  readonly #trees = new Map<string, RepoFiles>();
  readonly #commits = new Map<string, { repo: string; tree: string; parents: string[]; message: string }>();
  /** Branches besides each repository's default one: "owner/name" → branch → commit sha. */
  readonly branches = new Map<string, Map<string, string>>();
  /** Pull requests opened through the API (numbered with the repository's issues, as GitHub does). */
  readonly pulls: GitHubSimPull[] = [];

  /** The next number of an issue or pull request in a repository: they share one sequence. */
  nextNumber(repo: string): number {
    const taken = [
      ...this.issues.filter((i) => i.repo === repo).map((i) => i.number),
      ...this.pulls.filter((p) => p.repo === repo).map((p) => p.number),
      ...[...this.pullBodies.keys()].filter((k) => k.startsWith(`${repo}#`)).map((k) => Number(k.slice(repo.length + 1))),
    ];
    return Math.max(0, ...taken) + 1;
  }

  /** The default branch's head: a commit of the repository's files as they are now. */
  #defaultHead(repo: GitHubSimRepo): string | undefined {
    const files = this.files.get(repo.full_name);
    if (!files || Object.keys(files).length === 0) return undefined;
    const tree = this.#storeTree(files);
    const sha = gitBlobSha(`commit\u0000${repo.full_name}\u0000${tree}`);
    if (!this.#commits.has(sha)) this.#commits.set(sha, { repo: repo.full_name, tree, parents: [], message: "Initial commit" });
    return sha;
  }

  #storeTree(files: RepoFiles): string {
    const sha = gitBlobSha(`tree\u0000${JSON.stringify(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`);
    this.#trees.set(sha, { ...files });
    return sha;
  }

  /** A branch's files (the default branch's, or another's as committed). */
  branchFiles(repo: string, branch: string): RepoFiles | undefined {
    const r = this.repos.find((x) => x.full_name === repo);
    if (!r) return undefined;
    if (branch === r.default_branch) return this.files.get(repo);
    const sha = this.branches.get(repo)?.get(branch);
    return sha ? this.#trees.get(this.#commits.get(sha)!.tree) : undefined;
  }

  /** Merges a pull request as a person does: the default branch takes the head branch's files. */
  mergePull(repo: string, number: number): GitHubSimPull {
    const pull = this.pulls.find((p) => p.repo === repo && p.number === number);
    if (!pull || pull.state !== "open") throw new Error(`no open pull request ${repo}#${number}`);
    this.files.set(repo, { ...this.branchFiles(repo, pull.head)! });
    pull.state = "closed";
    pull.merged = true;
    return pull;
  }

  /** Git references, blobs, trees and commits (REST "Git database"), and pull requests. */
  #gitRoutes(api: Hono): void {
    const repoOf = (c: Context) => this.repos.find((r) => r.full_name === `${c.req.param("owner")}/${c.req.param("repo")}`);
    const notFound = (c: Context) => c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
    const invalid = (c: Context, message: string, errors?: unknown[]) =>
      c.json({ message, documentation_url: DOCS, status: "422", ...(errors ? { errors } : {}) }, 422);
    /** The token may write code: a classic token with repo (or public_repo on a public repository), or a fine-grained one. */
    const mayWrite = (c: Context, repo: GitHubSimRepo) => {
      const entry = this.tokenOf(c.req.header("authorization"));
      if (this.readOnly.has(entry.login)) return false;
      return entry.scopes === null || entry.scopes.includes("repo") || (!repo.private && entry.scopes.includes("public_repo"));
    };
    const forbidden = (c: Context) => c.json({ message: "Resource not accessible by personal access token", documentation_url: DOCS, status: "403" }, 403);
    const refJson = (repo: GitHubSimRepo, ref: string, sha: string) => ({
      ref,
      node_id: Buffer.from(`ref:${repo.full_name}:${ref}`).toString("base64"),
      url: `${this.apiOrigin}/repos/${repo.full_name}/git/${ref}`,
      object: { type: "commit", sha, url: `${this.apiOrigin}/repos/${repo.full_name}/git/commits/${sha}` },
    });
    const commitJson = (repo: GitHubSimRepo, sha: string) => {
      const commit = this.#commits.get(sha)!;
      const who = { name: "Patchbay", email: "patchbay@example.com", date: "2026-12-06T00:00:00Z" };
      return {
        sha,
        node_id: Buffer.from(`commit:${sha}`).toString("base64"),
        url: `${this.apiOrigin}/repos/${repo.full_name}/git/commits/${sha}`,
        html_url: `${this.webOrigin}/${repo.full_name}/commit/${sha}`,
        author: who,
        committer: who,
        message: commit.message,
        tree: { sha: commit.tree, url: `${this.apiOrigin}/repos/${repo.full_name}/git/trees/${commit.tree}` },
        parents: commit.parents.map((p) => ({
          sha: p,
          url: `${this.apiOrigin}/repos/${repo.full_name}/git/commits/${p}`,
          html_url: `${this.webOrigin}/${repo.full_name}/commit/${p}`,
        })),
        verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
      };
    };
    const headOf = (repo: GitHubSimRepo, branch: string) =>
      branch === repo.default_branch ? this.#defaultHead(repo) : this.branches.get(repo.full_name)?.get(branch);

    api.get("/repos/:owner/:repo/git/ref/*", (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      const ref = decodeURIComponent(c.req.path.replace(/^.*?\/git\/ref\//, ""));
      if (!ref.startsWith("heads/")) return notFound(c);
      const sha = headOf(repo, ref.slice("heads/".length));
      if (!sha) return notFound(c);
      return c.json(refJson(repo, `refs/${ref}`, sha));
    });
    api.get("/repos/:owner/:repo/git/commits/:sha", (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      this.#defaultHead(repo);
      const commit = this.#commits.get(c.req.param("sha"));
      if (!commit || commit.repo !== repo.full_name) return notFound(c);
      return c.json(commitJson(repo, c.req.param("sha")));
    });
    api.post("/repos/:owner/:repo/git/blobs", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      if (!mayWrite(c, repo)) return forbidden(c);
      const body = (await c.req.json()) as { content: string; encoding?: string };
      if (body.encoding && body.encoding !== "utf-8" && body.encoding !== "base64") return invalid(c, `encoding must be "utf-8" or "base64"`);
      const content = body.encoding === "base64" ? Buffer.from(body.content, "base64").toString("utf8") : body.content;
      const sha = gitBlobSha(content);
      this.#blobs.set(sha, content);
      return c.json({ sha, url: `${this.apiOrigin}/repos/${repo.full_name}/git/blobs/${sha}` }, 201);
    });
    api.post("/repos/:owner/:repo/git/trees", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      if (!mayWrite(c, repo)) return forbidden(c);
      const body = (await c.req.json()) as { base_tree?: string; tree: { path: string; mode: string; type: string; sha?: string | null; content?: string }[] };
      const base = body.base_tree ? this.#trees.get(body.base_tree) : {};
      if (!base) return invalid(c, "Invalid tree info", [{ resource: "Tree", field: "base_tree", code: "invalid" }]);
      const files: RepoFiles = { ...base };
      for (const entry of body.tree) {
        if (entry.path.startsWith("/") || entry.path.endsWith("/") || entry.path.split("/").some((p) => p === "" || p === "." || p === ".."))
          return invalid(c, `tree.path contains a malformed path component`);
        if (entry.type !== "blob" || !["100644", "100755"].includes(entry.mode)) return invalid(c, "Must supply a valid tree.mode");
        if (entry.sha === null) delete files[entry.path];
        else if (entry.sha !== undefined) {
          const content = this.#blobs.get(entry.sha) ?? Object.values(this.files.get(repo.full_name) ?? {}).find((f) => gitBlobSha(f) === entry.sha);
          if (content === undefined) return invalid(c, "GitRPC::BadObjectState");
          files[entry.path] = content;
        } else if (entry.content !== undefined) files[entry.path] = entry.content;
      }
      const sha = this.#storeTree(files);
      return c.json(
        {
          sha,
          url: `${this.apiOrigin}/repos/${repo.full_name}/git/trees/${sha}`,
          truncated: false,
          tree: Object.entries(files).map(([path, content]) => ({
            path,
            mode: "100644",
            type: "blob",
            sha: gitBlobSha(content),
            size: Buffer.byteLength(content),
          })),
        },
        201,
      );
    });
    api.post("/repos/:owner/:repo/git/commits", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      if (!mayWrite(c, repo)) return forbidden(c);
      this.#defaultHead(repo);
      const body = (await c.req.json()) as { message: string; tree: string; parents?: string[] };
      if (!this.#trees.has(body.tree)) return invalid(c, "Tree SHA does not exist");
      if ((body.parents ?? []).some((p) => this.#commits.get(p)?.repo !== repo.full_name))
        return invalid(c, "Parent SHA does not exist or is not a commit object");
      const sha = gitBlobSha(
        `commit\u0000${repo.full_name}\u0000${body.tree}\u0000${(body.parents ?? []).join(",")}\u0000${body.message}\u0000${this.#commits.size}`,
      );
      this.#commits.set(sha, { repo: repo.full_name, tree: body.tree, parents: body.parents ?? [], message: body.message });
      return c.json(commitJson(repo, sha), 201);
    });
    api.post("/repos/:owner/:repo/git/refs", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      if (!mayWrite(c, repo)) return forbidden(c);
      const body = (await c.req.json()) as { ref: string; sha: string };
      if (!/^refs\/heads\/[^\s~^:?*[\\]+$/.test(body.ref) || body.ref.includes("..") || body.ref.endsWith("/")) return invalid(c, "Reference name is invalid");
      const branch = body.ref.slice("refs/heads/".length);
      if (headOf(repo, branch)) return invalid(c, "Reference already exists");
      if (this.#commits.get(body.sha)?.repo !== repo.full_name) return invalid(c, "Object does not exist");
      if (!this.branches.has(repo.full_name)) this.branches.set(repo.full_name, new Map());
      this.branches.get(repo.full_name)!.set(branch, body.sha);
      await this.onRefCreated?.(branch);
      return c.json(refJson(repo, body.ref, body.sha), 201);
    });
    api.patch("/repos/:owner/:repo/git/refs/*", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      if (!mayWrite(c, repo)) return forbidden(c);
      const ref = decodeURIComponent(c.req.path.replace(/^.*?\/git\/refs\//, ""));
      const body = (await c.req.json()) as { sha: string; force?: boolean };
      const branch = ref.startsWith("heads/") ? ref.slice("heads/".length) : "";
      const current = branch ? headOf(repo, branch) : undefined;
      if (!current) return invalid(c, "Reference does not exist");
      if (this.#commits.get(body.sha)?.repo !== repo.full_name) return invalid(c, "Object does not exist");
      const ancestors = new Set<string>();
      for (const queue = [body.sha]; queue.length;) {
        const sha = queue.pop()!;
        if (ancestors.has(sha)) continue;
        ancestors.add(sha);
        queue.push(...(this.#commits.get(sha)?.parents ?? []));
      }
      if (!body.force && !ancestors.has(current)) return invalid(c, "Update is not a fast forward");
      if (branch === repo.default_branch) {
        this.defaultBranchWrites.push(`${repo.full_name}:${branch}`);
        this.files.set(repo.full_name, { ...this.#trees.get(this.#commits.get(body.sha)!.tree)! });
      } else this.branches.get(repo.full_name)!.set(branch, body.sha);
      return c.json(refJson(repo, `refs/${ref}`, body.sha));
    });

    const pullJson = (p: GitHubSimPull) => {
      const repo = this.repos.find((r) => r.full_name === p.repo)!;
      const owner = repo.full_name.split("/")[0]!;
      return {
        url: `${this.apiOrigin}/repos/${p.repo}/pulls/${p.number}`,
        id: 700_000 + this.pulls.indexOf(p),
        node_id: Buffer.from(`pull:${p.repo}#${p.number}`).toString("base64"),
        html_url: `${this.webOrigin}/${p.repo}/pull/${p.number}`,
        number: p.number,
        state: p.state,
        locked: false,
        title: p.title,
        body: p.body,
        draft: p.draft,
        user: { login: p.author, id: 1, type: "User" },
        head: { label: `${owner}:${p.head}`, ref: p.head, sha: headOf(repo, p.head) ?? "0".repeat(40), repo: { id: repo.id, full_name: repo.full_name } },
        base: { label: `${owner}:${p.base}`, ref: p.base, sha: headOf(repo, p.base) ?? "0".repeat(40), repo: { id: repo.id, full_name: repo.full_name } },
        merged: p.merged,
        merged_at: p.merged ? "2026-12-06T00:00:00Z" : null,
        created_at: "2026-12-06T00:00:00Z",
        updated_at: "2026-12-06T00:00:00Z",
        closed_at: p.state === "closed" ? "2026-12-06T00:00:00Z" : null,
        requested_reviewers: p.reviewers.filter((r) => !r.includes("/")).map((login) => ({ login, id: 1, type: "User" })),
      };
    };
    api.get("/repos/:owner/:repo/pulls", (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      const state = c.req.query("state") ?? "open";
      const head = c.req.query("head");
      const owner = repo.full_name.split("/")[0]!;
      const list = this.pulls.filter(
        (p) =>
          p.repo === repo.full_name &&
          (state === "all" || p.state === state) &&
          // head is "user:ref-name"; another owner's head matches nothing here.
          (!head || (head.includes(":") ? head === `${owner}:${p.head}` : false)) &&
          (!c.req.query("base") || p.base === c.req.query("base")),
      );
      return c.json(list.sort((a, b) => b.number - a.number).map(pullJson));
    });
    api.post("/repos/:owner/:repo/pulls", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      if (!mayWrite(c, repo)) return forbidden(c);
      const body = (await c.req.json()) as { title?: string; head: string; base: string; body?: string; draft?: boolean };
      const branch = body.head.includes(":") ? body.head.split(":")[1]! : body.head;
      const head = headOf(repo, branch);
      if (!head) return invalid(c, "Validation Failed", [{ resource: "PullRequest", field: "head", code: "invalid" }]);
      if (!headOf(repo, body.base)) return invalid(c, "Validation Failed", [{ resource: "PullRequest", field: "base", code: "invalid" }]);
      if (this.pulls.some((p) => p.repo === repo.full_name && p.head === branch && p.base === body.base && p.state === "open"))
        return invalid(c, "Validation Failed", [
          { resource: "PullRequest", code: "custom", message: `A pull request already exists for ${repo.full_name.split("/")[0]}:${branch}.` },
        ]);
      if (body.draft && repo.visibility !== "public" && !this.draftsOnPrivate)
        return invalid(c, "Validation Failed", [
          { resource: "PullRequest", code: "custom", message: "Draft pull requests are not supported in this repository." },
        ]);
      if (JSON.stringify(this.branchFiles(repo.full_name, branch)) === JSON.stringify(this.branchFiles(repo.full_name, body.base)))
        return invalid(c, "Validation Failed", [{ resource: "PullRequest", code: "custom", message: `No commits between ${body.base} and ${branch}` }]);
      const pull: GitHubSimPull = {
        repo: repo.full_name,
        number: this.nextNumber(repo.full_name),
        title: body.title ?? branch,
        body: body.body ?? null,
        head: branch,
        base: body.base,
        draft: body.draft ?? false,
        state: "open",
        merged: false,
        author: this.tokenOf(c.req.header("authorization")).login,
        reviewers: [],
      };
      this.pulls.push(pull);
      return c.json(pullJson(pull), 201);
    });
    api.post("/repos/:owner/:repo/pulls/:number/requested_reviewers", async (c) => {
      const pull = this.pulls.find((p) => p.repo === `${c.req.param("owner")}/${c.req.param("repo")}` && p.number === Number(c.req.param("number")));
      if (!pull) return notFound(c);
      const body = (await c.req.json()) as { reviewers?: string[]; team_reviewers?: string[] };
      if ((body.reviewers ?? []).includes(pull.author)) return invalid(c, "Review cannot be requested from pull request author.");
      const org = pull.repo.split("/")[0]!;
      const unknown = [
        ...(body.reviewers ?? []).filter((r) => !this.assignable.has(r)),
        ...(body.team_reviewers ?? []).filter((t) => !this.teams.has(`${org}/${t}`)),
      ];
      if (unknown.length)
        return invalid(
          c,
          "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the repository.",
        );
      pull.reviewers = [...new Set([...pull.reviewers, ...(body.reviewers ?? []), ...(body.team_reviewers ?? []).map((t) => `${org}/${t}`)])];
      return c.json(pullJson(pull), 201);
    });
    this.#pullJson = pullJson;
  }

  #pullJson: ((p: GitHubSimPull) => unknown) | undefined;
  /** Called once a branch is created, before GitHub answers (a crash test kills the client there). */
  onRefCreated: ((branch: string) => Promise<void>) | undefined;
  /** Teams with access to the organization's repositories, "org/slug": reviews may be requested from them. */
  readonly teams = new Set<string>();
  /** Logins whose tokens may read but not write code (a fine-grained token with Contents: read). */
  readonly readOnly = new Set<string>();
  /** Writes that moved a default branch: Patchbay must never make one. */
  readonly defaultBranchWrites: string[] = [];

  /** Dependabot alerts by "owner/name" (the API's alert objects); repositories with them disabled. */
  readonly dependabotAlerts = new Map<string, Record<string, unknown>[]>();
  readonly dependabotDisabled = new Set<string>();
  /** Pages of the organization-level Dependabot alert listing served. */
  orgAlertReads = 0;
  /** Code scanning alerts by "owner/name"; repositories without code scanning answer 404. */
  readonly codeScanningAlerts = new Map<string, Record<string, unknown>[]>();

  /** Security alerts with GitHub's cursor pagination (per_page, after; Link rel="next"). */
  #alertRoutes(api: Hono): void {
    const page = (c: Context, all: Record<string, unknown>[], base: string) => {
      const states = (c.req.query("state") ?? "").split(",").filter(Boolean);
      const matching = states.length ? all.filter((a) => states.includes(String(a.state))) : all;
      const perPage = Math.min(100, Number(c.req.query("per_page") ?? 30));
      const after = c.req.query("after") ? Number(Buffer.from(c.req.query("after")!, "base64url").toString()) : 0;
      const slice = matching.slice(after, after + perPage);
      if (after + perPage < matching.length) {
        const url = new URL(`${this.apiOrigin}${base}`);
        for (const [k, v] of Object.entries(c.req.query())) if (k !== "after") url.searchParams.set(k, v);
        url.searchParams.set("after", Buffer.from(String(after + perPage)).toString("base64url"));
        c.header("link", `<${url}>; rel="next"`);
      }
      return c.json(slice);
    };
    // state: a comma-separated list (auto_dismissed, dismissed, fixed, open); all states when absent.
    const byState = (c: Context, alerts: Record<string, unknown>[]) => {
      const states = (c.req.query("state") ?? "").split(",").filter(Boolean);
      return states.length ? alerts.filter((a) => states.includes(String(a.state))) : alerts;
    };
    api.get("/repos/:owner/:repo/dependabot/alerts", (c) => {
      const name = `${c.req.param("owner")}/${c.req.param("repo")}`;
      const entry = this.tokenOf(c.req.header("authorization"));
      if (entry.scopes && !entry.scopes.includes("security_events") && !entry.scopes.includes("repo"))
        return c.json({ message: "Resource not accessible by personal access token", documentation_url: DOCS, status: "403" }, 403);
      if (!this.repos.some((r) => r.full_name === name)) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      if (this.dependabotDisabled.has(name))
        return c.json({ message: "Dependabot alerts are disabled for this repository.", documentation_url: DOCS, status: "403" }, 403);
      return page(c, byState(c, this.dependabotAlerts.get(name) ?? []), `/repos/${name}/dependabot/alerts`);
    });
    api.get("/orgs/:org/dependabot/alerts", (c) => {
      const org = c.req.param("org");
      this.orgAlertReads++;
      const repos = this.repos.filter((r) => r.full_name.split("/")[0] === org);
      if (!repos.length) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      const all = repos.flatMap((r) =>
        this.dependabotDisabled.has(r.full_name)
          ? []
          : (this.dependabotAlerts.get(r.full_name) ?? []).map((a) => ({
              ...a,
              repository: { id: r.id, name: r.full_name.split("/")[1], full_name: r.full_name, private: r.private },
            })),
      );
      return page(c, byState(c, all), `/orgs/${org}/dependabot/alerts`);
    });
    api.get("/repos/:owner/:repo/code-scanning/alerts", (c) => {
      const name = `${c.req.param("owner")}/${c.req.param("repo")}`;
      const alerts = this.codeScanningAlerts.get(name);
      if (!alerts) return c.json({ message: "no analysis found", documentation_url: DOCS, status: "404" }, 404);
      return page(c, alerts, `/repos/${name}/code-scanning/alerts`);
    });
  }

  /** Files read through the contents API, "owner/name:path". */
  readonly contentReads: string[] = [];

  /** Logins with triage (not push) access: GitHub silently drops the labels, assignees and milestone they send with an issue. */
  readonly triageOnly = new Set<string>();

  /** Issues transferred to another repository: "owner/repo#n" → where the issue is now. */
  readonly transferred = new Map<string, { repo: string; number: number }>();

  /**
   * A person transfers an issue to another repository, as GitHub's "Transfer issue" does: it
   * takes the next number there, and its old address answers 301 Moved Permanently with a
   * Location of the form /repositories/<id>/issues/<number> — for reads and writes alike.
   */
  transferIssue(repo: string, number: number, toRepo: string): GitHubSimIssue {
    const issue = this.issues.find((i) => i.repo === repo && i.number === number);
    if (!issue) throw new Error(`no issue ${repo}#${number}`);
    const newNumber = Math.max(0, ...this.issues.filter((i) => i.repo === toRepo).map((i) => i.number)) + 1;
    this.transferred.set(`${repo}#${number}`, { repo: toRepo, number: newNumber });
    issue.repo = toRepo;
    issue.number = newNumber;
    return issue;
  }

  /** Issues, labels, milestones and comments (REST "Issues" API). */
  #issueRoutes(api: Hono): void {
    // A transferred issue's old address, for any method: 301 to its new one.
    const moved = async (c: Context, next: () => Promise<void>) => {
      const to = this.transferred.get(`${c.req.param("owner")}/${c.req.param("repo")}#${c.req.param("number")}`);
      if (!to) return next();
      const id = this.repos.find((r) => r.full_name === to.repo)?.id;
      const tail = new URL(c.req.url).pathname.split(`/issues/${c.req.param("number")}`)[1] ?? "";
      const location = `${this.apiOrigin}/repositories/${id}/issues/${to.number}${tail}`;
      return c.json({ message: "Moved Permanently", url: location, documentation_url: DOCS }, 301, { location });
    };
    api.use("/repos/:owner/:repo/issues/:number", moved);
    api.use("/repos/:owner/:repo/issues/:number/*", moved);
    // The new address by repository id: served as the repository's own issue routes.
    api.all("/repositories/:id/issues/:number/*", (c) => this.#byRepositoryId(api, c));
    api.all("/repositories/:id/issues/:number", (c) => this.#byRepositoryId(api, c));
    const notFound = (c: { json: (b: unknown, s: 404) => Response }) => c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
    const repoOf = (c: { req: { param(n: string): string } }) => {
      const name = `${c.req.param("owner")}/${c.req.param("repo")}`;
      return this.repos.some((r) => r.full_name === name) ? name : undefined;
    };
    const view = (i: GitHubSimIssue) => ({
      id: 900000 + this.issues.indexOf(i),
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      state_reason: i.state_reason,
      labels: i.labels.map((name) => ({ name })),
      assignees: i.assignees.map((login) => ({ login })),
      milestone: i.milestone === null ? null : { number: i.milestone },
      html_url: `${this.webOrigin}/${i.repo}/issues/${i.number}`,
      url: `${this.apiOrigin}/repos/${i.repo}/issues/${i.number}`,
    });
    const invalid = (c: { json: (b: unknown, s: 422) => Response }, field: string, code: string, message: string) =>
      c.json({ message: "Validation Failed", errors: [{ resource: "Issue", field, code, message }], documentation_url: DOCS, status: "422" }, 422);
    const findIssue = (repo: string, n: string) => this.issues.find((i) => i.repo === repo && i.number === Number(n));
    const checkFields = (repo: string, body: { milestone?: unknown; assignees?: unknown }) => {
      if (body.milestone !== undefined && body.milestone !== null && !(this.milestones.get(repo) ?? []).some((m) => m.number === body.milestone))
        return "milestone";
      if (Array.isArray(body.assignees) && body.assignees.some((a) => typeof a !== "string" || !this.assignable.has(a))) return "assignees";
      return undefined;
    };
    // The repository with the caller's permissions on it.
    api.get("/repos/:owner/:repo", (c) => {
      const repo = this.repos.find((r) => r.full_name === `${c.req.param("owner")}/${c.req.param("repo")}`);
      if (!repo) return notFound(c);
      const login = this.tokenOf(c.req.header("authorization")).login;
      const push = !this.triageOnly.has(login);
      return c.json({
        id: repo.id,
        full_name: repo.full_name,
        private: repo.private,
        visibility: repo.visibility,
        archived: repo.archived,
        default_branch: repo.default_branch,
        has_issues: true,
        permissions: { admin: false, maintain: false, push, triage: true, pull: true },
      });
    });
    api.get("/repos/:owner/:repo/labels", (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      return c.json((this.labels.get(repo) ?? []).map((name, i) => ({ id: 7000 + i, name, color: "ededed" })));
    });
    api.get("/repos/:owner/:repo/milestones", (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      return c.json((this.milestones.get(repo) ?? []).map((m) => ({ ...m, state: "open" })));
    });
    api.get("/repos/:owner/:repo/issues", (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      const labels = (c.req.query("labels") ?? "").split(",").filter(Boolean);
      const state = c.req.query("state") ?? "open";
      const creator = c.req.query("creator");
      const found = this.issues.filter(
        (i) => i.repo === repo && (state === "all" || i.state === state) && labels.every((l) => i.labels.includes(l)) && (!creator || i.creator === creator),
      );
      if (c.req.query("direction") === "desc") found.reverse();
      // Pages as GitHub gives them: per_page (30 by default, 100 at most), page, Link rel="next".
      const perPage = Math.min(100, Number(c.req.query("per_page") ?? 30));
      const pageNo = Math.max(1, Number(c.req.query("page") ?? 1));
      if (pageNo * perPage < found.length) {
        const next = new URL(`${this.apiOrigin}/repos/${repo}/issues`);
        for (const [k, v] of Object.entries(c.req.query())) next.searchParams.set(k, v);
        next.searchParams.set("page", String(pageNo + 1));
        c.header("link", `<${next}>; rel="next"`);
      }
      return c.json(found.slice((pageNo - 1) * perPage, pageNo * perPage).map(view));
    });
    api.post("/repos/:owner/:repo/issues", async (c) => {
      const repo = repoOf(c);
      if (!repo) return notFound(c);
      const body = (await c.req.json().catch(() => ({}))) as { title?: unknown; body?: unknown; labels?: unknown; assignees?: unknown; milestone?: unknown };
      if (typeof body.title !== "string" || !body.title) return invalid(c, "title", "missing_field", "title is missing");
      if (body.title.length > 256) return invalid(c, "title", "invalid", "title is too long (maximum is 256 characters)");
      const bad = checkFields(repo, body);
      if (bad) return invalid(c, bad, "invalid", `${bad} is invalid`);
      const login = this.tokenOf(c.req.header("authorization")).login;
      // Without push access GitHub creates the issue and silently drops labels, assignees and milestone.
      const triage = this.triageOnly.has(login);
      const labels = triage ? [] : Array.isArray(body.labels) ? (body.labels as string[]) : [];
      // Labels that do not exist yet are created with the issue.
      this.labels.set(repo, [...new Set([...(this.labels.get(repo) ?? []), ...labels])]);
      const issue: GitHubSimIssue = {
        repo,
        number: this.nextNumber(repo),
        title: body.title,
        body: typeof body.body === "string" ? body.body : null,
        labels: [...new Set(labels)],
        assignees: !triage && Array.isArray(body.assignees) ? (body.assignees as string[]) : [],
        milestone: !triage && typeof body.milestone === "number" ? body.milestone : null,
        state: "open",
        state_reason: null,
        comments: [],
        creator: login,
      };
      this.issues.push(issue);
      return c.json(view(issue), 201);
    });
    api.get("/repos/:owner/:repo/issues/:number", (c) => {
      const repo = repoOf(c);
      const issue = repo && findIssue(repo, c.req.param("number"));
      return issue ? c.json(view(issue)) : notFound(c);
    });
    api.patch("/repos/:owner/:repo/issues/:number", async (c) => {
      const repo = repoOf(c);
      const issue = repo && findIssue(repo, c.req.param("number"));
      if (!repo || !issue) return notFound(c);
      const body = (await c.req.json().catch(() => ({}))) as {
        title?: string;
        body?: string;
        state?: string;
        state_reason?: string;
        labels?: string[];
        assignees?: string[];
        milestone?: number | null;
      };
      const bad = checkFields(repo, body);
      if (bad) return invalid(c, bad, "invalid", `${bad} is invalid`);
      if (body.state !== undefined && body.state !== "open" && body.state !== "closed")
        return invalid(c, "state", "invalid", "state is not included in the list");
      if (body.state_reason !== undefined && !["completed", "not_planned", "duplicate", "reopened"].includes(body.state_reason))
        return invalid(c, "state_reason", "invalid", "state_reason is not included in the list");
      if (body.title !== undefined) issue.title = body.title;
      if (body.body !== undefined) issue.body = body.body;
      // As GitHub: without push access, changes to labels, assignees and milestone are silently dropped.
      const push = !this.triageOnly.has(this.tokenOf(c.req.header("authorization")).login);
      if (push && body.labels !== undefined) issue.labels = [...new Set(body.labels)];
      if (push && body.assignees !== undefined) issue.assignees = body.assignees;
      if (push && body.milestone !== undefined) issue.milestone = body.milestone;
      if (body.state) {
        issue.state = body.state as "open" | "closed";
        issue.state_reason = body.state === "closed" ? ((body.state_reason as "completed" | "not_planned" | "duplicate") ?? "completed") : "reopened";
      }
      return c.json(view(issue));
    });
    api.post("/repos/:owner/:repo/issues/:number/labels", async (c) => {
      const repo = repoOf(c);
      const issue = repo && findIssue(repo, c.req.param("number"));
      if (!repo || !issue) return notFound(c);
      const body = (await c.req.json().catch(() => ({}))) as { labels?: string[] };
      issue.labels = [...new Set([...issue.labels, ...(body.labels ?? [])])];
      this.labels.set(repo, [...new Set([...(this.labels.get(repo) ?? []), ...(body.labels ?? [])])]);
      return c.json(issue.labels.map((name) => ({ name })));
    });
    api.post("/repos/:owner/:repo/issues/:number/comments", async (c) => {
      const repo = repoOf(c);
      const issue = repo && findIssue(repo, c.req.param("number"));
      if (!repo || !issue) return notFound(c);
      const body = (await c.req.json().catch(() => ({}))) as { body?: string };
      if (!body.body) return invalid(c, "body", "missing_field", "body is missing");
      issue.comments.push(body.body);
      return c.json(
        { id: issue.comments.length, body: body.body, html_url: `${this.webOrigin}/${repo}/issues/${issue.number}#issuecomment-${issue.comments.length}` },
        201,
      );
    });
  }

  /** A request to /repositories/<id>/…, answered as /repos/<owner>/<repo>/… would be. */
  async #byRepositoryId(api: Hono, c: Context): Promise<Response> {
    const repo = this.repos.find((r) => r.id === Number(c.req.param("id")));
    if (!repo) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
    const url = new URL(c.req.url);
    url.pathname = url.pathname.replace(/^\/repositories\/\d+/, `/repos/${repo.full_name}`);
    const body = c.req.method === "GET" || c.req.method === "HEAD" ? undefined : await c.req.text();
    return api.request(url.pathname + url.search, { method: c.req.method, headers: c.req.raw.headers, body });
  }

  /** App endpoints authenticate with the app's JWT (RS256), not a token. */
  #appRoutes(): Hono {
    const apps = new Hono();
    // GET /app: the authenticated App (by its JWT), whose slug names its bot user ("<slug>[bot]").
    apps.get("/app", (c) => {
      const appId = this.#appOfJwt(c.req.header("authorization"));
      if (!appId) return c.json({ message: "A JSON web token could not be decoded", documentation_url: DOCS, status: "401" }, 401);
      return c.json({ id: Number(appId), slug: `app-${appId}`, name: `App ${appId}`, owner: { login: "acme" } });
    });
    apps.post("/app/installations/:id/access_tokens", (c) => {
      const jwt = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      const [header, payload, signature] = jwt.split(".");
      let claims: { iss?: string; exp?: number; iat?: number } = {};
      try {
        claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString());
      } catch {
        // falls through to the 401 below
      }
      const key = this.apps.get(String(claims.iss ?? ""));
      const now = Math.floor(Date.now() / 1000);
      const valid =
        key !== undefined &&
        crypto.verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature ?? "", "base64url")) &&
        (claims.exp ?? 0) > now &&
        (claims.exp ?? 0) - (claims.iat ?? 0) <= 600;
      if (!valid) return c.json({ message: "A JSON web token could not be decoded", documentation_url: DOCS, status: "401" }, 401);
      const installation = this.installations.get(Number(c.req.param("id")));
      if (!installation || installation.appId !== String(claims.iss)) return c.json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
      const token = `ghs_${crypto.randomBytes(18).toString("hex")}`;
      this.tokens.set(token, { login: `app-${installation.appId}[bot]`, scopes: null, installation: Number(c.req.param("id")) });
      return c.json(
        {
          token,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: { metadata: "read", pull_requests: "write" },
          repository_selection: "selected",
        },
        201,
      );
    });
    return apps;
  }

  /** The App a JWT authenticates, when its signature, expiry and lifetime are valid. */
  #appOfJwt(authorization: string | undefined): string | undefined {
    const jwt = /^Bearer (.+)$/.exec(authorization ?? "")?.[1] ?? "";
    const [header, payload, signature] = jwt.split(".");
    let claims: { iss?: string; exp?: number; iat?: number } = {};
    try {
      claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString());
    } catch {
      return undefined;
    }
    const key = this.apps.get(String(claims.iss ?? ""));
    const now = Math.floor(Date.now() / 1000);
    const valid =
      key !== undefined &&
      crypto.verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature ?? "", "base64url")) &&
      (claims.exp ?? 0) > now &&
      (claims.exp ?? 0) - (claims.iat ?? 0) <= 600;
    return valid ? String(claims.iss) : undefined;
  }

  #oauthRoutes(root: Hono): void {
    // The consent page a person sees on github.com: Authorize or Cancel.
    root.get("/login/oauth/authorize", (c) => {
      const clientId = c.req.query("client_id") ?? "";
      const app = this.oauthApps.get(clientId);
      const redirectUri = c.req.query("redirect_uri") ?? "";
      const state = c.req.query("state") ?? "";
      if (!app) return c.html("<h1>404</h1><p>The OAuth application could not be found.</p>", 404);
      if (redirectUri !== app.callback) return c.html("<h1>The redirect_uri MUST match the registered callback URL for this application.</h1>", 400);
      const code = crypto.randomBytes(10).toString("hex");
      this.#codes.set(code, {
        clientId,
        redirectUri,
        challenge: c.req.query("code_challenge") ?? null,
        expiresAt: Date.now() + 10 * 60_000,
        login: this.signedInAs,
      });
      const allow = new URL(redirectUri);
      allow.searchParams.set("code", code);
      allow.searchParams.set("state", state);
      const deny = new URL(redirectUri);
      deny.searchParams.set("error", "access_denied");
      deny.searchParams.set("error_description", "The user has denied your application access.");
      deny.searchParams.set("state", state);
      return c.html(
        `<!doctype html><title>Authorize application</title><h1>Authorize ${clientId}</h1><p>Scopes: ${c.req.query("scope") ?? ""}</p>` +
          `<a id="authorize" href="${allow.toString().replace(/&/g, "&amp;")}">Authorize</a> <a id="cancel" href="${deny.toString().replace(/&/g, "&amp;")}">Cancel</a>`,
      );
    });
    root.post("/login/oauth/access_token", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      const app = this.oauthApps.get(form.get("client_id") ?? "");
      if (!app || app.secret !== form.get("client_secret")) {
        return c.json({ error: "incorrect_client_credentials", error_description: "The client_id and/or client_secret passed are incorrect." });
      }
      const grant = this.#codes.get(form.get("code") ?? "");
      this.#codes.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier");
      const challengeOk = !grant?.challenge || (verifier !== null && crypto.createHash("sha256").update(verifier).digest("base64url") === grant.challenge);
      if (!grant || grant.expiresAt < Date.now() || grant.redirectUri !== form.get("redirect_uri") || !challengeOk) {
        // GitHub answers a bad code with HTTP 200 and an error field.
        return c.json({ error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
      }
      const token = `gho_${crypto.randomBytes(18).toString("hex")}`;
      this.addToken(token, grant.login);
      return c.json({ access_token: token, token_type: "bearer", scope: "repo,read:org,security_events" });
    });
  }

  /** Makes the codes issued so far expire, as if the user took too long. */
  expireCodes(): void {
    for (const grant of this.#codes.values()) grant.expiresAt = 0;
  }

  /** A pull_request event payload as GitHub sends it (the fields Patchbay reads, and more). */
  /**
   * GitHub's delivery of the pull_request event for one of the simulator's pull requests (as it
   * stands: a merged one says so), signed with the webhook secret as GitHub signs it.
   */
  pullRequestDelivery(number: number, action: string, secret: string): { body: string; headers: Record<string, string> } {
    const pull = this.pulls.find((p) => p.number === number)!;
    const repo = this.repos.find((r) => r.full_name === pull.repo)!;
    const body = JSON.stringify(
      this.pullRequestPayload({ action, repo, number, title: pull.title, body: pull.body ?? "", branch: pull.head, merged: pull.merged }),
    );
    return {
      body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "pull_request",
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`,
      },
    };
  }

  pullRequestPayload(input: {
    action: string;
    repo: GitHubSimRepo;
    number: number;
    title: string;
    body?: string;
    branch?: string;
    merged?: boolean;
    fork?: { owner: string; association?: string };
  }) {
    const base = { id: input.repo.id, full_name: input.repo.full_name, fork: false };
    // A fork's pull request: its head is another repository, its author usually has no role here.
    const head = input.fork ? { id: input.repo.id + 900_000, full_name: `${input.fork.owner}/${input.repo.full_name.split("/")[1]}`, fork: true } : base;
    const user = input.fork ? { login: input.fork.owner, type: "User" } : { login: "dependabot[bot]", type: "Bot" };
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
        user,
        // GitHub's own value for its bot is "NONE": only the same-repository rule trusts it.
        author_association: input.fork ? (input.fork.association ?? "FIRST_TIME_CONTRIBUTOR") : "NONE",
        head: { ref: input.branch ?? `fix/${input.number}`, sha: "0".repeat(40), repo: head },
        base: { ref: input.repo.default_branch, repo: base },
        merged: input.merged ?? false,
        merged_at: input.merged ? new Date().toISOString() : null,
        updated_at: eventStamp()
          .toISOString()
          .replace(/\.\d{3}Z$/, "Z"),
      },
      repository: { id: input.repo.id, full_name: input.repo.full_name, html_url: `${this.webOrigin}/${input.repo.full_name}`, private: input.repo.private },
      sender: { login: user.login },
    };
  }

  /**
   * A person closes, reopens or comments on an issue: the "issues" or "issue_comment" event's
   * payload as GitHub sends it (the issue after the change, the repository, the sender).
   */
  issueEvent(
    issue: GitHubSimIssue,
    change:
      { action: "closed" | "reopened"; reason?: "completed" | "not_planned" | "duplicate"; by: string } | { action: "commented"; text: string; by: string },
  ): { event: string; payload: Record<string, unknown> } {
    const repo = this.repos.find((r) => r.full_name === issue.repo);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    if (change.action === "commented") issue.comments.push(change.text);
    else {
      issue.state = change.action === "closed" ? "closed" : "open";
      issue.state_reason = change.action === "closed" ? (change.reason ?? "completed") : "reopened";
    }
    const sender = { login: change.by, id: 1000 + change.by.length, type: "User" };
    const issuePayload = {
      url: `https://api.github.com/repos/${issue.repo}/issues/${issue.number}`,
      html_url: `${this.webOrigin}/${issue.repo}/issues/${issue.number}`,
      id: 9000 + issue.number,
      number: issue.number,
      title: issue.title,
      user: { login: "octocat", id: 1, type: "User" },
      labels: issue.labels.map((name) => ({ name })),
      state: issue.state,
      state_reason: issue.state_reason,
      comments: issue.comments.length,
      updated_at: now,
      closed_at: issue.state === "closed" ? now : null,
      body: issue.body,
    };
    const repository = { id: repo?.id ?? 1, full_name: issue.repo, private: repo?.private ?? true, html_url: `${this.webOrigin}/${issue.repo}` };
    if (change.action === "commented") {
      const comment = {
        id: 77000 + issue.comments.length,
        html_url: `${issuePayload.html_url}#issuecomment-${77000 + issue.comments.length}`,
        user: sender,
        created_at: now,
        updated_at: now,
        body: change.text,
      };
      return { event: "issue_comment", payload: { action: "created", issue: issuePayload, comment, repository, sender } };
    }
    return { event: "issues", payload: { action: change.action, issue: issuePayload, repository, sender } };
  }

  /** Transfers an issue as a person does, and the "issues" delivery GitHub sends from the old repository ("transferred"). */
  transferWithEvent(repo: string, number: number, toRepo: string, by: string): { issue: GitHubSimIssue; event: string; payload: Record<string, unknown> } {
    const old = this.repos.find((r) => r.full_name === repo);
    const issue = this.transferIssue(repo, number, toRepo);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const sender = { login: by, id: 1000 + by.length, type: "User" };
    const before = {
      url: `https://api.github.com/repos/${repo}/issues/${number}`,
      html_url: `${this.webOrigin}/${repo}/issues/${number}`,
      id: 9000 + number,
      number,
      title: issue.title,
      state: issue.state,
      state_reason: issue.state_reason,
      updated_at: now,
      body: issue.body,
    };
    const after = {
      url: `https://api.github.com/repos/${toRepo}/issues/${issue.number}`,
      html_url: `${this.webOrigin}/${toRepo}/issues/${issue.number}`,
      id: 9000 + number,
      number: issue.number,
      title: issue.title,
      state: issue.state,
    };
    const target = this.repos.find((r) => r.full_name === toRepo);
    const payload = {
      action: "transferred",
      changes: { new_issue: after, new_repository: { id: target?.id ?? 2, full_name: toRepo, html_url: `${this.webOrigin}/${toRepo}` } },
      issue: before,
      repository: { id: old?.id ?? 1, full_name: repo, private: old?.private ?? true, html_url: `${this.webOrigin}/${repo}` },
      sender,
    };
    return { issue, event: "issues", payload };
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
    const signature =
      opts.signature !== undefined ? opts.signature : opts.secret ? `sha256=${crypto.createHmac("sha256", opts.secret).update(body).digest("hex")}` : null;
    if (signature !== null) headers["x-hub-signature-256"] = signature;
    return fetch(url, { method: "POST", headers, body });
  }

  private tokenOf(header: string | undefined): GitHubSimToken {
    return this.tokens.get(/^(?:Bearer|token) (.+)$/.exec(header ?? "")![1]!)!;
  }
}

/** A Dependabot alert as GET /repos/{owner}/{repo}/dependabot/alerts returns it. */
export function dependabotAlert(
  repo: string,
  a: {
    number: number;
    state?: "open" | "dismissed" | "fixed" | "auto_dismissed";
    ghsa: string;
    cve?: string | null;
    ecosystem: string;
    name: string;
    manifest: string;
    severity: string;
    patched?: string | null;
    range?: string;
    dismissedReason?: string;
    dismissedComment?: string;
    summary?: string;
  },
): Record<string, unknown> {
  const advisory = {
    ghsa_id: a.ghsa,
    cve_id: a.cve ?? null,
    summary: a.summary ?? `Vulnerability in ${a.name}`,
    description: `A vulnerability was found in ${a.name}.`,
    severity: a.severity,
    identifiers: [{ type: "GHSA", value: a.ghsa }, ...(a.cve ? [{ type: "CVE", value: a.cve }] : [])],
    references: [{ url: `https://github.com/advisories/${a.ghsa}` }],
    published_at: "2021-02-15T11:00:00Z",
    updated_at: "2024-03-05T11:00:00Z",
    withdrawn_at: null,
    vulnerabilities: [
      {
        package: { ecosystem: a.ecosystem, name: a.name },
        severity: a.severity,
        vulnerable_version_range: a.range ?? "< 99",
        first_patched_version: a.patched ? { identifier: a.patched } : null,
      },
    ],
    cvss: { vector_string: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", score: 7.2 },
    cwes: [{ cwe_id: "CWE-94", name: "Improper Control of Generation of Code" }],
  };
  return {
    number: a.number,
    state: a.state ?? "open",
    dependency: { package: { ecosystem: a.ecosystem, name: a.name }, manifest_path: a.manifest, scope: "runtime", relationship: "direct" },
    security_advisory: advisory,
    security_vulnerability: advisory.vulnerabilities[0],
    url: `https://api.github.com/repos/${repo}/dependabot/alerts/${a.number}`,
    html_url: `https://github.com/${repo}/security/dependabot/${a.number}`,
    created_at: "2026-10-01T12:00:00Z",
    updated_at: "2026-11-01T12:00:00Z",
    dismissed_at: a.state === "dismissed" ? "2026-11-02T09:00:00Z" : null,
    dismissed_by: a.state === "dismissed" ? { login: "octocat", id: 1, type: "User" } : null,
    dismissed_reason: a.state === "dismissed" ? (a.dismissedReason ?? "tolerable_risk") : null,
    dismissed_comment: a.state === "dismissed" ? (a.dismissedComment ?? null) : null,
    fixed_at: a.state === "fixed" ? "2026-11-03T09:00:00Z" : null,
    auto_dismissed_at: null,
  };
}
