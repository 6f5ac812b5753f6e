// GitHub's published REST API description (@octokit/openapi, api.github.com) as a checker for
// the simulator: every request Patchbay sends is matched to a documented operation, its query
// names and JSON body are validated against the operation's parameters and request schema, and
// every answer the simulator gives is validated against the operation's response schema.
// Schemas are compiled per operation, on first use, and kept for the worker's life.
import fs from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: Json[];
  requestBody?: Json;
  responses: Record<string, Json>;
}
interface Route {
  template: string;
  pattern: RegExp;
  literals: number;
  methods: Record<string, Operation>;
  parameters: Json[];
}

const METHODS = ["get", "put", "post", "patch", "delete", "head"];

export class GitHubContract {
  readonly #spec: Json;
  readonly #routes: Route[];
  readonly #ajv: Ajv;
  readonly #compiled = new Map<string, ValidateFunction>();
  /** Operations exercised, by operationId. */
  readonly seen = new Set<string>();

  constructor(spec: Json) {
    this.#spec = spec;
    const paths = spec.paths as Record<string, Json>;
    this.#routes = Object.entries(paths)
      .map(([template, item]) => ({
        template,
        // A file's path ({path}) and a git reference ({ref}) run over several segments.
        pattern: new RegExp(
          `^${template
            .split("/")
            .map((seg) => (/^\{(path|ref)\}$/.test(seg) ? ".+" : /^\{.+\}$/.test(seg) ? "[^/]+" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
            .join("/")}/?$`,
        ),
        literals: template.split("/").filter((seg) => seg && !seg.startsWith("{")).length,
        methods: Object.fromEntries(METHODS.filter((m) => item[m]).map((m) => [m, item[m] as Operation])),
        parameters: (item.parameters as Json[] | undefined) ?? [],
      }))
      // "/repos/{owner}/{repo}/issues/comments" before "/repos/{owner}/{repo}/issues/{issue_number}".
      .sort((a, b) => b.literals - a.literals);
    this.#ajv = new Ajv({ strict: false, allErrors: false, logger: false });
    addFormats(this.#ajv);
    this.#ajv.addSchema({ $id: "github", components: openApiToJsonSchema(spec.components) } as Json);
  }

  /**
   * The documented operation a request is, or undefined. GitHub's redirects for moved and
   * renamed repositories point at /repositories/{id}/…, the same operations by repository id.
   */
  operation(method: string, path: string): { route: Route; op: Operation } | undefined {
    const m = method.toLowerCase();
    const byId = /^\/repositories\/\d+(\/.*)?$/.exec(path);
    const candidates = byId ? [path, `/repos/owner/repo${byId[1] ?? ""}`] : [path];
    for (const candidate of candidates) {
      for (const route of this.#routes) {
        if (route.pattern.test(candidate) && route.methods[m]) return { route, op: route.methods[m]! };
      }
    }
    return undefined;
  }

  /**
   * An answer completed to the documented schema: properties GitHub always sends that the
   * simulator does not model (avatar URLs, node ids, counters) get a value of their documented
   * type. What the simulator sets is kept as it is, and validated as it is.
   */
  complete(method: string, path: string, status: number, data: unknown): unknown {
    const found = this.operation(method, path);
    const schema = found ? this.#jsonSchema(this.#response(found.op, status)) : undefined;
    return schema ? this.#fill(schema, data, 0) : data;
  }

  #fill(schema: Json, data: unknown, depth: number): unknown {
    const s = this.#deref(schema);
    if (depth > 40 || data === null || data === undefined) return data;
    if (Array.isArray(s.allOf)) return (s.allOf as Json[]).reduce<unknown>((d, sub) => this.#fill(sub, d, depth + 1), data);
    const alternatives = (s.anyOf ?? s.oneOf) as Json[] | undefined;
    if (alternatives) {
      const fits = alternatives
        .map((a) => this.#deref(a))
        .find((a) =>
          Array.isArray(data)
            ? a.type === "array"
            : typeof data === "object"
              ? a.type === "object" || a.properties || a.allOf
              : a.type !== "object" && a.type !== "array",
        );
      return fits ? this.#fill(fits, data, depth + 1) : data;
    }
    if (Array.isArray(data)) return s.items ? data.map((item) => this.#fill(s.items as Json, item, depth + 1)) : data;
    if (typeof data !== "object") return data;
    const out = { ...(data as Json) };
    const properties = (s.properties ?? {}) as Record<string, Json>;
    // What the simulator set is completed in turn; what is synthesized is complete already.
    for (const [name, value] of Object.entries(out)) if (properties[name]) out[name] = this.#fill(properties[name]!, value, depth + 1);
    for (const name of (s.required as string[] | undefined) ?? [])
      if (!(name in out) && properties[name]) out[name] = this.#synthesized(properties[name]!, depth + 1);
    return out;
  }

  /** Synthesized values, once per schema (shared: they are only ever serialized). */
  readonly #synthesizedCache = new Map<Json, unknown>();

  #synthesized(schema: Json, depth: number): unknown {
    if (this.#synthesizedCache.has(schema)) return this.#synthesizedCache.get(schema);
    const value = this.#synthesize(schema, depth);
    this.#synthesizedCache.set(schema, value);
    return value;
  }

  #synthesize(schema: Json, depth: number): unknown {
    const s = this.#deref(schema);
    // GitHub's own default or example for the property, where the description gives one.
    if ("default" in s) return s.default;
    if ("example" in s && s.example !== null && typeof s.example !== "object") return s.example;
    if (s.nullable === true || depth > 40) return null;
    if (Array.isArray(s.allOf)) return (s.allOf as Json[]).reduce<unknown>((d, sub) => this.#fill(sub, d, depth + 1), {});
    const alternatives = (s.anyOf ?? s.oneOf) as Json[] | undefined;
    if (alternatives?.length) return this.#synthesize(alternatives[0]!, depth + 1);
    if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
    switch (s.type) {
      case "string":
        return s.format === "date-time"
          ? "2026-01-01T00:00:00Z"
          : s.format === "uri"
            ? "https://api.github.com/"
            : s.format === "email"
              ? "octocat@github.com"
              : s.format === "date"
                ? "2026-01-01"
                : "x".repeat(Number(s.minLength ?? 0));
      case "integer":
      case "number":
        return Number(s.minimum ?? 0);
      case "boolean":
        return false;
      case "array":
        return [];
      case "object":
        return this.#fill(s, {}, depth + 1);
      default:
        return s.properties ? this.#fill(s, {}, depth + 1) : null;
    }
  }

  /** Problems with a request, in words (empty when it is one GitHub documents). */
  checkRequest(method: string, path: string, query: URLSearchParams, body: string): string[] {
    const found = this.operation(method, path);
    if (!found) return [`${method} ${path} is not an operation of GitHub's REST API`];
    const { route, op } = found;
    this.seen.add(op.operationId);
    const problems: string[] = [];
    const declared = new Set(
      [...route.parameters, ...(op.parameters ?? [])]
        .map((p) => this.#deref(p))
        .filter((p) => p.in === "query")
        .map((p) => String(p.name)),
    );
    for (const name of new Set(query.keys()))
      if (!declared.has(name)) problems.push(`${op.operationId}: query parameter "${name}" is not one the operation takes`);
    const schema = this.#jsonSchema(op.requestBody);
    if (!body) return problems;
    if (!schema) return [...problems, `${op.operationId}: the operation takes no body`];
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      return [...problems, `${op.operationId}: the body is not JSON`];
    }
    const validate = this.#validator(`${op.operationId} request`, schema);
    if (!validate(data)) problems.push(`${op.operationId}: request body ${describe(validate)}`);
    return problems;
  }

  /** Problems with an answer (empty when it matches the documented response for its status). */
  checkResponse(method: string, path: string, status: number, contentType: string, body: string): string[] {
    const found = this.operation(method, path);
    if (!found) return [];
    const { op } = found;
    const response = this.#response(op, status);
    if (!response) return [`${op.operationId}: GitHub documents no ${status} answer`];
    const schema = this.#jsonSchema(response);
    if (!schema || !/^application\/json/.test(contentType) || !body) return [];
    const validate = this.#validator(`${op.operationId} ${status}`, schema);
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      return [`${op.operationId}: the ${status} answer is not JSON`];
    }
    return validate(data) ? [] : [`${op.operationId}: ${status} answer ${describe(validate)}`];
  }

  /** The JSON schema of a request body or a response (after its reference), if it has one. */
  #jsonSchema(holder: Json | undefined): Json | undefined {
    const content = (holder ? this.#deref(holder) : undefined)?.content as Record<string, { schema?: Json }> | undefined;
    return content?.["application/json"]?.schema ?? content?.["application/scim+json"]?.schema;
  }

  /** The documented answer of an operation for a status (or its default). */
  #response(op: Operation, status: number): Json | undefined {
    return op.responses[String(status)] ?? op.responses.default;
  }

  #validator(key: string, schema: Json): ValidateFunction {
    let validate = this.#compiled.get(key);
    if (!validate) {
      // Local references (#/components/...) resolve in the registered components document.
      validate = this.#ajv.compile(rebase(schema));
      this.#compiled.set(key, validate);
    }
    return validate;
  }

