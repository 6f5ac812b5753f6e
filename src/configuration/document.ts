// Configuration as code: the whole setup — integrations (never their secrets), tracker
// mappings with their assignments, SLAs, ownership routing — as one YAML document, and the
// JSON Schema it is validated by. References are by name (an integration's kind and name, a
// repository's full name) so a document written from one Patchbay restores into another.
import type { Services } from "../services.js";
import { Ajv, type ErrorObject } from "ajv";
import { parseDocument, stringify } from "yaml";
import type { ConnectorCatalogue } from "../connectors/catalogue.js";
import type { Connector, SettingField, SettingValues } from "../connectors/types.js";
import { RISK_BANDS } from "../vuln/severity.js";
import { writeRules } from "../policy/rules.js";
import { loadPolicyRules } from "../policy/apply.js";
import type { Criticality, GroupBy, PushMode, Severity } from "../db/schema.js";
import { SEVERITIES } from "../findings/normalize.js";
import { loadSla, MAX_SLA_DAYS, type SlaPolicy } from "../findings/sla.js";
import { integrationSettings, listIntegrations } from "../integrations/store.js";
import { loadRouting, parseOverride, type RouteOverride, type RoutingSettings } from "../routing/ownership.js";
import type { FieldMapping } from "../tickets/fields.js";
import { INBOUND_ACTIONS } from "../tickets/inbound.js";
import { GROUP_BY, listAssignments, mappingData, PUSH_MODES } from "../tickets/store.js";
import { repositoryIds } from "../tickets/subjects.js";

export const CONFIG_VERSION = 1;
export const SCHEMA_ID = "https://patchbay.dev/schemas/configuration-v1.json";

export interface ConfigAssignment {
  /** "all", or repositories by full name. */
  repositories: "all" | string[];
  minSeverity: Severity;
  groupBy: GroupBy;
  pushMode: PushMode;
}

export interface ConfigMapping {
  name: string;
  target: { project: { id: string; name: string; key?: string }; ticketType: { id: string; name: string } };
  fields: FieldMapping[];
  statuses: { map: Record<string, string>; names: Record<string, string> };
  inbound: { map: Record<string, string>; stillDetected: string; reconcile: string; names: Record<string, string>; linkedTickets?: string };
  templates: { title: string; description: string };
  assignments: ConfigAssignment[];
}

export interface ConfigIntegration {
  kind: string;
  name: string;
  /** Non-secret settings by field name; integration fields name other integrations. */
  settings: Record<string, string | boolean | string[]>;
  /** The secrets it was connected with, by field name: asked for on import, never exported. */
  secrets: string[];
  mappings?: ConfigMapping[];
}

export interface ConfigDocument {
  version: number;
  sla: SlaPolicy;
  ownership: RoutingSettings & { repositories: (Partial<RouteOverride> & { repository: string; criticality?: Criticality })[] };
  integrations: ConfigIntegration[];
  /** Remediation policy rules, in order (see src/policy/rules.ts). */
  policy?: { rules: unknown[] };
}

/** Settings a connector stores for itself (OAuth state, discovered values) are not configuration. */
export function configurableFields(connector: Connector): SettingField[] {
  return connector.fields.filter((f) => f.type !== "secret");
}

