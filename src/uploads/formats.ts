// Scan report formats uploaded from CI, each read as a stream of selected values: SARIF 2.1.0,
// CycloneDX JSON with vulnerabilities (VEX), SPDX 2.3 JSON (an SBOM: its packages are looked
// up in OSV afterwards), Trivy JSON, Grype JSON, OSV-Scanner JSON and npm audit JSON (v1 and
// v2). Each turns its records into UploadItems; what the format cannot say (npm audit v2's
// installed versions, an SBOM's vulnerabilities) is left for the import to complete.
import type { ScannerSeverity } from "../connectors/types.js";
import { cvssBaseScore } from "../vuln/cvss.js";
import type { JsonPath, Selector } from "./json-stream.js";
import { osvPackage, parsePurl } from "./purl.js";
import { skipSpace } from "../text.js";
import { ecosystemOfFile, osvEcosystem } from "../vuln/ecosystems.js";
import { packageKey } from "../vuln/packages.js";
import { versionsAbove } from "../vuln/versions/index.js";
import { advisoryIdIn, advisoryIds, labelledLine, orderIds, packageFromMessage } from "../vuln/advisories.js";

export type FormatId = "sarif" | "cyclonedx" | "cyclonedx-xml" | "spdx" | "trivy" | "grype" | "osv-scanner" | "npm-audit";

export const FORMAT_LABELS: Record<FormatId, string> = {
  sarif: "SARIF 2.1.0",
  cyclonedx: "CycloneDX JSON",
  "cyclonedx-xml": "CycloneDX XML",
  spdx: "SPDX 2.3 JSON",
  trivy: "Trivy JSON",
  grype: "Grype JSON",
  "osv-scanner": "OSV-Scanner JSON",
  "npm-audit": "npm audit JSON",
};

/** One vulnerability in one package, as a report states it. */
export interface UploadItem {
  /** Every identifier the report gives (CVE-…, GHSA-…, PYSEC-…), the primary first. */
  ids: string[];
  package: string;
  ecosystem: string | null;
  /** Empty when the report does not say (npm audit v2): the import looks it up. */
  installedVersion: string;
  fixedVersion: string | null;
  severity: ScannerSeverity | null;
  cvss: number | null;
  title: string | null;
  description: string | null;
  url: string | null;
  /** Where in the asset: a lockfile, an image layer's target, a SARIF location. */
  location: string | null;
  /** A VEX or dismissal statement: not affected → false positive; resolved → not imported. */
  analysis?: { state: "false_positive" | "resolved"; detail: string };
  /** The scanner's own word for the vulnerability's state (Trivy: fixed, will_not_fix, …), kept on the source. */
  scannerStatus?: string;
  /** In a report about many images (trivy k8s): the image this record is about, "name@sha256:…" or "name:tag". */
  image?: string;
}

/** A package an SBOM lists, to look up in OSV. */
export interface SbomPackage {
  ecosystem: string;
  name: string;
  version: string;
  location: string | null;
  /** Advisories the SBOM itself says affect the package (SPDX SECURITY references): checked against OSV's ranges. */
  claims?: string[];
}

export interface ReportSummary {
  tool: string;
  /** What the report says it scanned: an image reference and digest, or a repository. */
  image?: string;
  digest?: string;
  repository?: string;
  /** A report about a Kubernetes cluster (trivy k8s): each record names its own image. */
  cluster?: string;
}

export interface FormatReader {
  selectors: Selector[];
  onValue(path: JsonPath, value: unknown): void;
  /** After the last value: what the report said about itself. */
  finish(): ReportSummary;
}

export interface Sink {
  item(item: UploadItem): void;
  sbom(pkg: SbomPackage): void;
  /** A record left out, with the reason (counted in the response). */
  skip(reason: string): void;
}

/**
 * A report Patchbay cannot read: "syntax" when its bytes are not well-formed (400), otherwise
 * its structure is not what the format writes (422).
 */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly kind: "syntax" | "structure" = "structure",
  ) {
    super(message);
    this.name = "FormatError";
  }
}

/**
 * What each JSON format's top level must hold for a document to be read as that format: a
 * document without it would be read as an empty report ("201, created 0"), and a full=true
 * upload would resolve every open finding of that tool on the asset.
 */
export const FORMAT_SHAPES: Record<
  Exclude<FormatId, "cyclonedx-xml">,
  { expects: string; test(keys: Set<string>, root: "object" | "array" | "other" | undefined, values: number): boolean }
