// Ticket templates: a mapping's own title and description, written in Eta's syntax with the
// finding (or group) as `it`. Only what a template needs is accepted — `<%= it.path %>`,
// `<% for (const f of it.findings) { %>`, `<% if (it.path) { %>` / `<% } else { %>` / `<% } %>` —
// and every name is checked against the data when the mapping is saved, so a misspelt variable
// is an error on the form, never an empty string in a ticket. Templates are interpreted, never
// run as code. The description is light Markdown (## headings, - lists, [links](url), `code`),
// turned into blocks that each tracker renders in its own format (ADF, Markdown, HTML, text).
import type { Block, Span } from "../connectors/types.js";
import { STATUS_LABEL } from "../findings/normalize.js";
import type { SubjectFinding, SubjectView } from "./render.js";
import { isSpace, skipSpace, withoutTrailingSlash } from "../text.js";

export interface Templates {
  /** Empty: Patchbay's own title. */
  title: string;
  /** Empty: Patchbay's own description. */
  description: string;
}

export const FINDING_TEMPLATE_FIELDS = [
  "cve",
  "title",
  "severity",
  "cvss",
  "risk",
  "kev",
  "package",
  "ecosystem",
  "installedVersion",
  "fixedVersion",
  "asset",
  "repository",
  "status",
  "firstDetected",
  "dueDate",
  "url",
  "description",
] as const;
const REMEDIATION_FIELDS = ["title", "url", "state", "repository", "number"] as const;
/** What `it` offers: the subject's summary, its findings and its remediation pull requests. */
export const TEMPLATE_FIELDS = [
  "title",
  "cve",
  "cves",
  "severity",
  "cvss",
  "risk",
  "kev",
  "package",
  "installedVersion",
  "fixedVersion",
  "asset",
  "repository",
  "firstDetected",
  "dueDate",
  "status",
  "description",
  "url",
  "scannerUrl",
  "count",
  "findings",
  "remediations",
  "owners",
  "assignee",
  "component",
] as const;
const LISTS: Record<string, readonly string[]> = { findings: FINDING_TEMPLATE_FIELDS, remediations: REMEDIATION_FIELDS };

type Node =
  | { kind: "text"; text: string }
  | { kind: "value"; path: string[] }
  | { kind: "for"; name: string; list: string; body: Node[] }
  | { kind: "if"; negate: boolean; path: string[]; then: Node[]; otherwise: Node[] };

export class TemplateError extends Error {}

/** The `<% … %>` tags of a template, in order (found with indexOf: linear in the template's length). */
function* tags(source: string): Generator<{ index: number; length: number; echo: boolean; code: string }> {
  for (let open = source.indexOf("<%"); open >= 0;) {
    const close = source.indexOf("%>", open + 2);
    if (close < 0) return;
    const echo = source[open + 2] === "=";
    yield { index: open, length: close + 2 - open, echo, code: source.slice(open + (echo ? 3 : 2), close) };
    open = source.indexOf("<%", close + 2);
  }
}

