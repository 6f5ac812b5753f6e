// A realistic Wiz tenant for tests, the demo and benchmarks: SCA findings on several
// repositories (some of which Patchbay cannot reach), container images, virtual machines,
// GHSA-only advisories without a CVE, and resolved and rejected (accepted) findings.
// Deterministic: the same options give the same data.
import type { WizSimFinding } from "./wiz.js";

export interface TenantOptions {
  /** Open SCA + image findings with a CVE, the ones Patchbay imports. */
  importable: number;
  repositories?: string[];
  images?: number;
  /** Extra records the import rules must skip, each kind this many times. */
  noise?: number;
  seed?: number;
}

export const DEFAULT_REPOSITORIES = ["acme/payments-api", "acme/web-frontend", "acme/inventory-service", "acme/mobile-bff"];

/** Library packages, found in repositories: name, manifest, version. */
const LIBRARIES: [string, string, string][] = [
  ["lodash", "package-lock.json", "4.17.15"],
  ["express", "package-lock.json", "4.17.1"],
  ["axios", "yarn.lock", "0.21.1"],
  ["requests", "requirements.txt", "2.25.0"],
  ["django", "poetry.lock", "3.1.4"],
  ["com.fasterxml.jackson.core:jackson-databind", "pom.xml", "2.9.10"],
  ["org.apache.logging.log4j:log4j-core", "pom.xml", "2.14.1"],
  ["golang.org/x/net", "go.sum", "0.0.0-20210226172049"],
];
/** Operating system packages, found in container images. */
const OS_PACKAGES: [string, string][] = [
  ["openssl", "1.1.1k-1"],
  ["glibc", "2.31-13"],
  ["zlib", "1.2.11.dfsg-2"],
  ["curl", "7.74.0-1.3"],
];
const SCORE_RANGE: Record<string, [number, number]> = { CRITICAL: [9, 10], HIGH: [7, 8.9], MEDIUM: [4, 6.9], LOW: [0.1, 3.9], INFORMATIONAL: [0, 0] };
const SEVERITIES = ["CRITICAL", "HIGH", "HIGH", "MEDIUM", "MEDIUM", "MEDIUM", "LOW", "INFORMATIONAL"];

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export function repoAsset(name: string, branch = "main") {
  return {
    __typename: "VulnerableAssetRepositoryBranch",
    id: `repo-${name}-${branch}`,
    type: "REPOSITORY_BRANCH",
    name: branch,
    cloudPlatform: "GitHub",
    providerUniqueId: `https://github.com/${name}/tree/${branch}`,
    repositoryId: `wiz-repo-${name}`,
    repositoryName: name,
    // Wiz has no network exposure for a repository branch.
    hasWideInternetExposure: null,
    hasLimitedInternetExposure: null,
  };
}

export function imageAsset(n: number) {
  const digest = `sha256:${n.toString(16).padStart(64, "0")}`;
  return {
    __typename: "VulnerableAssetContainerImage",
    id: `image-${n}`,
    type: "CONTAINER_IMAGE",
    name: `registry.acme.io/acme/service-${n}:1.${n}.0`,
    cloudPlatform: "Kubernetes",
    providerUniqueId: digest,
    imageId: digest,
    registry: { name: "registry.acme.io", externalId: "registry.acme.io" },
    repository: { name: `acme/service-${n}`, externalId: `acme/service-${n}` },
    // Every third image runs somewhere the internet reaches; Wiz checked the rest.
    hasWideInternetExposure: n % 3 === 0,
    hasLimitedInternetExposure: false,
  };
}

export function wizFinding(i: number, asset: WizSimFinding["vulnerableAsset"], overrides: Partial<WizSimFinding> = {}, random = rng(i)): WizSimFinding {
  const isImage = asset.type === "CONTAINER_IMAGE";
  const [pkg, manifest, version] = isImage ? ["", "", ""] : LIBRARIES[i % LIBRARIES.length]!;
  const [osPkg, osVersion] = OS_PACKAGES[i % OS_PACKAGES.length]!;
  const name = isImage ? osPkg : pkg;
  const baseVersion = isImage ? osVersion : version;
  const severity = SEVERITIES[Math.floor(random() * SEVERITIES.length)]!;
  const [low, high] = SCORE_RANGE[severity]!;
  const cve = `CVE-${2019 + (i % 6)}-${String(10000 + i).padStart(5, "0")}`;
  const day = 1 + (i % 28);
  return {
    id: `wiz-finding-${i}`,
    portalUrl: `https://app.wiz.io/explorer/vulnerability-findings#~(entity~(~'wiz-finding-${i}))`,
    name: cve,
    CVEDescription: `A flaw in ${name} before the fixed release allows an attacker to cause harm (${cve}).`,
    severity,
    vendorSeverity: severity,
    nvdSeverity: severity,
    CVSSSeverity: severity,
    score: Math.round((low + random() * (high - low)) * 10) / 10,
    hasExploit: random() < 0.2,
    hasCisaKevExploit: random() < 0.05,
    hasFix: true,
    epssProbability: Math.round(random() * 1000) / 1000,
    // Wiz gives the percentile as a percentage.
    epssPercentile: Math.round(random() * 10000) / 100,
    status: "OPEN",
    firstDetectedAt: `2026-0${1 + (i % 9)}-${String(day).padStart(2, "0")}T08:00:00Z`,
    lastDetectedAt: "2026-11-20T06:00:00Z",
    resolvedAt: null,
    detailedName: name,
    version: `${baseVersion}${i >= LIBRARIES.length ? `-p${i}` : ""}`,
    fixedVersion: `${baseVersion}-fixed`,
    locationPath: isImage ? "/var/lib/dpkg/status" : manifest,
    detectionMethod: isImage ? "PACKAGE" : "LIBRARY",
    updatedAt: "2026-11-20T06:00:00Z",
    vulnerableAsset: asset,
    ...overrides,
  };
}

/** A tenant's worth of findings, in the order Wiz would page them. */
export function wizTenant(options: TenantOptions): WizSimFinding[] {
  const random = rng(options.seed ?? 7);
  const repositories = options.repositories ?? DEFAULT_REPOSITORIES;
  const images = options.images ?? 5;
  const out: WizSimFinding[] = [];
  for (let i = 0; i < options.importable; i++) {
    const asset = i % 3 === 2 ? imageAsset(i % images) : repoAsset(repositories[i % repositories.length]!);
    out.push(wizFinding(i, asset, {}, random));
  }
  const noise = options.noise ?? 0;
  for (let n = 0; n < noise; n++) {
    const i = options.importable + n * 5;
    out.push(wizFinding(i, repoAsset(repositories[0]!), { name: `GHSA-${n}abc-defg-hijk` }, random));
    out.push(wizFinding(i + 1, repoAsset(repositories[0]!), { status: "RESOLVED", resolvedAt: "2026-11-01T00:00:00Z" }, random));
    out.push(wizFinding(i + 2, repoAsset(repositories[0]!), { status: "REJECTED" }, random));
    out.push(wizFinding(i + 3, repoAsset("someone-else/unreachable-repo"), {}, random));
    out.push(
      wizFinding(
        i + 4,
        { __typename: "VulnerableAssetVirtualMachine", id: `vm-${n}`, type: "VIRTUAL_MACHINE", name: `vm-${n}`, operatingSystem: "Linux" },
        {},
        random,
      ),
    );
  }
  return out;
}
