// The context every connector call gets: a logger and HTTP clients that share one policy
// (timeouts, retries, redaction, and the demo/test origin map).
import { HttpClient, type HttpClientOptions } from "../http.js";
import type { Logger } from "../log.js";
import { type ProxySettings, proxyFor } from "../outbound.js";
import type { ConnectorContext } from "./types.js";

export interface ConnectorEnvironment {
  logger: Logger;
  originMap: Map<string, string>;
  /** The outbound proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), for connections not made by HTTP (SMTP). */
  proxy?: ProxySettings;
  /** Overrides for tests: fast sleeps, fewer attempts. */
  http?: Partial<HttpClientOptions>;
}

export function connectorContext(env: ConnectorEnvironment): ConnectorContext {
  return {
    logger: env.logger,
    http: (service, options) => new HttpClient({ service, logger: env.logger, originMap: env.originMap, ...env.http, ...options }),
    proxyFor: (url) => (env.proxy ? proxyFor(env.proxy, url) : undefined),
  };
}
