// The evidence a base image fix rests on: the container images scanners and uploads reported on
// (scanned_at set), by the repositories and tags they are known under, and which of a set of
// CVEs each still has.
import type { Db } from "../db/schema.js";
import { type ImageReference, parseImageReference } from "./fixers/dockerfile.js";

export interface ScannedImage {
  assetId: number;
  digest: string;
  refs: ImageReference[];
  scannedAt: string;
}

/** Images read for evidence at most (the most recently scanned). */
const MAX_IMAGES = 20_000;

/** The scanned images known under `repository` ("docker.io/library/node"), with every tag each is known by. */
export async function scannedImagesOf(db: Db, repository: string): Promise<ScannedImage[]> {
  const rows = await db
    .selectFrom("assets")
    .select(["id", "asset_key", "name", "details", "scanned_at"])
    .where("kind", "=", "container_image")
    .where("scanned_at", "is not", null)
    .orderBy("scanned_at", "desc")
    .limit(MAX_IMAGES)
    .execute();
  const out: ScannedImage[] = [];
  for (const row of rows) {
    let details: { digest?: unknown; registry?: unknown; tags?: unknown } = {};
    try {
      details = JSON.parse(row.details) as typeof details;
    } catch {
      // Details Patchbay cannot read: the name is still a reference.
    }
    const names = [row.name, ...(Array.isArray(details.tags) ? details.tags.filter((t): t is string => typeof t === "string") : [])];
    const registry = typeof details.registry === "string" ? details.registry : undefined;
    const refs = names
      .map((n) => parseImageReference(registry && !n.startsWith(`${registry}/`) && n !== row.name ? `${registry}/${n}` : n))
      .filter((r): r is ImageReference => r !== undefined && r.repository === repository);
    if (refs.length === 0) continue;
    const digest = typeof details.digest === "string" ? details.digest : row.asset_key.replace(/^image:/, "");
    out.push({ assetId: row.id, digest, refs, scannedAt: row.scanned_at! });
  }
  return out;
}

/** Which of `cves` each image still has (any finding of the CVE not resolved). */
export async function cvesPresent(db: Db, assetIds: number[], cves: string[]): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>();
  if (assetIds.length === 0 || cves.length === 0) return out;
  const rows = await db
    .selectFrom("findings")
    .select(["asset_id", "cve"])
    .where("asset_id", "in", assetIds)
    .where("cve", "in", cves)
    .where("status", "!=", "resolved")
    .execute();
  for (const r of rows) {
    if (!out.has(r.asset_id)) out.set(r.asset_id, new Set());
    out.get(r.asset_id)!.add(r.cve);
  }
  return out;
}

/** The open findings of an image (the ones a new base may fix). */
export function openFindingsOfImage(db: Db, assetId: number) {
  return db
    .selectFrom("findings")
    .select(["id", "cve", "severity", "installed_version", "fixed_version"])
    .where("asset_id", "=", assetId)
    .where("status", "in", ["open", "in_remediation"])
    .orderBy("severity_rank", "desc")
    .orderBy("id")
    .execute();
}