/** Parses and checks a template; throws TemplateError with what is wrong and where. */
export function compileTemplate(source: string): Node[] {
  const root: Node[] = [];
  const stack: { nodes: Node[]; block?: Extract<Node, { kind: "for" | "if" }>; inElse?: boolean; scope: Map<string, string> }[] = [
    { nodes: root, scope: new Map() },
  ];
  let last = 0;
  const line = lineNumbers(source);
  for (const m of tags(source)) {
    const top = stack.at(-1)!;
    if (m.index > last) top.nodes.push({ kind: "text", text: source.slice(last, m.index) });
    last = m.index + m.length;
    const code = m.code.trim();
    const where = ` (line ${line(m.index)})`;
    const path = (expr: string): string[] => {
      const parts = expr.split(".");
      if (!parts.every((p) => /^[A-Za-z_]\w*$/.test(p)))
        throw new TemplateError(`"${expr}" is not a variable${where}: write it.cve, or f.package inside a loop.`);
      if (parts[0] === "it") {
        if (parts.length !== 2 || !(TEMPLATE_FIELDS as readonly string[]).includes(parts[1]!))
          throw new TemplateError(`Unknown variable "${expr}"${where}. Known: ${TEMPLATE_FIELDS.map((f) => `it.${f}`).join(", ")}.`);
        return parts;
      }
      const list = stack
        .map((s) => s.scope.get(parts[0]!))
        .filter(Boolean)
        .at(-1);
      if (!list) throw new TemplateError(`Unknown variable "${expr}"${where}: only it.… and the variable of an enclosing loop can be used.`);
      if (parts.length !== 2 || !LISTS[list]!.includes(parts[1]!))
        throw new TemplateError(`Unknown variable "${expr}"${where}. Known: ${LISTS[list]!.map((f) => `${parts[0]}.${f}`).join(", ")}.`);
      return parts;
    };
    if (m.echo) {
      const p = path(code);
      if (p[0] === "it" && LISTS[p[1]!]) throw new TemplateError(`it.${p[1]} is a list${where}: loop over it with <% for (const f of it.${p[1]}) { %>.`);
      top.nodes.push({ kind: "value", path: p });
      continue;
    }
    let f: RegExpExecArray | null;
    if ((f = /^for\s*\(\s*const\s+([A-Za-z_]\w*)\s+of\s+it\.(\w+)\s*\)\s*\{$/.exec(code))) {
      if (!LISTS[f[2]!]) throw new TemplateError(`it.${f[2]} cannot be looped over${where}: use it.findings or it.remediations.`);
      const node: Extract<Node, { kind: "for" }> = { kind: "for", name: f[1]!, list: f[2]!, body: [] };
      top.nodes.push(node);
      stack.push({ nodes: node.body, block: node, scope: new Map([[f[1]!, f[2]!]]) });
    } else if ((f = /^if\s*\(\s*(!\s*)?([\w.]+)\s*\)\s*\{$/.exec(code))) {
      const node: Extract<Node, { kind: "if" }> = { kind: "if", negate: f[1] !== undefined, path: path(f[2]!), then: [], otherwise: [] };
      top.nodes.push(node);
      stack.push({ nodes: node.then, block: node, scope: new Map() });
    } else if (/^\}\s*else\s*\{$/.test(code)) {
      if (top.block?.kind !== "if" || top.inElse) throw new TemplateError(`"} else {" without an open if${where}.`);
      top.nodes = top.block.otherwise;
      top.inElse = true;
    } else if (code === "}") {
      if (stack.length === 1) throw new TemplateError(`"}" closes nothing${where}.`);
      stack.pop();
    } else {
      throw new TemplateError(`"<% ${code} %>" is not something a template can do${where}: use <%= it.… %>, for … of, if, else and }.`);
    }
  }
  if (stack.length > 1) throw new TemplateError(`A ${stack.at(-1)!.block!.kind} is not closed with <% } %>.`);
  if (last < source.length) root.push({ kind: "text", text: source.slice(last) });
  return root;
}

export type Data = Record<string, unknown>;

function renderNodes(nodes: Node[], scopes: Data[]): string {
  const lookup = (p: string[]): unknown => {
    const base = p[0] === "it" ? scopes[0] : scopes.filter((s) => p[0]! in s).at(-1)?.[p[0]!];
    return (base as Data | undefined)?.[p[1]!];
  };
  let out = "";
  for (const n of nodes) {
    if (n.kind === "text") out += n.text;
    else if (n.kind === "value") {
      const v = lookup(n.path);
      out += v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v);
    } else if (n.kind === "for") {
      for (const item of (scopes[0]![n.list] as Data[]) ?? []) out += renderNodes(n.body, [...scopes, { [n.name]: item }]);
    } else {
      const v = lookup(n.path);
      const truthy = Array.isArray(v) ? v.length > 0 : Boolean(v);
      out += renderNodes(truthy !== n.negate ? n.then : n.otherwise, scopes);
    }
  }
  return out;
}

/** The data a template sees, from what a push renders. */
export function templateData(view: SubjectView, baseUrl: string): Data {
  const findingData = (f: SubjectFinding) => ({
    cve: f.cve,
    title: f.title,
    severity: f.severity,
    cvss: f.cvss,
    risk: f.risk,
    kev: f.kev,
    package: f.package,
    ecosystem: f.ecosystem,
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion ?? "",
    asset: f.assetName,
    repository: f.repository?.fullName ?? "",
    status: STATUS_LABEL[f.status],
    firstDetected: f.firstDetectedAt.slice(0, 10),
    dueDate: f.dueAt?.slice(0, 10) ?? "",
    url: `${withoutTrailingSlash(baseUrl)}/vulnerabilities/${f.id}`,
    description: f.description ?? "",
  });
  const one = view.findings[0]!;
  return {
    title: view.text.title ?? "",
    cve: view.text.cve ?? "",
    cves: [...new Set(view.findings.map((f) => f.cve))],
    severity: view.severity,
    cvss: view.cvss,
    risk: view.risk,
    kev: view.kev,
    package: view.text.package ?? "",
    installedVersion: view.text.installed_version ?? "",
    fixedVersion: view.text.fixed_version ?? "",
    asset: view.text.asset ?? "",
    repository: view.text.repository ?? "",
    firstDetected: view.firstDetected.slice(0, 10),
    dueDate: view.dueDate,
    status: STATUS_LABEL[one.status],
    description: view.findings.length === 1 ? (one.description ?? "") : "",
    url: view.text.finding_link ?? "",
    scannerUrl: view.text.scanner_link ?? "",
    count: view.findings.length,
    findings: view.findings.map(findingData),
    remediations: view.remediations.map((r) => ({ title: r.title, url: r.url, state: r.state, repository: r.repository, number: r.number })),
    owners: view.route.owners,
    assignee: view.route.assignee ?? "",
    component: view.route.component ?? "",
  };
}

export function renderTemplate(source: string, data: Data): string {
  return renderNodes(compileTemplate(source), [data]);
}

/** Light Markdown as blocks: "## " headings, "- " list items, paragraphs; [text](url) and `code` inline. */
export function markdownBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let list: Span[][] | undefined;
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) blocks.push({ type: "paragraph", spans: inline(paragraph.join("\n")) });
    paragraph = [];
    if (list) blocks.push({ type: "list", items: list });
    list = undefined;
  };
  for (const raw of text.replace(/\r\n/g, "\n").split("\n")) {
    const line = raw.trimEnd();
    if (!line.trim()) {
      flush();
      continue;
    }
    const heading = headingText(line);
    const item = listItemText(line);
    if (heading !== undefined) {
      flush();
      blocks.push({ type: "heading", text: heading });
    } else if (item !== undefined) {
      if (paragraph.length) {
        blocks.push({ type: "paragraph", spans: inline(paragraph.join("\n")) });
        paragraph = [];
      }
      (list ??= []).push(inline(item));
    } else {
      if (list) {
        blocks.push({ type: "list", items: list });
        list = undefined;
      }
      paragraph.push(line);
    }
  }
  flush();
  return blocks;
}

