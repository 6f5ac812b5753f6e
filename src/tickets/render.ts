// Ticket content, rendered from the findings a ticket covers: title, rich description
// (neutral blocks each tracker renders its own way), severity, due date, labels, and the
// ticket state the status map turns into a tracker status.
import { EMPTY_ROUTE, type Route, routeForFindings } from "../routing/ownership.js";
import type { Block, Span } from "../connectors/types.js";
import type { Db, FindingStatus, RemediationState, Severity } from "../db/schema.js";
import { SEVERITIES, SEVERITY_RANK, STATUS_LABEL } from "../findings/normalize.js";
import type { PatchbayField } from "./fields.js";
import { parseSubjectKey } from "./subjects.js";
import { type Data, templateData } from "./templates.js";
import { mappingFindingIds } from "./store.js";
import { newestOpenFindingIds } from "../findings/store.js";
import { withoutTrailingSlash } from "../text.js";
import { riskBand } from "../vuln/severity.js";

export type TicketState = "open" | "in_progress" | "done" | "accepted";
export const TICKET_STATES: TicketState[] = ["open", "in_progress", "done", "accepted"];
export const TICKET_STATE_LABEL: Record<TicketState, string> = {
  open: "Open (new, not yet fixed)",
  in_progress: "In progress (a remediation pull request is open)",
  done: "Done (resolved: fixed and merged)",
  accepted: "Accepted (risk accepted or false positive)",
};

export interface SubjectFinding {
  id: number;
  cve: string;
  title: string;
  description: string | null;
  severity: Severity;
  cvss: number | null;
  status: FindingStatus;
  package: string;
  ecosystem: string | null;
  installedVersion: string;
  fixedVersion: string | null;
  firstDetectedAt: string;
  assetName: string;
  repository: { fullName: string; url: string | null } | null;
  scannerUrl: string | null;
  /** Closed in a tracker, and open again because a scan still reports it. */
  stillDetected: boolean;
  /** Its remediation deadline (SLA), or null when its severity has none. */
  dueAt: string | null;
  /** Its risk score (0–100), or null before it is first scored. */
  risk: number | null;
  /** In CISA's Known Exploited Vulnerabilities (the feed, or the scanner's flag). */
  kev: boolean;
}

export interface SubjectRemediation {
  id: number;
  number: number;
  title: string;
  url: string;
  state: RemediationState;
  repository: string;
}

export interface SubjectView {
  key: string;
  /** How the subject is named in error tables and the changelog. */
  label: string;
  findings: SubjectFinding[];
  severity: Severity;
  cvss: number | null;
  /** The highest risk score among the findings considered, or null when none is scored yet. */
  risk: number | null;
  /** Whether any finding considered is in CISA's KEV. */
  kev: boolean;
  firstDetected: string;
  dueDate: string;
  state: TicketState;
  blocks: Block[];
  plainText: string;
  labels: string[];
  text: Partial<Record<PatchbayField, string>>;
  remediations: SubjectRemediation[];
  /** Ownership routing: owners, assignee, component, labels and channel for these findings. */
  route: Route;
}

const MAX_LISTED = 100;
const TITLE_MAX = 255;

