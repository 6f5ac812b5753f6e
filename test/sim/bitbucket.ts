// Bitbucket Cloud simulator: REST 2.0 at api.bitbucket.org, Bearer access tokens or Basic
// username:token, workspaces and their members, repositories with body pagination (values,
// pagelen, page, size, next), branches (refs/branches with BBQL `q`, delete), commits through
// the src endpoint as Bitbucket makes them (a form post; a new branch on the parent given, an
// existing branch only on its own head — 409 otherwise; no branch field writes the main
// branch), pull requests (list with state and `q`, create, read, update with reviewers, one
// open per source and destination), Bitbucket's error bodies, and a webhook sender with
// X-Event-Key, X-Request-UUID and X-Hub-Signature (sha256 HMAC).
import crypto from "node:crypto";
import { type Context, Hono } from "hono";
import { FaultKnobs } from "./faults.js";
import { type RepoFiles, directoriesOf } from "./files.js";
import { eventStamp } from "./stamps.js";

export interface BitbucketSimRepo {
  uuid: string;
  full_name: string;
  is_private: boolean;
  mainbranch: string;
}

export interface BitbucketSimPull {
  repo: string;
  id: number;
  title: string;
  description: string;
  source: string;
  destination: string;
  state: "OPEN" | "MERGED" | "DECLINED";
  draft: boolean;
  author: string;
  reviewers: string[];
}

export interface BitbucketSimUser {
  uuid: string;
  nickname: string;
  display_name: string;
}

/** The account every accepted credential acts as (an access token's bot user). */
export const BITBUCKET_BOT: BitbucketSimUser = { uuid: "{7a1c-patchbay-bot}", nickname: "patchbay-bot", display_name: "Patchbay" };

const hashOf = (files: RepoFiles) =>
  crypto
    .createHash("sha1")
    .update(JSON.stringify(Object.entries(files).sort()))
    .digest("hex");

export class BitbucketSim {
  readonly faults = new FaultKnobs();
  /** Accepted Authorization header values. */
  readonly credentials = new Set<string>();
  readonly workspaces = new Map<string, BitbucketSimRepo[]>();
  /** Files on each repository's main branch, by full name. */
  readonly files = new Map<string, RepoFiles>();
  readonly pullRequests = new Map<string, { title: string; description: string }>();
  /** Pull requests opened through the API (their title and description live in pullRequests too). */
  readonly pulls: BitbucketSimPull[] = [];
  /** Branches other than the main one, by repository full name: their head and files. */
  readonly branches = new Map<string, Map<string, { hash: string; files: RepoFiles }>>();
  /** Commits made through the src endpoint. */
  readonly commits: { repo: string; branch: string; parents: string | null; message: string; paths: string[] }[] = [];
  /** Commits that landed on a main branch (Patchbay must never make one). */
  readonly mainWrites: string[] = [];
  /** Workspace members, by workspace. */
  readonly members = new Map<string, BitbucketSimUser[]>();
  /** Repository webhooks by full name. */
  readonly hooks = new Map<string, { uuid: string; url: string; secret?: string; events: string[] }[]>();
  apiOrigin = "https://api.bitbucket.org";
  /** OAuth consumers: key → secret and callback URL. */
  readonly consumers = new Map<string, { secret: string; callback: string }>();
  readonly #codes = new Map<string, string>();
  readonly #refreshTokens = new Set<string>();

  /** What each access token may do, as Bitbucket's X-OAuth-Scopes header says on every answer to it. */
  readonly scopes = new Map<string, string>();

  addAccessToken(token: string, scopes = "repository:write, pullrequest:write, webhook, account"): void {
    this.credentials.add(`Bearer ${token}`);
    this.scopes.set(`Bearer ${token}`, scopes);
  }

  addUserToken(username: string, token: string): void {
    this.credentials.add(`Basic ${Buffer.from(`${username}:${token}`).toString("base64")}`);
  }

  addRepos(workspace: string, count: number): void {
    const repos = this.workspaces.get(workspace) ?? [];
    for (let i = 1; i <= count; i++)
      repos.push({ uuid: `{${crypto.randomUUID()}}`, full_name: `${workspace}/repo-${String(i).padStart(3, "0")}`, is_private: true, mainbranch: "main" });
    this.workspaces.set(workspace, repos);
  }

