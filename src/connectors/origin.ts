// A service's address typed by a person: https and a host, nothing after it.
import { withoutTrailingSlash } from "../text.js";
export function httpsOrigin(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "https:" || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/**
 * An API or repository address: http(s), a host, perhaps a path (a private registry or mirror
 * behind a prefix); no query, fragment or credentials. Returned without a trailing slash.
 */
export function serviceUrl(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash || url.username || url.password) return undefined;
    return `${url.origin}${withoutTrailingSlash(url.pathname)}`;
  } catch {
    return undefined;
  }
}
