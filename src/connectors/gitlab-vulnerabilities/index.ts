// GitLab vulnerability findings (GitLab Ultimate's dependency scanning) for the projects a
// connected GitLab integration reaches: GET /projects/:id/vulnerability_findings?scope=all,
// paged by X-Next-Page. Detected and confirmed findings are open; dismissed ones carry their
// reason (false positive / used in tests / not applicable → false positive; acceptable risk /
// mitigating control → risk accepted); resolved ones are no longer reported.
import { ExternalError } from "../../http.js";
import { createGitLabClient } from "../gitlab/index.js";
import { expectList, nextPage } from "../gitlab/client.js";
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
import { ecosystemOfFile } from "../../vuln/ecosystems.js";

const SERVICE = "GitLab Vulnerabilities";
const MAX_PAGES = 100;

const DISMISSALS: Record<string, "false_positive" | "risk_accepted"> = {
  false_positive: "false_positive",
  used_in_tests: "false_positive",
  not_applicable: "false_positive",
  acceptable_risk: "risk_accepted",
  mitigating_control: "risk_accepted",
};

interface GitLabFinding {
  id: number;
  uuid?: string;
  report_type?: string;
  name?: string;
  severity?: string;
  description?: string | null;
  solution?: string | null;
  state?: string;
  dismissal_reason?: string | null;
  identifiers?: { external_type?: string; external_id?: string; name?: string; url?: string }[];
  location?: { file?: string; image?: string; dependency?: { package?: { name?: string }; version?: string } };
  links?: { url?: string }[];
  created_at?: string;
  blob_path?: string;
}

const severityOf = (value: string | undefined): ScannerSeverity | null =>
  (({ critical: "critical", high: "high", medium: "medium", low: "low", info: "info" }) as Record<string, ScannerSeverity>)[String(value).toLowerCase()] ??
  null;

class GitLabVulnerabilityScan implements ScanSession {
  readonly #connection: ConnectionSettings;
  readonly #ctx: ConnectorContext;
  readonly #gitlabIntegration: number;

  constructor(connection: ConnectionSettings, ctx: ConnectorContext) {
    if (!ctx.workspace) throw new Error("GitLab vulnerability findings are read only by a background scan.");
    if (!connection.reused) throw new ExternalError("invalid_input", SERVICE, "Choose the connected GitLab integration whose projects' findings to import.");
    this.#connection = connection.reused as ConnectionSettings;
    this.#ctx = ctx;
    this.#gitlabIntegration = Number(connection.settings.integration);
    this.fetchPage = repositoryPages(
      ctx.workspace,
      (r) => r.integrationId === this.#gitlabIntegration,
      (r) => this.#project(r),
    );
  }

  readonly fetchPage: ScanSession["fetchPage"];