> = {
  // The older layout is an array of results: it counts when something in it was read.
  trivy: {
    expects:
      'a Trivy JSON report (an object with "SchemaVersion" and "Results", an array of results, or a "trivy k8s" report with "ClusterName" and "Resources")',
    test: (k, root, values) =>
      root === "array"
        ? values > 0
        : (k.has("SchemaVersion") && (k.has("Results") || k.has("ArtifactName"))) || (k.has("ClusterName") && K8S_KEYS.some((key) => k.has(key))),
  },
  grype: { expects: 'a Grype JSON report (an object with "matches")', test: (k) => k.has("matches") },
  "osv-scanner": { expects: 'an OSV-Scanner JSON report (an object with "results")', test: (k) => k.has("results") },
  "npm-audit": {
    expects: 'an npm audit --json report (an object with "vulnerabilities" or "advisories")',
    test: (k) => k.has("vulnerabilities") || k.has("advisories"),
  },
  sarif: { expects: 'a SARIF 2.1.0 log (an object with "version" and "runs")', test: (k) => k.has("runs") },
  cyclonedx: { expects: 'a CycloneDX JSON BOM (an object with "bomFormat")', test: (k) => k.has("bomFormat") },
  spdx: { expects: 'an SPDX 2.3 JSON document (an object with "spdxVersion")', test: (k) => k.has("spdxVersion") },
};

const obj = (v: unknown): Record<string, any> => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {});
const str = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const SEVERITY_WORDS: Record<string, ScannerSeverity> = {
  critical: "critical",
  high: "high",
  important: "high",
  medium: "medium",
  moderate: "medium",
  low: "low",
  negligible: "info",
  info: "info",
  informational: "info",
  none: "info",
};

export function severityWord(value: unknown): ScannerSeverity | null {
  return (
    SEVERITY_WORDS[
      String(value ?? "")
        .trim()
        .toLowerCase()
    ] ?? null
  );
}

/** The best CVSS score among vectors (v3 preferred) and stated scores; v4 vectors need a stated score. */
function bestScore(entries: { vector?: string | null; score?: number | null }[]): number | null {
  let best: number | null = null;
  for (const e of entries) {
    const computed = e.vector ? cvssBaseScore(e.vector) : null;
    // A stated 0 without a vector is how some tools write "no score" (npm audit).
    const score = computed ?? (typeof e.score === "number" && e.score > 0 && e.score <= 10 ? e.score : null);
    if (score !== null && (best === null || score > best)) best = score;
  }
  return best;
}

// --- Trivy ---------------------------------------------------------------------------------

/** Trivy's result types, as OSV ecosystems (OS package types are kept as they are). */
const TRIVY_ECOSYSTEMS: Record<string, string> = {
  npm: "npm",
  yarn: "npm",
  pnpm: "npm",
  "node-pkg": "npm",
  bun: "npm",
  pip: "PyPI",
  pipenv: "PyPI",
  poetry: "PyPI",
  "python-pkg": "PyPI",
  uv: "PyPI",
  gomod: "Go",
  gobinary: "Go",
  jar: "Maven",
  pom: "Maven",
  gradle: "Maven",
  sbt: "Maven",
  bundler: "RubyGems",
  gemspec: "RubyGems",
  cargo: "crates.io",
  rustbinary: "crates.io",
  nuget: "NuGet",
  "dotnet-core": "NuGet",
  "packages-props": "NuGet",
  composer: "Packagist",
  "composer-vendor": "Packagist",
};

/** Where "trivy k8s" puts its resources: Resources (0.50+), Findings (--report all, consolidated), Vulnerabilities (before 0.40). */
const K8S_KEYS = ["Resources", "Findings", "Vulnerabilities"];

/**
 * The fix for the installed version among those a scanner lists ("2.12.7.1, 2.13.4.1" for
 * 2.13.4 is 2.13.4.1): the lowest above it by the ecosystem's ordering, else the first listed.
 */
function lowestFix(ecosystem: string | null, installed: string, listed: unknown[]): string | null {
  const fixes = listed.map((f) => String(f ?? "").trim()).filter(Boolean);
  return versionsAbove(ecosystem, installed, fixes)[0] ?? fixes[0] ?? null;
}

