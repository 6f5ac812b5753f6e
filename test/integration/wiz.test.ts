// The Wiz connector against the Wiz simulator's fault knobs: each failure is reported in
// the right error class, retryable ones are retried, and tokens are cached and renewed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createWizClient, wiz as wizConnector } from "../../src/connectors/wiz/index.js";
import { ExternalError } from "../../src/http.js";
import { connectorContext } from "../../src/connectors/context.js";
import { silentLogger } from "../../src/log.js";
import { WIZ_CLIENT, WIZ_ENDPOINT, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let fixture: WizFixture;
const sleeps: number[] = [];

beforeAll(async () => {
  fixture = await startWiz();
});
afterAll(() => fixture.close());
beforeEach(() => {
  fixture.sim.faults.clear();
  sleeps.length = 0;
});

const ctx = () =>
  connectorContext({
    logger: silentLogger,
    originMap: new Map([
      ["https://auth.app.wiz.io", fixture.auth.url],
      ["https://api.us1.app.wiz.io", fixture.api.url],
    ]),
    http: { sleep: async (ms) => void sleeps.push(ms), timeoutMs: 500 },
  });
const connection = {
  settings: { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, scanSca: true, scanContainerImages: true },
  secrets: { clientSecret: WIZ_CLIENT.secret },
};

async function failure(): Promise<ExternalError> {
  const err = await wizConnector.test(connection, ctx()).catch((e) => e);
  expect(err).toBeInstanceOf(ExternalError);
  return err;
}

describe("Wiz connector under faults", () => {
  it("waits out a 429 with Retry-After and then succeeds", async () => {
    fixture.sim.faults.add({ path: /graphql/, status: 429, headers: { "retry-after": "2" }, times: 2 });
    const result = await wizConnector.test(connection, ctx());
    expect(result.message).toContain("Connected to Wiz");
    expect(sleeps).toEqual([2000, 2000]);
  });

  it("classifies a 401 from the API as an authentication failure", async () => {
    fixture.sim.faults.add({
      path: /graphql/,
      status: 401,
      body: JSON.stringify({ errors: [{ message: "Client token is either missing, invalid or expired", extensions: { code: "UNAUTHENTICATED" } }] }),
    });
    const err = await failure();
    expect(err.kind).toBe("auth");
    expect(err.message).toContain("Client token is either missing, invalid or expired");
  });

  it("classifies a 403 as a permission problem", async () => {
    fixture.sim.faults.add({
      path: /graphql/,
      status: 403,
      body: JSON.stringify({ errors: [{ message: "The client's IP is forbidden accessing this resource", extensions: { code: "FORBIDDEN_IP" } }] }),
    });
    const err = await failure();
    expect(err.kind).toBe("permission");
    expect(wizConnector.troubleshoot!(err)!.title).toBe("Connection Failed — API Endpoint Error");
  });

  it("retries a 500 from the token service (asking for a token twice is harmless), then reports a remote error", async () => {
    fixture.sim.faults.add({ path: /oauth/, status: 500 });
    const err = await failure();
    expect(err.kind).toBe("remote");
    expect(err.message).toContain("server error (HTTP 500)");
    expect(fixture.sim.faults.requests.filter((r) => r.path === "/oauth/token")).toHaveLength(4);
  });

  it("reports malformed JSON and a timeout precisely", async () => {
    fixture.sim.faults.add({ path: /graphql/, malformed: true, times: 1 });
    expect((await failure()).message).toContain("malformed response");
    fixture.sim.faults.add({ path: /graphql/, latencyMs: 2000 });
    const slow = await failure();
    expect(slow.kind).toBe("unreachable");
    expect(slow.message).toContain("did not answer within 0.5 s");
  });

  it("reports a query Wiz rejects (HTTP 200 with errors[]) as a remote error with Wiz's words", async () => {
    const client = createWizClient(connection, ctx());
    const err = (await client.graphql("query { vulnerabilityFindings(first: 1) { nodes { id noSuchField } } }").catch((e: unknown) => e)) as ExternalError;
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.kind).toBe("remote");
    expect(err.message).toContain('Cannot query field "noSuchField"');
  });

  it("caches the bearer token and fetches a new one when Wiz stops accepting it", async () => {
    const client = createWizClient(connection, ctx());
    await client.graphql("query { vulnerabilityFindings(first: 1) { totalCount } }");
    await client.graphql("query { vulnerabilityFindings(first: 1) { totalCount } }");
    expect(fixture.sim.faults.requests.filter((r) => r.path === "/oauth/token")).toHaveLength(1);
    fixture.sim.expireTokens();
    await client.graphql("query { vulnerabilityFindings(first: 1) { totalCount } }");
    expect(fixture.sim.faults.requests.filter((r) => r.path === "/oauth/token")).toHaveLength(2);
  });
});
