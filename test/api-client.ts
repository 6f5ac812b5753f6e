// A client for Patchbay's API in tests: every answer it receives is checked against the
// OpenAPI description Patchbay serves (the operation, its status and its body's schema), so a
// test fails when the API and its description drift apart.
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { TestApp } from "./helpers.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };

export class ApiClient {
  #doc: Doc | undefined;
  #ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly checked: string[] = [];

  constructor(
    private readonly app: TestApp,
    public token: string | undefined,
  ) {
    addFormats(this.#ajv);
  }

  /** The description, checked once against the OpenAPI 3.1 schema. */
  async description(): Promise<Doc> {
    if (this.#doc) return this.#doc;
    const res = await this.app.runtime.app.request(`${this.app.config.baseUrl}/api/v1/openapi.json`);
    if (res.status !== 200) throw new Error(`openapi.json: ${res.status}`);
    const doc = (await res.json()) as Doc;
    const verdict = await new Validator().validate(doc as never);
    if (!verdict.valid) throw new Error(`openapi.json is not a valid OpenAPI 3.1 description: ${JSON.stringify(verdict.errors).slice(0, 2000)}`);
    this.#ajv.addSchema(doc as object, "openapi.json");
    return (this.#doc = doc);
  }

  async request(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; raw?: BodyInit } = {},
  ): Promise<{ status: number; body: any; res: Response }> {
    const doc = await this.description();
    const headers = new Headers(init.headers);
    if (this.token) headers.set("authorization", `Bearer ${this.token}`);
    if (init.body !== undefined) headers.set("content-type", "application/json");
    const res = await this.app.runtime.app.request(`${this.app.config.baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
    });
    const type = res.headers.get("content-type") ?? "";
    const text = await res.text();
    const body = type.startsWith("application/json") ? JSON.parse(text) : text;
    this.#check(doc, method.toLowerCase(), path, res.status, type, body);
    return { status: res.status, body, res };
  }

  get(path: string) {
    return this.request("GET", path);
  }

  post(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request("POST", path, { body, headers });
  }

  #check(doc: Doc, method: string, path: string, status: number, type: string, body: unknown) {
    const pathname = path.split("?")[0]!;
    const template = Object.keys(doc.paths).find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(pathname));
    // A path the API does not have: its 404 is the plain error shape.
    if (!template) {
      if (status !== 404) throw new Error(`${method.toUpperCase()} ${pathname} answered ${status} but is not in openapi.json`);
      return this.#validate({ $ref: "openapi.json#/components/schemas/Error" }, body, `${method} ${pathname} ${status}`);
    }
    const operation = doc.paths[template]![method];
    if (!operation) throw new Error(`${method.toUpperCase()} ${template} is not in openapi.json`);
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`${method.toUpperCase()} ${template} answered ${status}, which openapi.json does not list`);
    const media = type.split(";")[0]!.trim();
    if (!response.content) return;
    if (!response.content[media]) throw new Error(`${method.toUpperCase()} ${template} ${status} answered ${media}, which openapi.json does not list`);
    const pointer = `openapi.json#/paths/${template.replace(/~/g, "~0").replace(/\//g, "~1")}/${method}/responses/${status}/content/${media.replace(/\//g, "~1")}/schema`;
    this.#validate({ $ref: pointer }, body, `${method.toUpperCase()} ${template} ${status}`);
    this.checked.push(`${method.toUpperCase()} ${template} ${status}`);
  }

  #validate(schema: object, body: unknown, what: string) {
    const validate = this.#ajv.compile(schema);
    if (!validate(body))
      throw new Error(`${what}: the body does not match openapi.json: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 1000)}`);
  }
}
