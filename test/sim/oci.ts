// OCI Distribution registry simulator, as the distribution spec and Docker's token auth
// describe: /v2/ answers 401 with a Bearer challenge naming the token service; the token
// service takes Basic credentials and grants pull scopes per repository and the catalog scope
// to those allowed it; catalog and tag lists paginate with n/last and Link; manifests are
// negotiated by Accept (OCI index and image, Docker manifest list and v2) with
// Docker-Content-Digest; config blobs redirect (307) to signed storage URLs that refuse an
// Authorization header, as S3 does. Error bodies: {errors: [{code, message, detail}]}.
import crypto from "node:crypto";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";

const sha = (text: string) => `sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;

export class OciRegistrySim {
  readonly faults = new FaultKnobs();
  readonly users = new Map<string, { password: string; catalog: boolean; repositories: string[] | "*" }>();
  /** Repository → tag → manifest digest. */
  readonly tags = new Map<string, Map<string, string>>();
  readonly manifests = new Map<string, { mediaType: string; body: string }>();
  readonly blobs = new Map<string, string>();
  readonly #tokens = new Map<string, { user: string; scopes: string[]; until: number }>();
  /** Requests to storage that carried an Authorization header (they are refused). */
  storageWithCredentials = 0;
  /** The registry's public address (storage URLs point there, and the realm by default). */
  origin = "https://registry.example.com";
  /** The token service's address, when it is elsewhere (Docker Hub: https://auth.docker.io/token). */
  realm: string | undefined;
  service = "registry.example.com";
  /** Credentials checked elsewhere (Google's access tokens for "oauth2accesstoken"). */
  externalUsers: ((name: string, password: string) => { catalog: boolean; repositories: string[] | "*" } | undefined) | undefined;
  /** Basic credentials on every request instead of a token service (Amazon ECR's /v2/). */
  basicAuth = false;

  addImage(repository: string, tag: string, labels: Record<string, string>, opts: { multiPlatform?: boolean; seed?: string } = {}): string {
    const config = JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created: "2026-11-01T10:00:00Z",
      config: { Labels: labels },
      rootfs: { type: "layers", diff_ids: [] },
    });
    const configDigest = sha(config + (opts.seed ?? ""));
    this.blobs.set(configDigest, config);
    const image = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: [],
    });
    const imageDigest = sha(image);
    this.manifests.set(imageDigest, { mediaType: OCI_MANIFEST, body: image });
    let digest = imageDigest;
    if (opts.multiPlatform) {
      const armConfig = config.replace('"amd64"', '"arm64"');
      const armConfigDigest = sha(armConfig + (opts.seed ?? ""));
      this.blobs.set(armConfigDigest, armConfig);
      const arm = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: armConfigDigest, size: armConfig.length },
        layers: [],
      });
      this.manifests.set(sha(arm), { mediaType: OCI_MANIFEST, body: arm });
      const index = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: sha(arm), size: arm.length, platform: { architecture: "arm64", os: "linux" } },
          { mediaType: OCI_MANIFEST, digest: imageDigest, size: image.length, platform: { architecture: "amd64", os: "linux" } },
        ],
      });
      digest = sha(index);
      this.manifests.set(digest, { mediaType: OCI_INDEX, body: index });
    }
    if (!this.tags.has(repository)) this.tags.set(repository, new Map());
    this.tags.get(repository)!.set(tag, digest);
    return digest;
  }

  removeTag(repository: string, tag: string): void {
    this.tags.get(repository)?.delete(tag);
    if (this.tags.get(repository)?.size === 0) this.tags.delete(repository);
  }

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: `simulated ${status}` }] })),
    );
    const error = (c: Context, status: 401 | 403 | 404, code: string, message: string, scope?: string) => {
      if (status === 401 && this.basicAuth) c.header("www-authenticate", `Basic realm="${this.origin}/",service="${this.service}"`);
      else if (status === 401)
        c.header("www-authenticate", `Bearer realm="${this.realm ?? `${this.origin}/token`}",service="${this.service}"${scope ? `,scope="${scope}"` : ""}`);
      return c.json({ errors: [{ code, message, detail: scope ? [{ Type: "repository", Action: "pull" }] : null }] }, status);
    };
    app.get("/token", (c) => {
      const auth = /^Basic (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const [name, ...rest] = auth ? Buffer.from(auth, "base64").toString().split(":") : [];
      const external = name ? this.externalUsers?.(name, rest.join(":")) : undefined;
      const user = external ? { password: rest.join(":"), ...external } : name ? this.users.get(name) : undefined;
      if (auth && (!user || user.password !== rest.join(":"))) return c.json({ details: "incorrect username or password" }, 401);
      const requested = c.req.queries("scope") ?? [];
      const granted = requested.filter((scope) => {
        if (!user) return false;
        if (scope === "registry:catalog:*") return user.catalog;
        const repo = /^repository:(.+):pull$/.exec(scope)?.[1];
        return Boolean(repo && (user.repositories === "*" || user.repositories.includes(repo)));
      });
      const token = crypto.randomBytes(18).toString("base64url");
      this.#tokens.set(token, { user: name ?? "", scopes: granted, until: Date.now() + 300_000 });
      return c.json({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
    });
    app.get("/storage/:digest", (c) => {
      if (c.req.header("authorization")) {
        this.storageWithCredentials++;
        return c.text("<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>", 400);
      }
      const blob = this.blobs.get(c.req.param("digest"));
      return blob ? c.body(blob, 200, { "content-type": "application/octet-stream" }) : c.text("<Error><Code>NoSuchKey</Code></Error>", 404);
    });
    const basicUser = (c: Context) => {
      const auth = /^Basic (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const [name, ...rest] = auth ? Buffer.from(auth, "base64").toString().split(":") : [];
      const user = name ? this.users.get(name) : undefined;
      return user && user.password === rest.join(":") ? user : undefined;
    };
    const allowed = (c: Context, scope: string) => {
      if (this.basicAuth) {
        const user = basicUser(c);
        const repo = /^repository:(.+):pull$/.exec(scope)?.[1];
        return Boolean(user && (scope === "registry:catalog:*" ? user.catalog : repo && (user.repositories === "*" || user.repositories.includes(repo))));
      }
      const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      const entry = token ? this.#tokens.get(token) : undefined;
      return Boolean(entry && entry.until > Date.now() && entry.scopes.includes(scope));
    };
    app.get("/v2/", (c) => {
      if (this.basicAuth) return basicUser(c) ? c.json({}) : error(c, 401, "UNAUTHORIZED", "authentication required");
      const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      if (!token || !this.#tokens.has(token)) return error(c, 401, "UNAUTHORIZED", "authentication required");
      return c.json({});
    });
    app.get("/v2/_catalog", (c) => {
      if (!allowed(c, "registry:catalog:*")) return error(c, 401, "UNAUTHORIZED", "authentication required", "registry:catalog:*");
      const n = Math.min(100, Number(c.req.query("n") ?? 100));
      const last = c.req.query("last");
      const all = [...this.tags.keys()].sort();
      const page = all.filter((r) => !last || r > last).slice(0, n);
      if (page.length === n && all.indexOf(page.at(-1)!) < all.length - 1)
        c.header("link", `</v2/_catalog?last=${encodeURIComponent(page.at(-1)!)}&n=${n}>; rel="next"`);
      return c.json({ repositories: page });
    });
    app.get("/v2/*", (c) => {
      const path = c.req.path.slice("/v2/".length);
      let m = /^(.+)\/tags\/list$/.exec(path);
      if (m) {
        const repo = m[1]!;
        if (!allowed(c, `repository:${repo}:pull`)) return error(c, 401, "UNAUTHORIZED", "authentication required", `repository:${repo}:pull`);
        const tags = this.tags.get(repo);
        if (!tags) return error(c, 404, "NAME_UNKNOWN", "repository name not known to registry");
        const n = Math.min(100, Number(c.req.query("n") ?? 100));
        const last = c.req.query("last");
        const all = [...tags.keys()].sort();
        const page = all.filter((t) => !last || t > last).slice(0, n);
        if (page.length === n && all.indexOf(page.at(-1)!) < all.length - 1) c.header("link", `</v2/${repo}/tags/list?last=${page.at(-1)}&n=${n}>; rel="next"`);
        return c.json({ name: repo, tags: page });
      }
      m = /^(.+)\/manifests\/(.+)$/.exec(path);
      if (m) {
        const [repo, reference] = [m[1]!, decodeURIComponent(m[2]!)];
        if (!allowed(c, `repository:${repo}:pull`)) return error(c, 401, "UNAUTHORIZED", "authentication required", `repository:${repo}:pull`);
        const digest = reference.startsWith("sha256:") ? reference : this.tags.get(repo)?.get(reference);
        const manifest = digest ? this.manifests.get(digest) : undefined;
        if (!digest || !manifest) return error(c, 404, "MANIFEST_UNKNOWN", "manifest unknown");
        if (!(c.req.header("accept") ?? "").includes(manifest.mediaType))
          return error(c, 404, "MANIFEST_UNKNOWN", `manifest unknown: no ${manifest.mediaType} acceptable`);
        return c.body(manifest.body, 200, { "content-type": manifest.mediaType, "docker-content-digest": digest });
      }
      m = /^(.+)\/blobs\/(sha256:[0-9a-f]+)$/.exec(path);
      if (m) {
        const [repo, digest] = [m[1]!, m[2]!];
        if (!allowed(c, `repository:${repo}:pull`)) return error(c, 401, "UNAUTHORIZED", "authentication required", `repository:${repo}:pull`);
        if (!this.blobs.has(digest)) return error(c, 404, "BLOB_UNKNOWN", "blob unknown to registry");
        return c.redirect(`${this.origin}/storage/${digest}?X-Amz-Signature=${crypto.randomBytes(8).toString("hex")}`, 307);
      }
      return error(c, 404, "NAME_UNKNOWN", "unknown path");
    });
    return app;
  }
}
