// npm: the packages of a scope on registry.npmjs.org or a private npm registry (Verdaccio,
// GitHub Packages, Artifactory, Nexus). The scope's packages come from npm's organization
// endpoint (/-/org/<scope>/package) where the registry has it, else from the search API
// (/-/v1/search?text=scope:<scope>); versions from each package's abbreviated metadata.
import { ExternalError, type HttpClient } from "../../http.js";
import { orderVersions } from "../../vuln/versions/index.js";
import { address, addressField, authorization, packageTroubleshoot } from "../package-registry.js";
import type { Connector, ConnectionSettings, ConnectorContext, PublishedPackage } from "../types.js";

const SERVICE = "npm registry";
const DEFAULT_URL = "https://registry.npmjs.org";
const SCOPE = /^@?[a-z0-9][a-z0-9._~-]*$/;
const SEARCH_PAGE = 250;
const MAX_PACKAGES = 2000;

function scope(connection: ConnectionSettings): string {
  const value = String(connection.settings.scope ?? "")
    .trim()
    .toLowerCase();
  if (!SCOPE.test(value)) throw new ExternalError("invalid_input", SERVICE, "The scope is like @acme (your organization or user name on the registry).");
  return value.replace(/^@/, "");
}

function npmError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    return typeof parsed.error === "string" ? parsed.error : typeof parsed.message === "string" ? parsed.message : undefined;
  } catch {
    return body.length < 200 ? body : undefined;
  }
}

class NpmRegistry {
  readonly #http: HttpClient;
  readonly #headers: Record<string, string>;
  constructor(
    readonly base: string,
    connection: ConnectionSettings,
    ctx: ConnectorContext,
  ) {
    this.#http = ctx.http(SERVICE, { errorMessage: npmError });
    this.#headers = { accept: "application/json", "user-agent": "Patchbay", ...authorization(connection) };
  }

  async get<T>(path: string, accept?: string): Promise<T> {
    return (await this.#http.json<T>({ url: `${this.base}${path}`, headers: { ...this.#headers, ...(accept ? { accept } : {}) } })).data;
  }

  /** The scope's package names: the organization (or user) endpoint, else search. */
  async names(scope: string): Promise<string[]> {
    for (const kind of ["org", "user"]) {
      try {
        const owned = await this.get<Record<string, string>>(`/-/${kind}/${encodeURIComponent(scope)}/package`);
        if (owned && typeof owned === "object" && !Array.isArray(owned))
          return Object.keys(owned)
            .filter((n) => n.startsWith(`@${scope}/`))
            .sort();
      } catch (err) {
        // A registry without these endpoints (or a scope that is not an org) answers 404/400/405.
        if (
          !(err instanceof ExternalError) ||
          err.kind === "auth" ||
          err.kind === "unreachable" ||
          err.kind === "rate_limited" ||
          (err.status !== undefined && ![400, 404, 405].includes(err.status))
        )
          throw err;
      }
    }
    const out: string[] = [];
    for (let from = 0; from < MAX_PACKAGES; from += SEARCH_PAGE) {
      const page = await this.get<{ objects?: { package?: { name?: string } }[]; total?: number }>(
        `/-/v1/search?text=${encodeURIComponent(`scope:${scope}`)}&size=${SEARCH_PAGE}&from=${from}`,
      );
      if (!Array.isArray(page.objects))
        throw new ExternalError("remote", SERVICE, "The registry answered the search without results (objects); is this an npm registry?");
      out.push(...page.objects.map((o) => o.package?.name ?? "").filter((n) => n.startsWith(`@${scope}/`)));
      if (page.objects.length < SEARCH_PAGE || from + SEARCH_PAGE >= (page.total ?? 0)) break;
    }
    return [...new Set(out)].sort();
  }

  async package(name: string): Promise<PublishedPackage> {
    // The abbreviated ("corgi") document: versions and dist-tags without the readme.
    const doc = await this.get<{ versions?: Record<string, unknown>; "dist-tags"?: Record<string, string> }>(
      `/${name.replace("/", "%2f")}`,
      "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8",
    );
    const ordered = orderVersions("npm", Object.keys(doc.versions ?? {}));
    return { name, versions: ordered.versions, latest: doc["dist-tags"]?.latest ?? ordered.latest };
  }
}

function registry(connection: ConnectionSettings, ctx: ConnectorContext) {
  return new NpmRegistry(address(connection, "registryUrl", DEFAULT_URL, SERVICE), connection, ctx);
}

export const npmRegistry: Connector = {
  multiInstance: true,
  card: {
    kind: "npm-registry",
    name: "npm",
    category: "package-registries",
    summary: "Your organisation's packages on npm or a private npm registry.",
    overview: {
      description:
        "The packages of your scope on registry.npmjs.org or a private npm registry (Verdaccio, GitHub Packages, Artifactory, Nexus), with their versions. The Packages page shows which version each repository uses, and the dependency monitor keeps your own packages to itself instead of asking OSV about them.",
      benefits: [
        "An inventory of the packages you publish",
        "Which repositories use an outdated version of your own package",
        "Your private package names never sent to a public database",
      ],
      requirements: ["The scope (@acme)", "For private packages: a read-only access token"],
      docs: [
        { label: "npm: Creating and viewing access tokens", url: "https://docs.npmjs.com/creating-and-viewing-access-tokens" },
        { label: "npm registry API", url: "https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md" },
      ],
    },
  },
  fields: [
    addressField("registryUrl", "Registry URL", DEFAULT_URL, "Leave empty for registry.npmjs.org; a private registry's address as .npmrc names it."),
    {
      name: "scope",
      label: "Scope",
      type: "text",
      required: true,
      glance: true,
      example: "@acme",
      validate: (v) => (SCOPE.test(v.trim().toLowerCase()) ? undefined : "Enter the scope like @acme."),
    },
    {
      name: "token",
      label: "Access token",
      type: "secret",
      editableWhenConnected: true,
      help: "A read-only token; needed for private packages and for npm's organization listing.",
    },
  ],
  defaultName: (settings) => `npm ${String(settings.scope ?? "").replace(/^@?/, "@")}`,
  async test(connection, ctx) {
    const npm = registry(connection, ctx);
    const list = await npm.names(scope(connection));
    return {
      message: `Connected to ${new URL(npm.base).host}: ${list.length} package${list.length === 1 ? "" : "s"} in @${scope(connection)}.`,
      details: list.length
        ? [list.slice(0, 5).join(", ") + (list.length > 5 ? ", …" : "")]
        : ["No packages found in this scope: check the scope, and that the token can read private packages."],
    };
  },
  troubleshoot: packageTroubleshoot("the npm registry"),
  packages: {
    ecosystem: "npm",
    intervalHours: 6,
    installerConfig(connection) {
      const url = new URL(address(connection, "registryUrl", DEFAULT_URL, SERVICE));
      if (!url.pathname.endsWith("/")) url.pathname += "/";
      // .npmrc's per-registry keys: npm sends these credentials to this registry only.
      const scope = `//${url.host}${url.pathname}`;
      const secret = connection.secrets.password ?? connection.secrets.token ?? "";
      const username = String(connection.settings.username ?? "");
      const credentials = !secret
        ? []
        : username
          ? [`${scope}:_auth=${Buffer.from(`${username}:${secret}`).toString("base64")}`]
          : [`${scope}:_authToken=${secret}`];
      return { url: url.href, credentials };
    },
    async list(connection, ctx) {
      const npm = registry(connection, ctx);
      const out: PublishedPackage[] = [];
      for (const name of await npm.names(scope(connection))) out.push(await npm.package(name));
      return out;
    },
  },
};
