// Which family of rules an ecosystem name belongs to: the names OSV writes ("PyPI",
// "Debian:12", "Alpine:v3.19"), and the package types scanners write (Trivy, Grype, Syft,
// purl types), in any case.

export type Family = "npm" | "cargo" | "semver" | "go" | "pypi" | "maven" | "rubygems" | "nuget" | "composer" | "debian" | "apk" | "rpm";

const FAMILIES: Record<string, Family> = {};
const names = (family: Family, ...keys: string[]) => keys.forEach((k) => (FAMILIES[k] = family));
names("npm", "npm", "yarn", "pnpm", "node-pkg", "bun", "node");
names("cargo", "crates.io", "cargo", "rustbinary", "rust-crate");
names("semver", "hex", "pub", "swifturl", "github actions", "conan", "cocoapods", "swift");
names("go", "go", "gomod", "gobinary", "golang", "go-module");
names("pypi", "pypi", "pip", "pipenv", "poetry", "python", "python-pkg", "uv", "conda");
names("maven", "maven", "jar", "pom", "gradle", "sbt", "java-archive");
names("rubygems", "rubygems", "gem", "bundler", "gemspec");
names("nuget", "nuget", "dotnet", "dotnet-core", "packages-props");
names("composer", "packagist", "composer", "composer-vendor", "php-composer");
names("debian", "debian", "ubuntu", "deb", "linux mint", "echo", "kali", "raspbian");
names("apk", "alpine", "apk", "wolfi", "chainguard", "minimos", "alpaquita", "bellsoft-hardened-containers");
names(
  "rpm",
  "rpm",
  "red hat",
  "redhat",
  "rhel",
  "centos",
  "rocky",
  "rocky linux",
  "alma",
  "almalinux",
  "amazon",
  "amazon linux",
  "oracle",
  "oracle linux",
  "ol",
  "fedora",
  "photon",
  "photon os",
  "cbl-mariner",
  "mariner",
  "azurelinux",
  "azure linux",
  "suse",
  "opensuse",
  "opensuse.leap",
  "opensuse.tumbleweed",
  "suse linux enterprise",
  "suse linux enterprise server",
  "sles",
  "sle-micro",
  "mageia",
  "openeuler",
  "openmandriva",
);

/** The family of rules for an ecosystem, or null when Patchbay knows none. */
export function ecosystemFamily(ecosystem: string | null | undefined): Family | null {
  const key = (ecosystem ?? "").trim().toLowerCase();
  const colon = key.indexOf(":");
  return FAMILIES[colon === -1 ? key : key.slice(0, colon)] ?? null;
}

// Manifest and lockfile names, and the ecosystem (as OSV names it) whose packages they list.
const FILES: [RegExp, string][] = [
  [/^(?:package(?:-lock)?\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb?)$/i, "npm"],
  [/^(?:requirements[^/]*\.txt|poetry\.lock|pipfile(?:\.lock)?|pyproject\.toml|setup\.py|uv\.lock|pdm\.lock)$/i, "PyPI"],
  [/^(?:pom\.xml|build\.gradle(?:\.kts)?|gradle\.lockfile|[^/]*\.jar)$/i, "Maven"],
  [/^go\.(?:mod|sum)$/i, "Go"],
  [/^(?:gemfile(?:\.lock)?|[^/]*\.gemspec)$/i, "RubyGems"],
  [/^cargo\.(?:toml|lock)$/i, "crates.io"],
  [/^composer\.(?:json|lock)$/i, "Packagist"],
  [/^(?:packages\.lock\.json|packages\.config|[^/]*\.csproj|[^/]*\.deps\.json)$/i, "NuGet"],
];

/** The ecosystem of the packages a manifest or lockfile lists ("app/package-lock.json" → npm), or null. */
export function ecosystemOfFile(path: string): string | null {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return FILES.find(([pattern]) => pattern.test(base))?.[1] ?? null;
}

const OSV_NAMES: Partial<Record<Family, string>> = {
  npm: "npm",
  cargo: "crates.io",
  go: "Go",
  pypi: "PyPI",
  maven: "Maven",
  rubygems: "RubyGems",
  nuget: "NuGet",
  composer: "Packagist",
};

/** A language ecosystem under OSV's name ("pip" → PyPI, "maven" → Maven); null for others. */
export function osvEcosystem(name: string | null | undefined): string | null {
  const family = ecosystemFamily(name);
  return family ? (OSV_NAMES[family] ?? null) : null;
}
