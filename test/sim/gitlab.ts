// GitLab simulator: REST v4 under /api/v4 (gitlab.com or a self-managed path), PRIVATE-TOKEN
// or Bearer auth, /user and /personal_access_tokens/self, projects with X-Next-Page,
// X-Total-Pages and Link pagination, merge request read/update, GitLab's error bodies, and a
// webhook sender that sends X-Gitlab-Token, X-Gitlab-Event and X-Gitlab-Event-UUID.
import crypto from "node:crypto";
import { type Context, Hono } from "hono";
import { FaultKnobs } from "./faults.js";
import { type RepoFiles, directoriesOf, gitBlobSha } from "./files.js";
import { eventStamp } from "./stamps.js";

export interface GitLabSimProject {
  id: number;
  path_with_namespace: string;
  default_branch: string;
  visibility: "private" | "internal" | "public";
  archived: boolean;
  topics?: string[];
}

export interface GitLabSimIssue {
  projectId: number;
  iid: number;
  title: string;
  description: string | null;
  labels: string[];
  assigneeIds: number[];
  confidential: boolean;
  dueDate: string | null;
  state: "opened" | "closed";
  notes: string[];
}

/** A merge request opened through the API. */
export interface GitLabSimMr {
  project: string;
  iid: number;
  title: string;
  description: string;
  source_branch: string;
  target_branch: string;
  state: "opened" | "closed" | "merged";
  author: string;
  /** Reviewer user ids. */
  reviewers: number[];
}

export class GitLabSim {
  readonly faults = new FaultKnobs();
  /** Access tokens: an OAuth one expires (expiresAt, wall-clock ms) and is revoked when its refresh token is used. */
  readonly tokens = new Map<string, { username: string; scopes: string[]; revoked?: boolean; expiresAt?: number }>();
  /** API requests refused for an expired or revoked token, and refresh tokens presented again after their use. */
  readonly rejected = { expired: 0, revoked: 0, reusedRefreshTokens: 0 };
  /**
   * Users with the Guest role on the projects: as GitLab does, their writes to labels,
   * assignees, milestone, due date and confidentiality are dropped without an error.
   */
  readonly guests = new Set<string>();
  readonly projects: GitLabSimProject[] = [];
  readonly mergeRequests = new Map<string, string | null>();
  /** Vulnerability findings by project path (GitLab Ultimate); projects without them answer 403. */
  readonly vulnerabilityFindings = new Map<string, Record<string, unknown>[]>();
  /** Files on each project's default branch, by path with namespace. */
  readonly files = new Map<string, RepoFiles>();
  /** Project webhooks by path. */
  readonly hooks = new Map<string, { id: number; url: string; token?: string; merge_requests_events: boolean }[]>();
  /** The token lacks Maintainer access: GitLab answers 403. */
  hooksForbidden = false;
  #hookIds = 1;
  readonly oauthApps = new Map<string, { secret: string; callback: string }>();
  readonly #codes = new Map<string, { clientId: string; redirectUri: string; challenge: string | null }>();
  /** Unused refresh tokens, with the user and the access token issued beside each. */
  readonly #refreshTokens = new Map<string, { username: string; access: string }>();
  readonly #usedRefreshTokens = new Set<string>();
  /** Seconds an OAuth access token lives (GitLab: 7200). */
  accessTokenTtl = 7200;
  /** Token endpoint calls by grant type, and a delay to widen races in tests. */
  readonly tokenRequests: string[] = [];
  tokenLatencyMs = 0;
  readonly issues: GitLabSimIssue[] = [];
  /** Labels per project id; names with "::" are scoped labels. */
  readonly labels = new Map<number, string[]>();
  readonly members = [
    { id: 11, username: "alice", name: "Alice" },
    { id: 12, username: "bob", name: "Bob" },
  ];
  /** The server's public address: web_url and Link headers point there. */
  webOrigin = "https://gitlab.com";

  addToken(token: string, username = "project_bot", scopes = ["api"]): void {
    this.tokens.set(token, { username, scopes });
  }

  addProjects(group: string, count: number): void {
    for (let i = 1; i <= count; i++) {
      this.projects.push({
        id: 2000 + i,
        path_with_namespace: `${group}/project-${String(i).padStart(3, "0")}`,
        default_branch: "main",
        visibility: i % 3 === 0 ? "internal" : "private",
        archived: false,
      });
    }
  }

  /** Branches besides each project's default one, with their files: path with namespace → branch → files. */
  readonly branches = new Map<string, Map<string, RepoFiles>>();
  /** Merge requests opened through the API (their iids continue after any set in mergeRequests). */
  readonly mrs: GitLabSimMr[] = [];
  /** Commits that wrote a default branch: Patchbay must never make one. */
  readonly defaultBranchWrites: string[] = [];

  /** A branch's files: the default branch's, or another's. */
  branchFiles(project: string, branch: string): RepoFiles | undefined {
    const p = this.projects.find((x) => x.path_with_namespace === project);
    if (!p) return undefined;
    return branch === p.default_branch ? this.files.get(project) : this.branches.get(project)?.get(branch);
  }

