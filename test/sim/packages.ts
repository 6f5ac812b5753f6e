// Package registry simulators, each as its service documents it:
// - npm (registry.npmjs.org and private registries): GET /-/org/<scope>/package (token
//   required; Verdaccio-like registries answer 404), GET /-/v1/search?text=scope:<scope>
//   (size/from paging, {objects, total}), GET /<name> — the packument, full or abbreviated
//   (application/vnd.npm.install-v1+json) — with each version's dependencies and dist (tarball
//   URL, sha512 integrity, shasum), complete enough for the real npm CLI to resolve a lockfile
//   against it; scoped names as npm asks for them (@scope%2fname).
// - PyPI Simple API: /simple/ and /simple/<project>/ as PEP 691 JSON when asked for it (with
//   PEP 700 versions and each file's sha256), else PEP 503 HTML (#sha256= fragments); 404 for
//   unknown projects; optional Basic auth.
// - A Maven repository: browsable directory listings (Nexus/Artifactory style HTML) and
//   maven-metadata.xml per artifact; optional Basic auth.
// - A Go module proxy: <module>/@v/list, <module>/@latest, <module>/@v/<version>.info, .mod and
//   .zip (the archive's files under "<module>@<version>/", as the go command checks them),
//   case-encoded paths ("!"), 404/410 with a plain-text reason.
import crypto from "node:crypto";
import { zipSync } from "fflate";
import { Hono, type Context } from "hono";
import { FaultKnobs } from "./faults.js";

function basicOk(c: Context, credentials: string | undefined): boolean {
  if (!credentials) return true;
  return c.req.header("authorization") === `Basic ${Buffer.from(credentials).toString("base64")}`;
}

export class NpmRegistrySim {
  readonly faults = new FaultKnobs();
  /** name → versions (oldest first), dist-tags latest, and each version's dependencies. */
  readonly packages = new Map<string, { versions: string[]; latest: string; private: boolean; dependencies?: Record<string, Record<string, string>> }>();
  /** Where tarballs are said to be (npm records it in the lockfile; --package-lock-only never fetches one). */
  tarballOrigin = "https://registry.npmjs.org";
  /** Packument requests (name, and whether they carried a credential). */
  readonly requests: { name: string; authorized: boolean }[] = [];
  readonly tokens = new Set<string>();
  /** A registry without npm's organization endpoints (Verdaccio, Artifactory). */
  orgEndpoints = true;

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => JSON.stringify({ error: `simulated ${status}` })),
    );
    const authed = (c: Context) => {
      const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
      return token !== undefined && this.tokens.has(token);
    };
    app.use("*", async (c, next) => {
      if (c.req.header("authorization") && !authed(c)) return c.json({ error: "Unable to authenticate, your authentication token seems to be invalid." }, 401);
      await next();
    });
    app.get("/-/org/:scope/package", (c) => {
      if (!this.orgEndpoints) return c.json({ error: "Not found" }, 404);
      if (!authed(c)) return c.json({ error: "You must be logged in to list an organization's packages" }, 401);
      const scope = c.req.param("scope");
      const owned = [...this.packages.keys()].filter((n) => n.startsWith(`@${scope}/`));
      if (!owned.length) return c.json({ error: "Scope not found" }, 404);
      return c.json(Object.fromEntries(owned.map((n) => [n, "write"])));
    });
    app.get("/-/user/:user/package", (c) => c.json({ error: "Not found" }, 404));
    app.get("/-/v1/search", (c) => {
      const text = c.req.query("text") ?? "";
      const scope = /scope:(\S+)/.exec(text)?.[1];
      const size = Math.min(250, Number(c.req.query("size") ?? 20));
      const from = Number(c.req.query("from") ?? 0);
      const matches = [...this.packages.entries()].filter(([n, p]) => (!scope || n.startsWith(`@${scope}/`)) && (!p.private || authed(c)));
      return c.json({
        objects: matches.slice(from, from + size).map(([name, p]) => ({
          package: { name, scope: name.split("/")[0]!.slice(1), version: p.latest, date: "2026-10-01T00:00:00.000Z" },
          score: { final: 1 },
          searchScore: 1,
        })),
        total: matches.length,
        time: new Date().toUTCString(),
      });
    });
    app.get("/:name", (c) => {
      const name = decodeURIComponent(c.req.param("name"));
      this.requests.push({ name, authorized: authed(c) });
      const pkg = this.packages.get(name);
      if (!pkg || (pkg.private && !authed(c))) return c.json({ error: "Not found" }, 404);
      const abbreviated = (c.req.header("accept") ?? "").includes("application/vnd.npm.install-v1+json");
      const base = name.split("/").at(-1)!;
      const version = (v: string) => {
        const bytes = `tarball:${name}@${v}`;
        return {
          name,
          version: v,
          ...(pkg.dependencies?.[v] ? { dependencies: pkg.dependencies[v] } : {}),
          dist: {
            tarball: `${this.tarballOrigin}/${name}/-/${base}-${v}.tgz`,
            shasum: crypto.createHash("sha1").update(bytes).digest("hex"),
            integrity: `sha512-${crypto.createHash("sha512").update(bytes).digest("base64")}`,
          },
        };
      };
      return c.json(
        {
          name,
          "dist-tags": { latest: pkg.latest },
          versions: Object.fromEntries(pkg.versions.map((v) => [v, version(v)])),
          ...(abbreviated ? { modified: "2026-10-01T00:00:00.000Z" } : { time: {} }),
        },
        200,
        { "content-type": abbreviated ? "application/vnd.npm.install-v1+json" : "application/json" },
      );
    });
    return app;
  }
}

