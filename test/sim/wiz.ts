// Wiz simulator: the OAuth token service (client credentials, audience wiz-api) and the
// GraphQL API, executed by graphql-js against a subset of Wiz's schema so that invalid
// queries (unknown fields, a field a union member lacks) fail as they do on Wiz: HTTP 200
// with `errors[]`. Expired or unknown tokens get 401; missing scopes get UNAUTHORIZED.
import crypto from "node:crypto";
import { buildSchema, graphql, type GraphQLSchema } from "graphql";
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

const SDL = /* GraphQL */ `
  scalar DateTime
  enum VulnerabilityFindingStatus { OPEN RESOLVED REJECTED }
  enum Severity { NONE LOW MEDIUM HIGH CRITICAL }
  input DateFilter { after: DateTime before: DateTime }
  input VulnerabilityFindingFilters {
    status: [VulnerabilityFindingStatus!]
    updatedAt: DateFilter
  }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Project { id: ID! name: String! slug: String }
  type Registry { name: String externalId: String }
  type ImageRepository { name: String externalId: String }
  type VulnerableAssetRepositoryBranch {
    id: ID! type: String! name: String! repositoryId: String repositoryName: String
    branchName: String cloudPlatform: String providerUniqueId: String
  }
  type VulnerableAssetContainerImage {
    id: ID! type: String! name: String! imageId: String
    registry: Registry repository: ImageRepository cloudPlatform: String providerUniqueId: String
  }
  type VulnerableAssetVirtualMachine { id: ID! type: String! name: String! operatingSystem: String }
  union VulnerableAsset = VulnerableAssetRepositoryBranch | VulnerableAssetContainerImage | VulnerableAssetVirtualMachine
  type VulnerabilityFinding {
    id: ID! portalUrl: String name: String! CVEDescription: String
    severity: Severity vendorSeverity: Severity nvdSeverity: Severity CVSSSeverity: Severity score: Float
    hasExploit: Boolean hasCisaKevExploit: Boolean hasFix: Boolean epssProbability: Float
    status: VulnerabilityFindingStatus! firstDetectedAt: DateTime lastDetectedAt: DateTime
    resolvedAt: DateTime resolutionReason: String detailedName: String version: String
    fixedVersion: String locationPath: String detectionMethod: String remediation: String
    projects: [Project!] vulnerableAsset: VulnerableAsset
  }
  type VulnerabilityFindingConnection { nodes: [VulnerabilityFinding!]! pageInfo: PageInfo! totalCount: Int! }
  type Query {
    vulnerabilityFindings(first: Int, after: String, filterBy: VulnerabilityFindingFilters): VulnerabilityFindingConnection!
  }
`;

export interface WizSimFinding {
  id: string;
  name: string;
  status: "OPEN" | "RESOLVED" | "REJECTED";
  updatedAt: string;
  vulnerableAsset: { __typename: string; [key: string]: unknown };
  [field: string]: unknown;
}

export interface WizSimClient {
  secret: string;
  scopes: string[];
  disabled?: boolean;
}

const MAX_PAGE = 500;

export class WizSim {
  readonly faults = new FaultKnobs();
  readonly clients = new Map<string, WizSimClient>();
  readonly findings: WizSimFinding[] = [];
  tokenTtlSeconds = 86_400;
  readonly #tokens = new Map<string, { clientId: string; expiresAt: number }>();
  readonly #schema: GraphQLSchema = buildSchema(SDL);
  now: () => number = Date.now;

  addClient(clientId: string, secret: string, scopes = ["read:vulnerabilities"]): void {
    this.clients.set(clientId, { secret, scopes });
  }

  /** Makes every issued token invalid, as if they had all expired. */
  expireTokens(): void {
    this.#tokens.clear();
  }