/** One vulnerability of a Trivy result, as an item. */
function trivyItem(value: unknown, type: string | null, location: string | null): UploadItem {
  const v = obj(value);
  const cvss = Object.values(obj(v.CVSS)).map(obj);
  const status = str(v.Status);
  const ecosystem = type ? (TRIVY_ECOSYSTEMS[type] ?? type) : null;
  return {
    ids: orderIds([v.VulnerabilityID]),
    package: str(v.PkgName) ?? str(v.PkgID) ?? "",
    ecosystem,
    installedVersion: str(v.InstalledVersion) ?? "",
    fixedVersion: lowestFix(ecosystem, str(v.InstalledVersion) ?? "", (str(v.FixedVersion) ?? "").split(",")),
    severity: severityWord(v.Severity),
    cvss: bestScore(
      cvss.flatMap((c) => [
        { vector: c.V3Vector, score: c.V3Score },
        { vector: c.V40Vector, score: c.V40Score },
        { vector: c.V2Vector, score: c.V2Score },
      ]),
    ),
    title: str(v.Title),
    description: str(v.Description),
    url: str(v.PrimaryURL),
    location,
    ...(status ? { scannerStatus: status } : {}),
    // Trivy's Status: only not_affected (a VEX statement it applied) leaves the open set;
    // fixed, affected, will_not_fix, fix_deferred, end_of_life, under_investigation stay open.
    ...(status === "not_affected" ? { analysis: { state: "false_positive" as const, detail: "Trivy: not affected (a VEX statement Trivy applied)" } } : {}),
  };
}

/** An image reference from Trivy's metadata: by digest where it gives one. */
function trivyImage(metadata: Record<string, any>): string | undefined {
  const digest = arr(metadata.RepoDigests)
    .map(String)
    .find((d) => /@sha256:[0-9a-f]{64}$/.test(d));
  return digest ?? str(arr(metadata.RepoTags)[0]) ?? undefined;
}

/** "docker.io/library/nginx:1.25 (debian 12.4)" → the image; a file path target → undefined. */
function imageOfTarget(target: string | null, type: string | null): string | undefined {
  if (!target || !type || TRIVY_ECOSYSTEMS[type]) return undefined;
  const paren = target.indexOf(" (");
  return paren > 0 ? target.slice(0, paren) : undefined;
}

function trivy(sink: Sink): FormatReader {
  const summary: ReportSummary = { tool: "Trivy" };
  let target: string | null = null;
  let type: string | null = null;
  let artifactType: string | null = null;
  // trivy k8s: the resource being read. Trivy writes its Metadata (the image) before its
  // Results, so items go out as they are read; only a resource whose image is not known yet
  // holds its items until it ends.
  type Resource = { index: number; namespace: string; kind: string; name: string; image?: string; osImage?: string; items: UploadItem[] };
  let resource: Resource | null = null;
  const emit = (r: Resource, item: UploadItem, image: string | undefined) =>
    sink.item({ ...item, location: `${[r.namespace, r.kind, r.name].filter(Boolean).join("/")}: ${item.location ?? ""}`, ...(image ? { image } : {}) });
  const flushResource = () => {
    if (!resource) return;
    for (const item of resource.items) emit(resource, item, resource.image ?? resource.osImage);
    resource = null;
  };
  const k8sSelectors = K8S_KEYS.flatMap((k): Selector[] => [
    [k, "*", "Namespace"],
    [k, "*", "Kind"],
    [k, "*", "Name"],
    [k, "*", "Metadata"],
    [k, "*", "Results", "*", "Target"],
    [k, "*", "Results", "*", "Type"],
    [k, "*", "Results", "*", "Vulnerabilities", "*"],
  ]);
  return {
    // The current layout (Results[]), the older one (the results as the top-level array), and
    // trivy k8s reports (a cluster's resources, each with its image's results).
    selectors: [
      ["ArtifactName"],
      ["ArtifactType"],
      ["Metadata", "RepoDigests"],
      ["Metadata", "RepoURL"],
      ["Results", "*", "Target"],
      ["Results", "*", "Type"],
      ["Results", "*", "Vulnerabilities", "*"],
      ["*", "Target"],
      ["*", "Type"],
      ["*", "Vulnerabilities", "*"],
      ["ClusterName"],
      ...k8sSelectors,
    ],
    onValue(path, value) {
      const key = path[0];
      if (key === "ClusterName") summary.cluster = str(value) ?? "unnamed cluster";
      else if (typeof key === "string" && K8S_KEYS.includes(key) && typeof path[1] === "number" && path.length > 2) {
        if (resource?.index !== path[1]) {
          flushResource();
          resource = { index: path[1], namespace: "", kind: "", name: "", items: [] };
        }
        const field = path[2];
        if (field === "Namespace") resource.namespace = str(value) ?? "";
        else if (field === "Kind") resource.kind = str(value) ?? "";
        else if (field === "Name") resource.name = str(value) ?? "";
        else if (field === "Metadata") resource.image = trivyImage(obj(arr(value)[0] ?? value));
        else if (path.at(-1) === "Target") {
          target = str(value);
          type = null;
        } else if (path.at(-1) === "Type") {
          type = str(value);
          resource.osImage ??= imageOfTarget(target, type);
        } else if (resource.image) emit(resource, trivyItem(value, type, target), resource.image);
        else resource.items.push(trivyItem(value, type, target));
      } else if (key === "ArtifactName") summary.image = str(value) ?? undefined;
      else if (key === "ArtifactType") artifactType = str(value);
      else if (key === "Metadata" && path[1] === "RepoDigests")
        summary.digest = arr(value)
          .map((d) => /@(sha256:[0-9a-f]{64})$/.exec(String(d))?.[1])
          .find(Boolean);
      else if (key === "Metadata" && path[1] === "RepoURL") summary.repository = str(value) ?? undefined;
      else if (path.at(-1) === "Target") {
        target = str(value);
        type = null;
      } else if (path.at(-1) === "Type") type = str(value);
      else sink.item(trivyItem(value, type, target));
    },
    finish() {
      flushResource();
      if (summary.cluster) {
        delete summary.image;
        delete summary.repository;
      }
      if (artifactType && artifactType !== "container_image") {
        // A repository or filesystem scan names no image.
        if (artifactType === "repository") summary.repository ??= summary.image;
        delete summary.image;
      }
      return summary;
    },
  };
}

