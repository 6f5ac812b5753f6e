import { describe, expect, it } from "vitest";
import { type FormatId, type UploadItem, detectFormat } from "../../src/uploads/formats.js";
import { parsePurl, osvPackage } from "../../src/uploads/purl.js";
import { fixture, read } from "../report-reader.js";

const brief = (i: UploadItem) =>
  `${i.ids.join("/")} ${i.ecosystem}:${i.package}@${i.installedVersion}→${i.fixedVersion ?? "none"} ${i.severity ?? "?"} ${i.cvss ?? "-"}`;

describe("scan report formats", () => {
  it("detects every format from its first bytes", () => {
    const formats: Record<string, FormatId> = {
      "trivy-image.json": "trivy",
      "grype.json": "grype",
      "osv-scanner.json": "osv-scanner",
      "npm-audit-v2.json": "npm-audit",
      "npm-audit-v1.json": "npm-audit",
      "trivy.sarif": "sarif",
      "cyclonedx-vex.json": "cyclonedx",
      "cyclonedx.xml": "cyclonedx-xml",
      "spdx.json": "spdx",
    };
    for (const [file, format] of Object.entries(formats)) expect(detectFormat(fixture(file).slice(0, 8192)), file).toBe(format);
    expect(detectFormat('{"hello": "world"}')).toBeUndefined();
    expect(detectFormat("<html></html>")).toBeUndefined();
  });

  it("Trivy: OS and language packages, fixed or not, CVSS v2/v3 and v4 scores, the image's digest", () => {
    const { items, summary } = read("trivy-image.json");
    expect(items.map(brief)).toEqual([
      "CVE-2023-4911 debian:libc6@2.36-9+deb12u1→2.36-9+deb12u3 high 7.8",
      "CVE-2011-3374 debian:apt@2.6.1→none low 4.3",
      "CVE-2021-23337 npm:lodash@4.17.20→4.17.21 high 7.2",
      "CVE-2024-99999 npm:left-pad@1.3.0→none ? 8.7",
      "CVE-2024-88888 npm:tiny-parser@0.3.1→0.3.2 ? 5.3",
    ]);
    expect(items[0]!.location).toBe("registry.example.com/acme/api:1.0 (debian 12.2)");
    expect(summary).toEqual({
      tool: "Trivy",
      image: "registry.example.com/acme/api:1.0",
      digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    });
  });

  it("Grype: GHSA with its related CVE first, purl-named packages, 'not-fixed' without a fix, the image from the source block at the end", () => {
    const { items, summary } = read("grype.json");
    expect(items.map(brief)).toEqual([
      "CVE-2021-44228/GHSA-jfh8-c2jp-5v3q Maven:org.apache.logging.log4j:log4j-core@2.14.1→2.15.0 critical 10",
      "CVE-2022-3996 Debian:12:openssl@3.0.11-1~deb12u2→none info -",
    ]);
    expect(summary).toMatchObject({
      tool: "Grype",
      image: "registry.example.com/acme/billing:3.2",
      digest: "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
    });
  });

  it("OSV-Scanner: one item per group of aliases, with the group's score", () => {
    const { items } = read("osv-scanner.json");
    expect(items.map(brief)).toEqual([
      "CVE-2021-33203/GHSA-68w8-qjq3-2gfm/PYSEC-2021-99 PyPI:django@3.2.4→3.2.5 medium 4.9",
      "CVE-2020-28493/GHSA-g3rq-g295-4j3m PyPI:jinja2@2.11.2→2.11.3 medium 5.3",
    ]);
  });

  it("npm audit: v2 advisories on the package itself (versions left to the lockfile), v1 per version found", () => {
    expect(read("npm-audit-v2.json").items.map(brief)).toEqual([
      "GHSA-35jh-r3h4-6jhm npm:lodash@→none high 7.2",
      "GHSA-hrpp-h998-j3pp npm:qs@→none high 7.5",
      "GHSA-aaaa-bbbb-cccc npm:ghost-pkg@→none medium -",
    ]);
    expect(read("npm-audit-v1.json").items.map(brief)).toEqual([
      "CVE-2020-7598/GHSA-vh95-rmgr-6w4m npm:minimist@0.0.8→1.2.3 low -",
      "CVE-2020-7598/GHSA-vh95-rmgr-6w4m npm:minimist@1.2.0→1.2.3 low -",
    ]);
  });

  it("SARIF: vulnerability results with package and version from the message; code scanning rules skipped", () => {
    const { items, skipped, summary } = read("trivy.sarif");
    expect(items.map(brief)).toEqual(["CVE-2022-24999 npm:qs@6.7.0→6.7.3 ? 7.5"]);
    expect(items[0]!.location).toBe("package-lock.json");
    expect(skipped).toEqual(["no CVE or advisory identifier (code scanning rules are not imported)"]);
    expect(summary.tool).toBe("Trivy");
  });

  it("CycloneDX JSON: components by bom-ref (nested too), VEX not_affected as false positive, resolved left out", () => {
    const { items, summary } = read("cyclonedx-vex.json");
    expect(items.map(brief)).toEqual([
      "CVE-2021-3749/GHSA-cph5-m8f7-6c5x npm:axios@0.21.1→0.21.2 high 7.5",
      "CVE-2020-36518 Maven:com.fasterxml.jackson.core:jackson-databind@2.9.10.1→none ? 8.7",
      "CVE-2022-0155 npm:follow-redirects@1.13.0→none medium -",
    ]);
    expect(items[1]!.analysis).toEqual({
      state: "false_positive",
      detail: "VEX: not_affected (code_not_reachable): We never deserialize untrusted JSON with default typing.",
    });
    expect(items[2]!.analysis?.state).toBe("resolved");
    expect(summary.tool).toBe("Dependency-Track");
  });

  it("CycloneDX XML: the same records, streamed", () => {
    const { items, summary } = read("cyclonedx.xml", 50);
    expect(items.map(brief)).toEqual([
      "CVE-2022-1471 Maven:org.yaml:snakeyaml@1.26→2.0 high 8.3",
      "CVE-2021-44228 Maven:org.apache.logging.log4j:log4j-core@2.14.1→none critical 10",
    ]);
    expect(summary.tool).toBe("Dependency-Check");
  });

  it("SPDX: packages by purl to look up; packages without one skipped", () => {
    const { sbom, skipped } = read("spdx.json");
    expect(sbom).toEqual([
      { ecosystem: "npm", name: "lodash", version: "4.17.20", location: null },
      { ecosystem: "PyPI", name: "django", version: "3.2.4", location: null },
    ]);
    expect(skipped).toHaveLength(1);
  });

  it("reads package URLs", () => {
    expect(osvPackage(parsePurl("pkg:npm/%40acme/ui@1.2.0")!)).toEqual({ ecosystem: "npm", name: "@acme/ui" });
    expect(osvPackage(parsePurl("pkg:golang/github.com/gin-gonic/gin@v1.6.3")!)).toEqual({ ecosystem: "Go", name: "github.com/gin-gonic/gin" });
    expect(osvPackage(parsePurl("pkg:apk/alpine/busybox@1.36.1-r2?distro=alpine-3.18.4")!)).toEqual({ ecosystem: "Alpine:v3.18", name: "busybox" });
    expect(parsePurl("not a purl")).toBeUndefined();
  });

  it("SARIF: the package and version wherever real tools put them, and a skip that says what is missing", () => {
    const { items, skipped } = read("sarif-variants.sarif");
    expect(items.map(brief)).toEqual([
      "CVE-2021-44906 npm:minimist@1.2.5→none ? 9.8",
      "CVE-2022-24999 null:qs@6.5.2→6.5.3 high -",
      "CVE-2021-23337 null:lodash@4.17.20→none medium -",
    ]);
    expect(skipped).toEqual(["no package named: the SARIF result's message, rule help text and properties name none"]);
  });

  it("CycloneDX VEX about the document's own product (affects its metadata.component) applies to that product", () => {
    const { items, skipped } = read("cyclonedx-vex-product.json");
    expect(skipped).toEqual([]);
    expect(items.map((i) => [...i.ids.slice(0, 1), i.package, i.installedVersion, i.analysis?.state ?? "open"])).toEqual([
      ["CVE-2023-44270", "acme-web", "2.4.0", "false_positive"],
      ["CVE-2024-4068", "acme-web", "2.4.0", "open"],
    ]);
  });

  it("CycloneDX XML with the 1.0 vulnerability extension (<v:vulnerabilities> inside components)", () => {
    const { format, items, sbom, summary } = read("cyclonedx-1.2-vulnerability-extension.xml", 301);
    expect(format).toBe("cyclonedx-xml");
    expect(summary.tool).toBe("grype");
    expect(sbom).toEqual([]);
    expect(items.map(brief)).toEqual(["CVE-2018-7489 Maven:com.fasterxml.jackson.core:jackson-databind@2.9.4→2.9.5 critical 9.8"]);
  });
});