export async function loadSubject(db: Db, subjectKey: string, findingIds: number[], baseUrl: string): Promise<SubjectView | undefined> {
  if (findingIds.length === 0) return undefined;
  const rows = await db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .leftJoin("repositories", "repositories.id", "assets.repository_id")
    .select([
      "findings.id",
      "findings.cve",
      "findings.title",
      "findings.description",
      "findings.severity",
      "findings.cvss",
      "findings.status",
      "findings.package",
      "findings.ecosystem",
      "findings.installed_version",
      "findings.fixed_version",
      "findings.first_detected_at",
      "findings.tracker_closed_at",
      "findings.due_at",
      "findings.risk",
      "findings.scanner_kev",
      "assets.name as asset_name",
      "repositories.full_name as repo_name",
      "repositories.url as repo_url",
      (eb) =>
        eb
          .selectFrom("finding_sources")
          .select("finding_sources.url")
          .whereRef("finding_sources.finding_id", "=", "findings.id")
          .where("finding_sources.url", "is not", null)
          .orderBy("finding_sources.id")
          .limit(1)
          .as("scanner_url"),
      (eb) => eb.selectFrom("kev_entries").select("kev_entries.cve").whereRef("kev_entries.cve", "=", "findings.cve").as("kev"),
    ])
    .where("findings.id", "in", findingIds)
    .orderBy("findings.severity_rank", "desc")
    .orderBy("findings.id")
    .execute();
  if (rows.length === 0) return undefined;
  const findings: SubjectFinding[] = rows.map((r) => ({
    id: r.id,
    cve: r.cve,
    title: r.title,
    description: r.description,
    severity: r.severity,
    cvss: r.cvss,
    status: r.status,
    package: r.package,
    ecosystem: r.ecosystem,
    installedVersion: r.installed_version,
    fixedVersion: r.fixed_version,
    firstDetectedAt: r.first_detected_at,
    assetName: r.asset_name,
    repository: r.repo_name ? { fullName: r.repo_name, url: r.repo_url } : null,
    scannerUrl: r.scanner_url ?? null,
    stillDetected: r.tracker_closed_at !== null && (r.status === "open" || r.status === "in_remediation"),
    dueAt: r.due_at,
    risk: Number(r.risk) >= 0 ? Number(r.risk) : null,
    kev: r.kev !== null || Number(r.scanner_kev) === 1,
  }));
  const remediations = (
    await db
      .selectFrom("remediation_findings")
      .innerJoin("remediations", "remediations.id", "remediation_findings.remediation_id")
      .innerJoin("repositories", "repositories.id", "remediations.repository_id")
      .select(["remediations.id", "remediations.number", "remediations.title", "remediations.url", "remediations.state", "repositories.full_name"])
      .where("remediation_findings.finding_id", "in", findingIds)
      // One row per pull request (several of its findings in the ticket); every column a joined table gives is grouped too (PostgreSQL asks).
      .groupBy(["remediations.id", "repositories.full_name"])
      .orderBy("remediations.id")
      .execute()
  ).map((r) => ({ id: r.id, number: r.number, title: r.title, url: r.url, state: r.state, repository: r.full_name }));
  return buildView(subjectKey, findings, remediations, baseUrl, await routeForFindings(db, findingIds));
}

