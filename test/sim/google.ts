// Google's OAuth token endpoint for service accounts (JWT bearer grant: the RS256 assertion's
// signature checked with the key's public half, its audience, scope and lifetime) and the
// Artifact Registry API (repositories and dockerImages, paged by nextPageToken, Google's error
// shape {error: {code, message, status}}). The registry itself is the OCI simulator, whose
// token service takes "oauth2accesstoken" and the access token as Basic credentials.
import crypto from "node:crypto";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";

export function serviceAccountKey(email = "patchbay-reader@acme-prod.iam.gserviceaccount.com") {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key = {
    type: "service_account",
    project_id: "acme-prod",
    private_key_id: crypto.randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: email,
    client_id: "109876543210987654321",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
  };
  return { key, json: JSON.stringify(key, null, 2), publicKey };
}

export class GoogleSim {
  readonly faults = new FaultKnobs();
  /** client_email → public key (deleting the entry "deletes the key"). */
  readonly keys = new Map<string, crypto.KeyObject>();
  /** Access tokens issued → the account; and accounts without the Reader role. */
  readonly accessTokens = new Map<string, string>();
  readonly denied = new Set<string>();
  /** "projects/p/locations/l/repositories/r" → format and image URIs with tags. */
  readonly repositories = new Map<string, { format: string; images: { uri: string; tags: string[] }[] }>();
  pageSize = 1000;

  app(): Hono {
    const app = new Hono();
    const error = (c: Context, code: 401 | 403 | 404, status: string, message: string) => c.json({ error: { code, message, status } }, code);
    app.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ error: { code: status, message: "simulated", status: "UNAVAILABLE" } })),
    );
    app.post("/token", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer")
        return c.json({ error: "unsupported_grant_type", error_description: "Invalid grant_type" }, 400);
      const [header, claims, signature] = (form.get("assertion") ?? "").split(".");
      let payload: { iss?: string; aud?: string; scope?: string; iat?: number; exp?: number };
      try {
        payload = JSON.parse(Buffer.from(claims ?? "", "base64url").toString());
        JSON.parse(Buffer.from(header ?? "", "base64url").toString());
      } catch {
        return c.json({ error: "invalid_grant", error_description: "Invalid JWT" }, 400);
      }
      const key = payload.iss ? this.keys.get(payload.iss) : undefined;
      if (!key) return c.json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, 400);
      const ok = crypto.verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), key, Buffer.from(signature ?? "", "base64url"));
      const now = Date.now() / 1000;
      if (!ok) return c.json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, 400);
      if (payload.aud !== "https://oauth2.googleapis.com/token" || !payload.scope)
        return c.json({ error: "invalid_grant", error_description: "Invalid JWT: audience or scope" }, 400);
      if (!payload.iat || !payload.exp || payload.exp - payload.iat > 3600 || payload.exp < now || payload.iat > now + 300)
        return c.json(
          { error: "invalid_grant", error_description: "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe." },
          400,
        );
      const token = `ya29.${crypto.randomBytes(24).toString("base64url")}`;
      this.accessTokens.set(token, payload.iss!);
      return c.json({ access_token: token, expires_in: 3599, token_type: "Bearer" });
    });
    const caller = (c: Context) => this.accessTokens.get(/^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "");
    const page = <T>(c: Context, items: T[]) => {
      const start = Number(c.req.query("pageToken") ? Buffer.from(c.req.query("pageToken")!, "base64url").toString() : 0);
      const size = Math.min(this.pageSize, Number(c.req.query("pageSize") ?? 100));
      return {
        items: items.slice(start, start + size),
        next: start + size < items.length ? Buffer.from(String(start + size)).toString("base64url") : undefined,
      };
    };
    app.get("/v1/projects/:project/locations/:location/repositories", (c) => {
      const who = caller(c);
      if (!who) return error(c, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
      const parent = `projects/${c.req.param("project")}/locations/${c.req.param("location")}`;
      if (this.denied.has(who))
        return error(c, 403, "PERMISSION_DENIED", `Permission 'artifactregistry.repositories.list' denied on resource '${parent}' (or it may not exist).`);
      const { items, next } = page(
        c,
        [...this.repositories.entries()].filter(([name]) => name.startsWith(`${parent}/`)),
      );
      return c.json({
        repositories: items.map(([name, r]) => ({ name, format: r.format, mode: "STANDARD_REPOSITORY" })),
        ...(next ? { nextPageToken: next } : {}),
      });
    });
    app.get("/v1/projects/:project/locations/:location/repositories/:repository/dockerImages", (c) => {
      const who = caller(c);
      if (!who) return error(c, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
      const name = `projects/${c.req.param("project")}/locations/${c.req.param("location")}/repositories/${c.req.param("repository")}`;
      if (this.denied.has(who))
        return error(c, 403, "PERMISSION_DENIED", `Permission 'artifactregistry.dockerimages.list' denied on resource '${name}' (or it may not exist).`);
      const repo = this.repositories.get(name);
      if (!repo) return error(c, 404, "NOT_FOUND", `Requested entity was not found.`);
      const { items, next } = page(c, repo.images);
      return c.json({
        dockerImages: items.map((i) => ({
          name: `${name}/dockerImages/${encodeURIComponent(i.uri.split("/").slice(3).join("/"))}`,
          uri: i.uri,
          tags: i.tags,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          uploadTime: "2026-11-01T10:00:00Z",
        })),
        ...(next ? { nextPageToken: next } : {}),
      });
    });
    return app;
  }

  /** The registry's token service accepts the access tokens this simulator issued. */
  isAccessToken(token: string): boolean {
    return this.accessTokens.has(token);
  }
}
