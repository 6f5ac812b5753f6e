// Importing a configuration document: first a plan (what would be created, changed or left,
// and which secrets are needed), shown to the person importing; then, with the secrets they
// typed, the same plan carried out. Integrations go through the same path as the Hub's
// Connect (settings checked, connection tested, nothing stored on failure); mappings are
// checked against the tracker's live fields before they are saved. Nothing is removed except
// an imported mapping's assignments, which the document lists in full.
import type { Services } from "../services.js";
import { connectorContext } from "../connectors/context.js";
import type { SecretValues, TicketTarget } from "../connectors/types.js";
import type { Integration, TrackerAssignment } from "../db/schema.js";
import { SEVERITIES } from "../findings/normalize.js";
import { loadSla, RECOMPUTE_DUE_JOB, samePolicy, saveSla, type SlaPolicy, slaPolicy } from "../findings/sla.js";
import { RISK_BANDS } from "../vuln/severity.js";
import { ExternalError } from "../http.js";
import { saveConnection } from "../integrations/connect.js";
import { parseSettingsForm } from "../integrations/form.js";
import { withReused } from "../integrations/reused.js";
import { testConnection } from "../integrations/service.js";
import { formerNames, integrationSettings, listIntegrations, renameIntegration } from "../integrations/store.js";
import { redactText } from "../log.js";
import {
  loadRouting,
  overrideIsEmpty,
  repositoryCriticality,
  type RouteRule,
  type RoutingSettings,
  saveOverride,
  saveRepositoryCriticality,
  saveRouting,
  validateRule,
} from "../routing/ownership.js";
import { enqueue } from "../jobs/queue.js";
import { readRules } from "../policy/rules.js";
import { loadPolicyRules, mappingProblems, savePolicyRules } from "../policy/apply.js";
import { dryRunPolicy } from "../exploitation/risk.js";
import { RESCORE_JOB } from "../jobs/events.js";
import { validateMapping } from "../tickets/fields.js";
import { inboundSettings } from "../tickets/inbound.js";
import type { TicketState } from "../tickets/render.js";
import { type AssignmentData, deleteAssignments, listAssignments, type MappingData, mappingData, saveAssignment, saveMapping } from "../tickets/store.js";
import { repositoryIds } from "../tickets/subjects.js";
import { compileTemplate, TemplateError } from "../tickets/templates.js";
import {
  type ConfigAssignment,
  type ConfigDocument,
  type ConfigIntegration,
  type ConfigMapping,
  configurableFields,
  sameSettings,
  settingsAsForm,
} from "./document.js";

export type ChangeKind = "create" | "update" | "unchanged" | "remove" | "skip";

export interface Change {
  kind: ChangeKind;
  /** "Integration Jira acme (Jira Cloud)", "Mapping Security bugs on Jira acme". */
  what: string;
  details: string[];
}

export interface SecretRequest {
  /** Index of the integration in the document. */
  index: number;
  name: string;
  kind: string;
  /** New integrations must be given their secrets; existing ones keep theirs when left empty. */
  creating: boolean;
  fields: { name: string; label: string; listed: boolean }[];
}

export interface Plan {
  changes: Change[];
  secrets: SecretRequest[];
  /** Problems that stop the import (nothing is applied while there are any). */
  errors: string[];
  /** Things that will be left out, with why. */
  warnings: string[];
}

const key = (kind: string, name: string) => `${kind}\u0000${name}`;

interface Context {
  deps: Services;
  existing: Map<string, Integration>;
  repoIds: Map<string, number>;
  repoNames: Map<number, string>;
}

async function context(deps: Services): Promise<Context> {
  const integrations = await listIntegrations(deps.db);
  const repos = await deps.db.selectFrom("repositories").select(["id", "full_name"]).execute();
  return {
    deps,
    // A connection is found by its name, or by a name it had before a rename (the current name wins).
    existing: new Map([
      ...integrations.flatMap((i) => formerNames(i).map((n) => [key(i.kind, n), i] as const)),
      ...integrations.map((i) => [key(i.kind, i.name), i] as const),
    ]),
    repoIds: new Map(repos.map((r) => [r.full_name.toLowerCase(), r.id])),
    repoNames: new Map(repos.map((r) => [r.id, r.full_name])),
  };
}