export function buildView(
  key: string,
  findings: SubjectFinding[],
  remediations: SubjectRemediation[],
  baseUrl: string,
  route: Route = EMPTY_ROUTE,
): SubjectView {
  const subject = parseSubjectKey(key);
  const active = findings.filter((f) => f.status === "open" || f.status === "in_remediation");
  const considered = active.length ? active : findings;
  const severity = considered.reduce((max, f) => (SEVERITY_RANK[f.severity] > SEVERITY_RANK[max] ? f.severity : max), "info" as Severity);
  const cvssValues = considered.map((f) => f.cvss).filter((c): c is number => c !== null);
  const riskValues = considered.map((f) => f.risk).filter((r): r is number => r !== null);
  const risk = riskValues.length ? Math.max(...riskValues) : null;
  const kev = considered.some((f) => f.kev);
  const firstDetected = considered.map((f) => f.firstDetectedAt).sort()[0]!;
  // The earliest deadline among them (the SLA policy set each finding's); "" when none has one.
  const dueDate =
    considered
      .map((f) => f.dueAt)
      .filter((d): d is string => Boolean(d))
      .sort()[0]
      ?.slice(0, 10) ?? "";
  const state = ticketState(findings.map((f) => f.status));
  const one = findings[0]!;
  const single = subject?.groupBy === "finding";
  const findingUrl = (f: SubjectFinding) => `${withoutTrailingSlash(baseUrl)}/vulnerabilities/${f.id}`;
  const cves = [...new Set(considered.map((f) => f.cve))];
  const assets = [...new Set(considered.map((f) => f.assetName))];
  const repos = [...new Set(considered.map((f) => f.repository?.fullName).filter((r): r is string => Boolean(r)))];
  const packages = [...new Set(considered.map((f) => f.package))];

  const title = truncate(
    single
      ? `${one.cve} in ${one.package} ${one.installedVersion} (${one.assetName})`
      : subject?.groupBy === "package"
        ? `${one.package}: ${countText(considered.length, "vulnerability", "vulnerabilities")} (${severityCounts(considered)})`
        : subject?.groupBy === "owner"
          ? `${subject.owner || "Unowned"} — ${one.package}: ${countText(considered.length, "vulnerability", "vulnerabilities")} (${severityCounts(considered)})`
          : subject?.groupBy === "cve"
            ? `${one.cve}: ${countText(assets.length, "affected asset", "affected assets")} (${packages.join(", ")})`
            : `${one.assetName}: ${countText(considered.length, "vulnerability", "vulnerabilities")} (${severityCounts(considered)})`,
    TITLE_MAX,
  );
  const label = single
    ? `${one.cve} in ${one.package} ${one.installedVersion} on ${one.assetName}`
    : `Group: ${subject?.groupBy === "asset" ? `asset ${one.assetName}` : groupName(subject)}`;

  const blocks: Block[] = [];
  if (single) {
    if (one.description) blocks.push({ type: "paragraph", spans: [{ text: truncate(one.description, 4000) }] });
    blocks.push({
      type: "facts",
      rows: [
        { label: "Severity", value: [{ text: capitalize(one.severity) + (one.cvss !== null ? ` (CVSS ${one.cvss})` : "") }] },
        ...(risk !== null ? [{ label: "Risk", value: [{ text: riskText(risk) }] }] : []),
        ...(kev ? [{ label: "Known exploited", value: [{ text: "Yes: in CISA's Known Exploited Vulnerabilities" }] }] : []),
        { label: "Vulnerability", value: [{ text: one.cve, code: true }] },
        { label: "Package", value: [{ text: `${one.package}${one.ecosystem ? ` (${one.ecosystem})` : ""}`, code: true }] },
        { label: "Installed version", value: [{ text: one.installedVersion, code: true }] },
        { label: "Fixed version", value: [one.fixedVersion ? { text: one.fixedVersion, code: true } : { text: "No fix available yet" }] },
        { label: "Asset", value: [{ text: one.assetName }] },
        ...(one.repository ? [{ label: "Repository", value: [repoSpan(one.repository)] }] : []),
        { label: "First detected", value: [{ text: one.firstDetectedAt.slice(0, 10) }] },
        { label: "Due date", value: [{ text: dueDate || "none (no SLA for this severity)" }] },
        { label: "Status", value: [{ text: STATUS_LABEL[one.status] }] },
        ...(route.owners.length ? [{ label: "Owners", value: [{ text: route.owners.join(", ") }] }] : []),
      ],
    });
  } else {
    blocks.push({
      type: "facts",
      rows: [
        { label: "Highest severity", value: [{ text: capitalize(severity) }] },
        ...(risk !== null ? [{ label: "Highest risk", value: [{ text: riskText(risk) }] }] : []),
        ...(kev ? [{ label: "Known exploited", value: [{ text: "Yes: some are in CISA's Known Exploited Vulnerabilities" }] }] : []),
        { label: "Findings", value: [{ text: `${considered.length} open of ${findings.length}` }] },
        { label: "Due date", value: [{ text: dueDate || "none (no SLA for this severity)" }] },
        ...(route.owners.length ? [{ label: "Owners", value: [{ text: route.owners.join(", ") }] }] : []),
      ],
    });
    blocks.push({ type: "heading", text: "Findings" });
    const items: Span[][] = findings
      .slice(0, MAX_LISTED)
      .map((f) => [
        { text: f.cve, href: findingUrl(f) },
        { text: ` (${f.severity}) ` },
        { text: `${f.package} ${f.installedVersion}`, code: true },
        { text: f.fixedVersion ? ` → ${f.fixedVersion}` : " (no fix yet)" },
        { text: ` on ${f.assetName} — ${STATUS_LABEL[f.status]}` },
      ]);
    if (findings.length > MAX_LISTED) items.push([{ text: `… and ${findings.length - MAX_LISTED} more in Patchbay.` }]);
    blocks.push({ type: "list", items });
  }
  if (remediations.length) {
    blocks.push({ type: "heading", text: "Remediation" });
    blocks.push({
      type: "list",
      items: remediations.map((r) => [{ text: `${r.repository}#${r.number} ${r.title}`, href: r.url }, { text: ` — ${r.state}` }]),
    });
  }
  const links: Span[] = [
    { text: "View in Patchbay", href: single ? findingUrl(one) : `${withoutTrailingSlash(baseUrl)}/vulnerabilities?${groupQuery(subject)}` },
  ];
  if (single && one.scannerUrl) links.push({ text: " · " }, { text: "View in the scanner", href: one.scannerUrl });
  blocks.push({ type: "paragraph", spans: links });

  const text: Partial<Record<PatchbayField, string>> = {
    title,
    severity: capitalize(severity),
    cve: cves.join(", "),
    package: packages.join(", "),
    installed_version: [...new Set(considered.map((f) => f.installedVersion))].join(", "),
    fixed_version: [...new Set(considered.map((f) => f.fixedVersion).filter(Boolean))].join(", "),
    asset: assets.join(", "),
    repository: repos.join(", "),
    finding_link: single ? findingUrl(one) : `${withoutTrailingSlash(baseUrl)}/vulnerabilities?${groupQuery(subject)}`,
    scanner_link: single ? (one.scannerUrl ?? "") : "",
    assignee: route.assignee ?? "",
    component: route.component ?? "",
    risk: risk === null ? "" : String(risk),
    kev: kev ? "Yes" : "No",
  };
  return {
    key,
    label,
    findings,
    severity,
    cvss: cvssValues.length ? Math.max(...cvssValues) : null,
    risk,
    kev,
    firstDetected,
    dueDate,
    state,
    blocks,
    plainText: plain(blocks),
    labels: [...new Set(["security", `severity-${severity}`, ...cves.slice(0, 10).map((c) => c.toLowerCase()), ...route.labels])],
    text,
    remediations,
    route,
  };
}