export async function exportConfiguration(deps: Pick<Services, "db" | "vault" | "catalogue">): Promise<ConfigDocument> {
  const { db } = deps;
  const integrations = await listIntegrations(db);
  const nameOf = new Map(integrations.map((i) => [i.id, i.name]));
  const repos = await db.selectFrom("repositories").select(["id", "full_name", "routing", "criticality"]).execute();
  const repoName = new Map(repos.map((r) => [r.id, r.full_name]));
  const out: ConfigIntegration[] = [];
  for (const integration of integrations) {
    const connector = deps.catalogue.get(integration.kind);
    if (!connector) continue;
    const stored = integrationSettings(integration);
    const settings: ConfigIntegration["settings"] = {};
    for (const field of configurableFields(connector)) {
      const value = stored[field.name];
      if (value === undefined || value === "") continue;
      if (field.type === "integration") settings[field.name] = nameOf.get(Number(value)) ?? "";
      else if (field.type === "integrations")
        settings[field.name] = String(value)
          .split(",")
          .filter(Boolean)
          .map((id) => nameOf.get(Number(id)) ?? "")
          .filter(Boolean);
      else settings[field.name] = value;
    }
    const secretNames = Object.keys(deps.vault.openSecrets(integration.secrets));
    const webhookField = connector.scm?.webhook.secretField;
    const secrets = connector.fields
      .filter((f) => f.type === "secret" && secretNames.includes(f.name))
      // A webhook secret Patchbay made itself is made again on restore.
      .filter((f) => !(f.name === webhookField && stored.webhookAutomatic === true))
      .map((f) => f.name);
    const entry: ConfigIntegration = { kind: integration.kind, name: integration.name, settings, secrets };
    if (connector.tracker) {
      const mappings = await db.selectFrom("tracker_mappings").selectAll().where("integration_id", "=", integration.id).orderBy("name").execute();
      entry.mappings = [];
      for (const row of mappings) {
        const data = mappingData(row);
        entry.mappings.push({
          name: data.name,
          target: data.target,
          fields: data.fields,
          statuses: { map: data.statusMap as Record<string, string>, names: data.statusNames },
          inbound: {
            map: data.inbound.map,
            stillDetected: data.inbound.stillDetected,
            reconcile: data.inbound.reconcile,
            names: data.inbound.names,
            linkedTickets: data.inbound.linkedTickets,
          },
          templates: data.templates,
          assignments: (await listAssignments(db, row.id))
            .map((a) => {
              const ids = repositoryIds(a);
              return {
                repositories: ids
                  ? ids
                      .map((id) => repoName.get(id))
                      .filter((n): n is string => Boolean(n))
                      .sort()
                  : ("all" as const),
                minSeverity: a.min_severity,
                groupBy: a.group_by,
                pushMode: a.push_mode,
              };
            })
            // A stable order, so the same setup always exports the same document.
            .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
        });
      }
    }
    out.push(entry);
  }
  const routing = await loadRouting(db);
  return {
    version: CONFIG_VERSION,
    sla: await loadSla(db),
    ownership: {
      ...routing,
      rules: routing.rules.map(({ criticality, ...r }) => (criticality ? { ...r, criticality } : r)),
      repositories: repos
        .map((r) => ({ r, o: parseOverride(r.routing) }))
        .filter((x) => x.o || x.r.criticality)
        .map(({ r, o }) => ({ repository: r.full_name, ...(o ?? {}), ...(r.criticality ? { criticality: r.criticality } : {}) }))
        .sort((a, b) => a.repository.localeCompare(b.repository)),
    },
    integrations: out,
    policy: { rules: writeRules(await loadPolicyRules(db)) },
  };
}

export function toYaml(doc: ConfigDocument, now: Date): string {
  const header = [
    `# Patchbay configuration, exported ${now.toISOString()}.`,
    "# Secrets are not included: an import asks for them. Validated by the JSON Schema at",
    "# Settings → Configuration (configuration.schema.json).",
    `# yaml-language-server: $schema=${SCHEMA_ID}`,
  ].join("\n");
  return `${header}\n${stringify(doc, { lineWidth: 0 })}`;
}

export type ParseResult = { ok: true; doc: ConfigDocument } | { ok: false; errors: string[] };

const MAX_DOCUMENT = 2 * 1024 * 1024;

/** Reads a YAML (or JSON) document and checks it against the schema, with line numbers. */
export function parseConfiguration(text: string, catalogue: ConnectorCatalogue): ParseResult {
  if (!text.trim()) return { ok: false, errors: ["The document is empty: paste or choose a Patchbay configuration file."] };
  if (text.length > MAX_DOCUMENT)
    return { ok: false, errors: ["The document is larger than 2 MB; a Patchbay configuration is far smaller. Check that this is the right file."] };
  const read = readYaml(text);
  if (!read.ok) return read;
  const { parsed, value } = read;
  const validate = validator(catalogue);
  if (!validate(value)) {
    return { ok: false, errors: (validate.errors ?? []).slice(0, 20).map((e) => describeError(e, parsed, value)) };
  }
  return { ok: true, doc: value as ConfigDocument };
}