// --- Grype -----------------------------------------------------------------------------------

const GRYPE_ECOSYSTEMS: Record<string, string> = {
  npm: "npm",
  python: "PyPI",
  "go-module": "Go",
  "java-archive": "Maven",
  gem: "RubyGems",
  "rust-crate": "crates.io",
  dotnet: "NuGet",
  "php-composer": "Packagist",
};

function grype(sink: Sink): FormatReader {
  const summary: ReportSummary = { tool: "Grype" };
  return {
    selectors: [["matches", "*"], ["source"]],
    onValue(path, value) {
      if (path[0] === "source") {
        const target = obj(obj(value).target);
        if (obj(value).type === "image") {
          summary.image = str(target.userInput) ?? undefined;
          summary.digest =
            str(target.manifestDigest) ??
            arr(target.repoDigests)
              .map((d) => /@(sha256:[0-9a-f]{64})$/.exec(String(d))?.[1])
              .find(Boolean);
        }
        return;
      }
      const m = obj(value);
      const v = obj(m.vulnerability);
      const a = obj(m.artifact);
      const related = arr(m.relatedVulnerabilities).map(obj);
      const fix = obj(v.fix);
      const purl = str(a.purl) ? parsePurl(a.purl) : undefined;
      const pkg = purl ? osvPackage(purl) : undefined;
      sink.item({
        ids: orderIds([v.id, ...related.map((r) => r.id)]),
        package: pkg?.name ?? str(a.name) ?? "",
        ecosystem: pkg?.ecosystem ?? GRYPE_ECOSYSTEMS[String(a.type)] ?? str(a.type),
        installedVersion: str(a.version) ?? "",
        fixedVersion: fix.state === "fixed" ? lowestFix(pkg?.ecosystem ?? str(a.type), str(a.version) ?? "", arr(fix.versions)) : null,
        severity: severityWord(v.severity) ?? related.map((r) => severityWord(r.severity)).find(Boolean) ?? null,
        cvss: bestScore([...arr(v.cvss), ...related.flatMap((r) => arr(r.cvss))].map(obj).map((c) => ({ vector: c.vector, score: obj(c.metrics).baseScore }))),
        title: null,
        description: str(v.description) ?? related.map((r) => str(r.description)).find(Boolean) ?? null,
        url: str(v.dataSource) ?? str(arr(v.urls)[0]),
        location: str(obj(arr(a.locations)[0]).path),
      });
    },
    finish: () => summary,
  };
}

// --- OSV-Scanner -----------------------------------------------------------------------------

