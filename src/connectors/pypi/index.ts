// PyPI and PyPI-compatible private indexes (devpi, Nexus, Artifactory, GitLab, CodeArtifact):
// the Simple Repository API, JSON form (PEP 691) with the HTML form (PEP 503) as fallback.
// A private index lists its projects at /simple/ (filtered by a name prefix); on pypi.org,
// whose index holds every project in the world, the projects are named one by one.
import { ExternalError, type HttpClient } from "../../http.js";
import { pypiName } from "../../vuln/manifests.js";
import { orderVersions } from "../../vuln/versions/index.js";
import { USERNAME_FIELD, address, addressField, authorization, names, packageTroubleshoot } from "../package-registry.js";
import { serviceUrl } from "../origin.js";
import type { Connector, ConnectionSettings, ConnectorContext, PublishedPackage } from "../types.js";

const SERVICE = "PyPI";
const DEFAULT_URL = "https://pypi.org/simple";
const ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";
const MAX_PROJECTS = 2000;

/** The version in a distribution's file name: sdists "name-1.2.3.tar.gz", wheels "name-1.2.3-py3-none-any.whl". */
export function versionOfFile(project: string, filename: string): string | undefined {
  const wheel = /^([^-]+)-([^-]+)-.*\.whl$/.exec(filename);
  if (wheel) return pypiName(wheel[1]!) === project ? wheel[2] : undefined;
  const sdist = /^(.+)-([0-9][^-]*?)\.(tar\.gz|zip|tar\.bz2|tgz)$/.exec(filename);
  if (sdist && pypiName(sdist[1]!) === project) return sdist[2];
  return undefined;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

class SimpleIndex {
  readonly #http: HttpClient;
  readonly #headers: Record<string, string>;
  constructor(
    readonly base: string,
    connection: ConnectionSettings,
    ctx: ConnectorContext,
  ) {
    this.#http = ctx.http(SERVICE);
    this.#headers = { accept: ACCEPT, "user-agent": "Patchbay", ...authorization(connection) };
  }

  get publicIndex(): boolean {
    return new URL(this.base).host === "pypi.org";
  }

  async #get(path: string, apiRoot = false) {
    const response = await this.#http.request({ url: `${this.base}${path}`, headers: this.#headers, apiRoot, large: true });
    const json = (response.headers.get("content-type") ?? "").includes("application/vnd.pypi.simple.v1+json");
    return { json, text: response.text, parse: <T>() => response.json<T>() };
  }

  /** Every project the index lists (a private index's own). */
  async projects(): Promise<string[]> {
    const page = await this.#get("/", true);
    if (page.json) return (page.parse<{ projects?: { name?: string }[] }>().projects ?? []).map((p) => pypiName(p.name ?? "")).filter(Boolean);
    if (!/<a\s/i.test(page.text))
      throw new ExternalError("remote", SERVICE, "The index answered /simple/ without project links; is this a PyPI simple index URL (ending in /simple)?");
    return [...page.text.matchAll(/<a\s[^<>]*>([^<]+)<\/a>/gi)].map((m) => pypiName(decodeHtml(m[1]!)));
  }

  async project(name: string): Promise<PublishedPackage> {
    const project = pypiName(name);
    let page;
    try {
      page = await this.#get(`/${project}/`);
    } catch (err) {
      if (err instanceof ExternalError && err.kind === "not_found")
        throw new ExternalError("not_found", SERVICE, `The index has no project "${name}": check Projects.`, { status: 404 });
      throw err;
    }
    let versions: string[];
    if (page.json) {
      const data = page.parse<{ versions?: string[]; files?: { filename?: string; yanked?: unknown }[] }>();
      // PEP 700 lists versions; older servers list files only.
      versions =
        data.versions ??
        (data.files ?? [])
          .filter((f) => !f.yanked)
          .map((f) => versionOfFile(project, f.filename ?? ""))
          .filter((v): v is string => Boolean(v));
    } else {
      versions = [...page.text.matchAll(/<a\s([^<>]*)>([^<]+)<\/a>/gi)]
        .filter((m) => !/data-yanked/i.test(m[1]!))
        .map((m) => versionOfFile(project, decodeHtml(m[2]!).trim()))
        .filter((v): v is string => Boolean(v));
    }
    const ordered = orderVersions("PyPI", versions);
    return { name: project, versions: ordered.versions, latest: ordered.latest };
  }

  /**
   * The sha256 digest of each file of one version that is not yanked: from the JSON form's
   * hashes, or the HTML form's #sha256= URL fragments (PEP 503).
   */
  async hashes(name: string, version: string): Promise<string[]> {
    const project = pypiName(name);
    const page = await this.#get(`/${project}/`);
    let files: { filename: string; sha256: string | undefined }[];
    if (page.json) {
      const data = page.parse<{ files?: { filename?: string; hashes?: { sha256?: unknown }; yanked?: unknown }[] }>();
      files = (data.files ?? [])
        .filter((f) => !f.yanked && typeof f.filename === "string")
        .map((f) => ({ filename: f.filename!, sha256: typeof f.hashes?.sha256 === "string" ? f.hashes.sha256 : undefined }));
    } else {
      files = [...page.text.matchAll(/<a\s([^<>]*)>([^<]+)<\/a>/gi)]
        .filter((m) => !/data-yanked/i.test(m[1]!))
        .map((m) => ({ filename: decodeHtml(m[2]!).trim(), sha256: /#sha256=([0-9a-f]{64})\b/i.exec(decodeHtml(m[1]!))?.[1] }));
    }
    const mine = files.filter((f) => versionOfFile(project, f.filename) === version);
    if (mine.length === 0) throw new ExternalError("not_found", SERVICE, `The index has no files of ${project} ${version}.`, { status: 404 });
    const missing = mine.find((f) => !f.sha256 || !/^[0-9a-f]{64}$/i.test(f.sha256));
    if (missing) throw new ExternalError("remote", SERVICE, `The index gives no sha256 digest for ${missing.filename}: the hashes cannot be written.`);
    return [...new Set(mine.map((f) => f.sha256!.toLowerCase()))].sort();
  }

  /** The organisation's projects: those named, else the index's own filtered by prefix. */
  async ownProjects(connection: ConnectionSettings): Promise<string[]> {
    const named = names(connection, "projects").map(pypiName);
    if (named.length) return named;
    if (this.publicIndex) throw new ExternalError("invalid_input", SERVICE, "pypi.org lists every project in the world: name your projects in Projects.");
    const prefix = pypiName(String(connection.settings.prefix ?? ""));
    return (await this.projects()).filter((p) => !prefix || p.startsWith(prefix)).slice(0, MAX_PROJECTS);
  }
}

function index(connection: ConnectionSettings, ctx: ConnectorContext) {
  return new SimpleIndex(address(connection, "indexUrl", DEFAULT_URL, SERVICE), connection, ctx);
}

export const pypi: Connector = {
  multiInstance: true,
  card: {
    kind: "pypi",
    name: "PyPI",
    category: "package-registries",
    summary: "Your packages on PyPI or a PyPI-compatible private index.",
    overview: {
      description:
        "Your Python projects on pypi.org or a private index that speaks the Simple Repository API (devpi, Nexus, Artifactory, GitLab, AWS CodeArtifact), with their versions. The Packages page shows which version each repository pins, and the dependency monitor keeps your own projects to itself.",
      benefits: [
        "An inventory of the packages you publish",
        "Which repositories pin an outdated version of your own package",
        "Your private project names never sent to a public database",
      ],
      requirements: ["The index URL (the one pip's --index-url names)", "For a private index: a user name and password or token"],
      docs: [
        { label: "PEP 691: JSON-based Simple API", url: "https://peps.python.org/pep-0691/" },
        { label: "PEP 503: Simple Repository API", url: "https://peps.python.org/pep-0503/" },
      ],
    },
  },
  fields: [
    addressField(
      "indexUrl",
      "Index URL",
      DEFAULT_URL,
      "Leave empty for pypi.org; a private index's simple URL, like https://nexus.example.com/repository/pypi-internal/simple.",
    ),
    {
      name: "projects",
      label: "Projects",
      type: "text",
      editableWhenConnected: true,
      maxLength: 4000,
      example: "acme-tools, acme-client",
      help: "Your projects, separated by commas. Required for pypi.org; on a private index, leave empty to list its projects.",
    },
    {
      name: "prefix",
      label: "Name prefix",
      type: "text",
      editableWhenConnected: true,
      example: "acme-",
      help: "On a private index: only projects whose names start with this.",
    },
    USERNAME_FIELD,
    { name: "password", label: "Password or token", type: "secret", editableWhenConnected: true },
  ],
  defaultName: (settings) => {
    const url = serviceUrl(String(settings.indexUrl ?? ""));
    return url && new URL(url).host !== "pypi.org" ? `PyPI index ${new URL(url).host}` : "PyPI";
  },
  async test(connection, ctx) {
    const simple = index(connection, ctx);
    const projects = await simple.ownProjects(connection);
    const first = projects[0] ? await simple.project(projects[0]) : undefined;
    return {
      message: `Connected to ${new URL(simple.base).host}: ${projects.length} project${projects.length === 1 ? "" : "s"}.`,
      details: first
        ? [`${first.name}: ${first.versions.length} version${first.versions.length === 1 ? "" : "s"}, latest ${first.latest ?? "none"}`]
        : ["No projects found: check the prefix or name your projects."],
    };
  },
  troubleshoot: packageTroubleshoot("the index"),
  packages: {
    ecosystem: "PyPI",
    intervalHours: 6,
    async list(connection, ctx) {
      const simple = index(connection, ctx);
      const out: PublishedPackage[] = [];
      for (const name of await simple.ownProjects(connection)) out.push(await simple.project(name));
      return out;
    },
    distributionHashes(connection, ctx, name, version) {
      return index(connection, ctx).hashes(name, version);
    },
  },
};
