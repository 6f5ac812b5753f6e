// Bitbucket Cloud simulator: REST 2.0 at api.bitbucket.org, Bearer access tokens or Basic
// username:token, workspaces, repositories with body pagination (values, pagelen, page,
// size, next), pull request read/update, Bitbucket's error bodies, and a webhook sender with
// X-Event-Key, X-Request-UUID and X-Hub-Signature (sha256 HMAC).
import crypto from "node:crypto";
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";
import { type RepoFiles, directoriesOf } from "./files.js";
import { eventStamp } from "./stamps.js";

export interface BitbucketSimRepo {
  uuid: string;
  full_name: string;
  is_private: boolean;
  mainbranch: string;
}

export class BitbucketSim {
  readonly faults = new FaultKnobs();
  /** Accepted Authorization header values. */
  readonly credentials = new Set<string>();
  readonly workspaces = new Map<string, BitbucketSimRepo[]>();
  /** Files on each repository's main branch, by full name. */
  readonly files = new Map<string, RepoFiles>();
  readonly pullRequests = new Map<string, { title: string; description: string }>();
  /** Repository webhooks by full name. */
  readonly hooks = new Map<string, { uuid: string; url: string; secret?: string; events: string[] }[]>();
  apiOrigin = "https://api.bitbucket.org";
  /** OAuth consumers: key → secret and callback URL. */
  readonly consumers = new Map<string, { secret: string; callback: string }>();
  readonly #codes = new Map<string, string>();
  readonly #refreshTokens = new Set<string>();

  addAccessToken(token: string): void {
    this.credentials.add(`Bearer ${token}`);
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
      const files = this.files.get(name) ?? {};
      const commit = c.req.param("commit");
      if (!repo || (commit !== repo.mainbranch && commit !== "HEAD") || Object.keys(files).length === 0) return c.json(error(`Commit not found`), 404);
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
    api.get("/repositories/:workspace/:repo/pullrequests/:id", (c) => {
      const pr = this.pullRequests.get(`${c.req.param("workspace")}/${c.req.param("repo")}#${c.req.param("id")}`);
      return pr ? c.json({ id: Number(c.req.param("id")), ...pr, state: "OPEN" }) : c.json(error("Pull request not found"), 404);
    });
    api.put("/repositories/:workspace/:repo/pullrequests/:id", async (c) => {
      const key = `${c.req.param("workspace")}/${c.req.param("repo")}#${c.req.param("id")}`;
      const pr = this.pullRequests.get(key);
      if (!pr) return c.json(error("Pull request not found"), 404);
      const body = (await c.req.json()) as { title?: string; description?: string };
      if (!body.title) return c.json(error("title: This field is required."), 400);
      this.pullRequests.set(key, { title: body.title, description: body.description ?? pr.description });
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
