// Field mapping: each tracker field of a target takes a value from the tracker (one of its
// allowed values), from a Patchbay field, or typed in by hand. Mappings are checked against
// the tracker's live field list when saved and again before pushes, so a field removed or
// made mandatory in the tracker becomes a clear push error rather than a crash.
import type { FieldValue, TrackerField, TrackerFieldKind } from "../connectors/types.js";
import type { Severity } from "../db/schema.js";
import { SEVERITIES } from "../findings/normalize.js";
import type { SubjectView } from "./render.js";

export type FieldSource = "tracker" | "patchbay" | "manual" | "none";

export interface FieldMapping {
  fieldId: string;
  /** The tracker field's name and kind when the mapping was saved, for display. */
  name: string;
  kind: TrackerFieldKind;
  required: boolean;
  source: FieldSource;
  /** An allowed value id, a Patchbay field name, or the typed text. */
  value: string;
  /** For a Patchbay severity mapped onto a field with allowed values: the value per severity. */
  severityMap?: Partial<Record<Severity, string>>;
  /** Names of the tracker's allowed values, for the changelog. */
  choiceNames?: Record<string, string>;
}

export type PatchbayField =
  | "title"
  | "description"
  | "severity"
  | "cvss"
  | "risk"
  | "kev"
  | "cve"
  | "package"
  | "installed_version"
  | "fixed_version"
  | "asset"
  | "repository"
  | "finding_link"
  | "scanner_link"
  | "due_date"
  | "first_detected"
  | "labels"
  | "assignee"
  | "component";

export const PATCHBAY_FIELDS: Record<PatchbayField, string> = {
  title: "Title",
  description: "Description (details, affected assets, links)",
  severity: "Severity",
  cvss: "CVSS score",
  risk: "Risk score (0–100; the highest of a group)",
  kev: "Known exploited (CISA KEV): Yes / No; as a label, known-exploited",
  cve: "CVE",
  package: "Package",
  installed_version: "Installed version",
  fixed_version: "Fixed version",
  asset: "Asset",
  repository: "Repository",
  finding_link: "Link to the finding in Patchbay",
  scanner_link: "Link to the finding in the scanner",
  due_date: "Due date (the earliest SLA deadline)",
  first_detected: "First detected",
  labels: "Labels (security, severity, CVE, and the routed labels)",
  assignee: "Assignee (from ownership routing)",
  component: "Component (from ownership routing)",
};

/** Days to fix by severity, counted from first detection: the due date Patchbay fields carry. */

/** Patchbay fields a tracker field of this kind can take. */
export function patchbayFieldsFor(kind: TrackerFieldKind): PatchbayField[] {
  switch (kind) {
    case "text":
      return [
        "title",
        "description",
        "severity",
        "cvss",
        "risk",
        "kev",
        "cve",
        "package",
        "installed_version",
        "fixed_version",
        "asset",
        "repository",
        "finding_link",
        "scanner_link",
        "due_date",
        "first_detected",
        "assignee",
        "component",
      ];
    case "document":
      return ["description", "title"];
    case "number":
      return ["cvss", "risk"];
    case "date":
      return ["due_date", "first_detected"];
    case "choice":
      return ["severity", "assignee", "component"];
    case "choices":
      return ["component"];
    case "labels":
      return ["labels", "assignee", "kev"];
    case "user":
      return ["assignee"];
    default:
      return [];
  }
}

/** A first mapping for a target's fields: the obvious Patchbay field where there is one. */
export function suggestMapping(fields: TrackerField[]): FieldMapping[] {
  return fields
    .filter((f) => f.kind !== "unsupported")
    .map((field) => {
      const base = { fieldId: field.id, name: field.name, kind: field.kind, required: field.required };
      const guess = guessPatchbayField(field);
      // A severity onto allowed values needs some values to choose from.
      if (guess && !(guess === "severity" && field.allowedValues?.length === 0)) {
        const severityMap = guess === "severity" && field.allowedValues ? suggestSeverityMap(field.allowedValues) : undefined;
        return { ...base, source: "patchbay" as const, value: guess, ...(severityMap ? { severityMap } : {}) };
      }
      return { ...base, source: "none" as const, value: "" };
    });
}

function guessPatchbayField(field: TrackerField): PatchbayField | undefined {
  const name = field.name.toLowerCase();
  const allowed = patchbayFieldsFor(field.kind);
  const pick = (f: PatchbayField) => (allowed.includes(f) ? f : undefined);
  if (field.special || /priority|severity/.test(name)) return pick("severity");
  if (/^(summary|title|short description)$/.test(name)) return pick("title");
  if (/^(description|body|repro steps)$/.test(name)) return pick("description");
  if (/^(labels?|tags)$/.test(name)) return pick("labels");
  if (/due/.test(name)) return pick("due_date");
  if (/^risk( score)?$/.test(name)) return pick("risk");
  if (/^(assignee|assignees.*|assigned to)$/.test(name)) return pick("assignee");
  if (/^(components?|area path)$/.test(name)) return pick("component");
  return undefined;
}

