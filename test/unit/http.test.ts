import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ExternalError, HttpClient, RateLimitedError, parseRetryAfter, redactUrl } from "../../src/http.js";
import { createLogger, registerSecret } from "../../src/log.js";
import { FaultKnobs } from "../sim/faults.js";
import { startSim, type RunningSim } from "../sim/serve.js";

const knobs = new FaultKnobs();
let sim: RunningSim;
let hits = 0;

beforeAll(async () => {
  const app = new Hono();
  app.use(
    "*",
    knobs.middleware((status) => JSON.stringify({ message: `simulated ${status}` })),
  );
  app.all("/ok", (c) => {
    hits++;
    return c.json({ ok: true });
  });
  sim = await startSim(app);
});
afterAll(() => sim.close());
beforeEach(() => {
  knobs.clear();
  hits = 0;
});

function client(extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
  const delays: number[] = [];
  const http = new HttpClient({
    service: "Sim",
    logger: createLogger("error", () => {}),
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { http, delays };
}

async function failure(p: Promise<unknown>): Promise<ExternalError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(ExternalError);
  return err as ExternalError;
}

describe("HttpClient", () => {
  it("retries 503 and 502 with exponential backoff, then succeeds", async () => {
    knobs.add({ path: /ok/, status: 503, times: 1 });
    knobs.add({ path: /ok/, status: 502, times: 1 });
    const { http, delays } = client();
    const res = await http.json<{ ok: boolean }>({ url: `${sim.url}/ok` });
    expect(res.data.ok).toBe(true);
    expect(delays).toEqual([375, 750]);
  });

  it("waits as long as Retry-After asks on 429", async () => {
    knobs.add({ path: /ok/, status: 429, times: 2, headers: { "retry-after": "7" } });
    const { http, delays } = client();
    await http.request({ url: `${sim.url}/ok` });
    expect(delays).toEqual([7000, 7000]);
  });

  it("surfaces a Retry-After longer than it will wait as RateLimitedError", async () => {
    knobs.add({ path: /ok/, status: 429, headers: { "retry-after": "3600" } });
    const { http, delays } = client();
    const err = await failure(http.request({ url: `${sim.url}/ok` }));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBe(3600);
    expect(delays).toEqual([]);
  });

  it("gives up after the attempt cap with a remote error", async () => {
    const { http } = client({ maxAttempts: 3 });
    knobs.add({ path: /ok/, status: 504 });
    const err = await failure(http.request({ url: `${sim.url}/ok` }));
    expect(err.kind).toBe("remote");
    expect(err.status).toBe(504);
    expect(knobs.requests.filter((r) => r.path === "/ok")).toHaveLength(3);
  });

  it("retries a 500 on a read, which is often transient, but never resends a POST after one", async () => {
    knobs.add({ path: /ok/, status: 500, times: 1 });
    const { http } = client();
    expect((await http.request({ url: `${sim.url}/ok` })).status).toBe(200);
    expect(knobs.requests).toHaveLength(2);
    knobs.clear();
    knobs.add({ path: /ok/, status: 500 });
    const err = await failure(http.request({ method: "POST", url: `${sim.url}/ok`, body: "{}" }));
    expect(err.kind).toBe("remote");
    expect(err.message).toContain("simulated 500");
    expect(knobs.requests).toHaveLength(1);
  });

  it("does not resend a POST after a 502, which may have been processed", async () => {
    knobs.add({ path: /ok/, status: 502 });
    const { http } = client();
    await failure(http.request({ method: "POST", url: `${sim.url}/ok`, body: "{}" }));
    expect(knobs.requests).toHaveLength(1);
  });

  it("classifies 401, 403 and 404", async () => {
    const { http } = client();
    knobs.add({ path: /ok/, status: 401, times: 1 });
    expect((await failure(http.request({ url: `${sim.url}/ok` }))).kind).toBe("auth");
    knobs.add({ path: /ok/, status: 403, times: 1 });
    expect((await failure(http.request({ url: `${sim.url}/ok` }))).kind).toBe("permission");
    expect((await failure(http.request({ url: `${sim.url}/missing` }))).kind).toBe("not_found");
    const root = await failure(http.request({ url: `${sim.url}/missing`, apiRoot: true }));
    expect(root.kind).toBe("unreachable");
    expect(root.message).toContain("Check the endpoint URL");
  });

  it("reports a refused connection as unreachable, after retrying it", async () => {
    const port = await closedPort();
    const { http, delays } = client();
    const err = await failure(http.request({ url: `http://127.0.0.1:${port}/x` }));
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain("refused the connection");
    expect(delays).toHaveLength(3);
  });

  it("reports a DNS failure as unreachable", async () => {
    const { http } = client({ maxAttempts: 1 });
    const err = await failure(http.request({ url: "http://no-such-host.invalid/x" }));
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain("could not be resolved");
  });

  it("times out a slow response, including a body that drips", async () => {
    knobs.add({ path: /ok/, latencyMs: 1000, times: 1 });
    const { http } = client({ maxAttempts: 1 });
    const slow = await failure(http.request({ url: `${sim.url}/ok`, timeoutMs: 100 }));
    expect(slow.kind).toBe("unreachable");
    expect(slow.message).toContain("did not answer within 0.1 s");
    knobs.add({ path: /ok/, dripMs: 100 });
    const drip = await failure(http.request({ url: `${sim.url}/ok`, timeoutMs: 300 }));
    expect(drip.kind).toBe("unreachable");
  });

  it("reports a malformed JSON body as a remote error", async () => {
    knobs.add({ path: /ok/, malformed: true });
    const { http } = client();
    const err = await failure(http.json({ url: `${sim.url}/ok` }));
    expect(err.kind).toBe("remote");
    expect(err.message).toContain("malformed");
  });

  it("routes an origin through the origin map", async () => {
    const { http } = client({ originMap: new Map([["https://api.example.com", sim.url]]) });
    const res = await http.json<{ ok: boolean }>({ url: "https://api.example.com/ok" });
    expect(res.data.ok).toBe(true);
  });

  it("never logs secrets: headers are not logged, query secrets and known values are redacted", async () => {
    const lines: string[] = [];
    registerSecret("sekrit-value-123");
    const http = new HttpClient({ service: "Sim", logger: createLogger("debug", (l) => lines.push(l)), sleep: async () => {} });
    knobs.add({ path: /ok/, status: 503, times: 1, body: JSON.stringify({ message: "bad token sekrit-value-123" }) });
    await http.request({ url: `${sim.url}/ok?access_token=abc&page=2`, headers: { authorization: "Bearer sekrit-value-123" } });
    const all = lines.join("\n");
    expect(all).toContain("page=2");
    expect(all).not.toContain("sekrit-value-123");
    expect(all).not.toContain("access_token=abc");
  });
});

describe("parseRetryAfter and redactUrl", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("120")).toBe(120);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
  it("strips credentials from URLs", () => {
    expect(redactUrl("https://user:pw@x.test/a?client_secret=s&q=1")).toBe("https://x.test/a?client_secret=%5Bredacted%5D&q=1");
  });
});

