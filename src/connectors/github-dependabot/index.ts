// GitHub Dependabot alerts (and code scanning alerts that name a CVE or GHSA — Trivy's and
// Grype's SARIF uploaded to GitHub), for the repositories of a connected GitHub integration.
// Open alerts are findings; dismissed ones carry their dismissal (inaccurate / not used →
// false positive, tolerable risk / no bandwidth → risk accepted); fixed ones are no longer
// reported, so the scan resolves them. Dependabot does not say which version is installed:
// it is read from the manifest the alert names.
import { type Dependency, MAX_MANIFEST_BYTES, ManifestError, parseManifest } from "../../vuln/manifests.js";
import { ExternalError, TooLargeError, formatBytes } from "../../http.js";
import { advisoryIds, packageFromMessage } from "../../vuln/advisories.js";
import { packageKey } from "../../vuln/packages.js";
import { createGitHubClient } from "../github/index.js";
import { type GitHubClient, nextLink } from "../github/client.js";
import { repositoryPages } from "../repository-scan.js";
import type {
  Connector,
  ConnectionSettings,
  ConnectorContext,
  ScanSession,
  ScannedFinding,
  ScannerRecord,
  ScannerSeverity,
  WorkspaceRepository,
} from "../types.js";

const SERVICE = "GitHub Dependabot";
const MAX_PAGES = 100;

/** Dependabot's ecosystem names, as OSV's. */
const ECOSYSTEMS: Record<string, string> = {
  npm: "npm",
  pip: "PyPI",
  maven: "Maven",
  go: "Go",
  rubygems: "RubyGems",
  rust: "crates.io",
  nuget: "NuGet",
  composer: "Packagist",
  pub: "Pub",
  erlang: "Hex",
  actions: "GitHub Actions",
  swift: "SwiftURL",
};

const DISMISSALS: Record<string, "false_positive" | "risk_accepted" | undefined> = {
  inaccurate: "false_positive",
  not_used: "false_positive",
  tolerable_risk: "risk_accepted",
  no_bandwidth: "risk_accepted",
  // fix_started: the alert stays open until the fix merges.
};

interface DependabotAlert {
  number: number;
  state: "open" | "dismissed" | "fixed" | "auto_dismissed";
  html_url: string;
  created_at: string;
  dismissed_reason?: string | null;
  dismissed_comment?: string | null;
  dismissed_by?: { login?: string } | null;
  dependency?: { package?: { ecosystem?: string; name?: string }; manifest_path?: string; scope?: string };
  security_advisory?: {
    ghsa_id?: string;
    cve_id?: string | null;
    summary?: string;
    description?: string;
    severity?: string;
    identifiers?: { type: string; value: string }[];
    cvss?: { score?: number | null; vector_string?: string | null };
  };
  security_vulnerability?: { first_patched_version?: { identifier?: string } | null; vulnerable_version_range?: string };
}

interface CodeScanningAlert {
  number: number;
  state: string;
  html_url: string;
  created_at: string;
  rule?: { id?: string; severity?: string; security_severity_level?: string | null; description?: string; tags?: string[] };
  tool?: { name?: string };
  most_recent_instance?: { location?: { path?: string }; message?: { text?: string } };
}

const severityOf = (value: string | null | undefined): ScannerSeverity =>
  (({ critical: "critical", high: "high", medium: "medium", moderate: "medium", low: "low" })[String(value ?? "").toLowerCase()] as ScannerSeverity) ??
  "medium";

class DependabotScan implements ScanSession {
  readonly #client: GitHubClient;
  readonly #codeScanning: boolean;
  readonly #githubIntegration: number;
  readonly #organization: string;
  /** With an organization: every alert of it, read once (fewer requests than per repository). */
  #orgAlerts: Promise<Map<string, DependabotAlert[]>> | undefined;

