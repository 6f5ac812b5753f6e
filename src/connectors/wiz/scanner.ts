// Wiz as a scanner: pages of open vulnerability findings from GraphQL, mapped to
// Patchbay's normalised findings with the seed's import rules (CVE only, open only,
// repositories and container images only, per the integration's scan options).
import { ExternalError } from "../../http.js";
import { isCveId } from "../../vuln/advisories.js";
import {
  type AssetRef,
  type ConnectionSettings,
  type ConnectorContext,
  ScanCursorInvalid,
  type SyncPage,
  type Scanner,
  type ScannedFinding,
  type ScannerRecord,
  type ScannerSeverity,
} from "../types.js";
import type { WizClient } from "./client.js";
import { ecosystemOfFile } from "../../vuln/ecosystems.js";

export const PAGE_SIZE = 500;

export const FINDINGS_QUERY = `query PatchbayVulnerabilityFindings($filterBy: VulnerabilityFindingFilters, $first: Int, $after: String) {
  vulnerabilityFindings(filterBy: $filterBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id portalUrl name CVEDescription severity vendorSeverity nvdSeverity CVSSSeverity score
      status firstDetectedAt lastDetectedAt resolvedAt detailedName version fixedVersion locationPath detectionMethod
      hasCisaKevExploit epssPercentile
      vulnerableAsset {
        ... on VulnerableAssetBase { id type name providerUniqueId cloudPlatform hasLimitedInternetExposure hasWideInternetExposure }
        ... on VulnerableAssetRepositoryBranch { repositoryId repositoryName }
        ... on VulnerableAssetContainerImage { imageId registry { name externalId } repository { name externalId } }
      }
    }
  }
}`;

export interface WizNode {
  id: string;
  portalUrl?: string | null;
  name: string;
  CVEDescription?: string | null;
  severity?: string | null;
  vendorSeverity?: string | null;
  nvdSeverity?: string | null;
  CVSSSeverity?: string | null;
  score?: number | null;
  status: string;
  firstDetectedAt?: string | null;
  lastDetectedAt?: string | null;
  detailedName?: string | null;
  version?: string | null;
  fixedVersion?: string | null;
  locationPath?: string | null;
  detectionMethod?: string | null;
  hasCisaKevExploit?: boolean | null;
  /** Wiz's EPSS percentile: 0–100 in Wiz's UI and exports; a value of at most 1 is read as a fraction. */
  epssPercentile?: number | null;
  vulnerableAsset?: {
    id?: string;
    type?: string;
    name?: string;
    providerUniqueId?: string | null;
    cloudPlatform?: string | null;
    hasLimitedInternetExposure?: boolean | null;
    hasWideInternetExposure?: boolean | null;
    repositoryId?: string | null;
    repositoryName?: string | null;
    imageId?: string | null;
    registry?: { name?: string | null; externalId?: string | null } | null;
    repository?: { name?: string | null; externalId?: string | null } | null;
  } | null;
}

interface FindingsResponse {
  vulnerabilityFindings: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: WizNode[] };
}

const SEVERITY: Record<string, ScannerSeverity> = {
  CRITICAL: "critical",
  HIGH: "high",
  MEDIUM: "medium",
  LOW: "low",
  INFORMATIONAL: "info",
  NONE: "info",
};

export function ecosystemOf(node: WizNode): string | null {
  const fromFile = ecosystemOfFile(node.locationPath ?? "");
  if (fromFile) return fromFile;
  if (node.vulnerableAsset?.type === "CONTAINER_IMAGE" && /^(PACKAGE|OS)/i.test(node.detectionMethod ?? "")) return "os";
  return null;
}

export function wizScanner(createClient: (connection: ConnectionSettings, ctx: ConnectorContext) => WizClient): Scanner {
  return {
    intervalHours: 6,
    session(connection, ctx) {
      const assetTypes = enabledAssetTypes(connection);
      const client = createClient(connection, ctx);
      return {
        async fetchPage(cursor): Promise<SyncPage> {
          if (assetTypes.length === 0) return { records: [], nextCursor: null, total: 0 };
          let data: FindingsResponse;
          try {
            data = await client.graphql<FindingsResponse>(FINDINGS_QUERY, {
              filterBy: { status: ["OPEN"], assetType: assetTypes },
              first: PAGE_SIZE,
              after: cursor,
            });
          } catch (err) {
            if (cursor && err instanceof ExternalError && /cursor/i.test(err.remoteMessage ?? "")) {
              throw new ScanCursorInvalid(`Wiz no longer accepts the saved page cursor (${err.remoteMessage}).`);
            }
            throw err;
          }
          const page = data.vulnerabilityFindings;
          return {
            records: page.nodes.map((node) => mapNode(node, assetTypes)),
            nextCursor: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null,
            total: page.totalCount,
          };
        },
      };
    },
  };
}