  async #project(project: WorkspaceRepository): Promise<ScannerRecord[]> {
    const client = createGitLabClient(this.#connection, this.#ctx);
    const findings: GitLabFinding[] = [];
    let page: string | null = "1";
    for (let n = 0; page && n < MAX_PAGES; n++) {
      try {
        const { data, response } = await client.get<unknown>(
          `/projects/${encodeURIComponent(project.fullName)}/vulnerability_findings?scope=all&report_type=dependency_scanning,container_scanning&per_page=100&page=${page}`,
        );
        findings.push(...expectList<GitLabFinding>(data, "the vulnerability findings"));
        page = nextPage(response);
      } catch (err) {
        // 403: no access to the security dashboard, or not Ultimate; 404: the feature is absent.
        if (err instanceof ExternalError && (err.status === 403 || err.status === 404) && err.kind !== "auth") {
          return [
            {
              externalId: `${project.id}:unavailable`,
              raw: { project: project.fullName },
              skip: `vulnerability findings not available for the project (${err.remoteMessage ?? `HTTP ${err.status}`}; GitLab Ultimate and the Developer role are needed)`,
            },
          ];
        }
        throw err;
      }
    }
    const records: ScannerRecord[] = [];
    for (const f of findings) {
      const externalId = `${project.id}:${f.uuid ?? f.id}`;
      if (f.state === "resolved") continue;
      const dismissedAs = f.state === "dismissed" ? DISMISSALS[String(f.dismissal_reason)] : undefined;
      if (f.state === "dismissed" && !dismissedAs) {
        records.push({ externalId, raw: f, skip: "dismissed in GitLab without a reason Patchbay maps" });
        continue;
      }
      if (f.report_type === "container_scanning" || f.location?.image) {
        records.push({
          externalId,
          raw: f,
          skip: "container scanning findings name images by tag, not digest (upload the scanner's report with the image digest instead)",
        });
        continue;
      }
      const name = f.location?.dependency?.package?.name;
      const version = f.location?.dependency?.version;
      const cve =
        f.identifiers?.find((i) => String(i.external_type).toLowerCase() === "cve")?.external_id ??
        f.identifiers?.find((i) => /^GHSA-/i.test(String(i.external_id)))?.external_id;
      if (!name || !version || !cve) {
        records.push({ externalId, raw: f, skip: "finding without a CVE, package and version" });
        continue;
      }
      const file = f.location?.file ?? "";
      const finding: ScannedFinding = {
        cve: /^CVE-/i.test(cve) ? cve.toUpperCase() : cve,
        title: f.name ?? `${cve} in ${name}`,
        description: [f.description, f.solution].filter(Boolean).join("\n\n").slice(0, 4000) || null,
        severity: severityOf(f.severity) ?? "medium",
        cvss: null,
        ecosystem: ecosystemOfFile(file),
        package: name,
        installedVersion: version,
        fixedVersion: /(?:Upgrade|update) to (?:version )?v?([\w.+-]*\d)/i.exec(f.solution ?? "")?.[1] ?? null,
        firstDetectedAt: f.created_at ?? new Date().toISOString(),
        lastSeenAt: new Date().toISOString(),
        asset: { kind: "repository", repositoryName: project.fullName, url: project.url, details: { manifest: file } },
        url: project.url ? `${project.url}/-/security/vulnerability_report` : null,
        ...(dismissedAs ? { dismissed: { status: dismissedAs, reason: `Dismissed in GitLab: ${String(f.dismissal_reason).replace(/_/g, " ")}` } } : {}),
      };
      const { lastSeenAt: _seen, ...stable } = finding;
      records.push({ externalId, raw: { state: f.state, ...stable }, finding });
    }
    return records;
  }
}

export const gitlabVulnerabilities: Connector = {
  multiInstance: true,
  card: {
    kind: "gitlab-vulnerabilities",
    name: "GitLab Vulnerabilities",
    category: "scanners",
    summary: "Import vulnerability findings from GitLab's dependency scanning.",
    overview: {
      description:
        "Import the findings of GitLab's dependency scanning for the projects a connected GitLab integration reaches. Detected and confirmed findings are open; dismissed ones keep GitLab's reason (false positive, used in tests, not applicable → false positive; acceptable risk, mitigating control → risk accepted); resolved ones are resolved here too.",
      benefits: [
        "Findings of GitLab's scanners next to your other scanners'",
        "Dismissals and resolutions followed automatically",
        "One finding per vulnerability, whichever tool reports it",
      ],
      requirements: [
        "A connected GitLab integration whose token has the api or read_api scope and the Developer role",
        "GitLab Ultimate (the vulnerability findings API)",
      ],
      docs: [{ label: "GitLab: Vulnerability findings API", url: "https://docs.gitlab.com/api/vulnerability_findings/" }],
    },
  },
  fields: [
    {
      name: "integration",
      label: "GitLab integration",
      type: "integration",
      integrationKind: "gitlab",
      required: true,
      glance: true,
      help: "Findings are read for the projects this integration lists.",
    },
  ],
  defaultName: () => "GitLab Vulnerabilities",
  async test(connection, ctx) {
    if (!connection.reused) throw new ExternalError("invalid_input", SERVICE, "Choose the connected GitLab integration whose projects' findings to import.");
    const { data } = await createGitLabClient(connection.reused as ConnectionSettings, ctx).get<{ username?: string }>("/user");
    return {
      message: `Connected through GitLab as ${data.username ?? "the token's user"}: findings are read for its projects on each scan.`,
      details: ["Projects without GitLab Ultimate or dependency scanning are skipped and counted."],
    };
  },
  scanner: {
    intervalHours: 6,
    session: (connection, ctx) => new GitLabVulnerabilityScan(connection, ctx),
  },
};
