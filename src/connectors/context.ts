// The context every connector call gets: a logger and HTTP clients that share one policy
// (timeouts, retries, redaction, and the demo/test origin map).
import { HttpClient, type HttpClientOptions, type Pacer } from "../http.js";
import type { Logger } from "../log.js";
import { outboundFetch, type ProxySettings, proxyFor } from "../outbound.js";
import type { ConnectorContext } from "./types.js";

export interface PaceClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface ConnectorEnvironment {
  logger: Logger;
  originMap: Map<string, string>;
  /** The outbound proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), for connections not made by HTTP (SMTP, npm). */
  proxy?: ProxySettings;
  /** PATCHBAY_OUTBOUND_DENY_PRIVATE, for connections not made by Patchbay's HTTP client (npm). */
  denyPrivate?: boolean;
  /** Paces the connection's requests under the service's limits (one credential's log of writes). */
  pacer?: Pacer;
  /** The clock pacing waits by (tests: the test clock), or false for no pacing at all. */
  pace?: PaceClock | false;
  /** Overrides for tests: fast sleeps, fewer attempts. */
  http?: Partial<HttpClientOptions>;
}

export function connectorContext(env: ConnectorEnvironment): ConnectorContext {
  return {
    logger: env.logger,
    http: (service, options) => new HttpClient({ service, logger: env.logger, originMap: env.originMap, pacer: env.pacer, ...env.http, ...options }),
    proxyFor: (url) => (env.proxy ? proxyFor(env.proxy, url) : undefined),
  };
}

/** What connectors are given, from the settings: the outbound proxy and address guard, the origin map; tests add their clocks. */
export function connectorEnvironment(
  settings: { originMap: Map<string, string>; proxy: ProxySettings; outboundDenyPrivate: boolean },
  logger: Logger,
  overrides: { pace?: PaceClock | false; http?: Partial<HttpClientOptions> } = {},
): ConnectorEnvironment {
  const outbound = outboundFetch(settings.proxy, settings.outboundDenyPrivate);
  return {
    logger,
    originMap: settings.originMap,
    proxy: settings.proxy,
    denyPrivate: settings.outboundDenyPrivate,
    pace: overrides.pace,
    http: { ...(outbound ? { fetch: outbound } : {}), ...overrides.http },
  };
}