function enabledAssetTypes(connection: ConnectionSettings): string[] {
  const types: string[] = [];
  if (connection.settings.scanSca) types.push("REPOSITORY_BRANCH");
  if (connection.settings.scanContainerImages) types.push("CONTAINER_IMAGE");
  return types;
}

export function mapNode(node: WizNode, assetTypes: string[]): ScannerRecord {
  const skip = (reason: string): ScannerRecord => ({ externalId: node.id, raw: node, skip: reason });
  if (!isCveId(node.name ?? "")) return skip("no CVE identifier");
  if (node.status !== "OPEN") return skip("not open in Wiz");
  const asset = node.vulnerableAsset;
  const type = asset?.type ?? "unknown";
  if (type !== "REPOSITORY_BRANCH" && type !== "CONTAINER_IMAGE") return skip(`asset type ${type.toLowerCase().replace(/_/g, " ")} is not imported`);
  if (!assetTypes.includes(type)) {
    return skip(type === "REPOSITORY_BRANCH" ? "Scan SCA Vulnerabilities is turned off" : "Scan Container Image Vulnerabilities is turned off");
  }
  if (!node.detailedName || !node.version) return skip("no package name or version");
  let ref: AssetRef;
  if (type === "REPOSITORY_BRANCH") {
    if (!asset!.repositoryName) return skip("repository without a name");
    ref = {
      kind: "repository",
      repositoryName: asset!.repositoryName,
      url: /^(https?|ssh):\/\//i.test(asset!.providerUniqueId ?? "") ? asset!.providerUniqueId! : undefined,
      branch: asset!.name,
      details: { wizAssetId: asset!.id, repositoryId: asset!.repositoryId, cloudPlatform: asset!.cloudPlatform, providerUniqueId: asset!.providerUniqueId },
    };
  } else {
    const key = asset!.imageId || asset!.providerUniqueId || asset!.id;
    if (!key) return skip("container image without an identifier");
    ref = {
      kind: "container_image",
      key,
      name: asset!.name || key,
      details: {
        wizAssetId: asset!.id,
        imageId: asset!.imageId,
        registry: asset!.registry?.name,
        imageRepository: asset!.repository?.name,
        cloudPlatform: asset!.cloudPlatform,
      },
    };
  }
  const severity = [node.severity, node.vendorSeverity, node.nvdSeverity, node.CVSSSeverity].map((s) => SEVERITY[s ?? ""]).find(Boolean) ?? "info";
  const detectedAt = node.firstDetectedAt ?? node.lastDetectedAt ?? new Date(0).toISOString();
  return {
    externalId: node.id,
    raw: node,
    finding: {
      cve: node.name.toUpperCase(),
      title: `${node.name.toUpperCase()} in ${node.detailedName} ${node.version}`,
      description: node.CVEDescription ?? null,
      severity,
      cvss: typeof node.score === "number" ? node.score : null,
      ecosystem: ecosystemOf(node),
      package: node.detailedName,
      installedVersion: node.version,
      fixedVersion: node.fixedVersion || null,
      firstDetectedAt: detectedAt,
      lastSeenAt: node.lastDetectedAt ?? detectedAt,
      asset: ref,
      url: node.portalUrl ?? null,
      signals: signalsOf(node),
    },
  };
}

/**
 * Wiz's exposure and exploitation signals: an asset reachable from the internet, widely or from
 * limited sources, is exposed; one Wiz checked (both flags false) is internal; no flags, unknown.
 */
export function signalsOf(node: WizNode): NonNullable<ScannedFinding["signals"]> | undefined {
  const signals: NonNullable<ScannedFinding["signals"]> = {};
  const wide = node.vulnerableAsset?.hasWideInternetExposure;
  const limited = node.vulnerableAsset?.hasLimitedInternetExposure;
  if (wide === true || limited === true) signals.exposure = "exposed";
  else if (wide === false && limited === false) signals.exposure = "internal";
  if (typeof node.hasCisaKevExploit === "boolean") signals.kev = node.hasCisaKevExploit;
  const p = node.epssPercentile;
  if (typeof p === "number" && Number.isFinite(p) && p >= 0 && p <= 100) signals.epssPercentile = p > 1 ? p / 100 : p;
  return Object.keys(signals).length ? signals : undefined;
}
