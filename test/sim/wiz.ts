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
  scalar JSON
  enum VulnerabilityFindingStatus {
    OPEN
    RESOLVED
    IN_PROGRESS
    REJECTED
  }
  enum VulnerabilitySeverity {
    NONE
    INFORMATIONAL
    LOW
    MEDIUM
    HIGH
    CRITICAL
  }
  enum VulnerableAssetType {
    VIRTUAL_MACHINE
    CONTAINER_IMAGE
    CONTAINER
    SERVERLESS
    REPOSITORY_BRANCH
  }
  input DateFilter {
    after: DateTime
    before: DateTime
  }
  input VulnerabilityFindingFilters {
    status: [VulnerabilityFindingStatus!]
    severity: [VulnerabilitySeverity!]
    assetType: [VulnerableAssetType!]
    updatedAt: DateFilter
  }
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }
  type Project {
    id: ID!
    name: String!
    slug: String
  }
  type Registry {
    name: String
    externalId: String
  }
  type ImageRepository {
    name: String
    externalId: String
  }
  interface VulnerableAssetBase {
    id: ID!
    type: VulnerableAssetType!
    name: String!
    region: String
    providerUniqueId: String
    cloudPlatform: String
    status: String
    subscriptionName: String
    subscriptionExternalId: String
    tags: JSON
    hasLimitedInternetExposure: Boolean
    hasWideInternetExposure: Boolean
  }
  type VulnerableAssetRepositoryBranch implements VulnerableAssetBase {
    id: ID!
    type: VulnerableAssetType!
    name: String!
    region: String
    providerUniqueId: String
    cloudPlatform: String
    status: String
    subscriptionName: String
    subscriptionExternalId: String
    tags: JSON
    hasLimitedInternetExposure: Boolean
    hasWideInternetExposure: Boolean
    repositoryId: String
    repositoryName: String
  }
  type VulnerableAssetContainerImage implements VulnerableAssetBase {
    id: ID!
    type: VulnerableAssetType!
    name: String!
    region: String
    providerUniqueId: String
    cloudPlatform: String
    status: String
    subscriptionName: String
    subscriptionExternalId: String
    tags: JSON
    hasLimitedInternetExposure: Boolean
    hasWideInternetExposure: Boolean
    imageId: String
    registry: Registry
    repository: ImageRepository
  }
  type VulnerableAssetVirtualMachine implements VulnerableAssetBase {
    id: ID!
    type: VulnerableAssetType!
    name: String!
    region: String
    providerUniqueId: String
    cloudPlatform: String
    status: String
    subscriptionName: String
    subscriptionExternalId: String
    tags: JSON
    hasLimitedInternetExposure: Boolean
    hasWideInternetExposure: Boolean
    operatingSystem: String
    ipAddresses: [String!]
  }
  union VulnerableAsset = VulnerableAssetRepositoryBranch | VulnerableAssetContainerImage | VulnerableAssetVirtualMachine
  type VulnerabilityFinding {
    id: ID!
    portalUrl: String
    name: String!
    CVEDescription: String
    description: String
    severity: VulnerabilitySeverity
    vendorSeverity: VulnerabilitySeverity
    nvdSeverity: VulnerabilitySeverity
    CVSSSeverity: VulnerabilitySeverity
    score: Float
    hasExploit: Boolean
    hasCisaKevExploit: Boolean
    hasFix: Boolean
    epssProbability: Float
    epssPercentile: Float
    epssSeverity: VulnerabilitySeverity
    status: VulnerabilityFindingStatus!
    firstDetectedAt: DateTime
    lastDetectedAt: DateTime
    resolvedAt: DateTime
    resolutionReason: String
    detailedName: String
    version: String
    fixedVersion: String
    locationPath: String
    detectionMethod: String
    remediation: String
    projects: [Project!]
    vulnerableAsset: VulnerableAsset
  }
  type VulnerabilityFindingConnection {
    nodes: [VulnerabilityFinding!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }
  type Query {
    vulnerabilityFindings(first: Int, after: String, filterBy: VulnerabilityFindingFilters): VulnerabilityFindingConnection!
  }
`;

export interface WizSimFinding {
  id: string;
  name: string;
  status: "OPEN" | "RESOLVED" | "IN_PROGRESS" | "REJECTED";
  /** Not a GraphQL field on the node here; what the updatedAt filter compares. */
  updatedAt: string;
  severity: string;
  vulnerableAsset: { __typename: string; type: string; [key: string]: unknown };
  [field: string]: unknown;
}

/** Faults that happen on one page of vulnerabilityFindings (1 = the first page). */
export interface PageFault {
  page: number;
  /** Answer this HTTP status (500, 429…) instead of the page. */
  status?: number;
  retryAfter?: number;
  /** Every issued token stops working just before this page: the client must renew. */
  expireToken?: boolean;
  /** Answer the page this much later. */
  latencyMs?: number;
  /** Reject the page's cursor as Wiz does one it no longer accepts (HTTP 200, errors[]). */
  invalidCursor?: boolean;
  /** How many times it happens; once when absent. */
  times?: number;
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
  readonly pageFaults: PageFault[] = [];
  /** The arguments of each vulnerabilityFindings query, for assertions. */
  readonly queries: { filterBy: unknown; after: string | null }[] = [];
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
    app.use(
      "*",
      this.faults.middleware(() => JSON.stringify({ error: "server_error", error_description: "Internal error" })),
    );
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
    app.use(
      "*",
      this.faults.middleware((status) =>
        gqlError(
          status === 429 ? "RATE_LIMIT_EXCEEDED" : "INTERNAL",
          status === 429 ? "The client is being rate limited" : "An unexpected internal server error",
        ),
      ),
    );
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
        return c.body(
          JSON.stringify({ data: null, errors: [{ message: "Client token scopes does not permit this action", extensions: { code: "UNAUTHORIZED" } }] }),
          200,
          { "content-type": "application/json" },
        );
      }
      const page = pageOf(body.variables?.after);
      const fault = this.pageFaults.find((f) => f.page === page && (f.times ?? 1) > 0);
      if (fault) {
        fault.times = (fault.times ?? 1) - 1;
        if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
        if (fault.expireToken) {
          this.expireTokens();
          return c.body(gqlError("UNAUTHENTICATED", "Client token is either missing, invalid or expired"), 401, { "content-type": "application/json" });
        }
        if (fault.invalidCursor) {
          return c.json({ data: null, errors: [{ message: "Invalid cursor", extensions: { code: "BAD_USER_INPUT" } }] });
        }
        if (fault.status) {
          const headers: Record<string, string> = { "content-type": "application/json" };
          if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
          const code = fault.status === 429 ? "RATE_LIMIT_EXCEEDED" : "INTERNAL";
          return c.body(
            gqlError(code, fault.status === 429 ? "The client is being rate limited" : "An unexpected internal server error"),
            fault.status as 500,
            headers,
          );
        }
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

  /** The last filtered list, reused by the next pages of the same scan for a moment. */
  #matching: { key: string; at: number; rows: WizSimFinding[] } | undefined;

  #page(args: FindingArgs) {
    this.queries.push({ filterBy: args.filterBy ?? null, after: args.after ?? null });
    const first = args.first ?? 50;
    if (first > MAX_PAGE) throw badInput(`first must be at most ${MAX_PAGE}`);
    const matching = this.#filtered(args.filterBy ?? {});
    const start = args.after ? decodeCursor(args.after) : 0;
    if (start === undefined || start > matching.length) throw badInput("Invalid cursor");
    const nodes = matching.slice(start, start + first);
    const end = start + nodes.length;
    return {
      nodes,
      totalCount: matching.length,
      pageInfo: { hasNextPage: end < matching.length, endCursor: nodes.length ? encodeCursor(end) : null },
    };
  }

  /** Findings matching a filter; recomputed when the filter or the number of findings changes, or after a second. */
  #filtered(f: NonNullable<FindingArgs["filterBy"]>): WizSimFinding[] {
    const key = `${JSON.stringify(f)}|${this.findings.length}`;
    if (this.#matching && this.#matching.key === key && Date.now() - this.#matching.at < 1000) return this.#matching.rows;
    const rows = this.findings.filter(
      (x) =>
        (!f.status || f.status.includes(x.status)) &&
        (!f.severity || f.severity.includes(x.severity)) &&
        (!f.assetType || f.assetType.includes(x.vulnerableAsset.type)) &&
        (!f.updatedAt?.after || x.updatedAt > f.updatedAt.after) &&
        (!f.updatedAt?.before || x.updatedAt < f.updatedAt.before),
    );
    this.#matching = { key, at: Date.now(), rows };
    return rows;
  }
}

interface FindingArgs {
  first?: number;
  after?: string;
  filterBy?: { status?: string[]; severity?: string[]; assetType?: string[]; updatedAt?: { after?: string; before?: string } };
}

// Opaque to clients, like Wiz's: an offset inside a signed-looking envelope.
function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset, v: 1 })).toString("base64url");
}

function decodeCursor(cursor: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString()) as { o?: unknown; v?: unknown };
    return parsed.v === 1 && typeof parsed.o === "number" && Number.isInteger(parsed.o) && parsed.o >= 0 ? parsed.o : undefined;
  } catch {
    return undefined;
  }
}

function pageOf(after: unknown): number {
  if (typeof after !== "string") return 1;
  const offset = decodeCursor(after);
  return offset === undefined ? 0 : Math.floor(offset / MAX_PAGE) + 1;
}

function badInput(message: string): Error {
  return Object.assign(new Error(message), { extensions: { code: "BAD_USER_INPUT" } });
}

function gqlError(code: string, message: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}