// Names a tracker may use for each severity, most exact first ("High" must not take "Highest").
const SEVERITY_WORDS: Record<Severity, RegExp[]> = {
  critical: [/^(highest|critical)$/i, /critical|blocker|urgent|highest/i, /^p?1\b/i],
  high: [/^high$/i, /major|^high/i, /^p?2\b/i],
  medium: [/^(medium|moderate)$/i, /medium|normal|moderate/i, /^p?3\b/i],
  low: [/^low$/i, /minor|^low/i, /^p?4\b/i],
  info: [/^(lowest|info|informational)$/i, /lowest|trivial|info/i, /^p?5\b/i],
};

export function suggestSeverityMap(values: { id: string; name: string }[]): Partial<Record<Severity, string>> {
  const map: Partial<Record<Severity, string>> = {};
  const taken = new Set<string>();
  for (let pass = 0; pass < 3; pass++) {
    for (const severity of SEVERITIES) {
      if (map[severity]) continue;
      // "1 - High" is High: the words passes look past a leading rank number.
      const match = values.find((v) => !taken.has(v.id) && SEVERITY_WORDS[severity][pass]!.test(pass < 2 ? v.name.replace(/^\d+\s*[-–:.]\s*/, "") : v.name));
      if (match) {
        map[severity] = match.id;
        taken.add(match.id);
      }
    }
  }
  // Scales with four levels (Azure DevOps' Severity) share the end values.
  map.info ??= map.low;
  map.critical ??= map.high;
  for (const s of SEVERITIES) if (map[s] === undefined) delete map[s];
  return map;
}

/**
 * Checks a mapping against the tracker's fields; returns problems by field id ("" for the
 * mapping as a whole). An empty object means the mapping can be saved and pushed.
 */
export function validateMapping(mapping: FieldMapping[], fields: TrackerField[]): Record<string, string> {
  const errors: Record<string, string> = {};
  const byId = new Map(fields.map((f) => [f.id, f]));
  for (const m of mapping) {
    const field = byId.get(m.fieldId);
    if (!field) {
      if (m.source !== "none") errors[m.fieldId] = `The field "${m.name}" no longer exists for this target in the tracker. Edit the mapping to remove it.`;
      continue;
    }
    if (field.special && m.source !== "patchbay" && m.source !== "none") {
      errors[m.fieldId] = `${field.name} must be mapped to a Patchbay field.`;
    } else if (field.special && m.source === "none" && field.required) {
      errors[m.fieldId] = `${field.name} must be mapped to a Patchbay field.`;
    }
    if (m.source === "none") {
      if (field.required && !field.hasDefault) errors[m.fieldId] ??= `${field.name} is mandatory in the tracker: map it.`;
      continue;
    }
    if (m.source === "tracker") {
      if (!field.allowedValues?.some((v) => v.id === m.value)) errors[m.fieldId] ??= `Choose one of the values the tracker allows for ${field.name}.`;
    } else if (m.source === "patchbay") {
      if (!(patchbayFieldsFor(field.kind) as string[]).includes(m.value)) {
        errors[m.fieldId] ??= `${field.name} cannot take the Patchbay field "${m.value}".`;
      } else if (m.value === "severity" && field.allowedValues?.length) {
        const missing = SEVERITIES.filter((s) => !field.allowedValues!.some((v) => v.id === m.severityMap?.[s]));
        if (missing.length) errors[m.fieldId] ??= `Choose the ${field.name} value for each severity (missing: ${missing.join(", ")}).`;
      }
    } else if (m.source === "manual") {
      const problem = manualProblem(field, m.value);
      if (problem) errors[m.fieldId] ??= problem;
    }
  }
  for (const field of fields) {
    if (field.required && !field.hasDefault && !mapping.some((m) => m.fieldId === field.id && m.source !== "none")) {
      errors[field.id] ??=
        field.kind === "unsupported"
          ? `${field.name} is mandatory in the tracker but Patchbay cannot fill a field of this type; make it optional or give it a default in the tracker.`
          : `${field.name} is mandatory in the tracker: map it.`;
    }
  }
  return errors;
}

function manualProblem(field: TrackerField, value: string): string | undefined {
  if (!value.trim()) return `Enter a value for ${field.name}.`;
  if (field.kind === "number" && !Number.isFinite(Number(value))) return `${field.name} takes a number.`;
  if (field.kind === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${field.name} takes a date as YYYY-MM-DD.`;
  if (field.kind === "choice" || field.kind === "choices") return `${field.name} takes one of the tracker's values; choose "Value from the tracker".`;
  return undefined;
}

/** The values to send, by tracker field id, for one subject. */
export function resolveFields(mapping: FieldMapping[], subject: SubjectView): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const m of mapping) {
    const value = resolveOne(m, subject);
    if (value) out[m.fieldId] = value;
  }
  return out;
}