export class PypiSim {
  readonly faults = new FaultKnobs();
  /** project (normalised) → files. */
  readonly projects = new Map<string, string[]>();
  credentials: string | undefined;
  /** Serve HTML only (an older index). */
  htmlOnly = false;

  /** A distribution file's sha256 as the index publishes it: the digest of its (simulated) bytes, the file's name. */
  sha256Of(filename: string): string {
    return crypto.createHash("sha256").update(`distribution:${filename}`).digest("hex");
  }

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => `<html><body>${status}</body></html>`),
    );
    app.use("*", async (c, next) => {
      if (!basicOk(c, this.credentials)) return c.text("Unauthorized", 401, { "www-authenticate": 'Basic realm="pypi"' });
      await next();
    });
    const wantsJson = (c: Context) => !this.htmlOnly && (c.req.header("accept") ?? "").includes("application/vnd.pypi.simple.v1+json");
    app.get("/simple/", (c) => {
      const names = [...this.projects.keys()].sort();
      if (wantsJson(c))
        return c.body(JSON.stringify({ meta: { "api-version": "1.1" }, projects: names.map((name) => ({ name })) }), 200, {
          "content-type": "application/vnd.pypi.simple.v1+json",
        });
      return c.html(`<!DOCTYPE html><html><body>${names.map((n) => `<a href="/simple/${n}/">${n}</a>`).join("\n")}</body></html>`);
    });
    app.get("/simple/:project/", (c) => {
      const project = c.req.param("project");
      const files = this.projects.get(project);
      if (!files) return c.text("Not Found", 404);
      if (wantsJson(c)) {
        const versions = [...new Set(files.map((f) => /^.+?-(\d[^-]*?)(-[^-]+-[^-]+-[^-]+\.whl|\.tar\.gz|\.zip)$/.exec(f)?.[1]).filter(Boolean))];
        return c.body(
          JSON.stringify({
            meta: { "api-version": "1.1" },
            name: project,
            versions,
            files: files.map((filename) => ({ filename, url: `/packages/${filename}`, hashes: { sha256: this.sha256Of(filename) } })),
          }),
          200,
          { "content-type": "application/vnd.pypi.simple.v1+json" },
        );
      }
      return c.html(
        `<!DOCTYPE html><html><body><h1>Links for ${project}</h1>${files.map((f) => `<a href="/packages/${f}#sha256=${this.sha256Of(f)}">${f}</a><br/>`).join("\n")}</body></html>`,
      );
    });
    return app;
  }
}

export class MavenRepoSim {
  readonly faults = new FaultKnobs();
  /** "group:artifact" → versions and release. */
  readonly artifacts = new Map<string, { versions: string[]; release: string }>();
  credentials: string | undefined;
  /** A repository that serves no directory listings (some proxies). */
  listings = true;