  #deref(node: Json): Json {
    let current = node;
    for (let i = 0; i < 5 && typeof current.$ref === "string"; i++) {
      const ref = current.$ref as string;
      current = ref
        .replace(/^#\//, "")
        .split("/")
        .reduce<unknown>((at, part) => (at as Json)[part.replace(/~1/g, "/").replace(/~0/g, "~")], this.#spec) as Json;
    }
    return current;
  }
}

/** A schema whose "#/components/..." references point into the registered document. */
function rebase(schema: unknown): Json {
  return openApiToJsonSchema(JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\/components\//g, '"$ref":"github#/components/'))) as Json;
}

/**
 * OpenAPI 3.0's `nullable: true` as JSON Schema: null joins the type (and the enum), or, beside
 * a reference or a composition, becomes an alternative.
 */
function openApiToJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openApiToJsonSchema);
  if (!node || typeof node !== "object") return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) out[key] = key === "example" || key === "examples" ? value : openApiToJsonSchema(value);
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (typeof out.type === "string") {
    out.type = [out.type, "null"];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    return out;
  }
  return { anyOf: [out, { type: "null" }] };
}

function describe(validate: ValidateFunction): string {
  const e = validate.errors?.[0];
  return e
    ? `at ${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`
    : "is invalid";
}

/** GitHub's description, read once per test process (kept on the global object: test files reload modules). */
export function githubContract(): GitHubContract {
  const holder = globalThis as { __githubContract?: GitHubContract };
  if (!holder.__githubContract) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
    holder.__githubContract = new GitHubContract(JSON.parse(fs.readFileSync(file, "utf8")) as Json);
  }
  return holder.__githubContract;
}
