// A service's address typed by a person: https and a host, nothing after it.
export function httpsOrigin(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "https:" || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
