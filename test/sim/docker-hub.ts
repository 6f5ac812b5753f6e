// Docker Hub's own API (hub.docker.com), the part Patchbay uses: sign-in with a user name and
// an access token for a JWT, and a namespace's repositories, paginated by absolute `next` URLs.
// The registry itself (registry-1.docker.io, auth.docker.io) is the OCI simulator.
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export class DockerHubSim {
  readonly faults = new FaultKnobs();
  readonly accounts = new Map<string, string>();
  /** Namespace → repositories, and which are private. */
  readonly repositories = new Map<string, { name: string; private: boolean }[]>();
  readonly #jwts = new Set<string>();

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ message: `simulated ${status}` })),
    );
    app.post("/v2/users/login", async (c) => {
      const body = (await c.req.json().catch(() => ({}))) as { username?: string; password?: string };
      if (!body.username || this.accounts.get(body.username) !== body.password) return c.json({ detail: "Incorrect authentication credentials" }, 401);
      const jwt = `jwt-${Math.random().toString(36).slice(2)}`;
      this.#jwts.add(jwt);
      return c.json({ token: jwt });
    });
    app.get("/v2/namespaces/:ns/repositories", (c) => {
      const jwt = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const signedIn = jwt !== undefined && this.#jwts.has(jwt);
      if (jwt && !signedIn) return c.json({ detail: "Authentication credentials were not provided." }, 401);
      const all = (this.repositories.get(c.req.param("ns")) ?? []).filter((r) => signedIn || !r.private);
      const size = Math.min(100, Number(c.req.query("page_size") ?? 10));
      const page = Math.max(1, Number(c.req.query("page") ?? 1));
      const slice = all.slice((page - 1) * size, page * size);
      const next =
        page * size < all.length ? `https://hub.docker.com/v2/namespaces/${c.req.param("ns")}/repositories?page_size=${size}&page=${page + 1}` : null;
      return c.json({
        count: all.length,
        next,
        previous: null,
        results: slice.map((r) => ({ name: r.name, namespace: c.req.param("ns"), is_private: r.private, repository_type: "image" })),
      });
    });
    return app;
  }
}
