// Go modules through a module proxy (proxy.golang.org, Athens, Artifactory, JFrog, GOPROXY of
// any kind), read with the GOPROXY protocol: <module>/@v/list for tagged versions and
// <module>/@latest when there are none. The protocol cannot list modules, so they are named
// (a module path, like github.com/acme/payments).
import { ExternalError, type HttpClient } from "../../http.js";
import { orderVersions } from "../../vuln/versions/index.js";
import { USERNAME_FIELD, address, addressField, authorization, names, packageTroubleshoot } from "../package-registry.js";
import type { Connector, ConnectionSettings, ConnectorContext, PublishedPackage } from "../types.js";

const SERVICE = "Go module proxy";
const DEFAULT_URL = "https://proxy.golang.org";
const MODULE = /^[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}(\/[A-Za-z0-9._~-]+)*$/;

/** The proxy's case encoding: each upper-case letter becomes "!" and the lower-case letter. */
export function escapeModulePath(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

class ModuleProxy {
  readonly #http: HttpClient;
  readonly #headers: Record<string, string>;
  constructor(
    readonly base: string,
    connection: ConnectionSettings,
    ctx: ConnectorContext,
  ) {
    // The proxy answers 404/410 with a plain-text reason ("not found: …").
    this.#http = ctx.http(SERVICE, { errorMessage: (body) => body.trim().slice(0, 200) || undefined });
    this.#headers = { "user-agent": "Patchbay", ...authorization(connection) };
  }

  async module(path: string): Promise<PublishedPackage> {
    const escaped = escapeModulePath(path);
    let tagged: string[];
    try {
      const list = await this.#http.request({ url: `${this.base}/${escaped}/@v/list`, headers: { ...this.#headers, accept: "text/plain" } });
      tagged = list.text
        .split("\n")
        .map((v) => v.trim())
        .filter((v) => /^v\d/.test(v));
    } catch (err) {
      // 404 and 410 both mean the proxy does not have the module.
      if (err instanceof ExternalError && (err.status === 404 || err.status === 410)) {
        throw new ExternalError(
          "not_found",
          SERVICE,
          `The proxy does not know module ${path}${err.remoteMessage ? ` (${err.remoteMessage})` : ""}: check the module path, and that the proxy can fetch it (GOPRIVATE modules need a private proxy).`,
          { status: err.status },
        );
      }
      throw err;
    }
    if (tagged.length) {
      const ordered = orderVersions("Go", tagged);
      return { name: path, versions: ordered.versions, latest: ordered.latest };
    }
    // No tags: the latest pseudo-version is what `go get` would use.
    const { data } = await this.#http.json<{ Version?: string }>({
      url: `${this.base}/${escaped}/@latest`,
      headers: { ...this.#headers, accept: "application/json" },
    });
    return { name: path, versions: data.Version ? [data.Version] : [], latest: data.Version ?? null };
  }

  /** A version's go.mod (<module>/@v/<version>.mod) or source archive (.zip), as bytes. */
  async file(path: string, version: string, kind: "mod" | "zip"): Promise<Uint8Array> {
    if (!MODULE.test(path) || !/^v[0-9A-Za-z.+-]{1,120}$/.test(version))
      throw new ExternalError("invalid_input", SERVICE, `"${path.slice(0, 200)}@${version.slice(0, 130)}" is not a module version.`);
    const url = `${this.base}/${escapeModulePath(path)}/@v/${escapeModulePath(version)}.${kind}`;
    try {
      const res = await this.#http.request({
        url,
        headers: this.#headers,
        binary: true,
        large: kind === "zip",
        maxBytes: kind === "zip" ? MAX_ZIP_BYTES : MAX_MOD_BYTES,
      });
      return res.bytes ?? new Uint8Array();
    } catch (err) {
      if (err instanceof ExternalError && (err.status === 404 || err.status === 410))
        throw new ExternalError(
          "not_found",
          SERVICE,
          `The proxy has no ${kind === "mod" ? "go.mod" : "source archive"} for ${path}@${version}${err.remoteMessage ? ` (${err.remoteMessage})` : ""}.`,
          {
            status: err.status,
          },
        );
      throw err;
    }
  }
}

/** Go's own limits: a module's zip at most 500 MB; Patchbay reads less. */
const MAX_ZIP_BYTES = 64 * 1024 * 1024;
const MAX_MOD_BYTES = 1024 * 1024;

function modules(connection: ConnectionSettings): string[] {
  const list = names(connection, "modules");
  const bad = list.find((m) => !MODULE.test(m));
  if (!list.length || bad)
    throw new ExternalError(
      "invalid_input",
      SERVICE,
      bad ? `"${bad}" is not a module path (like github.com/acme/payments).` : "Name your modules, like github.com/acme/payments.",
    );
  return list;
}

function proxy(connection: ConnectionSettings, ctx: ConnectorContext) {
  return new ModuleProxy(address(connection, "proxyUrl", DEFAULT_URL, SERVICE), connection, ctx);
}

export const goProxy: Connector = {
  multiInstance: true,
  card: {
    kind: "go-proxy",
    name: "Go modules",
    category: "package-registries",
    summary: "Your Go modules through a Go module proxy.",
    overview: {
      description:
        "The versions of your Go modules, read through a module proxy (proxy.golang.org, or a private one such as Athens or Artifactory) with the GOPROXY protocol. The Packages page shows which version each repository's go.sum resolves, and the dependency monitor keeps your own modules to itself.",
      benefits: [
        "An inventory of the modules you publish",
        "Which repositories use an outdated version of your own module",
        "Your private module paths never sent to a public database",
      ],
      requirements: ["Your module paths", "For a private proxy: its address and credentials"],
      docs: [{ label: "Go: GOPROXY protocol", url: "https://go.dev/ref/mod#goproxy-protocol" }],
    },
  },
  fields: [
    addressField("proxyUrl", "Proxy URL", DEFAULT_URL, "Leave empty for proxy.golang.org; a private proxy's address as GOPROXY names it."),
    {
      name: "modules",
      label: "Modules",
      type: "text",
      required: true,
      glance: true,
      editableWhenConnected: true,
      maxLength: 4000,
      example: "github.com/acme/payments, github.com/acme/kit",
      help: "Separated by commas.",
    },
    USERNAME_FIELD,
    { name: "password", label: "Password or token", type: "secret", editableWhenConnected: true },
  ],
  defaultName: () => "Go modules",
  async test(connection, ctx) {
    const go = proxy(connection, ctx);
    const list = modules(connection);
    const first = await go.module(list[0]!);
    return {
      message: `Connected to ${new URL(go.base).host}: ${first.name} has ${first.versions.length} version${first.versions.length === 1 ? "" : "s"}, latest ${first.latest ?? "none"}.`,
      details: [`${list.length} module${list.length === 1 ? "" : "s"} to list`],
    };
  },
  troubleshoot: packageTroubleshoot("the module proxy"),
  packages: {
    ecosystem: "Go",
    intervalHours: 6,
    async list(connection, ctx) {
      const go = proxy(connection, ctx);
      const out: PublishedPackage[] = [];
      for (const path of modules(connection)) out.push(await go.module(path));
      return out;
    },
    moduleFile: (connection, ctx, path, version, kind) => proxy(connection, ctx).file(path, version, kind),
  },
};