  /** A branch's head and files: the main branch's, or another's. */
  branch(repo: string, name: string): { hash: string; files: RepoFiles } | undefined {
    const r = [...this.workspaces.values()].flat().find((x) => x.full_name === repo);
    if (!r) return undefined;
    if (name === r.mainbranch || name === "HEAD") {
      const files = this.files.get(repo) ?? {};
      return { hash: hashOf(files), files };
    }
    const other = this.branches.get(repo)?.get(name);
    if (other) return other;
    // A commit hash names the commit (a branch head, or the main branch's).
    if (hashOf(this.files.get(repo) ?? {}) === name) return { hash: name, files: this.files.get(repo) ?? {} };
    return [...(this.branches.get(repo)?.values() ?? [])].find((b) => b.hash === name);
  }

  /** Merges an open pull request as Bitbucket's merge button does: its branch's files onto the destination. */
  mergePull(repo: string, id: number): void {
    const pull = this.pulls.find((p) => p.repo === repo && p.id === id)!;
    this.files.set(repo, { ...(this.files.get(repo) ?? {}), ...this.branch(repo, pull.source)!.files });
    pull.state = "MERGED";
    this.branches.get(repo)?.delete(pull.source);
  }

  app(): Hono {
    const api = new Hono();
    const error = (message: string) => ({ type: "error", error: { message } });
    api.use(
      "*",
      this.faults.middleware((status) => JSON.stringify(error(status >= 500 ? "Something went wrong" : "Error"))),
    );
    api.use("*", async (c, next) => {
      if (!this.credentials.has(c.req.header("authorization") ?? ""))
        return c.json(error("Token is invalid, expired, or not supported for this endpoint."), 401);
      await next();
      const scopes = this.scopes.get(c.req.header("authorization") ?? "");
      if (scopes !== undefined) c.res.headers.set("x-oauth-scopes", scopes);
    });
    api.get("/workspaces/:workspace", (c) => {
      const ws = c.req.param("workspace");
      if (!this.workspaces.has(ws)) return c.json(error(`No workspace with identifier '${ws}'.`), 404);
      return c.json({ type: "workspace", slug: ws, name: ws.toUpperCase(), uuid: `{ws-${ws}}` });
    });
    api.get("/repositories/:workspace", (c) => {
      const ws = c.req.param("workspace");
      const repos = this.workspaces.get(ws);
      if (!repos) return c.json(error(`No workspace with identifier '${ws}'.`), 404);
      const pagelen = Math.min(100, Math.max(1, Number(c.req.query("pagelen") ?? 10)));
      const page = Math.max(1, Number(c.req.query("page") ?? 1));
      const sorted = [...repos].sort((a, b) => a.full_name.localeCompare(b.full_name));
      const next = new URL(`/2.0/repositories/${ws}`, this.apiOrigin);
      next.searchParams.set("pagelen", String(pagelen));
      next.searchParams.set("page", String(page + 1));
      return c.json({
        pagelen,
        page,
        size: sorted.length,
        values: sorted.slice((page - 1) * pagelen, page * pagelen).map((r) => ({
          type: "repository",
          uuid: r.uuid,
          full_name: r.full_name,
          is_private: r.is_private,
          mainbranch: { type: "branch", name: r.mainbranch },
          links: {
            html: { href: `https://bitbucket.org/${r.full_name}` },
            clone: [
              { name: "https", href: `https://bitbucket.org/${r.full_name}.git` },
              { name: "ssh", href: `git@bitbucket.org:${r.full_name}.git` },
            ],
          },
        })),
        ...(page * pagelen < sorted.length ? { next: next.toString() } : {}),
      });
    });
    const repoName = (c: { req: { param(name: string): string } }) => {
      const name = `${c.req.param("workspace")}/${c.req.param("repo")}`;
      return [...this.workspaces.values()].flat().some((r) => r.full_name === name) ? name : undefined;
    };
    // src: a directory listing (recursive to max_depth, paged by `next`) or a file's raw bytes.
    api.get("/repositories/:workspace/:repo/src/:commit/*", (c) => {
      const name = `${c.req.param("workspace")}/${c.req.param("repo")}`;
      const repo = (this.workspaces.get(c.req.param("workspace")) ?? []).find((r) => r.full_name === name);
      const commit = c.req.param("commit");
      const files = (repo && this.branch(name, commit)?.files) ?? {};
      if (!repo || Object.keys(files).length === 0) return c.json(error(`Commit not found`), 404);
      const path = decodeURIComponent(c.req.path.replace(/^.*?\/src\/[^/]+\/?/, "")).replace(/\/$/, "");
      if (path && files[path] !== undefined) return c.body(files[path]!, 200, { "content-type": "text/plain" });
      if (path && !directoriesOf(files).includes(path)) return c.json(error(`No such file or directory: ${path}`), 404);
      const depth = Math.max(1, Number(c.req.query("max_depth") ?? 1));
      const within = (p: string) => (path ? p.startsWith(`${path}/`) : true) && p.split("/").length - (path ? path.split("/").length : 0) <= depth;
      const values = [
        ...directoriesOf(files)
          .filter(within)
          .map((p) => ({ type: "commit_directory", path: p, commit: { hash: "5f0c1e2" } })),
        ...Object.entries(files)
          .filter(([p]) => within(p))
          .map(([p, content]) => ({ type: "commit_file", path: p, size: Buffer.byteLength(content), commit: { hash: "5f0c1e2" } })),
      ].sort((a, b) => a.path.split("/").length - b.path.split("/").length || a.path.localeCompare(b.path));
      const pagelen = Math.min(100, Math.max(1, Number(c.req.query("pagelen") ?? 10)));
      const page = Math.max(1, Number(c.req.query("page") ?? 1));
      const next =
        page * pagelen < values.length
          ? `${this.apiOrigin}/2.0/repositories/${name}/src/${commit}/${path ? `${path}/` : ""}?max_depth=${depth}&pagelen=${pagelen}&page=${page + 1}`
          : undefined;
      return c.json({ pagelen, page, values: values.slice((page - 1) * pagelen, page * pagelen), ...(next ? { next } : {}) });
    });
    api.get("/workspaces/:workspace/members", (c) => {
      const ws = c.req.param("workspace");
      if (!this.workspaces.has(ws)) return c.json(error(`No workspace with identifier '${ws}'.`), 404);
      const all = [BITBUCKET_BOT, ...(this.members.get(ws) ?? [])];
      return c.json({ pagelen: 100, values: all.map((u) => ({ type: "workspace_membership", user: { type: "user", ...u } })) });
    });
    // BBQL as the simulator reads it: `field = "value"` clauses joined by AND.
    const bbql = (q: string | undefined): { field: string; value: string }[] | undefined => {
      if (!q) return [];
      const clauses = q.split(/\s+AND\s+/);
      const out: { field: string; value: string }[] = [];
      for (const clause of clauses) {
        const m = /^\s*([a-z_.]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(clause);
        if (!m) return undefined;
        out.push({ field: m[1]!, value: m[2]!.replace(/\\(.)/g, "$1") });
      }
      return out;
    };
    const invalidQuery = (c: Context) => c.json(error("Invalid query"), 400);
    api.get("/repositories/:workspace/:repo/refs/branches", (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      const clauses = bbql(c.req.query("q"));
      if (!clauses) return invalidQuery(c);
      const repo = [...this.workspaces.values()].flat().find((r) => r.full_name === name)!;
      const all = [
        { name: repo.mainbranch, hash: this.branch(name, repo.mainbranch)!.hash },
        ...[...(this.branches.get(name) ?? new Map())].map(([n, b]) => ({ name: n, hash: b.hash })),
      ];
      const values = all
        .filter((b) => clauses.every((cl) => (cl.field === "name" ? b.name === cl.value : false)))
        .map((b) => ({ type: "branch", name: b.name, target: { type: "commit", hash: b.hash } }));
      return c.json({ pagelen: 10, size: values.length, page: 1, values });
    });
    api.delete("/repositories/:workspace/:repo/refs/branches/*", (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      const branch = decodeURIComponent(c.req.path.replace(/^.*?\/refs\/branches\//, ""));
      const repo = [...this.workspaces.values()].flat().find((r) => r.full_name === name)!;
      if (branch === repo.mainbranch) return c.json(error("You can't delete the main branch."), 400);
      if (!this.branches.get(name)?.delete(branch)) return c.json(error(`Branch "${branch}" does not exist.`), 404);
      return c.body(null, 204);
    });
    api.post("/repositories/:workspace/:repo/src", async (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      const repo = [...this.workspaces.values()].flat().find((r) => r.full_name === name)!;
      const type = c.req.header("content-type") ?? "";
      if (!type.startsWith("application/x-www-form-urlencoded") && !type.startsWith("multipart/form-data"))
        return c.json(error("Unsupported content type: use multipart/form-data or application/x-www-form-urlencoded."), 415);
      const form = await c.req.parseBody({ all: true });
      const field = (key: string) => (typeof form[key] === "string" ? (form[key] as string) : undefined);
      const reserved = new Set(["message", "author", "parents", "files", "branch"]);
      const written: RepoFiles = {};
      for (const [key, value] of Object.entries(form)) {
        if (reserved.has(key)) continue;
        if (typeof value !== "string") return c.json(error(`${key}: only text files in this simulator`), 400);
        written[key.replace(/^\//, "")] = value;
      }
      const branch = field("branch") ?? repo.mainbranch;
      const parents = field("parents") ?? null;
      const existing = this.branch(name, branch);
      const isMain = branch === repo.mainbranch;
      let base: RepoFiles;
      if (isMain || this.branches.get(name)?.has(branch)) {
        // On an existing branch, a parent given must be its head.
        if (parents && parents !== existing!.hash)
          return c.json(error("Commit parents do not match the branch's head: the branch was updated meanwhile."), 409);
        base = existing!.files;
      } else {
        const parent = parents ? this.branch(name, parents) : this.branch(name, repo.mainbranch);
        if (!parent) return c.json(error(`Commit ${parents} not found.`), 404);
        base = parent.files;
      }
      const files = { ...base, ...written };
      this.commits.push({ repo: name, branch, parents, message: field("message") ?? "", paths: Object.keys(written) });
      if (isMain) {
        this.files.set(name, files);
        this.mainWrites.push(branch);
      } else {
        if (!this.branches.has(name)) this.branches.set(name, new Map());
        this.branches.get(name)!.set(branch, {
          hash: crypto
            .createHash("sha1")
            .update(`${this.commits.length}${JSON.stringify(files)}`)
            .digest("hex"),
          files,
        });
      }
      return c.body(null, 201, { location: `${this.apiOrigin}/2.0/repositories/${name}/commit/${this.branch(name, branch)!.hash}` });
    });
    const pullJson = (p: BitbucketSimPull) => ({
      type: "pullrequest",
      id: p.id,
      title: p.title,
      description: p.description,
      state: p.state,
      draft: p.draft,
      source: { branch: { name: p.source } },
      destination: { branch: { name: p.destination } },
      author: { type: "user", ...(p.author === BITBUCKET_BOT.uuid ? BITBUCKET_BOT : { uuid: p.author }) },
      reviewers: p.reviewers.map((uuid) => ({ type: "user", uuid })),
      links: { html: { href: `https://bitbucket.org/${p.repo}/pull-requests/${p.id}` } },
    });
    api.get("/repositories/:workspace/:repo/pullrequests", (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      const clauses = bbql(c.req.query("q"));
      if (!clauses) return invalidQuery(c);
      const state = c.req.query("state") ?? "OPEN";
      const values = this.pulls
        .filter((p) => p.repo === name && p.state === state)
        .filter((p) =>
          clauses.every((cl) =>
            cl.field === "source.branch.name" ? p.source === cl.value : cl.field === "destination.branch.name" ? p.destination === cl.value : false,
          ),
        )
        .map(pullJson);
      return c.json({ pagelen: 10, size: values.length, page: 1, values });
    });
    api.post("/repositories/:workspace/:repo/pullrequests", async (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      const repo = [...this.workspaces.values()].flat().find((r) => r.full_name === name)!;
      const body = (await c.req.json()) as {
        title?: string;
        description?: string;
        source?: { branch?: { name?: string } };
        destination?: { branch?: { name?: string } };
        draft?: boolean;
        reviewers?: { uuid?: string }[];
      };
      if (!body.title) return c.json(error("title: This field is required."), 400);
      const source = body.source?.branch?.name;
      const destination = body.destination?.branch?.name ?? repo.mainbranch;
      if (!source || !this.branch(name, source)) return c.json(error("source: branch not found"), 400);
      if (this.pulls.some((p) => p.repo === name && p.source === source && p.destination === destination && p.state === "OPEN"))
        return c.json(error("Only one pull request may be open for a given source and target branch"), 400);
      if (JSON.stringify(this.branch(name, source)!.files) === JSON.stringify(this.branch(name, destination)!.files))
        return c.json(error("There are no changes to be pulled"), 400);
      const pull: BitbucketSimPull = {
        repo: name,
        id:
          Math.max(
            0,
            ...this.pulls.filter((p) => p.repo === name).map((p) => p.id),
            ...[...this.pullRequests.keys()].filter((k) => k.startsWith(`${name}#`)).map((k) => Number(k.split("#")[1])),
          ) + 1,
        title: body.title,
        description: body.description ?? "",
        source,
        destination,
        state: "OPEN",
        draft: body.draft ?? false,
        author: BITBUCKET_BOT.uuid,
        reviewers: (body.reviewers ?? []).map((r) => r.uuid ?? ""),
      };
      this.pulls.push(pull);
      this.pullRequests.set(`${name}#${pull.id}`, { title: pull.title, description: pull.description });
      return c.json(pullJson(pull), 201);
    });
    api.get("/repositories/:workspace/:repo/hooks", (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      return c.json({ pagelen: 100, values: (this.hooks.get(name) ?? []).map((h) => ({ uuid: h.uuid, url: h.url, events: h.events, active: true })) });
    });
    api.post("/repositories/:workspace/:repo/hooks", async (c) => {
      const name = repoName(c);
      if (!name) return c.json(error("Repository not found"), 404);
      const body = (await c.req.json()) as { url?: string; secret?: string; events?: string[] };
      if (!body.url || !body.events?.length) return c.json(error("url and events are required"), 400);
      const hook = { uuid: `{${crypto.randomUUID()}}`, url: body.url, secret: body.secret, events: body.events };
      this.hooks.set(name, [...(this.hooks.get(name) ?? []), hook]);
      return c.json({ uuid: hook.uuid, url: hook.url, events: hook.events, active: true }, 201);
    });
    api.put("/repositories/:workspace/:repo/hooks/:uid", async (c) => {
      const name = repoName(c);
      const hook = name ? this.hooks.get(name)?.find((h) => h.uuid === c.req.param("uid")) : undefined;
      if (!hook) return c.json(error("Webhook not found"), 404);
      const body = (await c.req.json()) as { url?: string; secret?: string; events?: string[] };
      Object.assign(hook, { url: body.url ?? hook.url, secret: body.secret ?? hook.secret, events: body.events ?? hook.events });
      return c.json({ uuid: hook.uuid, url: hook.url, events: hook.events, active: true });
    });
    const pullOf = (c: Context) =>
      this.pulls.find((p) => p.repo === `${c.req.param("workspace")}/${c.req.param("repo")}` && p.id === Number(c.req.param("id")));
    api.get("/repositories/:workspace/:repo/pullrequests/:id", (c) => {
      const pull = pullOf(c);
      if (pull) return c.json(pullJson(pull));
      const pr = this.pullRequests.get(`${c.req.param("workspace")}/${c.req.param("repo")}#${c.req.param("id")}`);
      return pr ? c.json({ id: Number(c.req.param("id")), ...pr, state: "OPEN" }) : c.json(error("Pull request not found"), 404);
    });
    api.put("/repositories/:workspace/:repo/pullrequests/:id", async (c) => {
      const key = `${c.req.param("workspace")}/${c.req.param("repo")}#${c.req.param("id")}`;
      const pr = this.pullRequests.get(key);
      if (!pr) return c.json(error("Pull request not found"), 404);
      const body = (await c.req.json()) as { title?: string; description?: string; reviewers?: { uuid?: string }[] };
      if (!body.title) return c.json(error("title: This field is required."), 400);
      const pull = pullOf(c);
      if (pull && body.reviewers?.some((r) => r.uuid === pull.author))
        return c.json(error(`${BITBUCKET_BOT.display_name} is the author and cannot be included as a reviewer.`), 400);
      this.pullRequests.set(key, { title: body.title, description: body.description ?? pr.description });
      if (pull) {
        pull.title = body.title;
        pull.description = body.description ?? pull.description;
        // An update without reviewers drops them, as Bitbucket's does.
        pull.reviewers = (body.reviewers ?? []).map((r) => r.uuid ?? "");
        return c.json(pullJson(pull));
      }
      return c.json({ id: Number(c.req.param("id")), ...this.pullRequests.get(key), state: "OPEN" });
    });
    const root = new Hono();
    root.route("/2.0", api);
    // bitbucket.org's OAuth endpoints (the consumer authenticates with HTTP Basic key:secret).
    root.get("/site/oauth2/authorize", (c) => {
      const consumer = this.consumers.get(c.req.query("client_id") ?? "");
      if (!consumer) return c.html("<h1>Invalid client_id</h1>", 400);
      const code = crypto.randomBytes(12).toString("hex");
      this.#codes.set(code, c.req.query("client_id")!);
      const back = new URL(consumer.callback);
      back.searchParams.set("code", code);
      back.searchParams.set("state", c.req.query("state") ?? "");
      return c.html(`<!doctype html><h1>Grant access</h1><a id="authorize" href="${back.toString().replace(/&/g, "&amp;")}">Grant access</a>`);
    });
    root.post("/site/oauth2/access_token", async (c) => {
      const [key, secret] = Buffer.from((c.req.header("authorization") ?? "").replace(/^Basic /, ""), "base64")
        .toString()
        .split(":");
      const consumer = this.consumers.get(key ?? "");
      if (!consumer || consumer.secret !== secret) return c.json({ error: "invalid_client", error_description: "Invalid OAuth client credentials" }, 400);
      const form = new URLSearchParams(await c.req.text());
      const ok =
        form.get("grant_type") === "authorization_code"
          ? this.#codes.delete(form.get("code") ?? "")
          : form.get("grant_type") === "refresh_token" && this.#refreshTokens.delete(form.get("refresh_token") ?? "");
      if (!ok) return c.json({ error: "invalid_grant", error_description: "The provided authorization grant is invalid" }, 400);
      const access = crypto.randomBytes(20).toString("hex");
      const refresh = crypto.randomBytes(20).toString("hex");
      this.addAccessToken(access);
      this.#refreshTokens.add(refresh);
      return c.json({ access_token: access, token_type: "bearer", expires_in: 7200, refresh_token: refresh, scopes: "repository pullrequest:write" });
    });
    return root;
  }

  pullRequestPayload(input: { repo: BitbucketSimRepo; id: number; title: string; description?: string; branch?: string; fork?: { owner: string } }) {
    const destination = { type: "repository", uuid: input.repo.uuid, full_name: input.repo.full_name };
    const source = input.fork
      ? { type: "repository", uuid: `{${crypto.randomUUID()}}`, full_name: `${input.fork.owner}/${input.repo.full_name.split("/")[1]}` }
      : destination;
    return {
      actor: { display_name: "Renovate Bot", nickname: "renovate" },
      pullrequest: {
        type: "pullrequest",
        id: input.id,
        title: input.title,
        description: input.description ?? "",
        links: { html: { href: `https://bitbucket.org/${input.repo.full_name}/pull-requests/${input.id}` } },
        state: "OPEN",
        updated_on: eventStamp().toISOString(),
        source: { branch: { name: input.branch ?? `renovate/${input.id}` }, repository: source },
        destination: { branch: { name: input.repo.mainbranch }, repository: destination },
        author: { display_name: "Renovate Bot", nickname: "renovate" },
      },
      repository: {
        type: "repository",
        uuid: input.repo.uuid,
        full_name: input.repo.full_name,
        links: { html: { href: `https://bitbucket.org/${input.repo.full_name}` } },
      },
    };
  }

  deliver(url: string, eventKey: string, payload: unknown, opts: { secret?: string; uuid?: string } = {}): Promise<Response> {
    // The pull request as the event left it: merged or declined (a retry sends the same bytes).
    const state = { "pullrequest:fulfilled": "MERGED", "pullrequest:rejected": "DECLINED" }[eventKey];
    const p = payload as { pullrequest?: { state?: string } };
    const body = JSON.stringify(state && p.pullrequest ? { ...p, pullrequest: { ...p.pullrequest, state } } : payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "Bitbucket-Webhooks/2.0",
      "x-event-key": eventKey,
      "x-request-uuid": opts.uuid ?? crypto.randomUUID(),
      "x-hook-uuid": crypto.randomUUID(),
    };
    if (opts.secret) headers["x-hub-signature"] = `sha256=${crypto.createHmac("sha256", opts.secret).update(body).digest("hex")}`;
    return fetch(url, { method: "POST", headers, body });
  }
}
