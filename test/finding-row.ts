// Rows for tests that write the database directly: a finding (every column a default, the given
// ones over them), a repository's asset, an integration.
import type { Insertable } from "kysely";
import type { Db, FindingTable, Severity } from "../src/db/schema.js";
import { SEVERITY_RANK } from "../src/findings/normalize.js";

export function findingRow(
  i: number,
  fields: Partial<Insertable<FindingTable>> & { asset_id: number; severity: Severity; package: string },
): Insertable<FindingTable> {
  const stamp = "2026-12-01T00:00:00.000Z";
  return {
    fingerprint: `fp-${i}`,
    cve: `CVE-2024-${1000 + (i % 50)}`,
    title: `Issue ${i}`,
    severity_rank: SEVERITY_RANK[fields.severity],
    cvss: null,
    ecosystem: "npm",
    package_lc: fields.package.toLowerCase(),
    installed_version: "1.0.0",
    fixed_version: null,
    status: "open",
    first_detected_at: stamp,
    last_seen_at: stamp,
    resolved_at: null,
    due_at: null,
    created_at: stamp,
    updated_at: stamp,
    ...fields,
  };
}

/** A repository's asset, inserted: its id. */
export async function insertRepositoryAsset(db: Db, name: string): Promise<number> {
  const stamp = "2026-12-01T00:00:00.000Z";
  const row = await db
    .insertInto("assets")
    .values({ kind: "repository", asset_key: `repository:${name}`, name, repository_id: null, details: "{}", created_at: stamp, updated_at: stamp })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A connected integration, inserted: its id. */
export async function insertIntegration(db: Db, kind: string, name: string): Promise<number> {
  const stamp = "2026-12-01T00:00:00.000Z";
  const row = await db
    .insertInto("integrations")
    .values({ kind, name, settings: "{}", secrets: null, status: "connected", last_error: null, last_sync_at: null, created_at: stamp, updated_at: stamp })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}