/**
 * A port nothing listens on: a privileged one (below the ephemeral range, so no test's server is
 * given it meanwhile, as one can be given a just-closed server's port) that fetch does not refuse.
 */
async function closedPort(): Promise<number> {
  return 1023;
}

describe("rate limits answered with 403", () => {
  it("treats a 403 with Retry-After or an exhausted quota as a rate limit, not a permission problem", async () => {
    const reset = Math.floor(Date.now() / 1000) + 5;
    knobs.add({ path: /ok/, status: 403, times: 1, headers: { "retry-after": "2" } });
    knobs.add({ path: /ok/, status: 403, times: 1, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) } });
    const { http, delays } = client();
    await http.request({ url: `${sim.url}/ok` });
    expect(delays[0]).toBe(2000);
    expect(delays[1]).toBeGreaterThanOrEqual(4000);
    expect(delays[1]).toBeLessThanOrEqual(6000);
    knobs.add({ path: /ok/, status: 403, times: 1 });
    expect((await failure(http.request({ url: `${sim.url}/ok` }))).kind).toBe("permission");
  });
});

describe("the client address behind proxies", () => {
  it("reads X-Forwarded-For from the right, past trusted proxies only, and never the client's own claim", async () => {
    const { clientAddress, parseTrustedProxies } = await import("../../src/client-address.js");
    const proxies = parseTrustedProxies("10.0.0.5, 10.1.0.0/16, fd00::/8");
    // No trusted peer: the header is the client's own words.
    expect(clientAddress("203.0.113.9", "1.2.3.4", proxies)).toBe("203.0.113.9");
    // A trusted proxy appended the address it saw; what the client wrote further left is not believed.
    expect(clientAddress("10.0.0.5", "1.2.3.4, 198.51.100.7", proxies)).toBe("198.51.100.7");
    expect(clientAddress("10.0.0.5", "1.2.3.4, 198.51.100.7, 10.1.2.3", proxies)).toBe("198.51.100.7");
    expect(clientAddress("::ffff:10.0.0.5", "198.51.100.7", proxies)).toBe("198.51.100.7");
    expect(clientAddress("fd00::1", "2001:db8::7", proxies)).toBe("2001:db8::7");
    expect(clientAddress("10.0.0.5", "not-an-address, 198.51.100.7", proxies)).toBe("198.51.100.7");
    expect(clientAddress("10.0.0.5", "198.51.100.7, garbage", proxies)).toBe("10.0.0.5");
    expect(() => parseTrustedProxies("10.0.0.0/8, proxy.internal")).toThrow(/"proxy.internal" is not an IP address or CIDR range/);
    const { loadConfig } = await import("../../src/config.js");
    expect(() => loadConfig({ PATCHBAY_TRUST_PROXY: "true" })).toThrow(/replaced by PATCHBAY_TRUSTED_PROXIES/);
  });
});