function osvScanner(sink: Sink): FormatReader {
  let source: string | null = null;
  return {
    selectors: [
      ["results", "*", "source"],
      ["results", "*", "packages", "*"],
    ],
    onValue(path, value) {
      if (path[2] === "source") {
        source = str(obj(value).path);
        return;
      }
      const p = obj(value);
      const pkg = obj(p.package);
      const groups = arr(p.groups).map(obj);
      const vulns = new Map(
        arr(p.vulnerabilities)
          .map(obj)
          .map((v) => [String(v.id), v]),
      );
      // One item per group: the ids OSV-Scanner grouped as one vulnerability.
      const sets = groups.length ? groups.map((g) => arr(g.ids).map(String)) : [...vulns.keys()].map((id) => [id]);
      for (const [i, ids] of sets.entries()) {
        const records = ids.map((id) => vulns.get(id)).filter((v): v is Record<string, any> => Boolean(v));
        const aliases = records.flatMap((r) => arr(r.aliases).map(String));
        const maxSeverity = Number(groups[i]?.max_severity);
        const same = (name: unknown) => packageKey(str(pkg.ecosystem), String(name ?? "")) === packageKey(str(pkg.ecosystem), String(pkg.name ?? ""));
        const fixes = records.flatMap((r) =>
          arr(r.affected)
            .map(obj)
            .filter((a) => same(obj(a.package).name))
            .flatMap((a) =>
              arr(a.ranges)
                .map(obj)
                .flatMap((rg) =>
                  arr(rg.events)
                    .map(obj)
                    .map((e) => str(e.fixed)),
                ),
            ),
        );
        sink.item({
          ids: orderIds([...ids, ...aliases, ...arr(groups[i]?.aliases).map(String)]),
          package: str(pkg.name) ?? "",
          ecosystem: str(pkg.ecosystem),
          installedVersion: str(pkg.version) ?? "",
          fixedVersion: lowestFix(str(pkg.ecosystem), str(pkg.version) ?? "", fixes),
          severity: records.map((r) => severityWord(obj(r.database_specific).severity)).find(Boolean) ?? null,
          cvss:
            Number.isFinite(maxSeverity) && maxSeverity > 0
              ? maxSeverity
              : bestScore(
                  records.flatMap((r) =>
                    arr(r.severity)
                      .map(obj)
                      .map((s) => ({ vector: s.score })),
                  ),
                ),
          title: records.map((r) => str(r.summary)).find(Boolean) ?? null,
          description: records.map((r) => str(r.details)).find(Boolean) ?? null,
          url: ids[0] ? `https://osv.dev/vulnerability/${ids[0]}` : null,
          location: source,
        });
      }
    },
    finish: () => ({ tool: "OSV-Scanner" }),
  };
}

// --- npm audit -------------------------------------------------------------------------------

function npmAudit(sink: Sink): FormatReader {
  return {
    // v2 (npm 7+): vulnerabilities by package; v1 (npm 6): advisories with the versions found.
    selectors: [
      ["vulnerabilities", "*"],
      ["advisories", "*"],
    ],
    onValue(path, value) {
      const v = obj(value);
      if (path[0] === "advisories") {
        const versions = [
          ...new Set(
            arr(v.findings)
              .map((f) => str(obj(f).version))
              .filter((x): x is string => Boolean(x)),
          ),
        ];
        const ghsa = str(v.github_advisory_id) ?? /GHSA-[\w-]+/.exec(String(v.url ?? ""))?.[0];
        for (const version of versions) {
          sink.item({
            ids: orderIds([...arr(v.cves).map(String), ghsa]),
            package: str(v.module_name) ?? "",
            ecosystem: "npm",
            installedVersion: version,
            fixedVersion: /^>=\s*([\w.-]+)$/.exec(String(v.patched_versions ?? ""))?.[1] ?? null,
            severity: severityWord(v.severity),
            cvss: bestScore([{ vector: obj(v.cvss).vectorString, score: obj(v.cvss).score }]),
            title: str(v.title),
            description: str(v.overview),
            url: str(v.url),
            location: null,
          });
        }
        return;
      }
      // v2: only the advisories on this package itself ("via" objects); names are transitive.
      for (const via of arr(v.via)) {
        if (typeof via !== "object" || via === null) continue;
        const a = obj(via);
        if (a.name !== v.name) continue;
        sink.item({
          ids: orderIds([/GHSA-[\w-]+/.exec(String(a.url ?? ""))?.[0]]),
          package: str(v.name) ?? "",
          ecosystem: "npm",
          installedVersion: "",
          fixedVersion: null,
          severity: severityWord(a.severity),
          cvss: bestScore([{ vector: obj(a.cvss).vectorString, score: obj(a.cvss).score }]),
          title: str(a.title),
          description: str(a.range) ? `Vulnerable versions: ${a.range}` : null,
          url: str(a.url),
          location: arr(v.nodes).map(String)[0] ?? null,
        });
      }
    },
    finish: () => ({ tool: "npm audit" }),
  };
}

// --- SARIF -----------------------------------------------------------------------------------