  /** Merges a merge request as a person does: the target branch takes the source branch's files. */
  mergeMr(project: string, iid: number): GitLabSimMr {
    const mr = this.mrs.find((m) => m.project === project && m.iid === iid);
    if (!mr || mr.state !== "opened") throw new Error(`no open merge request ${project}!${iid}`);
    this.files.set(project, { ...this.branchFiles(project, mr.source_branch)! });
    mr.state = "merged";
    return mr;
  }

  /** Commits with actions (creating or resetting a branch from start_branch), and merge requests. */
  #writeRoutes(api: Hono): void {
    const projectOf = (c: Context) => this.projects.find((p) => p.path_with_namespace === decodeURIComponent(c.req.param("project")!));
    const entryOf = (c: Context) => this.entry(c);
    /** Writing code needs the api scope and at least the Developer role. */
    const refused = (c: Context) => {
      const entry = entryOf(c);
      if (!entry.scopes.includes("api"))
        return c.json(
          { error: "insufficient_scope", error_description: "The request requires higher privileges than provided by the access token.", scope: "api" },
          403,
        );
      if (this.guests.has(entry.username)) return c.json({ message: "403 Forbidden" }, 403);
      return undefined;
    };
    const mrJson = (mr: GitLabSimMr) => ({
      id: 90_000 + this.mrs.indexOf(mr),
      iid: mr.iid,
      project_id: this.projects.find((p) => p.path_with_namespace === mr.project)!.id,
      title: mr.title,
      description: mr.description,
      state: mr.state,
      source_branch: mr.source_branch,
      target_branch: mr.target_branch,
      draft: mr.title.startsWith("Draft:"),
      author: { username: mr.author },
      reviewers: mr.reviewers.map((id) => this.members.find((m) => m.id === id)!),
      web_url: `${this.webOrigin}/${mr.project}/-/merge_requests/${mr.iid}`,
    });
    api.post("/projects/:project/repository/commits", async (c) => {
      const project = projectOf(c);
      if (!project) return c.json({ message: "404 Project Not Found" }, 404);
      const denied = refused(c);
      if (denied) return denied;
      const body = (await c.req.json()) as {
        branch?: string;
        commit_message?: string;
        start_branch?: string;
        force?: boolean;
        actions?: { action: string; file_path?: string; content?: string }[];
      };
      if (!body.branch) return c.json({ error: "branch is missing" }, 400);
      if (!body.commit_message) return c.json({ error: "commit_message is missing" }, 400);
      if (!Array.isArray(body.actions) || body.actions.length === 0) return c.json({ error: "actions is missing" }, 400);
      const path = project.path_with_namespace;
      const existing = this.branchFiles(path, body.branch);
      const start = body.start_branch !== undefined ? this.branchFiles(path, body.start_branch) : undefined;
      if (body.start_branch !== undefined && !start) return c.json({ message: `Invalid reference name: ${body.start_branch}` }, 400);
      if (!existing && !start) return c.json({ message: "You can only create or edit files when you are on a branch" }, 400);
      // force: the branch is overwritten with a new commit on start_branch.
      const files: RepoFiles = { ...(existing && !(body.force && start) ? existing : start!) };
      for (const a of body.actions) {
        if (!a.file_path) return c.json({ error: "actions[file_path] is missing" }, 400);
        if (a.action === "update" || a.action === "create") {
          if (a.action === "update" && files[a.file_path] === undefined) return c.json({ message: "A file with this name doesn't exist" }, 400);
          if (a.action === "create" && files[a.file_path] !== undefined) return c.json({ message: "A file with this name already exists" }, 400);
          files[a.file_path] = a.content ?? "";
        } else if (a.action === "delete") delete files[a.file_path];
        else return c.json({ error: "actions[action] does not have a valid value" }, 400);
      }
      if (body.branch === project.default_branch) {
        this.defaultBranchWrites.push(`${path}:${body.branch}`);
        this.files.set(path, files);
      } else {
        if (!this.branches.has(path)) this.branches.set(path, new Map());
        this.branches.get(path)!.set(body.branch, files);
      }
      const id = gitBlobSha(`commit:${path}:${body.branch}:${JSON.stringify(files)}:${this.defaultBranchWrites.length}:${Date.now()}`);
      return c.json({ id, short_id: id.slice(0, 8), title: body.commit_message.split("\n")[0], message: body.commit_message, parent_ids: [] }, 201);
    });
    api.get("/projects/:project/repository/branches/:branch", (c) => {
      const project = projectOf(c);
      if (!project) return c.json({ message: "404 Project Not Found" }, 404);
      const branch = decodeURIComponent(c.req.param("branch"));
      if (!this.branchFiles(project.path_with_namespace, branch)) return c.json({ message: "404 Branch Not Found" }, 404);
      return c.json({ name: branch, default: branch === project.default_branch });
    });
    api.get("/projects/:project/merge_requests", (c) => {
      const project = projectOf(c);
      if (!project) return c.json({ message: "404 Project Not Found" }, 404);
      const state = c.req.query("state") ?? "all";
      const list = this.mrs.filter(
        (m) =>
          m.project === project.path_with_namespace &&
          (state === "all" || m.state === state) &&
          (!c.req.query("source_branch") || m.source_branch === c.req.query("source_branch")) &&
          (!c.req.query("target_branch") || m.target_branch === c.req.query("target_branch")),
      );
      return c.json(list.sort((a, b) => b.iid - a.iid).map(mrJson));
    });
    api.post("/projects/:project/merge_requests", async (c) => {
      const project = projectOf(c);
      if (!project) return c.json({ message: "404 Project Not Found" }, 404);
      const denied = refused(c);
      if (denied) return denied;
      const body = (await c.req.json()) as { source_branch?: string; target_branch?: string; title?: string; description?: string; reviewer_ids?: number[] };
      if (!body.source_branch || !body.target_branch || !body.title) return c.json({ error: "source_branch, target_branch, title are missing" }, 400);
      const path = project.path_with_namespace;
      if (!this.branchFiles(path, body.source_branch)) return c.json({ message: [`Source branch "${body.source_branch}" does not exist`] }, 422);
      const open = this.mrs.find(
        (m) => m.project === path && m.source_branch === body.source_branch && m.target_branch === body.target_branch && m.state === "opened",
      );
      if (open) return c.json({ message: [`Another open merge request already exists for this source branch: !${open.iid}`] }, 409);
      const taken = [
        ...this.mrs.filter((m) => m.project === path).map((m) => m.iid),
        ...[...this.mergeRequests.keys()].filter((k) => k.startsWith(`${path}!`)).map((k) => Number(k.slice(path.length + 1))),
      ];
      const mr: GitLabSimMr = {
        project: path,
        iid: Math.max(0, ...taken) + 1,
        title: body.title,
        description: body.description ?? "",
        source_branch: body.source_branch,
        target_branch: body.target_branch,
        state: "opened",
        author: entryOf(c).username,
        reviewers: (body.reviewer_ids ?? []).filter((id) => this.members.some((m) => m.id === id)),
      };
      this.mrs.push(mr);
      return c.json(mrJson(mr), 201);
    });
    api.get("/users", (c) => {
      const username = c.req.query("username");
      return c.json(this.members.filter((m) => !username || m.username.toLowerCase() === username.toLowerCase()).map((m) => ({ ...m, state: "active" })));
    });
    this.#mrJson = mrJson;
  }

  #mrJson: ((mr: GitLabSimMr) => unknown) | undefined;

  app(): Hono {
    const api = new Hono();
    api.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ message: `${status} ${status >= 500 ? "Internal Server Error" : "Error"}` })),
    );
    api.use("*", async (c, next) => {
      const token = c.req.header("private-token") ?? /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const entry = token ? this.tokens.get(token) : undefined;
      if (!entry) return c.json({ message: "401 Unauthorized" }, 401);
      // GitLab's answers for an OAuth token past its two hours, or one a refresh replaced.
      if (entry.revoked) {
        this.rejected.revoked++;
        return c.json({ error: "invalid_token", error_description: "Token was revoked. You have to re-authorize from the user." }, 401);
      }
      if (entry.expiresAt !== undefined && Date.now() >= entry.expiresAt) {
        this.rejected.expired++;
        return c.json({ error: "invalid_token", error_description: "Token is expired. You can either do re-authorization or token refresh." }, 401);
      }
      await next();
    });
    api.get("/user", (c) => c.json({ id: 1, username: this.entry(c).username, state: "active", bot: true }));
    api.get("/personal_access_tokens/self", (c) =>
      c.json({ id: 1, name: "patchbay", revoked: false, active: true, scopes: this.entry(c).scopes, expires_at: "2027-06-30" }),
    );
    api.get("/projects", (c) => {
      const perPage = Math.min(100, Math.max(1, Number(c.req.query("per_page") ?? 20)));
      const page = Math.max(1, Number(c.req.query("page") ?? 1));
      const sorted = [...this.projects].sort((a, b) => a.id - b.id);
      const totalPages = Math.max(1, Math.ceil(sorted.length / perPage));
      const url = new URL(new URL(c.req.url).pathname + new URL(c.req.url).search, this.webOrigin);
      const link = (p: number) => {
        url.searchParams.set("page", String(p));
        return url.toString();
      };
      c.header("x-page", String(page));
      c.header("x-per-page", String(perPage));
      c.header("x-total", String(sorted.length));
      c.header("x-total-pages", String(totalPages));
      c.header("x-next-page", page < totalPages ? String(page + 1) : "");
      c.header("x-prev-page", page > 1 ? String(page - 1) : "");
      const rels = [`<${link(1)}>; rel="first"`, `<${link(totalPages)}>; rel="last"`];
      if (page < totalPages) rels.unshift(`<${link(page + 1)}>; rel="next"`);
      c.header("link", rels.join(", "));
      return c.json(
        sorted.slice((page - 1) * perPage, page * perPage).map((p) => ({
          id: p.id,
          name: p.path_with_namespace.split("/").at(-1),
          path_with_namespace: p.path_with_namespace,
          default_branch: p.default_branch,
          visibility: p.visibility,
          archived: p.archived,
          topics: p.topics ?? [],
          tag_list: p.topics ?? [],
          web_url: `${this.webOrigin}/${p.path_with_namespace}`,
          http_url_to_repo: `${this.webOrigin}/${p.path_with_namespace}.git`,
          ssh_url_to_repo: `git@${new URL(this.webOrigin).host}:${p.path_with_namespace}.git`,
        })),
      );
    });
    const hookProject = (c: { req: { param(name: string): string } }) => {
      const path = decodeURIComponent(c.req.param("project"));
      return this.projects.some((p) => p.path_with_namespace === path) ? path : undefined;
    };
    api.get("/projects/:project/vulnerability_findings", (c) => {
      const path = decodeURIComponent(c.req.param("project"));
      if (!this.projects.some((p) => p.path_with_namespace === path)) return c.json({ message: "404 Project Not Found" }, 404);
      const all = this.vulnerabilityFindings.get(path);
      if (!all) return c.json({ message: "403 Forbidden" }, 403);
      const types = (c.req.query("report_type") ?? "").split(",").filter(Boolean);
      const scope = c.req.query("scope") ?? "dismissed";
      const matching = all.filter((f) => (!types.length || types.includes(String(f.report_type))) && (scope === "all" || f.state !== "dismissed"));
      return offsetPage(c, matching);
    });
    api.get("/projects/:project/repository/tree", (c) => {
      const project = this.projects.find((p) => p.path_with_namespace === decodeURIComponent(c.req.param("project")));
      if (!project) return c.json({ message: "404 Project Not Found" }, 404);
      const files = this.files.get(project.path_with_namespace);
      const ref = c.req.query("ref");
      if (!files || Object.keys(files).length === 0 || (ref && ref !== project.default_branch)) return c.json({ message: "404 Tree Not Found" }, 404);
      const recursive = c.req.query("recursive") === "true";
      const entries = [
        ...directoriesOf(files).map((path) => ({ id: gitBlobSha(`tree:${path}`), name: path.split("/").at(-1), type: "tree", path, mode: "040000" })),
        ...Object.entries(files).map(([path, content]) => ({ id: gitBlobSha(content), name: path.split("/").at(-1), type: "blob", path, mode: "100644" })),
      ]
        .filter((e) => recursive || !e.path.includes("/"))
        .sort((a, b) => a.path.localeCompare(b.path));
      return offsetPage(c, entries);
    });
    api.get("/projects/:project/repository/files/:path/raw", (c) => {
      const project = this.projects.find((p) => p.path_with_namespace === decodeURIComponent(c.req.param("project")));
      if (!project) return c.json({ message: "404 Project Not Found" }, 404);
      const ref = c.req.query("ref");
      if (!ref) return c.json({ error: "ref is missing" }, 400);
      const content = this.files.get(project.path_with_namespace)?.[decodeURIComponent(c.req.param("path"))];
      if (content === undefined || (ref !== project.default_branch && ref !== "HEAD")) return c.json({ message: "404 File Not Found" }, 404);
      return c.body(content, 200, { "content-type": "text/plain; charset=utf-8" });
    });
    api.get("/projects/:project/hooks", (c) => {
      const path = hookProject(c);
      if (!path) return c.json({ message: "404 Project Not Found" }, 404);
      if (this.hooksForbidden) return c.json({ message: "403 Forbidden" }, 403);
      return c.json((this.hooks.get(path) ?? []).map((h) => ({ id: h.id, url: h.url, merge_requests_events: h.merge_requests_events })));
    });
    api.post("/projects/:project/hooks", async (c) => {
      const path = hookProject(c);
      if (!path) return c.json({ message: "404 Project Not Found" }, 404);
      if (this.hooksForbidden) return c.json({ message: "403 Forbidden" }, 403);
      const body = (await c.req.json()) as { url?: string; token?: string; merge_requests_events?: boolean };
      if (!body.url) return c.json({ error: "url is missing" }, 400);
      const hook = { id: this.#hookIds++, url: body.url, token: body.token, merge_requests_events: Boolean(body.merge_requests_events) };
      this.hooks.set(path, [...(this.hooks.get(path) ?? []), hook]);
      return c.json({ id: hook.id, url: hook.url, merge_requests_events: hook.merge_requests_events }, 201);
    });
    api.put("/projects/:project/hooks/:id", async (c) => {
      const path = hookProject(c);
      const hook = path ? this.hooks.get(path)?.find((h) => h.id === Number(c.req.param("id"))) : undefined;
      if (!hook) return c.json({ message: "404 Not found" }, 404);
      const body = (await c.req.json()) as { url?: string; token?: string; merge_requests_events?: boolean };
      Object.assign(hook, {
        url: body.url ?? hook.url,
        token: body.token ?? hook.token,
        merge_requests_events: body.merge_requests_events ?? hook.merge_requests_events,
      });
      return c.json({ id: hook.id, url: hook.url, merge_requests_events: hook.merge_requests_events });
    });
    this.#writeRoutes(api);
    api.get("/projects/:project/merge_requests/:iid", (c) => {
      const mr = this.mrs.find((m) => m.project === decodeURIComponent(c.req.param("project")) && m.iid === Number(c.req.param("iid")));
      if (mr) return c.json(this.#mrJson!(mr));
      const key = `${decodeURIComponent(c.req.param("project"))}!${c.req.param("iid")}`;
      if (!this.mergeRequests.has(key)) return c.json({ message: "404 Not found" }, 404);
      return c.json({ iid: Number(c.req.param("iid")), description: this.mergeRequests.get(key), state: "opened" });
    });
    api.put("/projects/:project/merge_requests/:iid", async (c) => {
      const mr = this.mrs.find((m) => m.project === decodeURIComponent(c.req.param("project")) && m.iid === Number(c.req.param("iid")));
      if (mr) {
        const body = (await c.req.json()) as { title?: string; description?: string; reviewer_ids?: number[]; state_event?: string };
        if (typeof body.title === "string") mr.title = body.title;
        if (typeof body.description === "string") mr.description = body.description;
        if (Array.isArray(body.reviewer_ids)) mr.reviewers = body.reviewer_ids.filter((id) => this.members.some((m) => m.id === id));
        if (body.state_event === "close" && mr.state === "opened") mr.state = "closed";
        return c.json(this.#mrJson!(mr));
      }
      const key = `${decodeURIComponent(c.req.param("project"))}!${c.req.param("iid")}`;
      if (!this.mergeRequests.has(key)) return c.json({ message: "404 Not found" }, 404);
      const body = (await c.req.json()) as { description?: string };
      if (typeof body.description === "string") this.mergeRequests.set(key, body.description);
      return c.json({ iid: Number(c.req.param("iid")), description: this.mergeRequests.get(key), state: "opened" });
    });
    this.#issueRoutes(api);
    const root = new Hono();
    root.get("/oauth/authorize", (c) => {
      const app = this.oauthApps.get(c.req.query("client_id") ?? "");
      const redirectUri = c.req.query("redirect_uri") ?? "";
      if (!app || redirectUri !== app.callback) return c.html("<h1>The redirect URI included is not valid.</h1>", 400);
      const code = crypto.randomBytes(16).toString("hex");
      this.#codes.set(code, { clientId: c.req.query("client_id")!, redirectUri, challenge: c.req.query("code_challenge") ?? null });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      back.searchParams.set("state", c.req.query("state") ?? "");
      return c.html(`<!doctype html><h1>Authorize</h1><a id="authorize" href="${back.toString().replace(/&/g, "&amp;")}">Authorize</a>`);
    });
    root.post("/oauth/token", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      this.tokenRequests.push(form.get("grant_type") ?? "");
      if (this.tokenLatencyMs) await new Promise((r) => setTimeout(r, this.tokenLatencyMs));
      const app = this.oauthApps.get(form.get("client_id") ?? "");
      if (!app || app.secret !== form.get("client_secret"))
        return c.json({ error: "invalid_client", error_description: "Client authentication failed due to unknown client." }, 401);
      let username: string;
      if (form.get("grant_type") === "authorization_code") {
        const grant = this.#codes.get(form.get("code") ?? "");
        this.#codes.delete(form.get("code") ?? "");
        const verifier = form.get("code_verifier");
        if (
          !grant ||
          grant.redirectUri !== form.get("redirect_uri") ||
          (grant.challenge &&
            crypto
              .createHash("sha256")
              .update(verifier ?? "")
              .digest("base64url") !== grant.challenge)
        ) {
          return c.json(
            {
              error: "invalid_grant",
              error_description:
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
            },
            400,
          );
        }
        username = "oauth-user";
      } else if (form.get("grant_type") === "refresh_token") {
        const presented = form.get("refresh_token") ?? "";
        const owner = this.#refreshTokens.get(presented);
        if (!owner && this.#usedRefreshTokens.has(presented)) this.rejected.reusedRefreshTokens++;
        if (!owner)
          return c.json(
            {
              error: "invalid_grant",
              error_description:
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
            },
            400,
          );
        // "This request invalidates the existing access_token and refresh_token" (GitLab's OAuth docs).
        this.#refreshTokens.delete(presented);
        this.#usedRefreshTokens.add(presented);
        const previous = this.tokens.get(owner.access);
        if (previous) previous.revoked = true;
        username = owner.username;
      } else {
        return c.json({ error: "unsupported_grant_type" }, 400);
      }
      const access = crypto.randomBytes(24).toString("hex");
      const refresh = crypto.randomBytes(24).toString("hex");
      this.tokens.set(access, { username, scopes: ["api"], expiresAt: Date.now() + this.accessTokenTtl * 1000 });
      this.#refreshTokens.set(refresh, { username, access });
      return c.json({
        access_token: access,
        token_type: "Bearer",
        expires_in: this.accessTokenTtl,
        refresh_token: refresh,
        scope: "api",
        created_at: Math.floor(Date.now() / 1000),
      });
    });
    root.route("/api/v4", api);
    return root;
  }

  /** A "Merge Request Hook" payload as GitLab sends it. */
  /** Refresh tokens issued so far stop working (the authorization was revoked). */
  revokeRefreshTokens(): void {
    this.#refreshTokens.clear();
  }

  mergeRequestPayload(input: {
    action: string;
    project: GitLabSimProject;
    iid: number;
    title: string;
    description?: string;
    branch?: string;
    fork?: { owner: string };
  }) {
    const sourceProjectId = input.fork ? input.project.id + 900_000 : input.project.id;
    const state = input.action === "merge" ? "merged" : input.action === "close" ? "closed" : "opened";
    return {
      object_kind: "merge_request",
      event_type: "merge_request",
      user: input.fork ? { id: 77, name: input.fork.owner, username: input.fork.owner } : { id: 1, name: "Renovate Bot", username: "renovate-bot" },
      project: {
        id: input.project.id,
        name: input.project.path_with_namespace.split("/").at(-1),
        web_url: `${this.webOrigin}/${input.project.path_with_namespace}`,
        path_with_namespace: input.project.path_with_namespace,
        default_branch: input.project.default_branch,
      },
      object_attributes: {
        iid: input.iid,
        title: input.title,
        description: input.description ?? "",
        source_branch: input.branch ?? `renovate/${input.iid}`,
        source_project_id: sourceProjectId,
        target_project_id: input.project.id,
        source: {
          id: sourceProjectId,
          path_with_namespace: input.fork ? `${input.fork.owner}/${input.project.path_with_namespace.split("/").at(-1)}` : input.project.path_with_namespace,
        },
        target: { id: input.project.id, path_with_namespace: input.project.path_with_namespace },
        target_branch: input.project.default_branch,
        state,
        action: input.action,
        // GitLab's own format in hooks: "2026-11-23 08:00:00 UTC".
        updated_at: `${eventStamp().toISOString().slice(0, 19).replace("T", " ")} UTC`,
        url: `${this.webOrigin}/${input.project.path_with_namespace}/-/merge_requests/${input.iid}`,
      },
    };
  }

  /**
   * A person closes, reopens or comments on an issue: the "Issue Hook" or "Note Hook" payload
   * as GitLab sends it (timestamps in GitLab's "YYYY-MM-DD hh:mm:ss UTC" form).
   */
  issueEvent(
    issue: GitLabSimIssue,
    change:
      { action: "close" | "reopen"; by: { username: string; name: string } } | { action: "comment"; text: string; by: { username: string; name: string } },
  ): { event: string; payload: Record<string, unknown> } {
    const project = this.projects.find((p) => p.id === issue.projectId)!;
    const stamp = new Date()
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d{3}Z$/, " UTC");
    const user = { id: 500 + change.by.username.length, name: change.by.name, username: change.by.username };
    const projectPayload = {
      id: project.id,
      name: project.path_with_namespace.split("/").pop(),
      path_with_namespace: project.path_with_namespace,
      web_url: `${this.webOrigin}/${project.path_with_namespace}`,
    };
    if (change.action === "comment") {
      issue.notes.push(change.text);
      return {
        event: "Note Hook",
        payload: {
          object_kind: "note",
          event_type: "note",
          user,
          project_id: project.id,
          project: projectPayload,
          object_attributes: {
            id: 9100 + issue.notes.length,
            note: change.text,
            noteable_type: "Issue",
            author_id: user.id,
            created_at: stamp,
            updated_at: stamp,
            project_id: project.id,
            noteable_id: 8000 + issue.iid,
          },
          issue: { id: 8000 + issue.iid, iid: issue.iid, title: issue.title, state: issue.state, updated_at: stamp },
        },
      };
    }
    issue.state = change.action === "close" ? "closed" : "opened";
    return {
      event: "Issue Hook",
      payload: {
        object_kind: "issue",
        event_type: "issue",
        user,
        project: projectPayload,
        object_attributes: {
          id: 8000 + issue.iid,
          iid: issue.iid,
          title: issue.title,
          state: issue.state,
          action: change.action,
          updated_at: stamp,
          url: `${this.webOrigin}/${project.path_with_namespace}/-/issues/${issue.iid}`,
        },
        labels: issue.labels.map((title) => ({ title })),
      },
    };
  }

  deliver(url: string, event: string, payload: unknown, opts: { token?: string | null; uuid?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "GitLab/17.5.0",
      "x-gitlab-event": event,
      "x-gitlab-event-uuid": opts.uuid ?? crypto.randomUUID(),
      "x-gitlab-instance": this.webOrigin,
    };
    if (opts.token) headers["x-gitlab-token"] = opts.token;
    return fetch(url, { method: "POST", headers, body: JSON.stringify(payload) });
  }

  /** Issues, labels, members and notes (REST v4), with scoped labels replacing their scope's others. */
  #issueRoutes(api: Hono): void {
    const project = (c: { req: { param(n: string): string } }) => {
      const key = decodeURIComponent(c.req.param("project"));
      return this.projects.find((p) => String(p.id) === key || p.path_with_namespace === key);
    };
    const notFound = (c: { json: (b: unknown, s: 404) => Response }, what = "Project") => c.json({ message: `404 ${what} Not Found` }, 404);
    const view = (i: GitLabSimIssue) => {
      const p = this.projects.find((x) => x.id === i.projectId)!;
      return {
        id: 50000 + this.issues.indexOf(i),
        iid: i.iid,
        project_id: i.projectId,
        title: i.title,
        description: i.description,
        state: i.state,
        labels: i.labels,
        confidential: i.confidential,
        due_date: i.dueDate,
        assignees: i.assigneeIds.map((id) => this.members.find((m) => m.id === id)),
        web_url: `${this.webOrigin}/${p.path_with_namespace}/-/issues/${i.iid}`,
      };
    };
    /** Adds labels; a scoped label (scope::value) removes the others of its scope. */
    const addLabels = (current: string[], added: string[]) => {
      let out = [...current];
      for (const label of added) {
        const scope = label.includes("::") ? label.slice(0, label.lastIndexOf("::")) : undefined;
        if (scope) out = out.filter((l) => !(l.includes("::") && l.slice(0, l.lastIndexOf("::")) === scope));
        if (!out.includes(label)) out.push(label);
      }
      return out;
    };
    const splitLabels = (v: unknown) =>
      typeof v === "string"
        ? v
            .split(",")
            .map((x) => x.trim())
            .filter(Boolean)
        : Array.isArray(v)
          ? (v as string[])
          : [];
    const checked = (body: { assignee_ids?: unknown; due_date?: unknown }) => {
      if (Array.isArray(body.assignee_ids) && body.assignee_ids.some((id) => !this.members.some((m) => m.id === id))) return "assignee_ids";
      if (body.due_date !== undefined && body.due_date !== null && !/^\d{4}-\d{2}-\d{2}$/.test(String(body.due_date))) return "due_date";
      return undefined;
    };
    api.get("/projects/:project/labels", (c) => {
      const p = project(c);
      if (!p) return notFound(c);
      return c.json((this.labels.get(p.id) ?? []).map((name, i) => ({ id: 800 + i, name, color: "#428BCA" })));
    });
    api.get("/projects/:project/members/all", (c) => {
      const p = project(c);
      if (!p) return notFound(c);
      return c.json(this.members.map((m) => ({ ...m, state: "active", access_level: 30 })));
    });
    api.get("/projects/:project/issues", (c) => {
      const p = project(c);
      if (!p) return notFound(c);
      const labels = splitLabels(c.req.query("labels"));
      const state = c.req.query("state");
      // search= looks in titles and descriptions (in= narrows it), case-insensitively.
      const search = c.req.query("search")?.toLowerCase();
      const within = (c.req.query("in") ?? "title,description").split(",");
      const matches = (i: GitLabSimIssue) =>
        !search ||
        (within.includes("title") && i.title.toLowerCase().includes(search)) ||
        (within.includes("description") && (i.description ?? "").toLowerCase().includes(search));
      const found = this.issues.filter(
        (i) => i.projectId === p.id && (!state || state === "all" || i.state === state) && labels.every((l) => i.labels.includes(l)) && matches(i),
      );
      c.header("x-next-page", "");
      return c.json(found.map(view));
    });
    api.post("/projects/:project/issues", async (c) => {
      const p = project(c);
      if (!p) return notFound(c);
      const body = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
      if (typeof body.title !== "string" || !body.title.trim()) return c.json({ message: { title: ["can't be blank"] } }, 400);
      if (body.title.length > 255) return c.json({ message: { title: ["is too long (maximum is 255 characters)"] } }, 400);
      const bad = checked(body);
      if (bad) return c.json({ message: { [bad]: ["is invalid"] } }, 400);
      if (this.guests.has(this.entry(c).username)) for (const k of ["labels", "assignee_ids", "milestone_id", "due_date", "confidential"]) delete body[k];
      const labels = addLabels([], splitLabels(body.labels));
      this.labels.set(p.id, [...new Set([...(this.labels.get(p.id) ?? []), ...labels])]);
      const issue: GitLabSimIssue = {
        projectId: p.id,
        iid: this.issues.filter((i) => i.projectId === p.id).length + 1,
        title: body.title,
        description: typeof body.description === "string" ? body.description : null,
        labels,
        assigneeIds: Array.isArray(body.assignee_ids) ? (body.assignee_ids as number[]) : [],
        confidential: body.confidential === true,
        dueDate: typeof body.due_date === "string" ? body.due_date : null,
        state: "opened",
        notes: [],
      };
      this.issues.push(issue);
      return c.json(view(issue), 201);
    });
    const issueOf = (c: { req: { param(n: string): string } }) => {
      const p = project(c);
      return p ? this.issues.find((i) => i.projectId === p.id && i.iid === Number(c.req.param("iid"))) : undefined;
    };
    api.get("/projects/:project/issues/:iid", (c) => {
      const issue = issueOf(c);
      return issue ? c.json(view(issue)) : notFound(c, "Issue");
    });
    api.put("/projects/:project/issues/:iid", async (c) => {
      const issue = issueOf(c);
      if (!issue) return notFound(c, "Issue");
      const body = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
      const bad = checked(body);
      if (bad) return c.json({ message: { [bad]: ["is invalid"] } }, 400);
      if (this.guests.has(this.entry(c).username))
        for (const k of ["labels", "add_labels", "assignee_ids", "milestone_id", "due_date", "confidential"]) delete body[k];
      if (typeof body.title === "string") issue.title = body.title;
      if (typeof body.description === "string") issue.description = body.description;
      if (typeof body.confidential === "boolean") issue.confidential = body.confidential;
      if (body.due_date !== undefined) issue.dueDate = (body.due_date as string | null) ?? null;
      if (Array.isArray(body.assignee_ids)) issue.assigneeIds = body.assignee_ids as number[];
      if (body.labels !== undefined) issue.labels = addLabels([], splitLabels(body.labels));
      if (body.add_labels !== undefined) issue.labels = addLabels(issue.labels, splitLabels(body.add_labels));
      if (body.state_event === "close") issue.state = "closed";
      else if (body.state_event === "reopen") issue.state = "opened";
      else if (body.state_event !== undefined) return c.json({ error: "state_event does not have a valid value" }, 400);
      const p = issue.projectId;
      this.labels.set(p, [...new Set([...(this.labels.get(p) ?? []), ...issue.labels])]);
      return c.json(view(issue));
    });
    api.post("/projects/:project/issues/:iid/notes", async (c) => {
      const issue = issueOf(c);
      if (!issue) return notFound(c, "Issue");
      const body = (await c.req.json().catch(() => ({}))) as { body?: string };
      if (!body.body) return c.json({ message: { note: ["can't be blank"] } }, 400);
      issue.notes.push(body.body);
      return c.json({ id: issue.notes.length, body: body.body, system: false }, 201);
    });
  }

  private entry(c: { req: { header(name: string): string | undefined } }) {
    const token = c.req.header("private-token") ?? /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")![1]!;
    return this.tokens.get(token)!;
  }
}