  constructor(connection: ConnectionSettings, ctx: ConnectorContext) {
    if (!ctx.workspace) throw new Error("Dependabot alerts are read only by a background scan.");
    if (!connection.reused) throw new ExternalError("invalid_input", SERVICE, "Choose the connected GitHub integration whose repositories' alerts to import.");
    this.#client = createGitHubClient(connection.reused, ctx);
    this.#codeScanning = connection.settings.codeScanning === true;
    this.#githubIntegration = Number(connection.settings.integration);
    this.#organization = String(connection.settings.organization ?? "").trim();
    this.fetchPage = repositoryPages(
      ctx.workspace,
      (r) => r.integrationId === this.#githubIntegration,
      async (r) => [...(await this.#dependabot(r)), ...(this.#codeScanning ? await this.#codeScanningAlerts(r) : [])],
    );
  }

  readonly fetchPage: ScanSession["fetchPage"];

  /** GET /orgs/{org}/dependabot/alerts, every page, by repository. */
  async #organizationAlerts(): Promise<Map<string, DependabotAlert[]>> {
    const byRepository = new Map<string, DependabotAlert[]>();
    let url: string | null = `/orgs/${encodeURIComponent(this.#organization)}/dependabot/alerts?state=open,dismissed,auto_dismissed&per_page=100`;
    for (let page = 0; url && page < MAX_PAGES * 10; page++) {
      let result: { data: (DependabotAlert & { repository?: { full_name?: string } })[]; response: { headers: Headers } };
      try {
        result = await this.#client.get(url);
      } catch (err) {
        if (err instanceof ExternalError && (err.status === 403 || err.status === 404)) {
          throw new ExternalError(
            err.status === 404 ? "not_found" : "permission",
            SERVICE,
            `GitHub refused the organization's Dependabot alerts for ${this.#organization} (${err.remoteMessage ?? `HTTP ${err.status}`}): check the organization's name, and that the token belongs to an owner or security manager with the security_events scope (or "Dependabot alerts: read" on the organization).`,
            { status: err.status, remoteMessage: err.remoteMessage },
          );
        }
        throw err;
      }
      if (!Array.isArray(result.data))
        throw new ExternalError("remote", SERVICE, "GitHub answered the organization's Dependabot alerts with something that is not a list.");
      for (const alert of result.data) {
        const name = alert.repository?.full_name?.toLowerCase();
        if (!name) continue;
        if (!byRepository.has(name)) byRepository.set(name, []);
        byRepository.get(name)!.push(alert);
      }
      url = nextLink(result.response.headers.get("link"));
    }
    return byRepository;
  }

  /** Every page of a list, or nothing when the repository has the feature off (403/404). */
  async #list<T>(first: string, feature: string, repository: WorkspaceRepository): Promise<T[] | string> {
    const out: T[] = [];
    let url: string | null = first;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      try {
        const { data, response }: { data: T[]; response: { headers: Headers } } = await this.#client.get<T[]>(url);
        if (!Array.isArray(data))
          throw new ExternalError("remote", SERVICE, `GitHub answered the ${feature} of ${repository.fullName} with something that is not a list.`);
        out.push(...data);
        url = nextLink(response.headers.get("link"));
      } catch (err) {
        // Off for this repository ("Dependabot alerts are disabled", "no analysis found", "Advanced Security must be enabled").
        if (
          err instanceof ExternalError &&
          (err.status === 403 || err.status === 404) &&
          err.kind !== "auth" &&
          !/scope|permission|Resource not accessible/i.test(err.remoteMessage ?? "")
        ) {
          return `${feature} not enabled for the repository (${err.remoteMessage ?? `HTTP ${err.status}`})`;
        }
        if (err instanceof ExternalError && err.status === 403) {
          throw new ExternalError(
            "permission",
            SERVICE,
            `GitHub refused to list the ${feature} of ${repository.fullName} (${err.remoteMessage ?? "HTTP 403"}): the token needs the security_events scope (or "Dependabot alerts: read" / "Code scanning alerts: read" for fine-grained tokens and GitHub Apps).`,
            { status: 403, remoteMessage: err.remoteMessage },
          );
        }
        throw err;
      }
    }
    return out;
  }

  async #dependabot(repository: WorkspaceRepository): Promise<ScannerRecord[]> {
    const path = `/repos/${repository.fullName.split("/").map(encodeURIComponent).join("/")}/dependabot/alerts?state=open,dismissed,auto_dismissed&per_page=100`;
    const owner = repository.fullName.split("/")[0]!.toLowerCase();
    const alerts =
      this.#organization && owner === this.#organization.toLowerCase()
        ? ((await (this.#orgAlerts ??= this.#organizationAlerts())).get(repository.fullName.toLowerCase()) ?? [])
        : await this.#list<DependabotAlert>(path, "Dependabot alerts", repository);
    if (typeof alerts === "string") return [{ externalId: `${repository.id}:dependabot`, raw: { repository: repository.fullName }, skip: alerts }];
    const manifests = new Map<string, Promise<Dependency[] | string>>();
    const records: ScannerRecord[] = [];
    for (const alert of alerts) {
      const advisory = alert.security_advisory ?? {};
      const pkg = alert.dependency?.package ?? {};
      const ecosystem = ECOSYSTEMS[String(pkg.ecosystem)] ?? String(pkg.ecosystem ?? "");
      const name = String(pkg.name ?? "");
      const manifest = alert.dependency?.manifest_path ?? "";
      // Auto-dismissed by a Dependabot auto-triage rule: dismissed (a risk the rule accepts), never fixed.
      const dismissedAs =
        alert.state === "dismissed" ? DISMISSALS[String(alert.dismissed_reason)] : alert.state === "auto_dismissed" ? "risk_accepted" : undefined;
      if (alert.state === "dismissed" && !dismissedAs && alert.dismissed_reason !== "fix_started") continue;
      if (!manifests.has(manifest)) manifests.set(manifest, this.#manifest(repository, manifest));
      const resolved = await manifests.get(manifest)!;
      if (typeof resolved === "string") {
        records.push({ externalId: `${repository.id}:${alert.number}`, raw: alert, skip: resolved });
        continue;
      }
      // Names compared as the ecosystem compares them (Dependabot's zope.interface is the lockfile's zope-interface).
      const versions = [
        ...new Set(resolved.filter((d) => d.ecosystem === ecosystem && packageKey(ecosystem, d.name) === packageKey(ecosystem, name)).map((d) => d.version)),
      ];
      if (!versions.length) {
        records.push({
          externalId: `${repository.id}:${alert.number}`,
          raw: alert,
          skip: "the package is not pinned in the manifest the alert names (its installed version is unknown)",
        });
        continue;
      }
      const cves = [advisory.cve_id, ...(advisory.identifiers ?? []).filter((i) => i.type === "CVE").map((i) => i.value)].filter((v): v is string =>
        Boolean(v),
      );
      for (const version of versions) {
        const finding: ScannedFinding = {
          cve: cves[0] ?? advisory.ghsa_id ?? `dependabot-${alert.number}`,
          title: advisory.summary ?? `${cves[0] ?? advisory.ghsa_id} in ${name}`,
          description: advisory.description?.slice(0, 4000) ?? null,
          severity: severityOf(advisory.severity),
          cvss: typeof advisory.cvss?.score === "number" && advisory.cvss.score > 0 ? advisory.cvss.score : null,
          ecosystem,
          package: name,
          installedVersion: version,
          fixedVersion: alert.security_vulnerability?.first_patched_version?.identifier ?? null,
          firstDetectedAt: alert.created_at,
          lastSeenAt: new Date().toISOString(),
          asset: { kind: "repository", repositoryName: repository.fullName, url: repository.url, details: { manifest, ghsa: advisory.ghsa_id ?? null } },
          url: alert.html_url,
          ...(dismissedAs
            ? {
                dismissed: {
                  status: dismissedAs,
                  reason:
                    alert.state === "auto_dismissed"
                      ? "Auto-dismissed in GitHub by a Dependabot auto-triage rule"
                      : `Dismissed in GitHub${alert.dismissed_by?.login ? ` by ${alert.dismissed_by.login}` : ""}: ${String(alert.dismissed_reason).replace(/_/g, " ")}${alert.dismissed_comment ? ` — ${alert.dismissed_comment}` : ""}`,
                },
              }
            : {}),
        };
        // The raw record without volatile fields, so an unchanged alert writes nothing.
        const { lastSeenAt: _seen, ...stable } = finding;
        records.push({
          externalId: `${repository.id}:${alert.number}:${version}`,
          raw: { state: alert.state, dismissed_reason: alert.dismissed_reason ?? null, ...stable },
          finding,
        });
      }
    }
    return records;
  }

  /** The dependencies the alert's manifest pins, or why they cannot be known. */
  async #manifest(repository: WorkspaceRepository, manifest: string): Promise<Dependency[] | string> {
    try {
      return parseManifest(manifest, await repository.files.read(manifest, MAX_MANIFEST_BYTES));
    } catch (err) {
      if (err instanceof ManifestError) return `the manifest ${manifest} cannot be read for installed versions (${err.reason})`;
      if (err instanceof TooLargeError) return `the manifest ${manifest} is larger than ${formatBytes(MAX_MANIFEST_BYTES)} and was not read`;
      if (err instanceof ExternalError && err.kind === "not_found") return `the manifest ${manifest} is no longer on the default branch`;
      throw err;
    }
  }

  async #codeScanningAlerts(repository: WorkspaceRepository): Promise<ScannerRecord[]> {
    const path = `/repos/${repository.fullName.split("/").map(encodeURIComponent).join("/")}/code-scanning/alerts?state=open&per_page=100`;
    const alerts = await this.#list<CodeScanningAlert>(path, "code scanning alerts", repository);
    if (typeof alerts === "string") return [{ externalId: `${repository.id}:code-scanning`, raw: { repository: repository.fullName }, skip: alerts }];
    const records: ScannerRecord[] = [];
    for (const alert of alerts) {
      // The same message conventions as a SARIF upload's (Trivy's, Grype's).
      const message = alert.most_recent_instance?.message?.text ?? "";
      const id = advisoryIds(`${alert.rule?.id ?? ""} ${(alert.rule?.tags ?? []).join(" ")} ${message}`)[0];
      const { name: pkg, version, fixed } = packageFromMessage(message);
      if (!id || !pkg || !version) {
        records.push({
          externalId: `${repository.id}:cs:${alert.number}`,
          raw: { number: alert.number, rule: alert.rule?.id },
          skip: "code scanning alert without a CVE and package (code rules are not imported)",
        });
        continue;
      }
      const finding: ScannedFinding = {
        cve: id,
        title: alert.rule?.description ?? `${id} in ${pkg}`,
        description: message.slice(0, 4000) || null,
        severity: severityOf(alert.rule?.security_severity_level ?? alert.rule?.severity),
        cvss: null,
        ecosystem: null,
        package: pkg,
        installedVersion: version,
        fixedVersion: fixed ?? null,
        firstDetectedAt: alert.created_at,
        lastSeenAt: new Date().toISOString(),
        asset: {
          kind: "repository",
          repositoryName: repository.fullName,
          url: repository.url,
          details: { location: alert.most_recent_instance?.location?.path ?? null, tool: alert.tool?.name ?? null },
        },
        url: alert.html_url,
      };
      const { lastSeenAt: _seen, ...stable } = finding;
      records.push({ externalId: `${repository.id}:cs:${alert.number}`, raw: stable, finding });
    }
    return records;
  }
}

