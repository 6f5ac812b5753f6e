// The one outbound HTTP helper every connector uses: per-request timeout, retries with
// exponential backoff and jitter on 429 and 5xx (reads only, but for 503) and network failures (honouring
// Retry-After), redirects followed as browsers do without carrying credentials to another
// origin, redacted logging, and typed errors the UI knows how to explain.
import { outboundRequests } from "./metrics.js";
import type { Logger } from "./log.js";
import { trimEnd, trimStart } from "./text.js";

export type ErrorKind = "auth" | "permission" | "unreachable" | "not_found" | "rate_limited" | "remote" | "invalid_input";

/** A failure talking to an external service, classified so the UI can say what to do. */
export class ExternalError extends Error {
  readonly kind: ErrorKind;
  readonly service: string;
  readonly status: number | undefined;
  /** The service's own explanation, when it gave one. */
  readonly remoteMessage: string | undefined;
  /** The response's headers, for a 401 (an authentication challenge to answer). */
  readonly headers: Headers | undefined;

  constructor(kind: ErrorKind, service: string, message: string, opts: { status?: number; remoteMessage?: string; headers?: Headers } = {}) {
    super(message);
    this.name = "ExternalError";
    this.kind = kind;
    this.service = service;
    this.status = opts.status;
    this.remoteMessage = opts.remoteMessage;
    this.headers = opts.headers;
  }
}

