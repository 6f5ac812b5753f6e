// The client's address, for sign-in limits and logs. Behind reverse proxies listed in
// PATCHBAY_TRUSTED_PROXIES (addresses and CIDR ranges), X-Forwarded-For is read from its right
// end: each proxy appends the address it received the request from, so the first entry from
// the right that is not a trusted proxy is the client. Entries further left were written by
// the client itself and are never believed. Without a trusted peer the header is ignored.
import ipaddr from "ipaddr.js";

export type TrustedProxies = [ipaddr.IPv4 | ipaddr.IPv6, number][];

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    const address = ipaddr.parse(text.trim());
    // An IPv4 client seen through an IPv6 socket: ::ffff:203.0.113.7.
    return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
  } catch {
    return undefined;
  }
}

/** Parses "10.0.0.1, 10.1.0.0/16, fd00::/8"; throws with the entry that is not an address or range. */
export function parseTrustedProxies(text: string | undefined): TrustedProxies {
  const out: TrustedProxies = [];
  for (const entry of (text ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    try {
      if (entry.includes("/")) out.push(ipaddr.parseCIDR(entry));
      else {
        const address = parseAddress(entry);
        if (!address) throw new Error(entry);
        out.push([address, address.kind() === "ipv4" ? 32 : 128]);
      }
    } catch {
      throw new Error(`"${entry}" is not an IP address or CIDR range (such as 10.0.0.5 or 10.0.0.0/8).`);
    }
  }
  return out;
}

function isTrusted(address: ipaddr.IPv4 | ipaddr.IPv6 | undefined, proxies: TrustedProxies): boolean {
  return !!address && proxies.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/** Whether the connecting peer is one of the trusted proxies (what an authenticating proxy's header needs). */
export function isTrustedPeer(peer: string | undefined, proxies: TrustedProxies): boolean {
  return isTrusted(peer ? parseAddress(peer) : undefined, proxies);
}

/** The client's address, given the connecting peer's and the X-Forwarded-For header. */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, proxies: TrustedProxies): string {
  const direct = peer ? parseAddress(peer) : undefined;
  if (!direct) return peer ?? "unknown";
  if (!forwardedFor || !isTrusted(direct, proxies)) return direct.toString();
  let client = direct;
  // Bounded: a header of thousands of entries is not walked past the first hundred from the right.
  const entries = forwardedFor.split(",").slice(-100).reverse();
  for (const entry of entries) {
    const hop = parseAddress(entry);
    if (!hop) break;
    client = hop;
    if (!isTrusted(hop, proxies)) break;
  }
  return client.toString();
}