export const githubDependabot: Connector = {
  multiInstance: true,
  card: {
    kind: "github-dependabot",
    name: "GitHub Dependabot",
    category: "scanners",
    summary: "Import Dependabot alerts through a connected GitHub integration.",
    overview: {
      description:
        "Import the Dependabot alerts (and, if you choose, code scanning alerts that name a CVE, as Trivy's or Grype's SARIF uploads do) of the repositories a connected GitHub integration reaches. Open alerts become findings; alerts dismissed as inaccurate or not used become false positives, as a tolerable risk or for lack of time risk accepted; fixed alerts are resolved. The installed version is read from the manifest each alert names.",
      benefits: [
        "Dependency vulnerabilities with their advisories and fixed versions",
        "Dismissed and fixed alerts followed automatically",
        "One finding per vulnerability, whichever tool reports it",
      ],
      requirements: [
        "A connected GitHub integration whose token has the security_events scope (fine-grained or App: Dependabot alerts and Contents read; Code scanning alerts read for those)",
      ],
      docs: [
        { label: "GitHub: Dependabot alerts API", url: "https://docs.github.com/en/rest/dependabot/alerts" },
        { label: "GitHub: Code scanning alerts API", url: "https://docs.github.com/en/rest/code-scanning/code-scanning" },
      ],
    },
  },
  fields: [
    {
      name: "integration",
      label: "GitHub integration",
      type: "integration",
      integrationKind: "github",
      required: true,
      glance: true,
      help: "Alerts are read for the repositories this integration lists.",
    },
    {
      name: "organization",
      label: "Organization",
      type: "text",
      editableWhenConnected: true,
      glance: true,
      example: "acme",
      help: "Read the organization's alerts in one listing (/orgs/{org}/dependabot/alerts; needs an owner or security manager). Leave empty to read each repository's.",
    },
    { name: "codeScanning", label: "Also import code scanning alerts that name a CVE", type: "checkbox", editableWhenConnected: true, glance: true },
  ],
  defaultName: () => "GitHub Dependabot",
  async test(connection, ctx) {
    if (!connection.reused) throw new ExternalError("invalid_input", SERVICE, "Choose the connected GitHub integration whose repositories' alerts to import.");
    const client = createGitHubClient(connection.reused, ctx);
    // An App installation is not a user (GET /user refuses its token): its repositories answer instead.
    if (client.installation) await client.get("/installation/repositories?per_page=1");
    const login = await client.whoami();
    return {
      message: `Connected through GitHub as ${login}: alerts are read for its repositories on each scan.`,
      details: ["Scans every 6 hours and on Sync now; repositories without Dependabot alerts are skipped and counted."],
    };
  },
  troubleshoot(error) {
    if (error.kind === "permission") return { title: "Missing access to security alerts", steps: [error.message] };
    return undefined;
  },
  scanner: {
    intervalHours: 6,
    session: (connection, ctx) => new DependabotScan(connection, ctx),
  },
};
