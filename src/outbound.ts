// PATCHBAY_OUTBOUND_DENY_PRIVATE: Patchbay connects to no private, loopback or link-local
// address (the cloud metadata service at 169.254.169.254 among them). Off by default: on an
// intranet, Jira, GitLab and the registries usually are at private addresses. The check is
// made on the address actually connected to — resolved names are checked in the connection's
// own DNS lookup, so a name that resolves differently the second time (DNS rebinding) cannot
// slip past a check made beforehand.
import dns from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import type { Agent } from "undici";

/** Address ranges (ipaddr.js's names) that are not the public internet. */
const DENIED = new Set(["private", "loopback", "linkLocal", "uniqueLocal", "unspecified", "carrierGradeNat", "reserved", "broadcast", "multicast"]);

export class PrivateAddressError extends Error {
  readonly code = "PATCHBAY_PRIVATE_ADDRESS";
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} is at ${address}, a private or local address, and PATCHBAY_OUTBOUND_DENY_PRIVATE is set: Patchbay does not connect there.`);
  }
}

/** Whether an IP address is private, loopback, link-local or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  try {
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    return DENIED.has(parsed.range());
  } catch {
    return true;
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

function guardedLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "");
    const list = addresses as dns.LookupAddress[];
    const denied = list.find((a) => isPrivateAddress(a.address));
    if (denied) return callback(new PrivateAddressError(hostname, denied.address), "");
    if (options.all) return callback(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
}

type Undici = typeof import("undici");
let undici: Promise<Undici> | undefined;

/**
 * undici, loaded the first time a setting needs it. The bundle keeps it in a chunk of its own,
 * where the CommonJS package is the chunk's default export; from source it has named exports.
 */
const loadUndici = () => (undici ??= import("undici").then((m) => ("Agent" in m ? m : (m as unknown as { default: Undici }).default)));

let guarded: Promise<{ agent: Agent; fetch: Undici["fetch"] }> | undefined;

/** fetch that refuses private destinations: IP literals before connecting, names in the connection's lookup. */
export const denyPrivateFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) && isPrivateAddress(host)) throw new PrivateAddressError(host, host);
  // Loaded only where the setting is on: undici's Agent lets the lookup see each connection.
  guarded ??= loadUndici().then((u) => ({ agent: new u.Agent({ connect: { lookup: guardedLookup as never } }), fetch: u.fetch }));
  const { agent, fetch: undiciFetch } = await guarded;
  return (await undiciFetch(input as never, { ...(init as object), dispatcher: agent } as never)) as unknown as Response;
};

/** The outbound proxy settings, as HTTPS_PROXY, HTTP_PROXY and NO_PROXY give them. */
export interface ProxySettings {
  httpsProxy?: string;
  httpProxy?: string;
  noProxy?: string;
}

/**
 * Whether NO_PROXY exempts a host: "*", a host name or domain (".example.com" and
 * "example.com" both cover sub.example.com), an IP address, each optionally with ":port".
 */
export function bypassesProxy(noProxy: string | undefined, url: URL): boolean {
  if (!noProxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : url.protocol === "http:" ? "80" : "");
  for (const raw of noProxy.split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    const colon = entry.lastIndexOf(":");
    const [name, entryPort] = colon > 0 && !entry.includes("]") && entry.indexOf(":") === colon ? [entry.slice(0, colon), entry.slice(colon + 1)] : [entry, ""];
    if (entryPort && entryPort !== port) continue;
    const domain = name.startsWith("*.") ? name.slice(1) : name;
    if (host === domain.replace(/^\./, "") || (domain.startsWith(".") ? host.endsWith(domain) : host.endsWith(`.${domain}`))) return true;
  }
  return false;
}

/** The proxy a connection to `url` goes through, or undefined for a direct one. */
export function proxyFor(settings: ProxySettings, url: string): string | undefined {
  const parsed = new URL(url);
  if (bypassesProxy(settings.noProxy, parsed)) return undefined;
  return parsed.protocol === "http:" ? (settings.httpProxy ?? settings.httpsProxy) : (settings.httpsProxy ?? settings.httpProxy);
}

/** One undici proxy agent per proxy address (undici's own NO_PROXY reading is still experimental; Patchbay reads it). */
const agents = new Map<string, import("undici").Dispatcher>();

/**
 * fetch through the outbound proxy (Node 20's fetch ignores HTTPS_PROXY): undici's proxy agent
 * tunnels each connection with CONNECT; NO_PROXY hosts (read by bypassesProxy) connect directly. With
 * PATCHBAY_OUTBOUND_DENY_PRIVATE also set, addresses written as IPs are checked here; names
 * are resolved by the proxy, which is where to restrict them.
 */
export function proxiedFetch(settings: ProxySettings, denyPrivate: boolean): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (denyPrivate && isIP(host) && isPrivateAddress(host)) throw new PrivateAddressError(host, host);
    const proxy = proxyFor(settings, url.toString());
    if (!proxy) return (denyPrivate ? denyPrivateFetch : globalThis.fetch)(input, init);
    const u = await loadUndici();
    let agent = agents.get(proxy);
    if (!agent) agents.set(proxy, (agent = new u.ProxyAgent(proxy)));
    return (await u.fetch(input as never, { ...(init as object), dispatcher: agent } as never)) as unknown as Response;
  };
}

/** The fetch Patchbay's HTTP calls use under this configuration, or undefined for Node's own. */
export function outboundFetch(settings: ProxySettings, denyPrivate: boolean): typeof fetch | undefined {
  if (settings.httpProxy || settings.httpsProxy) return proxiedFetch(settings, denyPrivate);
  return denyPrivate ? denyPrivateFetch : undefined;
}