function resolveOne(m: FieldMapping, subject: SubjectView): FieldValue | undefined {
  switch (m.source) {
    case "none":
      return undefined;
    case "tracker":
      return m.kind === "choices" ? { kind: "choices", ids: [m.value] } : { kind: "choice", id: m.value };
    case "manual":
      if (m.kind === "number") return { kind: "number", value: Number(m.value) };
      if (m.kind === "date") return { kind: "date", date: m.value };
      if (m.kind === "labels") return { kind: "list", items: m.value.split(/[\s,]+/).filter(Boolean) };
      if (m.kind === "document") return { kind: "document", blocks: [{ type: "paragraph", spans: [{ text: m.value }] }] };
      return { kind: "text", text: m.value };
    case "patchbay":
      return patchbayValue(m, subject);
  }
}

function patchbayValue(m: FieldMapping, s: SubjectView): FieldValue | undefined {
  const field = m.value as PatchbayField;
  if (field === "severity" && m.severityMap) {
    const id = m.severityMap[s.severity];
    return id ? { kind: "choice", id } : undefined;
  }
  if (field === "description") return m.kind === "document" ? { kind: "document", blocks: s.blocks } : { kind: "text", text: s.plainText };
  if (field === "cvss") {
    if (s.cvss === null) return undefined;
    return m.kind === "number" ? { kind: "number", value: s.cvss } : { kind: "text", text: String(s.cvss) };
  }
  if (field === "risk") {
    if (s.risk === null) return undefined;
    return m.kind === "number" ? { kind: "number", value: s.risk } : { kind: "text", text: String(s.risk) };
  }
  if (field === "kev" && m.kind === "labels") return s.kev ? { kind: "list", items: ["known-exploited"] } : undefined;
  if (field === "due_date" || field === "first_detected") {
    const date = field === "due_date" ? s.dueDate : s.firstDetected.slice(0, 10);
    if (!date) return undefined;
    return m.kind === "date" ? { kind: "date", date } : { kind: "text", text: date };
  }
  if (field === "labels") return { kind: "list", items: s.labels };
  if (field === "assignee" || field === "component") return routedValue(m, s.route[field]);
  const text = s.text[field];
  if (text === undefined || text === "") return undefined;
  if (m.kind === "document") return { kind: "document", blocks: [{ type: "paragraph", spans: [{ text }] }] };
  return { kind: "text", text };
}

/**
 * A routed assignee or component onto a field: a user field takes it as the tracker's user
 * ID, a list field as one item, a field of allowed values by ID or by name (the GitLab member
 * "Ada (@ada)" is "ada" or "@ada"). A value the field does not allow leaves it empty.
 */
function routedValue(m: FieldMapping, value: string | null): FieldValue | undefined {
  if (!value) return undefined;
  switch (m.kind) {
    case "user":
      return { kind: "user", id: value };
    case "labels":
      return { kind: "list", items: [value.replace(/^@/, "")] };
    case "choice":
    case "choices": {
      const id = choiceId(m.choiceNames ?? {}, value);
      if (!id) return undefined;
      return m.kind === "choice" ? { kind: "choice", id } : { kind: "choices", ids: [id] };
    }
    case "document":
      return { kind: "document", blocks: [{ type: "paragraph", spans: [{ text: value }] }] };
    default:
      return { kind: "text", text: value };
  }
}

function choiceId(names: Record<string, string>, value: string): string | undefined {
  if (names[value] !== undefined) return value;
  const want = value.toLowerCase().replace(/^@/, "");
  for (const [id, name] of Object.entries(names)) {
    const n = name.toLowerCase();
    if (n === want || n === `@${want}` || n.endsWith(`(@${want})`) || lastPathSegment(n) === want) return id;
  }
  return undefined;
}

/** A short display of a value, for the changelog's "what changed". */
export function displayFieldValue(value: FieldValue | undefined, names: Record<string, string> = {}): string {
  if (!value) return "(empty)";
  switch (value.kind) {
    case "text":
      return value.text.length > 60 ? value.text.slice(0, 59) + "…" : value.text;
    case "document":
      return "(text)";
    case "number":
      return String(value.value);
    case "date":
      return value.date;
    case "choice":
      return names[value.id] ?? value.id;
    case "choices":
      return value.ids.map((id) => names[id] ?? id).join(", ");
    case "list":
      return value.items.join(", ");
    case "user":
      return value.id;
  }
}

/** "Team / Backend" → "Backend": a display name's last part after "/" or "\\". */
function lastPathSegment(name: string): string {
  const cut = Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\"));
  return cut < 0 ? name : name.slice(cut + 1).trimStart();
}