function sarif(sink: Sink): FormatReader {
  const rules = new Map<string, Record<string, any>>();
  let tool = "SARIF";
  let version: string | null = null;
  return {
    selectors: [["version"], ["runs", "*", "tool", "driver", "name"], ["runs", "*", "tool", "driver", "rules", "*"], ["runs", "*", "results", "*"]],
    onValue(path, value) {
      if (path[0] === "version") {
        version = str(value);
        if (version !== "2.1.0") throw new FormatError(`SARIF version ${String(value)} is not supported: upload SARIF 2.1.0.`);
        return;
      }
      if (path[4] === "name") {
        tool = str(value) ?? tool;
        rules.clear();
        return;
      }
      if (path[4] === "rules") {
        const r = obj(value);
        if (str(r.id)) rules.set(r.id, r);
        return;
      }
      const result = obj(value);
      const rule = rules.get(String(result.ruleId ?? "")) ?? obj(arr([...rules.values()])[Number(result.ruleIndex)]);
      const props = { ...obj(rule.properties), ...obj(result.properties) };
      const message = String(obj(result.message).text ?? "");
      const tags = arr(props.tags).map(String);
      const ids = advisoryIds(`${result.ruleId ?? ""} ${tags.join(" ")} ${message}`);
      if (!ids.length) {
        sink.skip("no CVE or advisory identifier (code scanning rules are not imported)");
        return;
      }
      // Where real tools put the package: a purl or properties (Black Duck's component and
      // componentVersion), the message (Trivy's, Grype's two wordings), the rule's help text.
      const fromMessage = packageFromMessage(message);
      const help = obj(rule.help);
      const helpText = `${str(help.text) ?? ""}\n${str(help.markdown) ?? ""}`;
      const fromHelp = packageFromMessage(helpText);
      const purl = str(props.purl) ? parsePurl(props.purl) : undefined;
      const location = str(obj(obj(obj(arr(result.locations)[0]).physicalLocation).artifactLocation).uri);
      const score = Number(props["security-severity"]);
      const name = purl?.name ?? str(props.packageName) ?? str(props.component) ?? fromMessage.name ?? fromHelp.name;
      if (!name) {
        sink.skip("no package named: the SARIF result's message, rule help text and properties name none");
        return;
      }
      sink.item({
        ids,
        package: name,
        // The purl's; else Grype's "Type:" help line, Black Duck's componentOrigin, the lockfile.
        ecosystem: purl
          ? (osvPackage(purl)?.ecosystem ?? purl.type)
          : (osvEcosystem(GRYPE_ECOSYSTEMS[labelledLine(helpText, "Type:") ?? ""] ?? str(props.componentOrigin)) ??
            (location ? ecosystemOfFile(location) : null)),
        installedVersion: purl?.version ?? str(props.installedVersion) ?? str(props.componentVersion) ?? fromMessage.version ?? fromHelp.version ?? "",
        fixedVersion: str(props.fixedVersion) ?? fromMessage.fixed ?? fromHelp.fixed ?? null,
        severity:
          severityWord(props.severity) ??
          (Number.isFinite(score) && score > 0
            ? null
            : result.level === "error"
              ? "high"
              : result.level === "warning"
                ? "medium"
                : result.level === "note"
                  ? "low"
                  : null),
        cvss: Number.isFinite(score) && score > 0 ? score : null,
        title: str(obj(rule.shortDescription).text) ?? str(rule.name),
        description: str(obj(rule.fullDescription).text) ?? (message || null),
        url: str(rule.helpUri),
        location,
      });
    },
    finish: () => {
      if (!version) throw new FormatError('The SARIF file has no "version": upload SARIF 2.1.0.');
      return { tool };
    },
  };
}

// --- CycloneDX (JSON; the XML reader shares the record handling) ------------------------------

export interface CdxComponent {
  ref: string | null;
  name: string;
  group: string | null;
  version: string | null;
  purl: string | null;
}

export interface CdxVulnerability {
  id: string;
  references: string[];
  ratings: { severity?: string | null; score?: number | null; vector?: string | null }[];
  description: string | null;
  detail: string | null;
  affects: string[];
  url: string | null;
  analysis: { state: string | null; justification: string | null; detail: string | null };
  recommendation: string | null;
}

/** Turns a CycloneDX document's components and vulnerabilities into items (or SBOM packages). */
export class CycloneDxCollector {
  readonly components = new Map<string, CdxComponent>();
  readonly all: CdxComponent[] = [];
  readonly vulnerabilities: CdxVulnerability[] = [];
  tool = "CycloneDX";
  subject: CdxComponent | null = null;

  component(c: CdxComponent): void {
    this.all.push(c);
    if (c.ref) this.components.set(c.ref, c);
  }