/** Parses YAML (or JSON) text as Patchbay reads documents: unique keys, bounded aliases, errors with their line. */
export function readYaml(text: string): { ok: true; parsed: ReturnType<typeof parseDocument>; value: unknown } | { ok: false; errors: string[] } {
  const parsed = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (parsed.errors.length) {
    return {
      ok: false,
      errors: parsed.errors.slice(0, 10).map((e) => `Line ${lineOf(text, e.pos[0])}: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`),
    };
  }
  try {
    // A "billion laughs" document: aliases of aliases that expand without end.
    return { ok: true, parsed, value: parsed.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return {
      ok: false,
      errors: [`The document repeats YAML aliases (*name) more than Patchbay needs (${(err as Error).message.split("\n")[0]}). Write the values out instead.`],
    };
  }
}

function describeError(e: ErrorObject, doc: ReturnType<typeof parseDocument>, value: unknown): string {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  const node = doc.getIn(
    path.map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
    true,
  ) as { range?: [number, number] } | undefined;
  const line = node?.range ? lineOf(String(doc.toString()), node.range[0]) : undefined;
  const where = readablePath(path, value) || "the document";
  let message = e.message ?? "is not valid";
  if (e.keyword === "additionalProperties") message = `has "${(e.params as { additionalProperty: string }).additionalProperty}", which Patchbay does not know`;
  if (e.keyword === "enum") message = `must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String).join(", ")}`;
  if (e.keyword === "required") message = `needs "${(e.params as { missingProperty: string }).missingProperty}"`;
  return `${line ? `Line ${line}: ` : ""}${where} ${message}.`;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** "integrations[2] (jira "Jira acme") settings.email" rather than "/integrations/2/settings/email". */
function readablePath(path: string[], value: unknown): string {
  let out = "";
  let cursor: unknown = value;
  for (const part of path) {
    const next = cursor && typeof cursor === "object" ? (cursor as Record<string, unknown>)[part] : undefined;
    if (/^\d+$/.test(part)) {
      const named = next && typeof next === "object" ? (next as { name?: unknown; kind?: unknown }) : undefined;
      out += `[${Number(part) + 1}]${named && typeof named.name === "string" ? ` ("${named.name}")` : ""}`;
    } else out += `${out ? "." : ""}${part}`;
    cursor = next;
  }
  return out;
}

let cached: { catalogue: ConnectorCatalogue; validate: ReturnType<Ajv["compile"]> } | undefined;

function validator(catalogue: ConnectorCatalogue) {
  if (cached?.catalogue !== catalogue) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    cached = { catalogue, validate: ajv.compile(configurationSchema(catalogue)) };
  }
  return cached.validate;
}

const str = (maxLength = 500) => ({ type: "string", maxLength });
const choice = { type: "object", additionalProperties: false, required: ["id", "name"], properties: { id: str(200), name: str(300), key: str(100) } };

function settingSchema(field: SettingField): Record<string, unknown> {
  const described = { description: field.label };
  switch (field.type) {
    case "checkbox":
      return { ...described, type: "boolean" };
    case "select":
      return { ...described, enum: (field.options ?? []).map((o) => o.value) };
    case "integration":
      return { ...described, ...str(200), description: `${field.label}: the name of a ${field.integrationKind} integration` };
    case "integrations":
      return { ...described, type: "array", items: str(200), maxItems: 100, description: `${field.label}: integration names` };
    default:
      return { ...described, ...str(field.maxLength ?? 500) };
  }
}

/** The published JSON Schema (draft-07), from the connectors this Patchbay has. */
export function configurationSchema(catalogue: ConnectorCatalogue): Record<string, unknown> {
  const connectors = catalogue.all();
  const kinds = connectors.map((c) => c.card.kind);
  const severityDays = { anyOf: [{ type: "integer", minimum: 1, maximum: MAX_SLA_DAYS }, { type: "null" }] };
  const fieldMapping = {
    type: "object",
    additionalProperties: false,
    required: ["fieldId", "name", "kind", "required", "source", "value"],
    properties: {
      fieldId: str(200),
      name: str(300),
      kind: { enum: ["text", "document", "number", "date", "choice", "choices", "labels", "user", "unsupported"] },
      required: { type: "boolean" },
      source: { enum: ["tracker", "patchbay", "manual", "none"] },
      value: str(5000),
      severityMap: { type: "object", additionalProperties: false, properties: Object.fromEntries(SEVERITIES.map((s) => [s, str(200)])) },
      choiceNames: { type: "object", additionalProperties: str(300), maxProperties: 5000 },
    },
  };
  const mapping = {
    type: "object",
    additionalProperties: false,
    required: ["name", "target", "fields", "statuses"],
    properties: {
      name: { type: "string", minLength: 1, maxLength: 200 },
      target: { type: "object", additionalProperties: false, required: ["project", "ticketType"], properties: { project: choice, ticketType: choice } },
      fields: { type: "array", items: fieldMapping, maxItems: 500 },
      statuses: {
        type: "object",
        additionalProperties: false,
        required: ["map"],
        properties: {
          map: {
            type: "object",
            additionalProperties: false,
            properties: Object.fromEntries(["open", "in_progress", "done", "accepted"].map((s) => [s, str(200)])),
          },
          names: { type: "object", additionalProperties: str(300) },
        },
      },
      inbound: {
        type: "object",
        additionalProperties: false,
        properties: {
          map: { type: "object", additionalProperties: { enum: Object.keys(INBOUND_ACTIONS) } },
          stillDetected: { enum: ["reopen", "flag"] },
          reconcile: { enum: ["report", "patchbay", "tracker"] },
          names: { type: "object", additionalProperties: str(300) },
          linkedTickets: { enum: ["comment", "comment_and_move"] },
        },
      },
      templates: { type: "object", additionalProperties: false, properties: { title: str(1000), description: str(20_000) } },
      assignments: {
        type: "array",
        maxItems: 200,
        items: {
          type: "object",
          additionalProperties: false,
          required: ["repositories", "minSeverity", "groupBy", "pushMode"],
          properties: {
            repositories: { anyOf: [{ const: "all" }, { type: "array", items: str(300), minItems: 1, maxItems: 5000 }] },
            minSeverity: { enum: SEVERITIES },
            groupBy: { enum: Object.keys(GROUP_BY) },
            pushMode: { enum: Object.keys(PUSH_MODES) },
          },
        },
      },
    },
  };
  const policyRange = {
    type: "object",
    additionalProperties: false,
    properties: { atLeast: { type: "number", minimum: 0 }, below: { type: "number", minimum: 0 } },
  };
  const oneOrMore = { anyOf: [str(200), { type: "array", items: str(200), minItems: 1, maxItems: 20 }] };
  const routeValues = {
    assignee: str(200),
    component: str(200),
    labels: { type: "array", items: str(100), maxItems: 20 },
    channel: str(100),
    criticality: { enum: ["high", "normal", "low"], description: "How much these repositories matter to the risk score." },
  };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: SCHEMA_ID,
    title: "Patchbay configuration",
    description: "Integrations (without secrets), tracker mappings and assignments, SLAs and ownership routing, as exported from Settings → Configuration.",
    type: "object",
    additionalProperties: false,
    required: ["version", "integrations"],
    properties: {
      version: { const: CONFIG_VERSION },
      sla: {
        type: "object",
        additionalProperties: false,
        required: [...SEVERITIES],
        properties: {
          ...Object.fromEntries(SEVERITIES.map((s) => [s, severityDays])),
          basis: { enum: ["severity", "risk"], description: "What deadlines count by: severity, or the risk score's band." },
          bands: {
            type: "object",
            additionalProperties: false,
            properties: Object.fromEntries(RISK_BANDS.map((b) => [b, severityDays])),
            description: "Days per risk band (90–100 critical, 70–89 high, 40–69 medium, below 40 low).",
          },
          kevDays: { ...severityDays, description: "At most this many days from when Patchbay first saw a finding in KEV (null: CISA's window alone)." },
        },
      },
      ownership: {
        type: "object",
        additionalProperties: false,
        properties: {
          useCodeowners: { type: "boolean" },
          useTopics: { type: "boolean" },
          rules: {
            type: "array",
            maxItems: 500,
            items: { type: "object", additionalProperties: false, required: ["match"], properties: { match: str(200), ...routeValues } },
          },
          repositories: {
            type: "array",
            maxItems: 5000,
            items: { type: "object", additionalProperties: false, required: ["repository"], properties: { repository: str(300), ...routeValues } },
          },
        },
      },
      policy: {
        type: "object",
        additionalProperties: false,
        description: "Remediation policy: rules evaluated in order on every import and feed change; the first that matches a finding decides.",
        properties: {
          rules: {
            type: "array",
            maxItems: 200,
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name", "action"],
              properties: {
                name: str(200),
                when: {
                  type: "object",
                  additionalProperties: false,
                  properties: {
                    severity: { anyOf: [{ enum: SEVERITIES }, { type: "array", items: { enum: SEVERITIES }, minItems: 1 }] },
                    risk: policyRange,
                    epss: policyRange,
                    kev: { type: "boolean" },
                    scope: oneOrMore,
                    dependency: { enum: ["direct", "transitive"] },
                    ecosystem: oneOrMore,
                    package: str(200),
                    repository: str(200),
                    topic: str(200),
                    owner: str(200),
                    age: policyRange,
                  },
                },
                action: { enum: ["accept_risk", "false_positive", "severity", "no_push", "push_to"] },
                reason: str(1000),
                days: { type: "integer", minimum: 1, maximum: 366 },
                severity: { enum: SEVERITIES },
                mapping: str(200),
              },
            },
          },
        },
      },
      integrations: {
        type: "array",
        maxItems: 500,
        items: {
          type: "object",
          required: ["kind", "name"],
          properties: {
            kind: { enum: kinds },
            name: { type: "string", minLength: 1, maxLength: 200 },
            settings: { type: "object" },
            secrets: { type: "array", items: str(100), uniqueItems: true },
            mappings: { type: "array", items: mapping, maxItems: 200 },
          },
          additionalProperties: false,
          // Each kind's settings and secrets are its own connector's fields.
          allOf: connectors.map((c) => ({
            if: { properties: { kind: { const: c.card.kind } } },
            then: {
              properties: {
                settings: {
                  type: "object",
                  additionalProperties: false,
                  properties: Object.fromEntries(configurableFields(c).map((f) => [f.name, settingSchema(f)])),
                },
                secrets: c.fields.some((f) => f.type === "secret")
                  ? { type: "array", items: { enum: c.fields.filter((f) => f.type === "secret").map((f) => f.name) } }
                  : { type: "array", maxItems: 0 },
                ...(c.tracker ? {} : { mappings: { type: "array", maxItems: 0 } }),
              },
            },
          })),
        },
      },
    },
  };
}

