// Patchbay dependency monitor: reads the manifests and lockfiles of every repository Patchbay
// knows (through the source control integrations), and looks the pinned package versions up
// in the OSV database. One scan page is one repository. Packages the organisation publishes
// itself (listed by package-registry integrations) are never sent to OSV.
import { MAX_MANIFEST_BYTES, manifestFormat, parseManifest, ManifestError, type Dependency } from "../../vuln/manifests.js";
import { cvssBaseScore, severityOfScore } from "../../vuln/cvss.js";
import { versionsAbove } from "../../vuln/versions/index.js";
import { ExternalError, TooLargeError, formatBytes } from "../../http.js";
import type {
  AdvisoryMatch,
  Connector,
  ConnectionSettings,
  ResolvedDependency,
  ConnectorContext,
  ScanSession,
  ScannerRecord,
  ScannerSeverity,
  Workspace,
  WorkspaceRepository,
} from "../types.js";
import { serviceUrl } from "../origin.js";
import { repositoryPages } from "../repository-scan.js";
import { DEFAULT_OSV_URL, OsvClient, type OsvQuery, type OsvVulnerability, SERVICE, osvErrorMessage } from "./client.js";

/** Manifests larger than this are not read (a lockfile of 20 MB is already very large). */
/** A repository with more manifests than this is read in part (a monorepo of vendored trees). */
const MAX_MANIFESTS = 200;
const DESCRIPTION_LIMIT = 4000;

function osvBase(connection: ConnectionSettings): string {
  const url = serviceUrl(String(connection.settings.osvUrl ?? "").trim() || DEFAULT_OSV_URL);
  if (!url) throw new ExternalError("invalid_input", SERVICE, "The OSV API URL is not valid: use https://api.osv.dev or your mirror's address.");
  return url;
}

function client(connection: ConnectionSettings, ctx: ConnectorContext): OsvClient {
  return new OsvClient(ctx.http(SERVICE, { errorMessage: osvErrorMessage }), osvBase(connection));
}

const GHSA_SEVERITY: Record<string, ScannerSeverity> = { CRITICAL: "critical", HIGH: "high", MODERATE: "medium", MEDIUM: "medium", LOW: "low" };

/** The advisory's severity: the database's own rating, else the CVSS vector's score; null when it gives neither. */
export function advisorySeverity(vuln: OsvVulnerability): { severity: ScannerSeverity; cvss: number | null } | null {
  let cvss: number | null = null;
  for (const type of ["CVSS_V3", "CVSS_V2"]) {
    const vector = vuln.severity?.find((s) => s.type === type)?.score;
    const score = vector ? cvssBaseScore(vector) : null;
    if (score !== null) {
      cvss = score;
      break;
    }
  }
  const rated = GHSA_SEVERITY[String(vuln.database_specific?.severity ?? "").toUpperCase()];
  if (rated) return { severity: rated, cvss };
  if (cvss !== null) return { severity: severityOfScore(cvss), cvss };
  return null;
}

/** The lowest fixed version above the installed one, from the advisory's ranges for this package. */
export function fixedVersion(vuln: OsvVulnerability, dep: ResolvedDependency): string | null {
  const installed = queryVersion(dep);
  const fixes = (vuln.affected ?? [])
    .filter((a) => a.package?.ecosystem === dep.ecosystem && a.package.name?.toLowerCase() === dep.name.toLowerCase())
    .flatMap((a) => a.ranges ?? [])
    .filter((r) => r.type !== "GIT")
    .flatMap((r) => (r.events ?? []).map((e) => e.fixed).filter((f): f is string => Boolean(f)));
  const fix = versionsAbove(dep.ecosystem, installed, fixes)[0];
  if (!fix) return null;
  return dep.ecosystem === "Go" && dep.version.startsWith("v") ? `v${fix}` : fix;
}

/** OSV's Go records are versioned without the "v" Go writes. */
function queryVersion(dep: ResolvedDependency): string {
  return dep.ecosystem === "Go" ? dep.version.replace(/^v/, "").replace(/\+incompatible$/, "") : dep.version;
}

const depKey = (d: { ecosystem: string; name: string; version: string }) => `${d.ecosystem}\u0000${d.name}\u0000${d.version}`;

/** Advisories by package version through OSV, remembered for the session and cached across them. */
class AdvisoryLookup {
  readonly #osv: OsvClient;
  readonly #cache: Workspace["cache"] | undefined;
  readonly #matches = new Map<string, { id: string; modified: string }[]>();
  readonly #vulns = new Map<string, OsvVulnerability>();

