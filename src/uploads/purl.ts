// Package URLs (purl spec): pkg:type/namespace/name@version?qualifiers#subpath, and the OSV
// ecosystem and package name each type corresponds to.
import { packageKey } from "../vuln/packages.js";

export interface Purl {
  type: string;
  namespace: string | null;
  name: string;
  version: string | null;
  qualifiers: Record<string, string>;
}

/** Reads a purl as the spec splits it: "#" subpath, "?" qualifiers, the rightmost "@" version. */
export function parsePurl(text: string): Purl | undefined {
  let rest = text.trim();
  if (!rest.toLowerCase().startsWith("pkg:")) return undefined;
  rest = rest.slice(4);
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const question = rest.indexOf("?");
  const query = question >= 0 ? rest.slice(question + 1) : "";
  if (question >= 0) rest = rest.slice(0, question);
  const slash = rest.indexOf("/");
  const type = rest.slice(0, slash);
  if (slash < 0 || !/^[a-zA-Z][a-zA-Z0-9.+-]*$/.test(type)) return undefined;
  rest = rest.slice(slash + 1);
  const at = rest.lastIndexOf("@");
  const version = at > 0 ? decoded(rest.slice(at + 1)) : null;
  if (at > 0) rest = rest.slice(0, at);
  const parts = rest.split("/").map(decoded);
  const name = parts.pop();
  if (!name || version === undefined || parts.includes(undefined)) return undefined;
  const qualifiers = Object.fromEntries(new URLSearchParams(query));
  return { type: type.toLowerCase(), namespace: parts.length ? parts.join("/") : null, name, version: version || null, qualifiers };
}

/** Percent-decoding that answers undefined for a malformed escape instead of throwing. */
function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** The first "major.minor" number in a distro qualifier ("ubuntu-22.04" → "22.04"). */
function majorMinor(text: string): string | undefined {
  const isDigit = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "9";
  for (let i = 0; i < text.length; i++) {
    if (!isDigit(text[i])) continue;
    let j = i;
    while (isDigit(text[j])) j++;
    if (text[j] === "." && isDigit(text[j + 1])) {
      let k = j + 1;
      while (isDigit(text[k])) k++;
      return text.slice(i, k);
    }
    i = j;
  }
  return undefined;
}

/** OSV's ecosystem and name for a purl (language packages; OS packages with their distro). */
export function osvPackage(purl: Purl): { ecosystem: string; name: string } | undefined {
  const ns = purl.namespace;
  switch (purl.type) {
    case "npm":
      return { ecosystem: "npm", name: ns ? `${ns}/${purl.name}` : purl.name };
    case "pypi":
      return { ecosystem: "PyPI", name: packageKey("PyPI", purl.name) };
    case "maven":
      return ns ? { ecosystem: "Maven", name: `${ns}:${purl.name}` } : undefined;
    case "golang":
      return { ecosystem: "Go", name: ns ? `${ns}/${purl.name}` : purl.name };
    case "gem":
      return { ecosystem: "RubyGems", name: purl.name };
    case "cargo":
      return { ecosystem: "crates.io", name: purl.name };
    case "nuget":
      return { ecosystem: "NuGet", name: purl.name };
    case "composer":
      return { ecosystem: "Packagist", name: ns ? `${ns}/${purl.name}` : purl.name };
    case "hex":
      return { ecosystem: "Hex", name: purl.name };
    case "pub":
      return { ecosystem: "Pub", name: purl.name };
    case "deb": {
      // pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=debian-12
      const release = /(\d+)/.exec(purl.qualifiers.distro ?? "")?.[1];
      if (ns === "debian") return release ? { ecosystem: `Debian:${release}`, name: purl.name } : undefined;
      if (ns === "ubuntu") {
        const version = majorMinor(purl.qualifiers.distro ?? "");
        return version ? { ecosystem: `Ubuntu:${version}`, name: purl.name } : undefined;
      }
      return undefined;
    }
    case "apk": {
      const version = majorMinor(purl.qualifiers.distro ?? "");
      return ns === "alpine" && version ? { ecosystem: `Alpine:v${version}`, name: purl.name } : undefined;
    }
    default:
      return undefined;
  }
}