describe("what an answer may show", () => {
  it("quotes a service's error only from an error shape, never another server's page, and reads no further than the limit", async () => {
    const other = new Hono();
    other.get("/plain", (c) => c.text("redis_version:7.0.15 role:master", 401));
    other.get("/json", (c) => c.json({ message: "Bad credentials" }, 401));
    other.get("/big", (c) => c.body("x".repeat(300_000)));
    const server = await startSim(other);
    try {
      const { http } = client();
      const plain = await http.request({ url: `${server.url}/plain` }).catch((e: ExternalError) => e);
      expect((plain as ExternalError).message).not.toContain("redis_version");
      const json = await http.request({ url: `${server.url}/json` }).catch((e: ExternalError) => e);
      expect((json as ExternalError).message).toContain('Sim said: "Bad credentials"');
      const { TooLargeError } = await import("../../src/http.js");
      const big = await http.request({ url: `${server.url}/big`, maxBytes: 100_000 }).catch((e: Error) => e);
      expect(big).toBeInstanceOf(TooLargeError);
      expect((big as Error).message).toBe("Sim answered with more than 98 KB; it was not read.");
    } finally {
      await server.close();
    }
  });
});

describe("PATCHBAY_OUTBOUND_DENY_PRIVATE", () => {
  it("refuses private, loopback and link-local destinations on the address actually connected", async () => {
    const { denyPrivateFetch, isPrivateAddress } = await import("../../src/outbound.js");
    for (const a of [
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "127.0.0.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:10.0.0.1",
    ])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ["8.8.8.8", "140.82.112.3", "2606:4700::1111"]) expect(isPrivateAddress(a), a).toBe(false);
    const { http } = client({ fetch: denyPrivateFetch });
    const port = new URL(sim.url).port;
    // An IP literal is refused before connecting; a name, in the connection's own DNS lookup.
    for (const url of [`${sim.url}/ok`, `http://localhost:${port}/ok`]) {
      const err = (await http.request({ url }).catch((e: unknown) => e)) as ExternalError;
      expect(err, url).toBeInstanceOf(ExternalError);
      expect(err.kind).toBe("invalid_input");
      expect(err.message).toContain("PATCHBAY_OUTBOUND_DENY_PRIVATE is set");
    }
    expect(hits).toBe(0);
  });
});

