// Large scan reports made up for benchmarks and crash tests: the shape of real Trivy output.

/** A Trivy report of about `megabytes` MB: one image, OS and language packages, long descriptions. */
export function trivyReport(megabytes: number): string {
  const vulns: string[] = [];
  let size = 0;
  for (let i = 0; size < megabytes * 1024 * 1024; i++) {
    const v = JSON.stringify(
      {
        VulnerabilityID: `CVE-${2015 + (i % 10)}-${10000 + i}`,
        PkgID: `pkg-${i % 2000}@1.${i % 7}.0`,
        PkgName: `pkg-${i % 2000}`,
        InstalledVersion: `1.${i % 7}.0`,
        FixedVersion: i % 3 === 0 ? "" : `1.${i % 7}.1`,
        Status: i % 3 === 0 ? "affected" : "fixed",
        SeveritySource: "nvd",
        PrimaryURL: `https://avd.aquasec.com/nvd/cve-${2015 + (i % 10)}-${10000 + i}`,
        Title: `pkg-${i % 2000}: a flaw in the parser allows crafted input to exhaust memory (${i})`,
        Description: `A flaw was found in pkg-${i % 2000}. ${"An attacker who can supply input to the affected function can cause excessive resource consumption, leading to a denial of service. ".repeat(6)}`,
        Severity: ["CRITICAL", "HIGH", "MEDIUM", "LOW"][i % 4],
        CweIDs: ["CWE-400"],
        CVSS: { nvd: { V3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", V3Score: 7.5 } },
        PublishedDate: "2023-06-01T12:00:00Z",
        LastModifiedDate: "2024-01-15T08:30:00Z",
      },
      null,
      2,
    );
    vulns.push(v);
    size += v.length + 2;
  }
  const results = [];
  for (let r = 0; r < 10; r++)
    results.push(`{"Target": "layer-${r}", "Class": "lang-pkgs", "Type": "npm", "Vulnerabilities": [${vulns.filter((_, i) => i % 10 === r).join(",\n")}]}`);
  return `{"SchemaVersion": 2, "ArtifactName": "registry.example.com/bench/app:1.0", "ArtifactType": "container_image", "Metadata": {"RepoDigests": ["registry.example.com/bench/app@sha256:${"ab".repeat(32)}"]}, "Results": [${results.join(",\n")}]}`;
}

/**
 * A CycloneDX 1.5 JSON SBOM of about `megabytes` MB, without vulnerabilities: npm components
 * with the hashes, licenses and properties real generators write (Syft, cdxgen).
 */
export function cycloneDxSbom(megabytes: number): string {
  const components: string[] = [];
  let size = 0;
  for (let i = 0; size < megabytes * 1024 * 1024; i++) {
    const name = `pkg-${i % 5000}`;
    const version = `1.${i % 40}.0`;
    const c = JSON.stringify({
      "bom-ref": `pkg:npm/${name}@${version}?package-id=${i.toString(16)}`,
      type: "library",
      name,
      version,
      description: `The ${name} library: utilities for parsing, formatting and validating structured input in services and tools.`,
      hashes: [
        { alg: "SHA-512", content: "ab".repeat(64) },
        { alg: "SHA-256", content: "cd".repeat(32) },
      ],
      licenses: [{ license: { id: "MIT" } }],
      purl: `pkg:npm/${name}@${version}`,
      externalReferences: [{ type: "distribution", url: `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz` }],
      properties: [
        { name: "syft:package:foundBy", value: "javascript-lock-cataloger" },
        { name: "syft:location:0:path", value: `/app/node_modules/${name}/package.json` },
      ],
    });
    components.push(c);
    size += c.length + 1;
  }
  return `{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "metadata": {"tools": {"components": [{"type": "application", "name": "syft", "version": "1.0.0"}]}, "component": {"type": "application", "name": "acme/web"}}, "components": [\n${components.join(",\n")}\n]}`;
}

/** One vulnerable package as a Trivy filesystem scan lists it. */
export interface TrivyVulnerability {
  id: string;
  pkg: string;
  installed: string;
  fixed?: string;
  severity: string;
  /** The manifest it was found in (pom.xml when absent) and its Trivy type (pom). */
  target?: string;
  type?: string;
}

/** A Trivy filesystem report (SchemaVersion 2) of these vulnerabilities, one result per manifest. */
export function trivyFilesystemReport(vulnerabilities: TrivyVulnerability[]): string {
  const byTarget = new Map<string, TrivyVulnerability[]>();
  for (const v of vulnerabilities) byTarget.set(v.target ?? "pom.xml", [...(byTarget.get(v.target ?? "pom.xml") ?? []), v]);
  return JSON.stringify({
    SchemaVersion: 2,
    ArtifactName: ".",
    ArtifactType: "filesystem",
    Results: [...byTarget].map(([target, list]) => ({
      Target: target,
      Class: "lang-pkgs",
      Type: list[0]!.type ?? "pom",
      Vulnerabilities: list.map((v) => ({
        VulnerabilityID: v.id,
        PkgName: v.pkg,
        InstalledVersion: v.installed,
        ...(v.fixed ? { FixedVersion: v.fixed } : {}),
        Severity: v.severity,
        Title: `${v.id} in ${v.pkg}`,
      })),
    })),
  });
}