/** A risk score as tickets show it: "87 / 100 (high)". */
export function riskText(score: number): string {
  return `${score} / 100 (${riskBand(score)})`;
}

export function ticketState(statuses: FindingStatus[]): TicketState {
  if (statuses.some((s) => s === "in_remediation")) return "in_progress";
  if (statuses.some((s) => s === "open")) return "open";
  return statuses.some((s) => s === "risk_accepted" || s === "false_positive") ? "accepted" : "done";
}

function groupName(subject: ReturnType<typeof parseSubjectKey>): string {
  switch (subject?.groupBy) {
    case "package":
      return `package ${subject.packageLc}${subject.ecosystem ? ` (${subject.ecosystem})` : ""}`;
    case "cve":
      return subject.cve;
    case "asset":
      return `asset #${subject.assetId}`;
    case "owner":
      return `package ${subject.packageLc}${subject.ecosystem ? ` (${subject.ecosystem})` : ""} of ${subject.owner || "no owner"}`;
    default:
      return "finding";
  }
}

function groupQuery(subject: ReturnType<typeof parseSubjectKey>): string {
  switch (subject?.groupBy) {
    case "package":
      return `q=${encodeURIComponent(subject.packageLc)}`;
    case "cve":
      return `q=${encodeURIComponent(subject.cve)}`;
    case "asset":
      return `asset=${subject.assetId}`;
    case "owner":
      return `q=${encodeURIComponent(subject.packageLc)}`;
    default:
      return "";
  }
}

function repoSpan(repo: { fullName: string; url: string | null }): Span {
  return repo.url ? { text: repo.fullName, href: repo.url } : { text: repo.fullName };
}

function severityCounts(findings: SubjectFinding[]): string {
  return SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
}

export function plain(blocks: Block[]): string {
  const spans = (s: Span[]) => s.map((x) => (x.href && x.href !== x.text ? `${x.text} (${x.href})` : x.text)).join("");
  return blocks
    .map((b) => {
      switch (b.type) {
        case "heading":
          return b.text;
        case "paragraph":
          return spans(b.spans);
        case "facts":
          return b.rows.map((r) => `${r.label}: ${spans(r.value)}`).join("\n");
        case "list":
          return b.items.map((i) => `- ${spans(i)}`).join("\n");
      }
    })
    .join("\n\n");
}

function countText(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function truncate(s: string, max: number): string {
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

/**
 * Real subjects to check a mapping's templates against: up to 100 of the findings its tickets
 * cover (for a new mapping, the newest open findings), each as the template sees it.
 */
export async function templateSubjects(db: Db, mappingId: number | undefined, baseUrl: string): Promise<{ label: string; data: Data }[]> {
  let ids = mappingId ? await mappingFindingIds(db, mappingId, 100) : [];
  if (!ids.length) ids = await newestOpenFindingIds(db, 100);
  const out: { label: string; data: Data }[] = [];
  for (const id of ids) {
    const view = await loadSubject(db, `finding:${id}`, [id], baseUrl);
    if (view) out.push({ label: `finding #${id}`, data: templateData(view, baseUrl) });
  }
  return out;
}