/** Settings as the connector's form would post them, with integration names turned into ids. */
export function settingsAsForm(
  connector: Connector,
  settings: ConfigIntegration["settings"],
  idOf: (name: string) => number | undefined,
): { form: Record<string, string>; unknown: string[] } {
  const form: Record<string, string> = {};
  const unknown: string[] = [];
  for (const field of configurableFields(connector)) {
    const value = settings[field.name];
    if (value === undefined) continue;
    if (field.type === "checkbox") form[field.name] = value === true ? "on" : "";
    else if (field.type === "integration" || field.type === "integrations") {
      const names = Array.isArray(value) ? value : [String(value)].filter(Boolean);
      const ids = names.map((n) => {
        const id = idOf(n);
        if (id === undefined) unknown.push(n);
        return id;
      });
      form[field.name] = ids.filter((id): id is number => id !== undefined).join(",");
    } else form[field.name] = String(value);
  }
  return { form, unknown };
}

export function sameSettings(a: SettingValues, b: SettingValues, fields: SettingField[]): string[] {
  const changed: string[] = [];
  for (const f of fields) {
    const x = a[f.name] ?? (f.type === "checkbox" ? (f.defaultChecked ?? false) : "");
    const y = b[f.name] ?? (f.type === "checkbox" ? (f.defaultChecked ?? false) : "");
    if (String(x) !== String(y)) changed.push(f.name);
  }
  return changed;
}