/** "## Text" → "Text": one to six "#", white space, then the heading. */
function headingText(line: string): string | undefined {
  let hashes = 0;
  while (line[hashes] === "#") hashes++;
  return hashes >= 1 && hashes <= 6 && isSpace(line[hashes]) ? line.slice(hashes).trim() : undefined;
}

/** "  - item" or "* item" → "item". */
function listItemText(line: string): string | undefined {
  const start = skipSpace(line, 0);
  return (line[start] === "-" || line[start] === "*") && isSpace(line[start + 1]) ? line.slice(start + 1).trim() : undefined;
}

/** The line number of an index in the text, by binary search over the line starts. */
function lineNumbers(text: string): (index: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (index) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

function inline(text: string): Span[] {
  const spans: Span[] = [];
  let last = 0;
  // No bracket or parenthesis inside a link's parts, so no search can rescan one (linear time).
  for (const m of text.matchAll(/\[([^[\]]+)\]\((https?:\/\/[^\s()[\]]+)\)|`([^`]+)`/g)) {
    if (m.index! > last) spans.push({ text: text.slice(last, m.index) });
    spans.push(m[3] !== undefined ? { text: m[3], code: true } : { text: m[1]!, href: m[2]! });
    last = m.index! + m[0].length;
  }
  if (last < text.length) spans.push({ text: text.slice(last) });
  return spans.length ? spans : [{ text: "" }];
}

/** A finding as the synthetic cases show it: every optional field filled. */
const SAMPLE_FINDING: Data = {
  cve: "CVE-2021-23337",
  title: "Command injection in lodash",
  severity: "high",
  cvss: 7.2,
  risk: 64,
  kev: true,
  package: "lodash",
  ecosystem: "npm",
  installedVersion: "4.17.20",
  fixedVersion: "4.17.21",
  asset: "acme/api",
  repository: "acme/api",
  status: "Open",
  firstDetected: "2026-01-02",
  dueDate: "2026-02-01",
  url: "https://patchbay.example/vulnerabilities/1",
  description: "lodash versions prior to 4.17.21 are vulnerable to command injection via the template function.",
};

const SAMPLE: Data = {
  title: "CVE-2021-23337 in lodash 4.17.20",
  cve: "CVE-2021-23337",
  cves: ["CVE-2021-23337"],
  severity: "high",
  cvss: 7.2,
  risk: 64,
  kev: true,
  package: "lodash",
  installedVersion: "4.17.20",
  fixedVersion: "4.17.21",
  asset: "acme/api",
  repository: "acme/api",
  firstDetected: "2026-01-02",
  dueDate: "2026-02-01",
  status: "Open",
  description: SAMPLE_FINDING.description,
  url: "https://patchbay.example/vulnerabilities/1",
  scannerUrl: "https://scanner.example/issues/1",
  count: 1,
  findings: [SAMPLE_FINDING],
  remediations: [{ title: "Bump lodash to 4.17.21", url: "https://git.example/acme/api/pull/7", state: "open", repository: "acme/api", number: 7 }],
  owners: ["@acme/payments"],
  assignee: "alice",
  component: "API",
};

/** What a finding or group may lack, and how the case is named on the form. */
const OPTIONAL: [field: string, empty: unknown, without: string][] = [
  ["cve", "", "a CVE (a scanner's own identifier only)"],
  ["cvss", null, "a CVSS score"],
  ["risk", null, "a risk score (not scored yet)"],
  ["kev", false, "KEV membership"],
  ["package", "", "a package (an image or code finding)"],
  ["installedVersion", "", "an installed version"],
  ["fixedVersion", "", "a fixed version"],
  ["repository", "", "a repository (an image)"],
  ["dueDate", "", "a due date (no SLA)"],
  ["description", "", "a description"],
  ["scannerUrl", "", "a link to the scanner"],
  ["remediations", [], "pull requests"],
  ["owners", [], "owners"],
  ["assignee", "", "a routed assignee"],
  ["component", "", "a routed component"],
];

/** The synthetic subjects every template must render for: all fields, then each optional one missing, then all missing. */
export function templateCases(): { label: string; data: Data }[] {
  const without = (fields: typeof OPTIONAL): Data => {
    const data: Data = { ...SAMPLE, findings: [{ ...SAMPLE_FINDING }] };
    for (const [field, empty] of fields) {
      data[field] = empty;
      if (field in SAMPLE_FINDING) (data.findings as Data[])[0]![field] = empty ?? "";
    }
    if (data.cve === "") data.cves = [];
    return data;
  };
  return [
    { label: "a finding with every field", data: SAMPLE },
    ...OPTIONAL.map((o) => ({ label: `a finding without ${o[2]}`, data: without([o]) })),
    { label: "a finding with none of the optional fields", data: without(OPTIONAL) },
  ];
}

/**
 * Why these templates would make a ticket with no title or no description, for the synthetic
 * cases and then each real subject given; undefined when every case renders both.
 */
export function emptyRendering(
  templates: Templates,
  subjects: { label: string; data: Data }[],
): { field: "title" | "description"; message: string } | undefined {
  for (const { label, data } of [...templateCases(), ...subjects]) {
    if (templates.title && !renderTemplate(templates.title, data).trim()) {
      return {
        field: "title",
        message: `The title template renders an empty title for ${label}, and a tracker refuses a ticket without one. Put some text outside the if, or add an else.`,
      };
    }
    if (templates.description && !renderTemplate(templates.description, data).trim()) {
      return {
        field: "description",
        message: `The description template renders nothing for ${label}. Put some text outside the if, or add an else.`,
      };
    }
  }
  return undefined;
}

/** The subject as a mapping's templates render it (Patchbay's own title and description where a template is empty). */
export function applyTemplates(view: SubjectView, templates: Templates, baseUrl: string, plain: (blocks: Block[]) => string): SubjectView {
  if (!templates.title && !templates.description) return view;
  const data = templateData(view, baseUrl);
  const title = templates.title ? renderTemplate(templates.title, data).replace(/\s+/g, " ").trim().slice(0, 255) : view.text.title;
  const blocks = templates.description ? markdownBlocks(renderTemplate(templates.description, data)) : view.blocks;
  return { ...view, text: { ...view.text, title }, blocks, plainText: templates.description ? plain(blocks) : view.plainText };
}