describe("redirects", () => {
  // Two origins on loopback: the API, and "storage" on another port (another origin).
  let storage: RunningSim;
  let api: RunningSim;
  const seen: { path: string; method: string; authorization: string | undefined; cookie: string | undefined; token: string | undefined; body: string }[] = [];
  beforeAll(async () => {
    const record = async (c: import("hono").Context) => {
      seen.push({
        path: new URL(c.req.url).pathname,
        method: c.req.method,
        authorization: c.req.header("authorization"),
        cookie: c.req.header("cookie"),
        token: c.req.header("private-token"),
        body: c.req.method === "GET" ? "" : await c.req.text(),
      });
    };
    const store = new Hono();
    store.all("*", async (c) => {
      await record(c);
      return c.json({ stored: true });
    });
    storage = await startSim(store);
    const app = new Hono();
    app.all("*", async (c) => {
      await record(c);
      const path = new URL(c.req.url).pathname;
      if (path === "/repos/acme/old/issues/7")
        return c.json({ message: "Moved Permanently", url: `${api.url}/repos/acme/new/issues/7` }, 301, { location: `${api.url}/repos/acme/new/issues/7` });
      if (path === "/blob") return c.body(null, 307, { location: `${storage.url}/signed?X-Amz-Signature=abc` });
      if (path === "/post-302") return c.body(null, 302, { location: "/elsewhere" });
      if (path === "/post-308") return c.body(null, 308, { location: "/moved-post" });
      if (path.startsWith("/loop")) return c.body(null, 302, { location: `/loop${Number(path.slice(5) || 0) + 1}` });
      if (path === "/no-location") return c.body(null, 302);
      return c.json({ path, state: "open" });
    });
    api = await startSim(app);
  });
  afterAll(async () => {
    await api.close();
    await storage.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it("follows a moved object (301) with its credentials on the same origin, and says where it ended", async () => {
    const { http } = client();
    const res = await http.request({ url: `${api.url}/repos/acme/old/issues/7`, headers: { authorization: "token ghp_secret" } });
    expect(res.json()).toEqual({ path: "/repos/acme/new/issues/7", state: "open" });
    expect(res).toMatchObject({ status: 200, redirected: true, url: `${api.url}/repos/acme/new/issues/7` });
    expect(seen.map((s) => [s.path, s.authorization])).toEqual([
      ["/repos/acme/old/issues/7", "token ghp_secret"],
      ["/repos/acme/new/issues/7", "token ghp_secret"],
    ]);
  });

  it("sends no credentials to another origin: Authorization, cookies and API-key headers are dropped", async () => {
    const { http } = client();
    const res = await http.request({
      url: `${api.url}/blob`,
      headers: { authorization: "Bearer registry-token", cookie: "session=1", "private-token": "glpat-secret", accept: "application/octet-stream" },
    });
    expect(res.json()).toEqual({ stored: true });
    expect(seen[1]).toMatchObject({ path: "/signed", authorization: undefined, cookie: undefined, token: undefined });
  });

  it("re-sends a POST with its body on 307/308 only; any other redirect of a write is an error, not data", async () => {
    const { http } = client();
    const moved = await http.request({ method: "POST", url: `${api.url}/post-308`, headers: { "content-type": "application/json" }, body: '{"title":"x"}' });
    expect(moved.status).toBe(200);
    expect(seen.map((s) => [s.method, s.path, s.body])).toEqual([
      ["POST", "/post-308", '{"title":"x"}'],
      ["POST", "/moved-post", '{"title":"x"}'],
    ]);
    const refused = await failure(http.request({ method: "POST", url: `${api.url}/post-302`, body: "{}" }));
    expect(refused.message).toContain("re-sends a POST only for 307 and 308, so nothing was changed there");
    expect(seen.filter((s) => s.path === "/elsewhere")).toEqual([]);
  });

  it("stops after five hops, and refuses a redirect without a Location", async () => {
    const { http } = client();
    expect((await failure(http.request({ url: `${api.url}/loop` }))).message).toMatch(/redirected more than 5 times/);
    expect(seen).toHaveLength(6);
    expect((await failure(http.request({ url: `${api.url}/no-location` }))).message).toContain("names no address");
  });

  it("says to use https:// when an http:// address redirects there", async () => {
    const upgrade = new Hono();
    upgrade.all("*", (c) => c.body(null, 301, { location: c.req.url.replace("http://", "https://") }));
    const plain = await startSim(upgrade);
    try {
      const { http } = client();
      const err = await failure(http.request({ url: `${plain.url}/rest/api/3/myself` }));
      expect(err.kind).toBe("invalid_input");
      expect(err.message).toContain("redirects to https://: use https://127.0.0.1");
    } finally {
      await plain.close();
    }
  });
});

describe("rate limits, every variant", () => {
  let limiter: RunningSim;
  let answer: { status: number; headers: Record<string, string>; body: unknown } = { status: 200, headers: {}, body: {} };
  let calls = 0;
  beforeAll(async () => {
    const app = new Hono();
    app.all("*", (c) => {
      calls++;
      if (calls > 1) return c.json({ ok: true });
      return c.json(answer.body as object, answer.status as 403, answer.headers);
    });
    limiter = await startSim(app);
  });
  afterAll(() => limiter.close());
  beforeEach(() => {
    calls = 0;
  });

  const waitFor = async (status: number, headers: Record<string, string>, body: unknown = { message: "limited" }) => {
    answer = { status, headers, body };
    calls = 0;
    const { http, delays } = client();
    const res = await http.request({ url: `${limiter.url}/x` });
    expect(res.status).toBe(200);
    return delays[0];
  };

  it("reads Retry-After as seconds or as an HTTP date", async () => {
    expect(await waitFor(429, { "retry-after": "7" })).toBe(7000);
    const inTwelve = new Date(Date.now() + 12_000).toUTCString();
    expect(await waitFor(429, { "retry-after": inTwelve })).toBeGreaterThanOrEqual(10_000);
  });

  it("reads X-RateLimit-Reset as epoch seconds (GitHub) or an ISO 8601 date (Jira)", async () => {
    expect(await waitFor(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 20) })).toBeGreaterThanOrEqual(
      19_000,
    );
    expect(await waitFor(429, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": new Date(Date.now() + 30_000).toISOString() })).toBeGreaterThanOrEqual(
      29_000,
    );
  });

  it("takes GitHub's secondary rate limits for limits (403 or 429, with or without Retry-After), never for a missing permission", async () => {
    const secondary = {
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    };
    expect(await waitFor(403, {}, secondary)).toBe(60_000);
    expect(await waitFor(403, { "retry-after": "30" }, secondary)).toBe(30_000);
    expect(await waitFor(429, {}, secondary)).toBe(60_000);
    // A plain 403 is still a permission problem.
    answer = { status: 403, headers: {}, body: { message: "Resource not accessible by integration" } };
    calls = 0;
    const { http } = client();
    expect((await failure(http.request({ url: `${limiter.url}/x` }))).kind).toBe("permission");
  });

  it("logs Jira's RateLimit-Reason", async () => {
    const lines: string[] = [];
    answer = { status: 429, headers: { "retry-after": "1", "ratelimit-reason": "jira-quota-tenant-based" }, body: {} };
    const { http } = client({ logger: createLogger("info", (line) => lines.push(line)) });
    await http.request({ url: `${limiter.url}/x` });
    expect(lines.join("\n")).toContain("jira-quota-tenant-based");
  });
});