  flush(sink: Sink): ReportSummary {
    const pkg = (c: CdxComponent) => {
      const purl = c.purl ? parsePurl(c.purl) : undefined;
      const osv = purl ? osvPackage(purl) : undefined;
      return {
        name: osv?.name ?? (c.group ? `${c.group}:${c.name}` : c.name),
        ecosystem: osv?.ecosystem ?? purl?.type ?? null,
        version: c.version ?? purl?.version ?? "",
      };
    };
    if (this.vulnerabilities.length === 0) {
      // An SBOM without vulnerabilities: its packages are looked up like the dependency monitor's.
      for (const c of this.all) {
        const p = pkg(c);
        if (p.ecosystem && p.version && c.purl && osvPackage(parsePurl(c.purl)!))
          sink.sbom({ ecosystem: p.ecosystem, name: p.name, version: p.version, location: null });
      }
    }
    for (const v of this.vulnerabilities) {
      const state = v.analysis.state;
      for (const ref of v.affects) {
        // The usual VEX case: the statement is about the document's own product (metadata.component).
        const self = this.subject && this.subject.ref === ref ? this.subject : undefined;
        const component =
          this.components.get(ref) ??
          self ??
          (ref.startsWith("pkg:") ? { ref, name: parsePurl(ref)?.name ?? ref, group: null, version: parsePurl(ref)?.version ?? null, purl: ref } : undefined);
        if (!component) {
          sink.skip("affects a component the document does not list");
          continue;
        }
        const p = pkg(component);
        const severity = v.ratings.map((r) => severityWord(r.severity)).find(Boolean) ?? null;
        sink.item({
          ids: orderIds([v.id, ...v.references]),
          package: p.name,
          ecosystem: p.ecosystem,
          installedVersion: p.version,
          // "Upgrade to 2.0", "Upgrade jsonwebtoken to version 9.0.0" (Trivy, Grype, Dependency-Track).
          fixedVersion: /(?:upgrade|update)\s+(?:[^\s]+\s+)?to\s+(?:version\s+)?v?([\w.+-]+\d)/i.exec(v.recommendation ?? "")?.[1] ?? null,
          severity: severity === "info" && v.ratings.some((r) => r.severity === "unknown") ? null : severity,
          cvss: bestScore(v.ratings),
          title: v.description ? v.description.split("\n")[0]!.slice(0, 200) : null,
          description: [v.description, v.detail].filter(Boolean).join("\n\n") || null,
          url: v.url,
          location: null,
          ...(state === "not_affected" || state === "false_positive"
            ? {
                analysis: {
                  state: "false_positive" as const,
                  detail: `VEX: ${state}${v.analysis.justification ? ` (${v.analysis.justification})` : ""}${v.analysis.detail ? `: ${v.analysis.detail}` : ""}`,
                },
              }
            : state === "resolved" || state === "resolved_with_pedigree"
              ? { analysis: { state: "resolved" as const, detail: `VEX: ${state}` } }
              : {}),
        });
      }
    }
    const subject = this.subject?.purl ? parsePurl(this.subject.purl) : undefined;
    return {
      tool: this.tool,
      ...(subject?.type === "oci" || subject?.type === "docker"
        ? { image: this.subject!.name, digest: subject.version && /^sha256:/.test(subject.version) ? subject.version : undefined }
        : {}),
    };
  }
}

function cycloneDxComponent(value: unknown, out: CdxComponent[]): void {
  const c = obj(value);
  if (str(c.name)) out.push({ ref: str(c["bom-ref"]), name: c.name.trim(), group: str(c.group), version: str(c.version), purl: str(c.purl) });
  for (const nested of arr(c.components)) cycloneDxComponent(nested, out);
}

function cycloneDx(sink: Sink): FormatReader {
  const collector = new CycloneDxCollector();
  let isCycloneDx = false;
  return {
    selectors: [["bomFormat"], ["metadata", "component"], ["metadata", "tools"], ["components", "*"], ["vulnerabilities", "*"]],
    onValue(path, value) {
      if (path[0] === "bomFormat") {
        isCycloneDx = value === "CycloneDX";
        return;
      }
      if (path[0] === "metadata" && path[1] === "component") {
        const out: CdxComponent[] = [];
        cycloneDxComponent(value, out);
        collector.subject = out[0] ?? null;
        return;
      }
      if (path[0] === "metadata") {
        // tools: an array (1.4) or {components: [...]} (1.5+).
        const tools = Array.isArray(value) ? value : arr(obj(value).components);
        collector.tool = str(obj(tools[0]).name) ?? collector.tool;
        return;
      }
      if (path[0] === "components") {
        const out: CdxComponent[] = [];
        cycloneDxComponent(value, out);
        for (const c of out) collector.component(c);
        return;
      }
      const v = obj(value);
      collector.vulnerabilities.push({
        id: str(v.id) ?? "",
        references: arr(v.references).map((r) => String(obj(r).id ?? "")),
        ratings: arr(v.ratings)
          .map(obj)
          .map((r) => ({ severity: str(r.severity), score: typeof r.score === "number" ? r.score : null, vector: str(r.vector) })),
        description: str(v.description),
        detail: str(v.detail),
        affects: arr(v.affects)
          .map((a) => String(obj(a).ref ?? ""))
          .filter(Boolean),
        url: str(obj(v.source).url),
        analysis: { state: str(obj(v.analysis).state), justification: str(obj(v.analysis).justification), detail: str(obj(v.analysis).detail) },
        recommendation: str(v.recommendation),
      });
    },
    finish() {
      if (!isCycloneDx) throw new FormatError('The document has no "bomFormat": "CycloneDX"; is it a CycloneDX BOM?');
      return collector.flush(sink);
    },
  };
}