/** GitLab's offset pagination: page and per_page in, X-Page/X-Per-Page/X-Total/X-Total-Pages/X-Next-Page out. */
function offsetPage(c: Context, items: unknown[]) {
  const perPage = Math.min(100, Math.max(1, Number(c.req.query("per_page") ?? 20)));
  const page = Math.max(1, Number(c.req.query("page") ?? 1));
  const pages = Math.max(1, Math.ceil(items.length / perPage));
  c.header("x-page", String(page));
  c.header("x-per-page", String(perPage));
  c.header("x-total", String(items.length));
  c.header("x-total-pages", String(pages));
  c.header("x-next-page", page < pages ? String(page + 1) : "");
  return c.json(items.slice((page - 1) * perPage, page * perPage));
}

/** A dependency scanning finding as GET /projects/:id/vulnerability_findings returns it. */
export function gitlabFinding(
  project: { id: number; path_with_namespace: string },
  f: {
    id: number;
    cve: string;
    name: string;
    version: string;
    file: string;
    severity: string;
    state?: string;
    dismissalReason?: string;
    reportType?: string;
    image?: string;
    solution?: string;
  },
): Record<string, unknown> {
  return {
    id: f.id,
    uuid: `5f2b${String(f.id).padStart(4, "0")}-1c2d-5e6f-8a9b-0c1d2e3f4a5b`,
    report_type: f.reportType ?? "dependency_scanning",
    name: `${f.cve} in ${f.name}`,
    severity: f.severity,
    confidence: "unknown",
    scanner: { external_id: "gemnasium", name: "Gemnasium", vendor: "GitLab" },
    identifiers: [
      {
        external_type: "gemnasium",
        external_id: `gemnasium-${f.id}`,
        name: `Gemnasium-${f.id}`,
        url: "https://gitlab.com/gitlab-org/security-products/gemnasium-db",
      },
      { external_type: "cve", external_id: f.cve, name: f.cve, url: `https://cve.mitre.org/cgi-bin/cvename.cgi?name=${f.cve}` },
    ],
    project_fingerprint: `pf${f.id}`,
    create_vulnerability_feedback_issue_path: `/${project.path_with_namespace}/-/vulnerability_feedback`,
    project: { id: project.id, name: project.path_with_namespace.split("/").at(-1), full_path: `/${project.path_with_namespace}` },
    description: `A vulnerability in ${f.name} ${f.version}.`,
    solution: f.solution ?? null,
    location: f.image
      ? { image: f.image, operating_system: "debian:12", dependency: { package: { name: f.name }, version: f.version } }
      : { file: f.file, dependency: { package: { name: f.name }, version: f.version } },
    links: [{ url: `https://nvd.nist.gov/vuln/detail/${f.cve}` }],
    state: f.state ?? "detected",
    dismissal_reason: f.dismissalReason ?? null,
    created_at: "2026-10-05T08:00:00Z",
    blob_path: `/${project.path_with_namespace}/-/blob/main/${f.file}`,
  };
}
