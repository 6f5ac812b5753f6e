// Every connector is wrapped once, in the catalog: an answer a connector could not read (a
// TypeError or SyntaxError thrown while it works through a service's response — a proxy's page,
// an API that changed) becomes that service's remote error, saying what to check, instead of
// "Cannot read properties of undefined" in an error table. The original is logged with its stack.
import { ExternalError } from "../http.js";
import type { Connector, ConnectorContext } from "./types.js";

const CAPABILITIES = ["scanner", "scm", "tracker", "notifier", "registry", "packages", "advisories"] as const;

export function guardConnector(connector: Connector): Connector {
  const service = connector.card.name;
  const guarded: Connector = { ...connector, test: guardFunction(connector.test, service, undefined) };
  if (connector.health) guarded.health = guardFunction(connector.health, service, undefined);
  for (const key of CAPABILITIES) {
    const capability = connector[key];
    if (capability) (guarded as unknown as Record<string, unknown>)[key] = guardObject(capability, service, undefined);
  }
  return guarded;
}

/** The error a connector's call ended in, as its caller should see it. */
export function unreadableAnswer(err: unknown, service: string, ctx: ConnectorContext): unknown {
  if (!(err instanceof TypeError || err instanceof SyntaxError)) return err;
  ctx.logger.error("connector could not read an answer", { service, error: err });
  return new ExternalError(
    "remote",
    service,
    `${service} answered in a form Patchbay could not read. Check that the address points at ${service} itself and not at a proxy or another service; if it does, the service's API may have changed.`,
  );
}

function isContext(value: unknown): value is ConnectorContext {
  return typeof value === "object" && value !== null && typeof (value as ConnectorContext).http === "function" && "logger" in value;
}

function guardFunction<F extends (...args: never[]) => unknown>(fn: F, service: string, outer: ConnectorContext | undefined): F {
  return function (this: unknown, ...args: Parameters<F>) {
    const ctx = (args as unknown[]).find(isContext) ?? outer;
    // Only calls that talk to the service (they carry its context) read its answers.
    if (!ctx) return fn.apply(this, args);
    let result: unknown;
    try {
      result = fn.apply(this, args);
    } catch (err) {
      throw unreadableAnswer(err, service, ctx);
    }
    if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(unreadableAnswer(err, service, ctx)));
    // A session or file reader: its methods read answers too.
    if (typeof result === "object" && result !== null && !Array.isArray(result)) return guardObject(result, service, ctx);
    return result;
  } as F;
}

function guardObject<T extends object>(target: T, service: string, ctx: ConnectorContext | undefined): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value !== "function") return value;
      // Bound to the object itself, so classes with private fields keep working.
      return guardFunction((value as (...args: never[]) => unknown).bind(object), service, ctx);
    },
  });
}
