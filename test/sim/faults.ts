// Fault knobs shared by every simulator: latency, error statuses with the service's own
// error body, 429 with Retry-After, malformed JSON, and slow drip bodies. A fault applies
// to requests whose path matches, for a number of times (or until cleared).
import type { Context, MiddlewareHandler, Next } from "hono";
import { stream } from "hono/streaming";

export interface Fault {
  /** Only requests whose path matches; all when absent. */
  path?: RegExp;
  /** How many matching requests it affects; Infinity when absent. */
  times?: number;
  /** Matching requests let through before it applies (a service failing midway through a scan). */
  skip?: number;
  latencyMs?: number;
  status?: number;
  /** Body for the error status; the simulator's default error body otherwise. */
  body?: string;
  headers?: Record<string, string>;
  /** Answer 200 with a body that is not valid JSON. */
  malformed?: boolean;
  /** Send the body one byte every `dripMs`. */
  dripMs?: number;
  /** Let the request do its work first, then answer with `status`: a lost answer. */
  afterHandler?: boolean;
  /** Only requests with this method. */
  method?: string;
}

export class FaultKnobs {
  #faults: Fault[] = [];
  /** Requests seen, newest last: what tests assert about the connector's traffic. */
  readonly requests: { method: string; path: string; headers: Record<string, string> }[] = [];

  add(fault: Fault): void {
    this.#faults.push({ ...fault });
  }

  /** Removes every fault and forgets the requests seen. */
  clear(): void {
    this.#faults = [];
    this.requests.length = 0;
  }

  middleware(errorBody: (status: number) => string): MiddlewareHandler {
    return async (c: Context, next: Next) => {
      this.requests.push({ method: c.req.method, path: c.req.path, headers: Object.fromEntries(c.req.raw.headers) });
      const fault = this.#faults.find(
        (f) => (!f.path || f.path.test(c.req.path)) && (!f.method || f.method === c.req.method) && (f.times === undefined || f.times > 0),
      );
      if (!fault) return next();
      if (fault.skip) {
        fault.skip--;
        return next();
      }
      if (fault.times !== undefined) fault.times--;
      // Marked, so a contract check knows the answer is a test's fault, not the service's.
      c.header("x-sim-fault", "injected");
      if (fault.afterHandler) {
        await next();
        c.res = new Response(fault.body ?? errorBody(fault.status ?? 502), {
          status: fault.status ?? 502,
          headers: { "content-type": "application/json", "x-sim-fault": "injected" },
        });
        return;
      }
      if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
      if (fault.malformed) return c.body('{"data": {"vulnerabilityFindings": ', 200, { "content-type": "application/json" });
      if (fault.dripMs) {
        const dripMs = fault.dripMs;
        c.header("content-type", "application/json");
        return stream(c, async (s) => {
          for (const ch of '{"data":{}}') {
            await s.write(ch);
            await s.sleep(dripMs);
          }
        });
      }
      if (fault.status) {
        return c.body(fault.body ?? errorBody(fault.status), fault.status as 400, { "content-type": "application/json", ...fault.headers });
      }
      return next();
    };
  }
}