// --- SPDX ------------------------------------------------------------------------------------

function spdx(sink: Sink): FormatReader {
  let version: string | null = null;
  return {
    selectors: [["spdxVersion"], ["packages", "*"]],
    onValue(path, value) {
      if (path[0] === "spdxVersion") {
        version = str(value);
        if (version && !/^SPDX-2\.[23]$/.test(version)) throw new FormatError(`${version} is not supported: upload an SPDX 2.3 (or 2.2) JSON document.`);
        return;
      }
      const p = obj(value);
      const locator = arr(p.externalRefs)
        .map(obj)
        .find((r) => r.referenceType === "purl")?.referenceLocator;
      const purl = typeof locator === "string" ? parsePurl(locator) : undefined;
      const pkg = purl ? osvPackage(purl) : undefined;
      const pinned = purl?.version ?? str(p.versionInfo);
      // SECURITY references (advisory, url) naming a CVE or GHSA: claims OSV's ranges must confirm.
      const claims = orderIds(
        arr(p.externalRefs)
          .map(obj)
          .filter((r) => String(r.referenceCategory).toUpperCase().replace("_", "-") === "SECURITY" && ["advisory", "url"].includes(String(r.referenceType)))
          .map((r) => advisoryIdIn(String(r.referenceLocator ?? ""))),
      );
      if (!pkg || !pinned) {
        sink.skip("SBOM package without a package URL (purl) of a known ecosystem, or without a version");
        for (const _ of claims) sink.skip("SBOM security reference on a package without a package URL (purl) or version, so OSV cannot check it");
        return;
      }
      sink.sbom({ ecosystem: pkg.ecosystem, name: pkg.name, version: pinned, location: null, ...(claims.length ? { claims } : {}) });
    },
    finish() {
      if (!version) throw new FormatError('The document has no "spdxVersion"; is it an SPDX JSON document?');
      return { tool: "SPDX SBOM" };
    },
  };
}

export function formatReader(format: Exclude<FormatId, "cyclonedx-xml">, sink: Sink): FormatReader {
  switch (format) {
    case "trivy":
      return trivy(sink);
    case "grype":
      return grype(sink);
    case "osv-scanner":
      return osvScanner(sink);
    case "npm-audit":
      return npmAudit(sink);
    case "sarif":
      return sarif(sink);
    case "cyclonedx":
      return cycloneDx(sink);
    case "spdx":
      return spdx(sink);
  }
}

/**
 * The format of a report from its first bytes: XML with a <bom> is CycloneDX XML; JSON is told
 * by the top-level keys it opens with (Grype's "matches", Trivy's "SchemaVersion", …).
 */
export function detectFormat(head: string): FormatId | undefined {
  const text = head.replace(/^\uFEFF/, "").trimStart();
  if (text.startsWith("<")) return /<bom[\s>]/.test(text) ? "cyclonedx-xml" : undefined;
  const has = (key: string) => hasJsonKey(text, key);
  // Trivy before its SchemaVersion 2 (0.19): a top-level array of results.
  if (text.startsWith("[")) return has("Target") && (has("Vulnerabilities") || has("Type")) ? "trivy" : undefined;
  if (!text.startsWith("{")) return undefined;
  if (has("bomFormat")) return "cyclonedx";
  if (has("spdxVersion") || has("SPDXID")) return "spdx";
  if (has("SchemaVersion") && (has("ArtifactName") || has("Results"))) return "trivy";
  if (has("ClusterName") && K8S_KEYS.some(has)) return "trivy";
  if (has("runs") && (has("$schema") || has("version"))) return "sarif";
  if (has("auditReportVersion") || (has("advisories") && (has("muted") || has("actions")))) return "npm-audit";
  if (has("matches") && (has("vulnerability") || has("descriptor") || /"matches"\s*:\s*\[\s*\]/.test(text))) return "grype";
  if (has("results") && (has("packages") || has("source"))) return "osv-scanner";
  if (has("SchemaVersion")) return "trivy";
  return undefined;
}

/** Whether `"key"` followed by a colon (after white space) stands in the JSON text. */
function hasJsonKey(text: string, key: string): boolean {
  const quoted = `"${key}"`;
  for (let at = text.indexOf(quoted); at >= 0; at = text.indexOf(quoted, at + 1)) {
    if (text[skipSpace(text, at + quoted.length)] === ":") return true;
  }
  return false;
}