  /** The token service, served at https://auth.app.wiz.io. */
  authApp(): Hono {
    const app = new Hono();
    app.use("*", this.faults.middleware(() => JSON.stringify({ error: "server_error", error_description: "Internal error" })));
    app.post("/oauth/token", async (c) => {
      const type = c.req.header("content-type") ?? "";
      if (!type.startsWith("application/x-www-form-urlencoded")) {
        return c.json({ error: "invalid_request", error_description: "Content-Type must be application/x-www-form-urlencoded" }, 400);
      }
      const form = new URLSearchParams(await c.req.text());
      if (form.get("grant_type") !== "client_credentials") {
        return c.json({ error: "unsupported_grant_type", error_description: "Unsupported grant type" }, 400);
      }
      if (form.get("audience") !== "wiz-api") {
        return c.json({ error: "access_denied", error_description: `Service not found: ${form.get("audience") ?? ""}` }, 400);
      }
      const client = this.clients.get(form.get("client_id") ?? "");
      if (!client || client.disabled || client.secret !== form.get("client_secret")) {
        return c.json({ error: "access_denied", error_description: "Unauthorized" }, 401);
      }
      const token = crypto.randomBytes(24).toString("base64url");
      this.#tokens.set(token, { clientId: form.get("client_id")!, expiresAt: this.now() + this.tokenTtlSeconds * 1000 });
      return c.json({ access_token: token, token_type: "Bearer", expires_in: this.tokenTtlSeconds });
    });
    return app;
  }

  /** The GraphQL API, served at https://api.<dc>.app.wiz.io. */
  apiApp(): Hono {
    const app = new Hono();
    app.use("*", this.faults.middleware((status) => gqlError(status === 429 ? "RATE_LIMIT_EXCEEDED" : "INTERNAL", status === 429 ? "The client is being rate limited" : "An unexpected internal server error")));
    app.post("/graphql", async (c) => {
      const auth = c.req.header("authorization") ?? "";
      const session = this.#tokens.get(auth.replace(/^Bearer /, ""));
      if (!auth.startsWith("Bearer ") || !session || session.expiresAt <= this.now()) {
        return c.body(gqlError("UNAUTHENTICATED", "Client token is either missing, invalid or expired"), 401, { "content-type": "application/json" });
      }
      let body: { query?: string; variables?: Record<string, unknown> };
      try {
        body = await c.req.json();
      } catch {
        return c.body(gqlError("BAD_USER_INPUT", "Request body is not valid JSON"), 400, { "content-type": "application/json" });
      }
      const client = this.clients.get(session.clientId);
      if (!client?.scopes.includes("read:vulnerabilities")) {
        return c.body(JSON.stringify({ data: null, errors: [{ message: "Client token scopes does not permit this action", extensions: { code: "UNAUTHORIZED" } }] }), 200, { "content-type": "application/json" });
      }
      const result = await graphql({
        schema: this.#schema,
        source: body.query ?? "",
        variableValues: body.variables,
        rootValue: { vulnerabilityFindings: (args: FindingArgs) => this.#page(args) },
      });
      const errors = result.errors?.map((e) => ({ message: e.message, extensions: { code: e.extensions?.code ?? "BAD_USER_INPUT" } }));
      return c.json({ data: result.data ?? null, ...(errors ? { errors } : {}) });
    });
    return app;
  }

  #page(args: FindingArgs) {
    const first = args.first ?? 50;
    if (first > MAX_PAGE) throw Object.assign(new Error(`first must be at most ${MAX_PAGE}`), { extensions: { code: "BAD_USER_INPUT" } });
    const statuses = args.filterBy?.status;
    const after = args.filterBy?.updatedAt?.after;
    const before = args.filterBy?.updatedAt?.before;
    const matching = this.findings.filter(
      (f) => (!statuses || statuses.includes(f.status)) && (!after || f.updatedAt > after) && (!before || f.updatedAt < before),
    );
    const start = args.after ? Number(Buffer.from(args.after, "base64url").toString()) : 0;
    const nodes = matching.slice(start, start + first);
    const end = start + nodes.length;
    return {
      nodes,
      totalCount: matching.length,
      pageInfo: { hasNextPage: end < matching.length, endCursor: nodes.length ? Buffer.from(String(end)).toString("base64url") : null },
    };
  }
}

interface FindingArgs {
  first?: number;
  after?: string;
  filterBy?: { status?: string[]; updatedAt?: { after?: string; before?: string } };
}

function gqlError(code: string, message: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}