export class RateLimitedError extends ExternalError {
  readonly retryAfterSeconds: number | undefined;
  constructor(service: string, message: string, retryAfterSeconds: number | undefined, remoteMessage?: string) {
    super("rate_limited", service, message, { status: 429, remoteMessage });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** An answer larger than the request allows: not read past the limit, never retried. */
export class TooLargeError extends ExternalError {
  readonly maxBytes: number;
  constructor(service: string, maxBytes: number) {
    super("remote", service, `${service} answered with more than ${formatBytes(maxBytes)}; it was not read.`);
    this.maxBytes = maxBytes;
  }
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB` : `${Math.round(bytes / 1024)} KB`;
}

export interface HttpRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  url: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  timeoutMs?: number;
  /** A large read (a file, an index, a batch): allowed four times the client's timeout. */
  large?: boolean;
  /** The largest answer read (bytes); a larger one throws TooLargeError. 64 MB unless set. */
  maxBytes?: number;
  /** The answer is binary (an archive): kept as bytes, not decoded as text. */
  binary?: boolean;
  /** Safe to send twice. Defaults to true for every method but POST and PATCH. */
  idempotent?: boolean;
  /** This URL is the API's root: a 404 means the endpoint is wrong, not a missing record. */
  apiRoot?: boolean;
  /**
   * Whether a redirect carries the request's credentials: to the same origin (the default), or
   * never (a registry's blob redirect to signed storage, which refuses a second credential).
   */
  redirectCredentials?: "same-origin" | "never";
  /** Counts toward the service's write pace (see Pacer). True for every method but GET and HEAD unless set (a read sent as POST). */
  write?: boolean;
  /** Error statuses that are answers to read, not failures (Jira's bulk create answers 400 with each issue's error when none was made). */
  answers?: number[];
}

/**
 * Keeps a client's requests under the service's documented limits before it has to refuse
 * (src/integrations/pacing.ts): every attempt asks first, and a write takes a token.
 */
export interface Pacer {
  /**
   * Resolves when the request may be sent, with a function to call once it is answered.
   * Throws RateLimitedError when the wait is longer than a job should hold its slot.
   */
  acquire(write: boolean): Promise<() => void>;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body's bytes, for a request marked binary. */
  bytes?: Uint8Array;
  json<T = unknown>(): T;
  /** The address that answered, after any redirects (as the connector addressed it, before test routing). */
  url: string;
  /** Whether the request was redirected on its way (a moved issue, a renamed repository). */
  redirected: boolean;
}

export interface HttpClientOptions {
  /** Human name of the service, used in messages: "Wiz", "Jira Cloud". */
  service: string;
  logger: Logger;
  originMap?: Map<string, string>;
  maxAttempts?: number;
  /** Longest Retry-After we wait in-line; longer ones surface as RateLimitedError. */
  maxRetryAfterSeconds?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  fetch?: typeof fetch;
  /** Pulls the service's error text out of an error body. */
  errorMessage?: (body: string) => string | undefined;
  /** Paces requests ahead of the service's limits (one credential's log of writes). */
  pacer?: Pacer;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
/** Network failures where the request surely never reached the server. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
const MAX_DELAY_MS = 30_000;
const LARGE_READ_FACTOR = 4;
/** No service answer Patchbay reads is near this; a larger one is a fault, not data. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** The only headers a redirect to another origin carries: none of them is a credential. */
const CROSS_ORIGIN_HEADERS = new Set(["accept", "accept-encoding", "accept-language", "content-type", "user-agent"]);
/** GitHub's documented wait when a secondary rate limit names none. */
const SECONDARY_LIMIT_WAIT_S = 60;

export class HttpClient {
  readonly service: string;
  readonly #o: Required<Omit<HttpClientOptions, "originMap" | "errorMessage" | "pacer">> & Pick<HttpClientOptions, "originMap" | "errorMessage" | "pacer">;

  constructor(options: HttpClientOptions) {
    this.service = options.service;
    this.#o = {
      maxAttempts: 4,
      maxRetryAfterSeconds: 60,
      baseDelayMs: 500,
      timeoutMs: 15_000,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
      fetch: globalThis.fetch,
      ...options,
    };
  }

  /**
   * Sends the request; resolves with a 2xx (or 304) response, throws ExternalError otherwise.
   * Redirects are followed — GET and HEAD on 301, 302, 303, 307 and 308, other methods on 307
   * and 308 with their body — at most five times; a redirect to another origin carries no
   * credentials. A 3xx is never handed back as data.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    let current = req;
    for (let hop = 0; ; hop++) {
      const response = await this.#attempts(current);
      if (!REDIRECTS.has(response.status)) return { ...response, url: current.url, redirected: hop > 0 };
      current = this.#redirect(current, response, hop);
    }
  }

  /** The request a redirect asks for, or why it is not followed. */
  #redirect(req: HttpRequest, response: Omit<HttpResponse, "url" | "redirected">, hop: number): HttpRequest {
    const s = this.service;
    const status = response.status;
    const method = req.method ?? "GET";
    const location = response.headers.get("location");
    if (!location) throw new ExternalError("remote", s, `${s} answered with a redirect (HTTP ${status}) that names no address.`, { status });
    let next: URL;
    try {
      next = new URL(location, req.url);
    } catch {
      throw new ExternalError("remote", s, `${s} answered with a redirect (HTTP ${status}) to an address that is not a URL.`, { status });
    }
    const from = new URL(req.url);
    if (from.protocol === "http:" && next.protocol === "https:" && from.hostname === next.hostname) {
      throw new ExternalError("invalid_input", s, `${s} at ${from.origin} redirects to https://: use ${next.origin} (https://) as the address.`, { status });
    }
    if (next.protocol !== "https:" && next.protocol !== "http:")
      throw new ExternalError("remote", s, `${s} redirected to a ${next.protocol} address, which Patchbay does not follow.`, { status });
    if (hop >= MAX_REDIRECTS)
      throw new ExternalError("remote", s, `${s} redirected more than ${MAX_REDIRECTS} times (last to ${redactUrl(next.toString())}).`, { status });
    if (method !== "GET" && method !== "HEAD" && status !== 307 && status !== 308) {
      throw new ExternalError(
        "remote",
        s,
        `${s} answered a ${method} with a redirect (HTTP ${status}) to ${redactUrl(next.toString())}; Patchbay re-sends a ${method} only for 307 and 308, so nothing was changed there.`,
        { status },
      );
    }
    const sameOrigin = next.origin === from.origin && req.redirectCredentials !== "never";
    const headers = sameOrigin
      ? req.headers
      : Object.fromEntries(Object.entries(req.headers ?? {}).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name.toLowerCase())));
    this.#o.logger.debug("http redirect", {
      service: s,
      status,
      from: redactUrl(req.url),
      to: redactUrl(next.toString()),
      credentials: sameOrigin ? "kept" : "dropped",
    });
    return { ...req, url: next.toString(), headers, apiRoot: false };
  }

  /** One request with its retries: a response below 400 (a redirect included), or the error. */
  async #attempts(req: HttpRequest): Promise<Omit<HttpResponse, "url" | "redirected">> {
    const method = req.method ?? "GET";
    const idempotent = req.idempotent ?? !(method === "POST" || method === "PATCH");
    const url = this.#route(req.url);
    if (url !== req.url) {
      // Routed to a stand-in (tests, the demo): it learns the host the request was meant for,
      // as a service behind a proxy does, so it can check what was signed for that host.
      req = { ...req, headers: { ...req.headers, "x-forwarded-host": new URL(req.url).host } };
    }
    const write = req.write ?? !(method === "GET" || method === "HEAD");
    for (let attempt = 1; ; attempt++) {
      // Every attempt is a request the service counts: each one waits for the pace.
      const release = await this.#o.pacer?.acquire(write);
      const started = Date.now();
      let outcome: { error: ExternalError; retryable: boolean; waitMs?: number };
      try {
        const response = await this.#send(method, url, req).finally(release);
        this.#o.logger.debug("http request", {
          service: this.service,
          method,
          url: redactUrl(req.url),
          status: response.status,
          ms: Date.now() - started,
          attempt,
        });
        outboundRequests.inc({ service: this.service, status: String(response.status) });
        if (response.status < 400 || req.answers?.includes(response.status)) return response;
        outcome = this.#classifyStatus(response, req, idempotent);
      } catch (err) {
        outcome = this.#classifyNetwork(err, req, idempotent);
        outboundRequests.inc({ service: this.service, status: "network" });
        this.#o.logger.debug("http request failed", {
          service: this.service,
          method,
          url: redactUrl(req.url),
          error: outcome.error.message,
          ms: Date.now() - started,
          attempt,
        });
      }
      const { error } = outcome;
      if (!outcome.retryable || attempt >= this.#o.maxAttempts) throw error;
      if (error instanceof RateLimitedError && (error.retryAfterSeconds ?? 0) > this.#o.maxRetryAfterSeconds) throw error;
      const delay = outcome.waitMs ?? this.#backoff(attempt);
      this.#o.logger.info("http retry", { service: this.service, method, url: redactUrl(req.url), reason: error.message, delayMs: delay, attempt });
      await this.#o.sleep(delay);
    }
  }

  /** Sends the request and parses a JSON body; a body that is not JSON is a remote error. */
  async json<T>(req: HttpRequest): Promise<{ data: T; response: HttpResponse }> {
    const response = await this.request(req);
    return { data: response.json<T>(), response };
  }

  async #send(method: string, url: string, req: HttpRequest): Promise<Omit<HttpResponse, "url" | "redirected">> {
    const controller = new AbortController();
    const timeoutMs = req.timeoutMs ?? (req.large ? LARGE_READ_FACTOR : 1) * this.#o.timeoutMs;
    // One timer covers connecting, headers and the whole body, so a slow drip cannot hang a job.
    const timer = setTimeout(() => controller.abort(new TimeoutError(timeoutMs)), timeoutMs);
    try {
      const res = await this.#o.fetch(url, { method, headers: req.headers, body: req.body, signal: controller.signal, redirect: "manual" });
      const service = this.service;
      const bytes = await readBody(res, req.maxBytes ?? DEFAULT_MAX_BYTES, service);
      // A binary answer that failed is still read as text, for the service's error message.
      const binary = req.binary && res.status < 300;
      const text = binary ? "" : new TextDecoder().decode(bytes);
      return {
        status: res.status,
        headers: res.headers,
        text,
        ...(binary ? { bytes } : {}),
        json<T>() {
          try {
            return JSON.parse(text) as T;
          } catch {
            throw new ExternalError("remote", service, `${service} answered with a malformed response (not valid JSON).`, { status: res.status });
          }
        },
      };
    } catch (err) {
      if (controller.signal.aborted && controller.signal.reason instanceof TimeoutError) throw controller.signal.reason;
      if (err instanceof TooLargeError) controller.abort(err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #classifyStatus(
    response: Omit<HttpResponse, "url" | "redirected">,
    req: HttpRequest,
    idempotent: boolean,
  ): { error: ExternalError; retryable: boolean; waitMs?: number } {
    const s = this.service;
    const status = response.status;
    const remoteMessage = this.#remoteMessage(response.text);
    const suffix = remoteMessage ? ` ${s} said: "${truncate(remoteMessage, 300)}"` : "";
    // Jira says why it limits (RateLimit-Reason: jira-quota-tenant-based, …): worth a log line.
    const reason = response.headers.get("ratelimit-reason");
    if (reason) this.#o.logger.info("rate limit reason", { service: s, status, reason: truncate(reason, 200) });
    if (status === 401)
      return {
        error: new ExternalError("auth", s, `${s} rejected the credentials (HTTP 401).${suffix}`, { status, remoteMessage, headers: response.headers }),
        retryable: false,
      };
    // GitHub's secondary limits (403 or 429 whose message says so) are limits, never a missing
    // permission; without Retry-After GitHub asks for at least a minute.
    if ((status === 403 || status === 429) && isSecondaryLimit(`${remoteMessage ?? ""} ${response.text.slice(0, 2000)}`)) {
      const wait = rateLimitWait(response.headers) ?? SECONDARY_LIMIT_WAIT_S;
      const error = new RateLimitedError(
        s,
        `${s} is rate-limiting requests (a secondary rate limit, HTTP ${status}); it asks to wait ${wait} s.`,
        wait,
        remoteMessage,
      );
      return { error, retryable: true, waitMs: wait * 1000 };
    }
    if (status === 403) {
      // Some APIs (GitHub among them) answer rate limits with 403 and say so in headers.
      const wait = rateLimitWait(response.headers);
      if (wait !== undefined) {
        const error = new RateLimitedError(s, `${s} is rate-limiting requests (HTTP 403); it asks to wait ${wait} s.`, wait, remoteMessage);
        return { error, retryable: true, waitMs: wait * 1000 };
      }
      return {
        error: new ExternalError("permission", s, `${s} refused access: the account lacks a permission or scope this needs (HTTP 403).${suffix}`, {
          status,
          remoteMessage,
        }),
        retryable: false,
      };
    }
    if (status === 404) {
      const kind = req.apiRoot ? "unreachable" : "not_found";
      const message = req.apiRoot
        ? `${s} has no API at this address (HTTP 404). Check the endpoint URL.`
        : `${s} could not find what was asked for (HTTP 404).${suffix}`;
      return { error: new ExternalError(kind, s, message, { status, remoteMessage }), retryable: false };
    }
    if (status === 429) {
      const retryAfter = rateLimitWait(response.headers);
      const error = new RateLimitedError(
        s,
        `${s} is rate-limiting requests (HTTP 429)${retryAfter !== undefined ? `; it asks to wait ${retryAfter} s` : ""}.`,
        retryAfter,
        remoteMessage,
      );
      return { error, retryable: true, waitMs: retryAfter !== undefined ? retryAfter * 1000 : undefined };
    }
    if (status >= 500) {
      const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      return {
        error: new ExternalError("remote", s, `${s} had a server error (HTTP ${status}).${suffix}`, { status, remoteMessage }),
        // A 503 means the request was not processed; other 5xx on a non-idempotent call might have been.
        retryable: RETRYABLE_STATUS.has(status) && (idempotent || status === 503),
        waitMs: retryAfter !== undefined ? retryAfter * 1000 : undefined,
      };
    }
    return { error: new ExternalError("remote", s, `${s} rejected the request (HTTP ${status}).${suffix}`, { status, remoteMessage }), retryable: false };
  }

  #classifyNetwork(err: unknown, req: HttpRequest, idempotent: boolean): { error: ExternalError; retryable: boolean } {
    const s = this.service;
    const host = safeHost(req.url);
    if (err instanceof TooLargeError) return { error: err, retryable: false };
    const refused = causeWithCode(err, "PATCHBAY_PRIVATE_ADDRESS");
    if (refused) return { error: new ExternalError("invalid_input", s, `${s} was not contacted: ${refused.message}`), retryable: false };
    if (err instanceof TimeoutError) {
      return { error: new ExternalError("unreachable", s, `${s} at ${host} did not answer within ${err.ms / 1000} s.`), retryable: idempotent };
    }
    const code = networkCode(err);
    const reason =
      code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? `the host name ${host} could not be resolved (DNS)`
        : code === "ECONNREFUSED"
          ? `${host} refused the connection`
          : isTlsFailure(code)
            ? `the TLS certificate of ${host} was not accepted (${code}). If your organisation signs its servers' certificates with its own authority, give Patchbay its CA bundle with NODE_EXTRA_CA_CERTS`
            : `the connection to ${host} failed${code ? ` (${code})` : ""}`;
    return {
      error: new ExternalError("unreachable", s, `${s} could not be reached: ${reason}.`),
      retryable: code !== undefined && (NEVER_SENT.has(code) || idempotent) && !isTlsFailure(code),
    };
  }

  /**
   * The service's own explanation, read only from its error shape (the connector's parser, or
   * a JSON object's message/error_description/error): never a page's raw text, so that Test
   * pointed at another server cannot be used to read what that server answers.
   */
  #remoteMessage(body: string): string | undefined {
    if (!body) return undefined;
    if (this.#o.errorMessage) return this.#o.errorMessage(body);
    try {
      const parsed = JSON.parse(body) as Record<string, unknown>;
      for (const key of ["message", "error_description", "error"]) {
        if (typeof parsed?.[key] === "string") return parsed[key] as string;
      }
    } catch {
      // Not JSON: not an error shape Patchbay reads.
    }
    return undefined;
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(MAX_DELAY_MS, this.#o.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (this.#o.random() * ceiling) / 2);
  }

  #route(url: string): string {
    if (!this.#o.originMap?.size) return url;
    const parsed = new URL(url);
    const target = this.#o.originMap.get(parsed.origin);
    return target ? target + parsed.pathname + parsed.search : url;
  }
}