  constructor(connection: ConnectionSettings, ctx: ConnectorContext) {
    this.#osv = client(connection, ctx);
    this.#cache = ctx.workspace?.cache;
  }

  /** Asks OSV about the versions not asked about yet (in batches of up to 1,000). */
  async prepare(deps: ResolvedDependency[]): Promise<void> {
    const unique = [...new Map(deps.filter((d) => !this.#matches.has(depKey(d))).map((d) => [depKey(d), d])).values()];
    if (!unique.length) return;
    const answers = await this.#osv.queryBatch(unique.map((d): OsvQuery => ({ ecosystem: d.ecosystem, name: d.name, version: queryVersion(d) })));
    unique.forEach((d, i) => this.#matches.set(depKey(d), answers[i]!));
  }

  /** The advisories (not withdrawn) affecting a version prepared before. */
  async advisories(dep: ResolvedDependency): Promise<OsvVulnerability[]> {
    const out: OsvVulnerability[] = [];
    for (const match of this.#matches.get(depKey(dep)) ?? []) {
      const vuln = await this.vulnerability(match.id, match.modified);
      if (!vuln.withdrawn) out.push(vuln);
    }
    return out;
  }

  /** An advisory, from this session's memory, the cache when unmodified, else OSV. */
  async vulnerability(id: string, modified: string): Promise<OsvVulnerability> {
    const known = this.#vulns.get(id);
    if (known) return known;
    const cached = await this.#cache?.get(`osv:${id}`);
    let vuln = cached ? (JSON.parse(cached) as OsvVulnerability) : undefined;
    if (!vuln || (modified && vuln.modified !== modified)) {
      vuln = await this.#osv.vulnerability(id);
      await this.#cache?.set(`osv:${id}`, JSON.stringify(vuln));
    }
    this.#vulns.set(id, vuln);
    return vuln;
  }
}

/** What an advisory says of one package version, in the fields a finding takes. */
export function advisoryMatch(vuln: OsvVulnerability, dep: ResolvedDependency): AdvisoryMatch {
  const cves = (vuln.aliases ?? []).filter((a) => a.startsWith("CVE-")).sort();
  const ids = [...new Set([...(vuln.id.startsWith("CVE-") ? [vuln.id] : []), ...cves, vuln.id, ...(vuln.aliases ?? [])])];
  const rated = advisorySeverity(vuln);
  return {
    ids,
    title: vuln.summary?.trim() || `${ids[0]} in ${dep.name}`,
    description: vuln.details?.slice(0, DESCRIPTION_LIMIT) ?? null,
    severity: rated?.severity ?? null,
    cvss: rated?.cvss ?? null,
    fixedVersion: fixedVersion(vuln, dep),
    url: `https://osv.dev/vulnerability/${encodeURIComponent(vuln.id)}`,
    advisory: vuln.id,
    modified: vuln.modified,
  };
}

class DependencyScan implements ScanSession {
  readonly #lookup: AdvisoryLookup;
  readonly #workspace: Workspace;
  readonly #scm: number[];
  readonly #ctx: ConnectorContext;
  #own: Promise<Map<string, string>> | undefined;

  constructor(connection: ConnectionSettings, ctx: ConnectorContext) {
    if (!ctx.workspace) throw new Error("The dependency monitor scans only as a background job.");
    this.#lookup = new AdvisoryLookup(connection, ctx);
    this.#workspace = ctx.workspace;
    this.#ctx = ctx;
    this.#scm = String(connection.settings.sourceControl ?? "")
      .split(",")
      .filter(Boolean)
      .map(Number);
    this.fetchPage = repositoryPages(
      ctx.workspace,
      (r) => !this.#scm.length || this.#scm.includes(r.integrationId),
      (r) => this.#scanRepository(r),
    );
  }

  readonly fetchPage: ScanSession["fetchPage"];

  async #scanRepository(repository: WorkspaceRepository): Promise<ScannerRecord[]> {
    const records: ScannerRecord[] = [];
    let listed;
    try {
      listed = await repository.files.list();
    } catch (err) {
      // Deleted or renamed since the last repository sync: its findings go with it.
      if (err instanceof ExternalError && err.kind === "not_found") {
        return [{ externalId: `${repository.id}:unread`, raw: { repository: repository.fullName }, skip: "repository no longer found by its source control" }];
      }
      throw err;
    }
    const files = listed.filter((f) => manifestFormat(f.path));
    if (files.length > MAX_MANIFESTS)
      this.#ctx.logger.warn("repository has more manifests than are read", { repository: repository.fullName, manifests: files.length, read: MAX_MANIFESTS });
    const byPath = new Map<string, Dependency[]>();
    for (const file of files.slice(0, MAX_MANIFESTS)) {
      if (file.size !== null && file.size > MAX_MANIFEST_BYTES) {
        records.push({
          externalId: `${repository.id}:${file.path}:unread`,
          raw: { repository: repository.fullName, path: file.path },
          skip: `manifest larger than ${formatBytes(MAX_MANIFEST_BYTES)}, not read (${repository.fullName}: ${file.path})`,
        });
        continue;
      }
      try {
        byPath.set(file.path, await this.#dependencies(repository, file));
      } catch (err) {
        if (!(err instanceof ManifestError)) throw err;
        records.push({
          externalId: `${repository.id}:${file.path}:unread`,
          raw: { repository: repository.fullName, path: file.path },
          skip: `could not be read: ${repository.fullName}: ${err.message}`,
        });
      }
    }
    await this.#workspace.recordDependencies(repository.id, byPath);

    const own = await (this.#own ??= this.#workspace.ownPackages());
    await this.#lookup.prepare([...byPath.values()].flat().filter((d) => !own.has(`${d.ecosystem}:${d.name}`)));

    for (const [path, deps] of byPath) {
      for (const dep of deps) {
        const publisher = own.get(`${dep.ecosystem}:${dep.name}`);
        if (publisher) {
          records.push({
            externalId: `${repository.id}:${path}:${depKey(dep)}:own`,
            raw: { ...dep, path },
            skip: `your own package (listed by ${publisher}): not looked up in OSV`,
          });
          continue;
        }
        for (const vuln of await this.#lookup.advisories(dep)) records.push(this.#record(repository, path, dep, advisoryMatch(vuln, dep)));
      }
    }
    return records;
  }

  /** A manifest's dependencies (or why it cannot be read), parsed once per content hash. */
  async #dependencies(repository: WorkspaceRepository, file: { path: string; sha: string | null }): Promise<Dependency[]> {
    // v2: parses that carry direct, scope and via (older cached ones are read again).
    const key = file.sha ? `manifest:v2:${file.sha}:${file.path}` : undefined;
    const cached = key ? await this.#workspace.cache.get(key) : undefined;
    if (cached) {
      const parsed = JSON.parse(cached) as Dependency[] | { error: string };
      if ("error" in parsed) throw new ManifestError(file.path, parsed.error);
      return parsed;
    }
    let deps: Dependency[];
    try {
      deps = parseManifest(file.path, await readManifest(repository, file.path));
    } catch (err) {
      if (err instanceof ManifestError && key) await this.#workspace.cache.set(key, JSON.stringify({ error: err.reason }));
      throw err;
    }
    if (key) await this.#workspace.cache.set(key, JSON.stringify(deps));
    return deps;
  }

  #record(repository: WorkspaceRepository, path: string, dep: Dependency, match: AdvisoryMatch): ScannerRecord {
    const now = new Date().toISOString();
    const raw = {
      repository: repository.fullName,
      path,
      ecosystem: dep.ecosystem,
      package: dep.name,
      version: dep.version,
      advisory: match.advisory,
      aliases: match.ids.filter((id) => id !== match.advisory),
      modified: match.modified,
      severity: match.severity,
      fixed: match.fixedVersion,
    };
    const description = [match.description, match.severity ? null : "The advisory gives no severity; Patchbay rates it medium until one is published."]
      .filter(Boolean)
      .join("\n\n");
    return {
      externalId: `${repository.id}:${path}:${depKey(dep)}:${match.advisory}`,
      raw,
      finding: {
        cve: match.ids[0]!,
        title: match.title,
        description: description || null,
        severity: match.severity ?? "medium",
        cvss: match.cvss,
        ecosystem: dep.ecosystem,
        package: dep.name,
        installedVersion: dep.version,
        fixedVersion: match.fixedVersion,
        firstDetectedAt: now,
        lastSeenAt: now,
        asset: {
          kind: "repository",
          repositoryName: repository.fullName,
          url: repository.url,
          details: { manifest: path, advisory: match.advisory, aliases: raw.aliases },
        },
        url: match.url,
      },
    };
  }
}

export const dependencyMonitor: Connector = {
  multiInstance: false,
  card: {
    kind: "dependency-monitor",
    name: "Patchbay dependency monitor",
    category: "package-registries",
    summary: "Your repositories' manifests and lockfiles, checked against the OSV vulnerability database.",
    overview: {
      description:
        "Patchbay reads the manifests and lockfiles of every repository it knows through your source control (package-lock.json, yarn.lock, pnpm-lock.yaml, requirements*.txt, poetry.lock, Pipfile.lock, go.sum, pom.xml, Gemfile.lock, Cargo.lock) and looks the pinned versions up in the OSV database. Findings are deduplicated with your scanners' by the same fingerprint. It runs after each repository sync and daily.",
      benefits: [
        "Dependency findings for every repository, without installing a scanner",
        "One finding per vulnerability, whichever tool reports it",
        "Packages you publish yourself (from your package registries) never leave Patchbay",
      ],
      requirements: ["A connected source control integration (GitHub, GitLab or Bitbucket)", "Access to api.osv.dev, or the address of an OSV mirror"],
      docs: [
        { label: "OSV API", url: "https://google.github.io/osv.dev/api/" },
        { label: "OSV schema", url: "https://ossf.github.io/osv-schema/" },
      ],
    },
  },
  fields: [
    {
      name: "osvUrl",
      label: "OSV API URL",
      type: "text",
      editableWhenConnected: true,
      glance: true,
      example: DEFAULT_OSV_URL,
      defaultValue: DEFAULT_OSV_URL,
      help: "Leave empty for api.osv.dev; enter your mirror's address to keep lookups inside your network.",
      validate: (v) => (serviceUrl(v) ? undefined : "Enter an address like https://api.osv.dev (http is allowed for a mirror inside your network)."),
    },
    {
      name: "sourceControl",
      label: "Source control",
      type: "integrations",
      integrationCapability: "scm",
      editableWhenConnected: true,
      help: "The source control integrations whose repositories are read. None chosen: all of them.",
    },
  ],
  defaultName: () => "Patchbay dependency monitor",
  async test(connection, ctx) {
    const osv = client(connection, ctx);
    // A query for a version known to be affected proves the API answers as OSV does.
    const [matches] = await osv.queryBatch([{ ecosystem: "npm", name: "lodash", version: "4.17.20" }]);
    return {
      message: `Connected to OSV at ${new URL(osv.base).host}: the API answered a test query.`,
      details: [
        `lodash 4.17.20 (npm): ${matches!.length} advisor${matches!.length === 1 ? "y" : "ies"}`,
        "Repositories are read through your connected source control on each scan.",
      ],
    };
  },
  troubleshoot(error) {
    if (error.status === 404)
      return {
        title: "Connection Failed — not an OSV API",
        steps: ["The address answered, but not with OSV's /v1/querybatch. Check the OSV API URL (no /v1 at the end)."],
      };
    if (error.kind === "unreachable")
      return {
        title: "Connection Failed — OSV unreachable",
        steps: [
          "Check that this machine can reach the OSV API URL (api.osv.dev, or your mirror).",
          "Behind a proxy without internet access, run an OSV mirror and enter its address.",
        ],
      };
    return undefined;
  },
  advisories: {
    async lookup(connection, ctx, packages) {
      const lookup = new AdvisoryLookup(connection, ctx);
      await lookup.prepare(packages);
      const out: AdvisoryMatch[][] = [];
      for (const dep of packages) out.push((await lookup.advisories(dep)).map((v) => advisoryMatch(v, dep)));
      return out;
    },
    async aliases(connection, ctx, id) {
      try {
        const vuln = await new AdvisoryLookup(connection, ctx).vulnerability(id, "");
        return vuln.aliases ?? [];
      } catch (err) {
        if (err instanceof ExternalError && err.kind === "not_found") return [];
        throw err;
      }
    },
  },
  scanner: {
    intervalHours: 24,
    afterRepositorySync: true,
    session: (connection, ctx) => new DependencyScan(connection, ctx),
  },
};

/** A manifest's text; one larger than the listing said (or than the limit) is refused as unreadable. */
async function readManifest(repository: WorkspaceRepository, path: string): Promise<string> {
  try {
    return await repository.files.read(path, MAX_MANIFEST_BYTES);
  } catch (err) {
    if (err instanceof TooLargeError) throw new ManifestError(path, `larger than ${formatBytes(MAX_MANIFEST_BYTES)}; not read.`);
    throw err;
  }
}