  app(prefix = "/repository/maven-releases"): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => `<html><body>${status}</body></html>`),
    );
    app.use("*", async (c, next) => {
      if (!basicOk(c, this.credentials)) return c.text("Unauthorized", 401, { "www-authenticate": 'BASIC realm="Sonatype Nexus Repository Manager"' });
      await next();
    });
    app.get(`${prefix}/*`, (c) => {
      const path = c.req.path.slice(prefix.length + 1);
      if (path.endsWith("/maven-metadata.xml")) {
        const parts = path.split("/");
        const artifact = parts.at(-2)!;
        const group = parts.slice(0, -2).join(".");
        const found = this.artifacts.get(`${group}:${artifact}`);
        if (!found) return c.text("Not Found", 404);
        return c.body(
          `<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n  <groupId>${group}</groupId>\n  <artifactId>${artifact}</artifactId>\n  <versioning>\n    <latest>${found.versions.at(-1)}</latest>\n    <release>${found.release}</release>\n    <versions>\n${found.versions.map((v) => `      <version>${v}</version>`).join("\n")}\n    </versions>\n    <lastUpdated>20261001120000</lastUpdated>\n  </versioning>\n</metadata>\n`,
          200,
          { "content-type": "application/xml" },
        );
      }
      if (!path.endsWith("/") || !this.listings) return c.text("Not Found", 404);
      const dir = path.replace(/\/$/, "");
      const children = new Set<string>();
      for (const key of this.artifacts.keys()) {
        const [group, artifact] = key.split(":") as [string, string];
        const full = `${group.replace(/\./g, "/")}/${artifact}`;
        if (full.startsWith(`${dir}/`)) children.add(full.slice(dir.length + 1).split("/")[0]!);
      }
      if (!children.size) return c.text("Not Found", 404);
      const links = [...children].sort().map((ch) => `<tr><td><a href="${c.req.url.replace(/\/?$/, "/")}${ch}/">${ch}/</a></td><td>&nbsp;</td></tr>`);
      return c.html(
        `<html><head><title>Index of /${dir}</title></head><body><h1>Index of /${dir}</h1><table><tr><th>Name</th></tr><tr><td><a href="../">Parent Directory</a></td></tr>${links.join("")}<tr><td><a href="${c.req.url}maven-metadata.xml.sha1">x.sha1</a></td></tr></table></body></html>`,
      );
    });
    return app;
  }
}

export class GoProxySim {
  readonly faults = new FaultKnobs();
  /** module path → tagged versions and, without tags, the latest pseudo-version. */
  readonly modules = new Map<string, { tags: string[]; pseudo?: string }>();
  /** Published module versions ("path@version"): their go.mod and files, served as .info, .mod and .zip. */
  readonly versions = new Map<string, { mod: string; files: Record<string, string> }>();
  /** .zip requests, to see which archives were read. */
  readonly zips: string[] = [];
  credentials: string | undefined;

  /** Publishes a module version: its files (go.mod among them, else "module <path>" as the proxy synthesises it). */
  publish(path: string, version: string, files: Record<string, string>): void {
    const mod = files["go.mod"] ?? `module ${path}\n`;
    this.versions.set(`${path}@${version}`, { mod, files });
    const known = this.modules.get(path) ?? { tags: [] };
    if (!known.tags.includes(version)) known.tags.push(version);
    this.modules.set(path, known);
  }

  /** A version's source archive as the proxy serves it: every file under "<module>@<version>/", deflated. */
  zipOf(path: string, version: string): Uint8Array {
    const published = this.versions.get(`${path}@${version}`)!;
    const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
    for (const [name, text] of Object.entries({ "go.mod": published.mod, ...published.files }))
      entries[`${path}@${version}/${name}`] = [new TextEncoder().encode(text), { mtime: new Date("2019-10-01T00:00:00Z") }];
    return zipSync(entries, { level: 6 });
  }

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => `simulated ${status}`),
    );
    app.use("*", async (c, next) => {
      if (!basicOk(c, this.credentials)) return c.text("unauthorized", 401);
      await next();
    });
    const decode = (escaped: string) => escaped.replace(/!([a-z])/g, (_, ch: string) => ch.toUpperCase());
    app.get("*", (c) => {
      const file = /^\/(.+)\/@v\/([^/]+)\.(info|mod|zip)$/.exec(c.req.path);
      if (file) {
        const [path, version] = [decode(file[1]!), decode(file[2]!)];
        const published = this.versions.get(`${path}@${version}`);
        if (!published) return c.text(`not found: ${path}@${version}: invalid version: unknown revision ${version}`, 404);
        if (file[3] === "info") return c.json({ Version: version, Time: "2019-10-01T00:00:00Z" });
        if (file[3] === "mod") return c.text(published.mod);
        this.zips.push(`${path}@${version}`);
        return c.body(this.zipOf(path, version) as unknown as ArrayBuffer, 200, { "content-type": "application/zip" });
      }
      const match = /^\/(.+)\/@(v\/list|latest)$/.exec(c.req.path);
      if (!match) return c.text("not found", 404);
      const escaped = match[1]!;
      if (/[A-Z]/.test(escaped)) return c.text(`not found: malformed module path "${escaped}": invalid char`, 400);
      const module = this.modules.get(decode(escaped));
      if (!module) return c.text(`not found: module ${decode(escaped)}: git ls-remote -q origin: exit status 128`, 410);
      if (match[2] === "v/list") return c.text(module.tags.map((t) => `${t}\n`).join(""));
      const version = module.tags.at(-1) ?? module.pseudo;
      return c.json({ Version: version, Time: "2026-10-01T00:00:00Z" });
    });
    return app;
  }
}