class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/**
 * Seconds to wait before retrying, from Retry-After, or from an exhausted quota
 * (X-RateLimit-Remaining: 0 with X-RateLimit-Reset as epoch seconds); undefined when neither says.
 */
export function rateLimitWait(headers: Headers, now: number = Date.now()): number | undefined {
  const retryAfter = parseRetryAfter(headers.get("retry-after"), now);
  if (retryAfter !== undefined) return retryAfter;
  if (headers.get("x-ratelimit-remaining") === "0") {
    const reset = parseReset(headers.get("x-ratelimit-reset"), now);
    if (reset !== undefined) return reset;
  }
  return undefined;
}

/** X-RateLimit-Reset as epoch seconds (GitHub, GitLab) or an ISO 8601 date (Jira): seconds from now, at least 1. */
export function parseReset(value: string | null, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.max(1, Math.ceil(Number(text) - now / 1000));
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(1, Math.ceil((date - now) / 1000));
}

/** GitHub's wording for its secondary (abuse) limits, in the message or the body. */
function isSecondaryLimit(text: string): boolean {
  const lower = text.toLowerCase();
  return lower.includes("secondary rate limit") || lower.includes("abuse detection");
}

/** Retry-After as seconds: either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

const SECRET_PARAM = /token|secret|password|key|signature|code|sig/i;

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    for (const key of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAM.test(key)) parsed.searchParams.set(key, "[redacted]");
    }
    return parsed.toString();
  } catch {
    return "[unparseable url]";
  }
}

/** The error, or one of its causes, that carries this code. */
function causeWithCode(err: unknown, code: string): Error | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    if ((current as { code?: unknown }).code === code) return current as Error;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** OpenSSL's and Node's certificate verification failures (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, …). */
function isTlsFailure(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (code.startsWith("ERR_TLS") ||
      code.startsWith("ERR_SSL") ||
      code.includes("CERT") ||
      code.includes("UNABLE_TO_") ||
      code.includes("SIGNATURE") ||
      code === "HOSTNAME_MISMATCH")
  );
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/**
 * The target of the link with rel="next" in an RFC 8288 Link header (`<url>; rel="next"`,
 * several links separated by commas, rel possibly a list such as "next last"), if any.
 */
export function linkHeaderNext(link: string | null): string | null {
  if (!link) return null;
  let at = 0;
  while (at < link.length) {
    const open = link.indexOf("<", at);
    if (open < 0) return null;
    const close = link.indexOf(">", open + 1);
    if (close < 0) return null;
    const next = link.indexOf("<", close + 1);
    const params = link.slice(close + 1, next < 0 ? link.length : next);
    for (const param of params.split(";")) {
      const eq = param.indexOf("=");
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "rel") continue;
      const value = trimEnd(trimStart(param.slice(eq + 1).trim(), '"'), '", ');
      if (value.toLowerCase().split(" ").includes("next")) return link.slice(open + 1, close);
    }
    at = next < 0 ? link.length : next;
  }
  return null;
}

/** The body, read no further than maxBytes (the declared length is checked first). */
async function readBody(res: Response, maxBytes: number, service: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new TooLargeError(service, maxBytes);
  }
  const bytes = await readBytesUpTo(res.body, maxBytes);
  if (!bytes) throw new TooLargeError(service, maxBytes);
  return bytes;
}

/** A stream's bytes, read no further than `max`; undefined (the stream cancelled) when it is longer. */
export async function readBytesUpTo(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array | undefined> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
