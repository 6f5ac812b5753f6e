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
  "rpm", "red hat", "redhat", "rhel", "centos", "rocky", "rocky linux", "alma", "almalinux", "amazon", "amazon linux",
  "oracle", "oracle linux", "ol", "fedora", "photon", "photon os", "cbl-mariner", "mariner", "azurelinux", "azure linux",
  "suse", "opensuse", "opensuse.leap", "opensuse.tumbleweed", "suse linux enterprise", "suse linux enterprise server", "sles",
  "sle-micro", "mageia", "openeuler", "openmandriva",
);

/** The family of rules for an ecosystem, or null when Patchbay knows none. */
export function ecosystemFamily(ecosystem: string | null | undefined): Family | null {
  const key = (ecosystem ?? "").trim().toLowerCase();
  const colon = key.indexOf(":");
  return FAMILIES[colon === -1 ? key : key.slice(0, colon)] ?? null;
}
