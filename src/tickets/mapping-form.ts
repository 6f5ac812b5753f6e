// The tracker mapping form, parsed at the edge: a name, the target, each field's source and
// value, and the status map — checked against the tracker's live fields before it is saved.
import type { TicketTarget, TrackerChoice, TrackerField } from "../connectors/types.js";
import type { GroupBy, PushMode, Severity } from "../db/schema.js";
import { SEVERITIES } from "../findings/normalize.js";
import { type FieldMapping, type FieldSource, suggestMapping, validateMapping } from "./fields.js";
import { parseInboundForm, suggestedInbound } from "./inbound.js";
import { compileTemplate, TemplateError } from "./templates.js";
import { TICKET_STATES } from "./render.js";
import { type AssignmentData, GROUP_BY, type MappingData, PUSH_MODES, type StatusMap } from "./store.js";

type Form = Record<string, string | undefined>;
const SOURCES: FieldSource[] = ["tracker", "patchbay", "manual", "none"];

export function parseMappingForm(
  form: Form,
  target: TicketTarget,
  fields: TrackerField[],
  statuses: TrackerChoice[],
  inboundChoices: TrackerChoice[] = statuses,
): { ok: true; data: MappingData } | { ok: false; data: MappingData; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const name = (form.name ?? "").trim().slice(0, 120) || `${target.project.name} · ${target.ticketType.name}`;
  const mapping: FieldMapping[] = fields
    .filter((f) => f.kind !== "unsupported")
    .map((field) => {
      const source = (SOURCES as string[]).includes(form[`source.${field.id}`] ?? "") ? (form[`source.${field.id}`] as FieldSource) : "none";
      const value = (form[`value.${field.id}.${source}`] ?? "").trim().slice(0, 2000);
      const m: FieldMapping = { fieldId: field.id, name: field.name, kind: field.kind, required: field.required, source, value };
      if (field.allowedValues) m.choiceNames = Object.fromEntries(field.allowedValues.map((v) => [v.id, v.name]));
      if (source === "patchbay" && value === "severity" && field.allowedValues?.length) {
        m.severityMap = Object.fromEntries(SEVERITIES.map((s) => [s, form[`severity.${field.id}.${s}`] ?? ""]).filter(([, v]) => v)) as Partial<
          Record<Severity, string>
        >;
      }
      return m;
    });
  Object.assign(errors, validateMapping(mapping, fields));
  const statusMap: StatusMap = {};
  const statusNames: Record<string, string> = {};
  for (const state of TICKET_STATES) {
    const id = form[`status.${state}`] ?? "";
    if (!id) continue;
    const status = statuses.find((s) => s.id === id);
    if (!status) errors[`status.${state}`] = "Choose one of the workflow's statuses.";
    else {
      statusMap[state] = id;
      statusNames[id] = status.name;
    }
  }
  if (!statusMap.done) errors["status.done"] ??= "Choose the status a ticket moves to when its findings are resolved.";
  // The resolution a closing transition sets, where the tracker has resolutions (Jira).
  const resolutions = resolutionChoices(inboundChoices);
  const resolutionMap: StatusMap = {};
  for (const state of RESOLVING_STATES) {
    const id = form[`resolution.${state}`] ?? "";
    if (!id) continue;
    if (resolutions.some((r) => r.id === id)) resolutionMap[state] = id;
    else errors[`resolution.${state}`] = "Choose one of the tracker's resolutions.";
  }
  const templates = { title: (form.titleTemplate ?? "").trim().slice(0, 2000), description: (form.descriptionTemplate ?? "").trim().slice(0, 20000) };
  for (const [key, source] of [
    ["titleTemplate", templates.title],
    ["descriptionTemplate", templates.description],
  ] as const) {
    try {
      compileTemplate(source);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      errors[key] = err.message;
    }
  }
  const data = { name, target, fields: mapping, statusMap, statusNames, resolutionMap, inbound: parseInboundForm(form, inboundChoices), templates };
  return Object.keys(errors).length ? { ok: false, data, errors } : { ok: true, data };
}

/** The Patchbay statuses whose transition may set a resolution. */
export const RESOLVING_STATES = ["done", "accepted"] as const;

/** The tracker's resolutions among the inbound choices ("resolution:<id>"), by their own ids. */
export function resolutionChoices(inboundChoices: TrackerChoice[]): TrackerChoice[] {
  return inboundChoices
    .filter((c) => c.id.startsWith("resolution:"))
    .map((c) => ({ id: c.id.slice("resolution:".length), name: c.name.replace(/^Resolution: /, "") }));
}

/** A new mapping's starting point: the obvious field sources and status names. */
export function suggestedMapping(
  target: TicketTarget,
  fields: TrackerField[],
  statuses: TrackerChoice[],
  inboundChoices: TrackerChoice[] = statuses,
): MappingData {
  const find = (re: RegExp) => statuses.find((s) => re.test(s.name))?.id;
  const statusMap: StatusMap = {
    open: find(/^(to ?do|open|new|backlog)$/i),
    in_progress: find(/progress|doing|active/i),
    done: find(/^(done|closed|resolved|fixed)$/i) ?? find(/completed|^closed|^resolved/i),
    accepted: find(/won.?t|declined|rejected|risk|not planned|cancel/i) ?? find(/^(done|closed)$/i),
  };
  const resolutions = resolutionChoices(inboundChoices);
  const resolution = (re: RegExp) => resolutions.find((r) => re.test(r.name))?.id;
  return {
    name: `${target.project.name} · ${target.ticketType.name}`,
    target,
    fields: suggestMapping(fields),
    statusMap,
    statusNames: Object.fromEntries(statuses.map((s) => [s.id, s.name])),
    resolutionMap: { done: resolution(/^(done|fixed)$/i), accepted: resolution(/won.?t (do|fix)/i) },
    inbound: suggestedInbound(inboundChoices, statusMap),
    templates: { title: "", description: "" },
  };
}

export function parseAssignmentForm(
  form: Record<string, string | string[] | undefined>,
  repositoryIds: Set<number>,
): { ok: true; data: AssignmentData } | { ok: false; errors: Record<string, string> } {
  const one = (k: string) => {
    const v = form[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const errors: Record<string, string> = {};
  const minSeverity = one("minSeverity") as Severity;
  if (!SEVERITIES.includes(minSeverity)) errors.minSeverity = "Choose a minimum severity.";
  const groupBy = one("groupBy") as GroupBy;
  if (!(groupBy in GROUP_BY)) errors.groupBy = "Choose how findings become tickets.";
  const pushMode = one("pushMode") as PushMode;
  if (!(pushMode in PUSH_MODES)) errors.pushMode = "Choose a push mode.";
  let ids: number[] | null = null;
  if (one("scope") === "some") {
    const raw = form.repositories;
    ids = (Array.isArray(raw) ? raw : raw ? [raw] : []).map(Number).filter((n) => repositoryIds.has(n));
    if (ids.length === 0) errors.repositories = "Choose at least one repository, or all repositories.";
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, data: { repositoryIds: ids, minSeverity, groupBy, pushMode } };
}
