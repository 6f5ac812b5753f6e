// Package URLs (purl spec): pkg:type/namespace/name@version?qualifiers#subpath, and the OSV
// ecosystem and package name each type corresponds to.

export interface Purl {
  type: string;
  namespace: string | null;
  name: string;
  version: string | null;
  qualifiers: Record<string, string>;
}

export function parsePurl(text: string): Purl | undefined {
  const m = /^pkg:([a-zA-Z][a-zA-Z0-9.+-]*)\/([^?#]+?)(?:@([^?#]+))?(?:\?([^#]*))?(?:#.*)?$/.exec(text.trim());
  if (!m) return undefined;
  const parts = m[2]!.split("/").map((p) => decodeURIComponent(p));
  const name = parts.pop()!;
  const qualifiers = Object.fromEntries(new URLSearchParams(m[4] ?? ""));
  return { type: m[1]!.toLowerCase(), namespace: parts.length ? parts.join("/") : null, name, version: m[3] ? decodeURIComponent(m[3]) : null, qualifiers };
}

/** OSV's ecosystem and name for a purl (language packages; OS packages with their distro). */
export function osvPackage(purl: Purl): { ecosystem: string; name: string } | undefined {
  const ns = purl.namespace;
  switch (purl.type) {
    case "npm":
      return { ecosystem: "npm", name: ns ? `${ns}/${purl.name}` : purl.name };
    case "pypi":
      return { ecosystem: "PyPI", name: purl.name.toLowerCase().replace(/[-_.]+/g, "-") };
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
        const version = /(\d+\.\d+)/.exec(purl.qualifiers.distro ?? "")?.[1];
        return version ? { ecosystem: `Ubuntu:${version}`, name: purl.name } : undefined;
      }
      return undefined;
    }
    case "apk": {
      const version = /(\d+\.\d+)/.exec(purl.qualifiers.distro ?? "")?.[1];
      return ns === "alpine" && version ? { ecosystem: `Alpine:v${version}`, name: purl.name } : undefined;
    }
    default:
      return undefined;
  }
}