/** What importing the document would do. Reads only; sends nothing. */
export async function planImport(deps: Services, doc: ConfigDocument): Promise<Plan> {
  const ctx = await context(deps);
  const plan: Plan = { changes: [], secrets: [], errors: [], warnings: [] };
  const inDocument = new Map<string, ConfigIntegration>();
  doc.integrations.forEach((entry) => {
    const k = key(entry.kind, entry.name);
    if (inDocument.has(k)) plan.errors.push(`Two integrations are named "${entry.name}" (${entry.kind}): keep one.`);
    inDocument.set(k, entry);
  });
  // Names an integration field may refer to: those already here and those the document adds.
  const names = new Set([...ctx.existing.values()].map((i) => i.name).concat(doc.integrations.map((i) => i.name)));

  doc.integrations.forEach((entry, index) => {
    const connector = deps.catalogue.get(entry.kind)!;
    const label = `Integration ${entry.name} (${connector.card.name})`;
    const existing = ctx.existing.get(key(entry.kind, entry.name));
    // Names resolve to this Patchbay's ids; one the document adds has none yet (a stand-in).
    const idByName = new Map([...ctx.existing.values()].map((i) => [i.name, i.id]));
    const { form, unknown } = settingsAsForm(connector, entry.settings ?? {}, (n) => idByName.get(n) ?? (names.has(n) ? 999_999_999 : undefined));
    for (const n of unknown) plan.errors.push(`${label} names the integration "${n}", which is neither connected nor in the document.`);
    // The connector's own checks of the settings (the secrets are asked for, and checked, later).
    const parsed = parseSettingsForm(connector, form, existing ? { settings: integrationSettings(existing), secrets: {} } : undefined);
    const secretNames = new Set(connector.fields.filter((f) => f.type === "secret").map((f) => f.name));
    if (!parsed.ok) for (const [field, message] of Object.entries(parsed.errors)) if (!secretNames.has(field)) plan.errors.push(`${label}: ${message}`);
    const secretFields = connector.fields.filter((f) => f.type === "secret");
    if (!existing) {
      if (!connector.multiInstance && [...ctx.existing.values()].some((i) => i.kind === entry.kind)) {
        plan.errors.push(
          `${label}: ${connector.card.name} is connected once only, and the one here is named differently. Rename it in the document to match, or disconnect the one here first.`,
        );
      }
      plan.changes.push({
        kind: "create",
        what: label,
        details: Object.entries(entry.settings ?? {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}`),
      });
      plan.secrets.push({
        index,
        name: entry.name,
        kind: connector.card.name,
        creating: true,
        fields: secretFields.map((f) => ({ name: f.name, label: f.label, listed: (entry.secrets ?? []).includes(f.name) })),
      });
    } else {
      const current = integrationSettings(existing);
      const wanted = parsed.ok ? parsed.settings : parsed.values;
      const changed = sameSettings(current, { ...current, ...wanted }, configurableFields(connector));
      const locked = changed.filter((n) => !connector.fields.find((f) => f.name === n)!.editableWhenConnected);
      for (const n of locked)
        plan.warnings.push(`${label}: ${n} cannot change on a connected integration (disconnect it and connect again to change it); the current value stays.`);
      const editable = changed.filter((n) => !locked.includes(n));
      plan.changes.push(
        editable.length
          ? { kind: "update", what: label, details: editable.map((n) => `${n}: ${shown(current[n])} → ${shown(wanted[n])}`) }
          : { kind: "unchanged", what: label, details: [] },
      );
      if (secretFields.length)
        plan.secrets.push({
          index,
          name: entry.name,
          kind: connector.card.name,
          creating: false,
          fields: secretFields.map((f) => ({ name: f.name, label: f.label, listed: (entry.secrets ?? []).includes(f.name) })),
        });
    }
  });

  for (const entry of doc.integrations) {
    for (const mapping of entry.mappings ?? []) await planMapping(ctx, plan, entry, mapping);
  }
  planSla(plan, await loadSla(deps.db), doc.sla);
  if (doc.ownership) await planOwnership(ctx, plan, doc.ownership);
  if (doc.policy) await planPolicy(ctx, plan, doc);
  return plan;
}

/**
 * The remediation policy's rules: checked (names of tracker mappings here or in the document),
 * and, when they differ from today's, dry-run over every finding so the plan says what they
 * would change.
 */
async function planPolicy(ctx: Context, plan: Plan, doc: ConfigDocument): Promise<void> {
  const { rules, errors } = readRules(doc.policy?.rules ?? []);
  for (const e of errors) plan.errors.push(`Remediation policy: ${e}`);
  if (errors.length) return;
  const inDocument = new Set(doc.integrations.flatMap((i) => (i.mappings ?? []).map((m) => m.name.toLowerCase())));
  for (const p of await mappingProblems(
    ctx.deps.db,
    rules.filter((r) => r.action !== "push_to" || !inDocument.has(r.mapping.toLowerCase())),
  ))
    plan.errors.push(`Remediation policy: ${p}`);
  const current = await loadPolicyRules(ctx.deps.db);
  if (JSON.stringify(current) === JSON.stringify(rules)) {
    plan.changes.push({ kind: "unchanged", what: "Remediation policy", details: [] });
    return;
  }
  const dry = await dryRunPolicy(ctx.deps.db, rules, ctx.deps.now());
  plan.changes.push({
    kind: "update",
    what: `Remediation policy (dry run over ${dry.findings.toLocaleString("en")} findings)`,
    details: dry.rules.map((r) => `${r.name}: matches ${r.matched}, decides ${r.applied}, undoes ${r.undone}`),
  });
}

function shown(value: unknown): string {
  if (value === undefined || value === "") return "(empty)";
  return String(value);
}

async function planMapping(ctx: Context, plan: Plan, entry: ConfigIntegration, mapping: ConfigMapping): Promise<void> {
  const what = `Mapping ${mapping.name} on ${entry.name}`;
  for (const [which, source] of [
    ["title", mapping.templates?.title ?? ""],
    ["description", mapping.templates?.description ?? ""],
  ] as const) {
    try {
      compileTemplate(source);
    } catch (err) {
      if (err instanceof TemplateError) plan.errors.push(`${what}: the ${which} template ${err.message}`);
      else throw err;
    }
  }
  const integration = ctx.existing.get(key(entry.kind, entry.name));
  const row = integration
    ? await ctx.deps.db
        .selectFrom("tracker_mappings")
        .selectAll()
        .where("integration_id", "=", integration.id)
        .where("name", "=", mapping.name)
        .executeTakeFirst()
    : undefined;
  const wanted = toMappingData(mapping);
  const assignments = resolveAssignments(ctx, plan, what, mapping.assignments ?? []);
  if (!row) {
    plan.changes.push({
      kind: "create",
      what,
      details: [
        `${mapping.target.project.name} → ${mapping.target.ticketType.name}`,
        `${mapping.fields.length} fields`,
        ...assignments.map((a) => `assignment: ${describeAssignment(ctx, a)}`),
      ],
    });
    return;
  }
  const current = mappingData(row);
  const details: string[] = [];
  if (JSON.stringify(current.target) !== JSON.stringify(wanted.target))
    details.push(
      `target: ${current.target.project.name} → ${current.target.ticketType.name} becomes ${wanted.target.project.name} → ${wanted.target.ticketType.name}`,
    );
  const fieldsChanged = wanted.fields
    .filter((f) => JSON.stringify(current.fields.find((c) => c.fieldId === f.fieldId)) !== JSON.stringify(f))
    .map((f) => f.name);
  const fieldsGone = current.fields.filter((c) => !wanted.fields.some((f) => f.fieldId === c.fieldId)).map((f) => f.name);
  if (fieldsChanged.length) details.push(`fields changed: ${fieldsChanged.join(", ")}`);
  if (fieldsGone.length) details.push(`fields no longer mapped: ${fieldsGone.join(", ")}`);
  if (JSON.stringify(current.statusMap) !== JSON.stringify(wanted.statusMap)) details.push("status map changed");
  if (JSON.stringify({ ...current.inbound, names: {} }) !== JSON.stringify({ ...wanted.inbound, names: {} })) details.push("two-way sync settings changed");
  if (current.templates.title !== wanted.templates.title || current.templates.description !== wanted.templates.description) details.push("templates changed");
  const have = (await listAssignments(ctx.deps.db, row.id)).map((a) => assignmentKey(assignmentOf(a)));
  const want = assignments.map(assignmentKey);
  for (const a of assignments) if (!have.includes(assignmentKey(a))) details.push(`assignment added: ${describeAssignment(ctx, a)}`);
  for (const a of await listAssignments(ctx.deps.db, row.id)) {
    if (!want.includes(assignmentKey(assignmentOf(a)))) details.push(`assignment removed: ${describeAssignment(ctx, assignmentOf(a))}`);
  }
  plan.changes.push(details.length ? { kind: "update", what, details } : { kind: "unchanged", what, details: [] });
}

function toMappingData(m: ConfigMapping): MappingData {
  return {
    name: m.name,
    target: m.target as TicketTarget,
    fields: m.fields,
    statusMap: m.statuses.map as Partial<Record<TicketState, string>>,
    statusNames: m.statuses.names ?? {},
    inbound: inboundSettings({ inbound: JSON.stringify(m.inbound ?? {}) }),
    templates: { title: m.templates?.title ?? "", description: m.templates?.description ?? "" },
  };
}

const assignmentOf = (a: TrackerAssignment): AssignmentData => ({
  repositoryIds: repositoryIds(a),
  minSeverity: a.min_severity,
  groupBy: a.group_by,
  pushMode: a.push_mode,
});
const assignmentKey = (a: AssignmentData) =>
  JSON.stringify([a.repositoryIds ? [...a.repositoryIds].sort((x, y) => x - y) : null, a.minSeverity, a.groupBy, a.pushMode]);

function describeAssignment(ctx: Context, a: AssignmentData): string {
  const repos = a.repositoryIds ? a.repositoryIds.map((id) => ctx.repoNames.get(id) ?? `#${id}`).join(", ") : "all repositories";
  return `${repos}, ${a.minSeverity} and above, by ${a.groupBy}, ${a.pushMode}`;
}

function resolveAssignments(ctx: Context, plan: Plan | undefined, what: string, list: ConfigAssignment[]): AssignmentData[] {
  const out: AssignmentData[] = [];
  for (const a of list) {
    let ids: number[] | null = null;
    if (a.repositories !== "all") {
      const missing = a.repositories.filter((n) => !ctx.repoIds.has(n.toLowerCase()));
      ids = a.repositories.map((n) => ctx.repoIds.get(n.toLowerCase())).filter((id): id is number => id !== undefined);
      if (missing.length) {
        plan?.warnings.push(
          `${what}: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not known here yet${ids.length ? " and left out of the assignment" : "; the assignment is left out"}. Import again after the repository sync.`,
        );
      }
      if (!ids.length) continue;
    }
    out.push({ repositoryIds: ids, minSeverity: a.minSeverity, groupBy: a.groupBy, pushMode: a.pushMode });
  }
  return out;
}

function planSla(plan: Plan, current: SlaPolicy, wanted: Partial<SlaPolicy> | undefined): void {
  if (!wanted) return;
  const next = slaPolicy(wanted);
  const days = (n: number | null) => (n === null ? "no deadline" : `${n} days`);
  const details = SEVERITIES.filter((s) => current[s] !== next[s]).map((s) => `${s}: ${days(current[s])} → ${days(next[s])}`);
  if (current.basis !== next.basis)
    details.push(`counted by ${current.basis === "risk" ? "risk band" : "severity"} → ${next.basis === "risk" ? "risk band" : "severity"}`);
  for (const b of RISK_BANDS) if (current.bands[b] !== next.bands[b]) details.push(`risk ${b}: ${days(current.bands[b])} → ${days(next.bands[b])}`);
  if (current.kevDays !== next.kevDays) details.push(`in KEV: at most ${days(current.kevDays)} → ${days(next.kevDays)}`);
  plan.changes.push(
    details.length ? { kind: "update", what: "SLAs (every finding's due date follows)", details } : { kind: "unchanged", what: "SLAs", details: [] },
  );
}

/** The document's ownership rows as the table stores them. */
function rulesOf(wanted: ConfigDocument["ownership"]): RouteRule[] {
  return (wanted.rules ?? []).map((r) => ({
    match: r.match,
    assignee: r.assignee ?? "",
    component: r.component ?? "",
    labels: r.labels ?? [],
    channel: r.channel ?? "",
    criticality: r.criticality ?? "",
  }));
}

async function planOwnership(ctx: Context, plan: Plan, wanted: ConfigDocument["ownership"]): Promise<void> {
  const current = await loadRouting(ctx.deps.db);
  const rules = rulesOf(wanted);
  for (const r of rules) {
    const error = validateRule(r, (ch) => ctx.deps.catalogue.channelProblem(ch));
    if (error) plan.errors.push(`Ownership routing: ${error}`);
  }
  const next: RoutingSettings = { useCodeowners: wanted.useCodeowners ?? true, useTopics: wanted.useTopics ?? true, rules };
  const details: string[] = [];
  if (next.useCodeowners !== current.useCodeowners) details.push(`CODEOWNERS ${next.useCodeowners ? "on" : "off"}`);
  if (next.useTopics !== current.useTopics) details.push(`topics ${next.useTopics ? "on" : "off"}`);
  for (const r of rules) {
    const had = current.rules.find((c) => c.match.toLowerCase() === r.match.toLowerCase());
    if (!had) details.push(`${r.match} added`);
    else if (JSON.stringify({ ...had, criticality: had.criticality ?? "" }) !== JSON.stringify(r)) details.push(`${r.match} changed`);
  }
  for (const c of current.rules) if (!rules.some((r) => r.match.toLowerCase() === c.match.toLowerCase())) details.push(`${c.match} removed`);
  for (const o of wanted.repositories ?? []) {
    if (!ctx.repoIds.has(o.repository.toLowerCase()))
      plan.warnings.push(
        `Ownership override for ${o.repository}: the repository is not known here yet and is left out. Import again after the repository sync.`,
      );
    else {
      const override = { assignee: o.assignee ?? "", component: o.component ?? "", labels: o.labels ?? [], channel: o.channel ?? "" };
      // An entry may give only the repository's criticality.
      const error = overrideIsEmpty(override) ? undefined : validateRule({ match: "@override", ...override }, (ch) => ctx.deps.catalogue.channelProblem(ch));
      if (error) plan.errors.push(`Ownership override for ${o.repository}: ${error}`);
    }
  }
  plan.changes.push(details.length ? { kind: "update", what: "Ownership routing", details } : { kind: "unchanged", what: "Ownership routing", details: [] });
}

export interface ImportResult {
  applied: Change[];
  failed: { what: string; reason: string }[];
  warnings: string[];
}

/**
 * Carries the plan out. Each integration is tested and saved on its own; a failure leaves
 * it (and its mappings) out and the rest goes on. Secrets: by document index and field name.
 */
export async function applyImport(deps: Services, doc: ConfigDocument, secrets: Map<number, SecretValues>, by: string): Promise<ImportResult> {
  const result: ImportResult = { applied: [], failed: [], warnings: [] };
  const ctx = await context(deps);
  const ids = new Map([...ctx.existing.values()].map((i) => [i.name, i.id]));
  // Integrations that name others go after them (GitHub before GitHub Issues through it).
  const order = doc.integrations.map((entry, index) => ({ entry, index })).sort((a, b) => refers(deps, a.entry) - refers(deps, b.entry));
  const saved = new Map<number, number>();
  for (const { entry, index } of order) {
    const connector = deps.catalogue.get(entry.kind)!;
    const label = `Integration ${entry.name} (${connector.card.name})`;
    const existing = ctx.existing.get(key(entry.kind, entry.name));
    const given = Object.fromEntries(Object.entries(secrets.get(index) ?? {}).filter(([, v]) => v !== ""));
    const { form, unknown } = settingsAsForm(connector, entry.settings ?? {}, (n) => ids.get(n));
    if (unknown.length) {
      result.failed.push({ what: label, reason: `It names ${unknown.map((n) => `"${n}"`).join(", ")}, which could not be connected.` });
      continue;
    }
    const current = existing ? { settings: integrationSettings(existing), secrets: deps.vault.openSecrets(existing.secrets) } : undefined;
    const parsed = parseSettingsForm(connector, { ...form, ...given }, current);
    // Nothing new for a connected integration: no test, no save.
    if (
      existing &&
      parsed.ok &&
      !Object.keys(given).length &&
      !sameSettings(current!.settings, { ...current!.settings, ...parsed.settings }, configurableFields(connector)).length
    ) {
      saved.set(index, existing.id);
      continue;
    }
    if (!parsed.ok) {
      result.failed.push({ what: label, reason: Object.values(parsed.errors).join(" ") });
      continue;
    }
    const env = connectorContext({ ...deps.env, logger: deps.logger });
    const outcome = await testConnection(connector, parsed, env, deps);
    if (!outcome.ok) {
      result.failed.push({ what: label, reason: [outcome.message, outcome.advice?.steps[0]].filter(Boolean).join(" ") });
      continue;
    }
    const id = await saveConnection(deps, connector, existing, { settings: { ...parsed.settings, ...outcome.result.discovered }, secrets: parsed.secrets }, by);
    // Saved under the name in the document, which is how it will be found next time.
    if (!existing) {
      const problem = await renameIntegration(deps.db, id, entry.name);
      if (problem) result.failed.push({ what: label, reason: `Connected, but not named "${entry.name}": ${problem}` });
    }
    ids.set(entry.name, id);
    saved.set(index, id);
    result.applied.push({ kind: existing ? "update" : "create", what: label, details: [] });
  }

  for (const [index, entry] of doc.integrations.entries()) {
    const integrationId = saved.get(index);
    for (const mapping of entry.mappings ?? []) {
      const what = `Mapping ${mapping.name} on ${entry.name}`;
      if (integrationId === undefined) {
        result.failed.push({ what, reason: `${entry.name} was not connected.` });
        continue;
      }
      try {
        await applyMapping(deps, ctx, result, integrationId, mapping, what);
      } catch (err) {
        result.failed.push({ what, reason: err instanceof ExternalError ? redactText(err.message) : err instanceof Error ? err.message : String(err) });
      }
    }
  }

  if (doc.sla) {
    const next = slaPolicy(doc.sla);
    if (!samePolicy(await loadSla(deps.db), next)) {
      await saveSla(deps.db, next);
      await enqueue(deps.db, RECOMPUTE_DUE_JOB, null, deps.now());
      result.applied.push({ kind: "update", what: "SLAs", details: [] });
    }
  }
  if (doc.ownership) {
    const rules = rulesOf(doc.ownership);
    const before = await loadRouting(deps.db);
    let rescoreAll = false;
    await saveRouting(deps.db, { useCodeowners: doc.ownership.useCodeowners ?? true, useTopics: doc.ownership.useTopics ?? true, rules });
    for (const o of doc.ownership.repositories ?? []) {
      const id = ctx.repoIds.get(o.repository.toLowerCase());
      if (id === undefined) continue;
      const value = { assignee: o.assignee ?? "", component: o.component ?? "", labels: o.labels ?? [], channel: o.channel ?? "" };
      await saveOverride(deps.db, id, value);
      if ((o.criticality ?? null) !== (await repositoryCriticality(deps.db, id))) {
        await saveRepositoryCriticality(deps.db, id, o.criticality ?? null);
        rescoreAll = true;
      }
    }
    if (rescoreAll || JSON.stringify(before.rules.map((r) => r.criticality ?? "")) !== JSON.stringify(rules.map((r) => r.criticality)))
      await enqueue(deps.db, RESCORE_JOB, { all: true }, deps.now());
    result.applied.push({ kind: "update", what: "Ownership routing", details: [] });
  }
  if (doc.policy) {
    const { rules } = readRules(doc.policy.rules ?? []);
    if (JSON.stringify(await loadPolicyRules(deps.db)) !== JSON.stringify(rules)) {
      await savePolicyRules(deps.db, rules);
      await enqueue(deps.db, RESCORE_JOB, { all: true }, deps.now());
      result.applied.push({ kind: "update", what: "Remediation policy", details: [] });
    }
  }
  deps.logger.info("configuration imported", { by, applied: result.applied.length, failed: result.failed.length });
  return result;
}

function refers(deps: Services, entry: ConfigIntegration): number {
  const connector = deps.catalogue.get(entry.kind)!;
  return connector.fields.some(
    (f) => (f.type === "integration" || f.type === "integrations") && entry.settings?.[f.name] && String(entry.settings[f.name]) !== "",
  )
    ? 1
    : 0;
}

async function applyMapping(deps: Services, ctx: Context, result: ImportResult, integrationId: number, mapping: ConfigMapping, what: string): Promise<void> {
  const integration = (await deps.db.selectFrom("integrations").selectAll().where("id", "=", integrationId).executeTakeFirstOrThrow()) as Integration;
  const connector = deps.catalogue.get(integration.kind)!;
  if (!connector.tracker) throw new Error(`${integration.name} is not an issue tracker.`);
  const data = toMappingData(mapping);
  // Checked against the tracker as it is now, like a mapping saved in the form.
  const connection = await withReused(deps, connector, { settings: integrationSettings(integration), secrets: deps.vault.openSecrets(integration.secrets) });
  const session = connector.tracker.session(connection, connectorContext({ ...deps.env, logger: deps.logger }));
  const problems = Object.values(validateMapping(data.fields, await session.fields(data.target)));
  if (problems.length) throw new Error(`It does not match the tracker's fields: ${problems.join(" ")}`);
  const row = await deps.db
    .selectFrom("tracker_mappings")
    .select("id")
    .where("integration_id", "=", integrationId)
    .where("name", "=", mapping.name)
    .executeTakeFirst();
  const now = deps.now();
  const id = await saveMapping(deps.db, integrationId, row?.id, data, now);
  const wanted = resolveAssignments(ctx, undefined, what, mapping.assignments ?? []);
  const have = await listAssignments(deps.db, id);
  const keep = new Set<number>();
  for (const a of wanted) {
    const same = have.find((h) => !keep.has(h.id) && assignmentKey(assignmentOf(h)) === assignmentKey(a));
    if (same) keep.add(same.id);
    else keep.add(await saveAssignment(deps.db, id, undefined, a, now));
  }
  const gone = have.filter((h) => !keep.has(h.id)).map((h) => h.id);
  await deleteAssignments(deps.db, gone);
  result.applied.push({ kind: row ? "update" : "create", what, details: [] });
}
