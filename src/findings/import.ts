// Importing one page of scanner records into findings, in one transaction. Unchanged
// records write nothing: a source whose raw record hashes the same and is still open is
// left alone. New findings are inserted in bulk; changed ones are updated one by one.
import type { AssetRef, ScannedFinding, ScannerRecord } from "../connectors/types.js";
import type { Db, Finding, Severity } from "../db/schema.js";
import { DEFAULT_SLA, dueAt, loadSla } from "./sla.js";
import { SEVERITY_RANK, fingerprint, hashText } from "./normalize.js";
import { packageKey } from "../vuln/packages.js";
import type { RepositoryIndex } from "./repositories.js";
import { withoutControlCharacters } from "../text.js";
import { emptyCounts, type SyncCounts } from "../integrations/sync-runs.js";
import { chunks } from "../db/chunks.js";
import { inList } from "../db/dialect.js";
import { moveFindings, recordImported } from "./status.js";
import { insertAssets, insertFindings, insertSources, markImagesScanned, refreshSource, updateFindingFields } from "./store.js";

export { emptyCounts, type SyncCounts };

export interface ImportContext {
  integrationId: number;
  /** "scanner: Wiz us1", written into finding history. */
  actor: string;
  repositories: RepositoryIndex;
  now: Date;
}

export const NOT_ACCESSIBLE = "repository not accessible through a connected source control integration";
/** Bulk inserts stay well under SQLite's limit on bound parameters. */
const CHUNK = 400;

interface Accepted {
  externalId: string;
  raw: string;
  hash: string;
  finding: ScannedFinding;
  assetKind: "repository" | "container_image";
  assetKey: string;
  assetName: string;
  repositoryId: number | null;
  assetDetails: Record<string, unknown>;
  fingerprint: string;
}

/** Imports one page; returns the counts it adds. Call inside a transaction. */
/** A scanner's finding with control characters removed from its text (a NUL in a Java version): never stored, never rendered. */
function withoutControls(f: ScannedFinding): ScannedFinding {
  const clean = (text: string) => withoutControlCharacters(text);
  return {
    ...f,
    cve: clean(f.cve),
    title: clean(f.title),
    description: f.description === null ? null : withoutControlCharacters(f.description, true),
    ecosystem: f.ecosystem === null ? null : clean(f.ecosystem),
    package: clean(f.package),
    installedVersion: clean(f.installedVersion),
    fixedVersion: f.fixedVersion === null ? null : clean(f.fixedVersion),
    url: f.url === null ? null : clean(f.url),
  };
}

/** The tables an import fills: their planner statistics are refreshed as they grow (refreshStatistics). */
export const IMPORTED_TABLES = ["findings", "finding_sources", "finding_events"] as const;

export async function importPage(db: Db, records: ScannerRecord[], ctx: ImportContext): Promise<SyncCounts> {
  const counts = emptyCounts();
  counts.fetched = records.length;
  const stamp = ctx.now.toISOString();
  const accepted: Accepted[] = [];
  for (const record of records) {
    if ("skip" in record) {
      bump(counts.skipped, record.skip);
      continue;
    }
    const asset = resolveAsset(record.finding.asset, ctx.repositories);
    if (!asset) {
      bump(counts.skipped, NOT_ACCESSIBLE);
      continue;
    }
    const raw = JSON.stringify(record.raw);
    const finding = withoutControls(record.finding);
    accepted.push({
      externalId: sourceId(record.externalId),
      raw,
      hash: hashText(raw),
      finding,
      ...asset,
      fingerprint: fingerprint(finding.cve, packageKey(finding.ecosystem, finding.package), finding.installedVersion, asset.assetKey),
    });
  }
  if (accepted.length === 0) return counts;

  const existingSources = new Map(
    (
      await inChunks(
        accepted.map((a) => a.externalId),
        (ids) =>
          db
            .selectFrom("finding_sources")
            .select(["id", "external_id", "finding_id", "content_hash", "status"])
            .where("integration_id", "=", ctx.integrationId)
            .where(inList(db, "external_id", ids))
            .execute(),
      )
    ).map((s) => [s.external_id, s]),
  );
  const unchangedFindings: number[] = [];
  const changed = accepted.filter((a) => {
    const source = existingSources.get(a.externalId);
    const same = source && source.content_hash === a.hash && source.status === "open";
    if (same) {
      counts.unchanged++;
      unchangedFindings.push(source.finding_id);
    }
    return !same;
  });
  // A fix was merged (the finding resolved) but the scanner still reports it: open it again.
  await reopenStillReported(db, unchangedFindings, ctx.actor, stamp);
  // The images reported on: a base image fix trusts what a scan of a digest says (and does not say).
  await markImagesScanned(db, [...new Set(accepted.filter((a) => a.assetKind === "container_image").map((a) => a.assetKey))], stamp);
  if (changed.length === 0) return counts;

  const assetIds = await ensureAssets(db, changed, stamp);
  const findings = new Map(
    (
      await inChunks([...new Set(changed.map((a) => a.fingerprint))], (fps) =>
        db
          .selectFrom("findings")
          .selectAll()
          .where(inList(db, "fingerprint", fps))
          .execute(),
      )
    ).map((f) => [f.fingerprint, f]),
  );

  // New findings, one per fingerprint, inserted in bulk with their first history entry.
  const fresh = new Map<string, Accepted>();
  for (const a of changed) if (!findings.has(a.fingerprint) && !fresh.has(a.fingerprint)) fresh.set(a.fingerprint, a);
  const sla = fresh.size ? await loadSla(db) : DEFAULT_SLA;
  for (const chunk of chunks([...fresh.values()], CHUNK)) {
    const inserted = await insertFindings(
      db,
      chunk.map((a) => ({ ...newFindingRow(a, assetIds.get(assetMapKey(a))!, stamp), due_at: dueAt(a.finding.firstDetectedAt, a.finding.severity, sla) })),
    );
    for (const row of inserted) findings.set(row.fingerprint, row);
    // Fingerprints another process inserted meanwhile (two imports of one finding at once): theirs
    // stand, and these records update them like any existing finding.
    const lost = chunk.filter((a) => !findings.has(a.fingerprint));
    if (lost.length) {
      for (const row of await db
        .selectFrom("findings")
        .selectAll()
        .where(
          inList(
            db,
            "fingerprint",
            lost.map((a) => a.fingerprint),
          ),
        )
        .execute())
        findings.set(row.fingerprint, row);
      for (const a of lost) fresh.delete(a.fingerprint);
    }
    await recordImported(
      db,
      inserted.map((row) => row.id),
      ctx.actor,
      stamp,
    );
  }
  counts.new += fresh.size;

  const newSources: Accepted[] = [];
  const orphaned = new Set<number>();
  for (const a of changed) {
    const finding = findings.get(a.fingerprint)!;
    if (fresh.get(a.fingerprint) !== a) {
      // The scanner's record changed (or a second record joined the finding).
      await updateFinding(db, finding, a.finding, ctx, stamp);
      counts.updated++;
    }
    const source = existingSources.get(a.externalId);
    if (!source) {
      newSources.push(a);
      continue;
    }
    if (source.finding_id !== finding.id) orphaned.add(source.finding_id);
    await refreshSource(db, source.id, { finding_id: finding.id, raw: a.raw, content_hash: a.hash, url: webUrl(a.finding.url) }, stamp);
  }
  await insertSources(
    db,
    newSources.map((a) => ({
      finding_id: findings.get(a.fingerprint)!.id,
      integration_id: ctx.integrationId,
      external_id: a.externalId,
      status: "open" as const,
      raw: a.raw,
      content_hash: a.hash,
      url: webUrl(a.finding.url),
      first_seen_at: stamp,
      updated_at: stamp,
    })),
  );
  await applyDismissals(db, changed, findings, ctx.actor, stamp);
  // A record that moved to another finding (say, the package was upgraded) may leave its
  // old finding with nothing reporting it.
  counts.resolved += await resolveUnreported(db, [...orphaned], ctx.actor, stamp, "No scanner reports it any more");
  return counts;
}

/** A scanner's link, kept only when it is an http(s) address (a report may carry "javascript:" links). */
function webUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.toString() : null;
  } catch {
    return null;
  }
}

const withoutNul = (text: string) => text.replace(/\u0000/g, "\ufffd");

/**
 * A scanner record's id as stored: a NUL in it (a separator some connectors use, or one in a
 * version a report gave) is kept as U+FFFD, for PostgreSQL's text refuses NUL. Whoever compares
 * record ids with stored ones (a full scan's or upload's resolution) compares these.
 */
export const sourceId = withoutNul;

function resolveAsset(ref: AssetRef, repositories: RepositoryIndex) {
  if (ref.kind === "repository") {
    const repo = repositories.match({ name: ref.repositoryName, url: ref.url });
    if (!repo) return undefined;
    return {
      assetKind: "repository" as const,
      assetKey: `repository:${repo.full_name.toLowerCase()}`,
      assetName: repo.full_name,
      repositoryId: repo.id,
      assetDetails: { ...ref.details, provider: repo.provider, url: repo.url },
    };
  }
  return {
    assetKind: "container_image" as const,
    assetKey: withoutNul(`image:${ref.key}`),
    assetName: withoutNul(ref.name),
    repositoryId: null,
    assetDetails: ref.details,
  };
}

const assetMapKey = (a: { assetKind: string; assetKey: string }) => `${a.assetKind}\u0000${a.assetKey}`;

async function ensureAssets(db: Db, records: Accepted[], stamp: string): Promise<Map<string, number>> {
  const wanted = new Map<string, Accepted>();
  for (const a of records) wanted.set(assetMapKey(a), a);
  const ids = new Map<string, number>();
  const keys = [...new Set(records.map((a) => a.assetKey))];
  const kinds = [...new Set(records.map((a) => a.assetKind))];
  const existing = await inChunks(keys, (batch) =>
    db.selectFrom("assets").select(["id", "kind", "asset_key"]).where("kind", "in", kinds).where("asset_key", "in", batch).execute(),
  );
  for (const row of existing) ids.set(assetMapKey({ assetKind: row.kind, assetKey: row.asset_key }), row.id);
  const missing = [...wanted.entries()].filter(([key]) => !ids.has(key)).map(([, a]) => a);
  for (const chunk of chunks(missing, CHUNK)) {
    const inserted = await insertAssets(
      db,
      chunk.map((a) => ({
        kind: a.assetKind,
        asset_key: a.assetKey,
        name: a.assetName,
        repository_id: a.repositoryId,
        details: JSON.stringify(a.assetDetails),
        created_at: stamp,
        updated_at: stamp,
      })),
    );
    for (const row of inserted) ids.set(assetMapKey({ assetKind: row.kind, assetKey: row.asset_key }), row.id);
    // Assets another process inserted meanwhile: read back.
    const lost = chunk.filter((a) => !ids.has(assetMapKey(a)));
    for (const row of lost.length
      ? await db
          .selectFrom("assets")
          .select(["id", "kind", "asset_key"])
          .where(
            "asset_key",
            "in",
            lost.map((a) => a.assetKey),
          )
          .execute()
      : [])
      ids.set(assetMapKey({ assetKind: row.kind, assetKey: row.asset_key }), row.id);
  }
  return ids;
}

function newFindingRow(a: Accepted, assetId: number, stamp: string) {
  const f = a.finding;
  return {
    fingerprint: a.fingerprint,
    cve: f.cve,
    title: f.title,
    description: f.description,
    severity: f.severity,
    severity_rank: SEVERITY_RANK[f.severity],
    cvss: f.cvss,
    ecosystem: f.ecosystem,
    package: f.package,
    package_lc: packageKey(f.ecosystem, f.package),
    installed_version: f.installedVersion,
    fixed_version: f.fixedVersion,
    asset_id: assetId,
    status: "open" as const,
    status_reason: null,
    status_expires_at: null,
    first_detected_at: f.firstDetectedAt,
    last_seen_at: f.lastSeenAt,
    resolved_at: null,
    ...signalColumns(f.signals),
    created_at: stamp,
    updated_at: stamp,
  };
}

/** The scanner's exposure and exploitation signals as the finding's columns. */
function signalColumns(signals: ScannedFinding["signals"]) {
  return {
    exposure: signals?.exposure ?? null,
    scanner_kev: signals?.kev === undefined ? null : signals.kev ? 1 : 0,
    scanner_epss: signals?.epssPercentile ?? null,
  };
}

/** The finding's columns its risk score is computed from. */
const RISK_INPUTS = ["severity", "cvss", "exposure", "scanner_kev", "scanner_epss", "policy_undo"];

/** The history note of a finding closed in a tracker that a scan still reports (it stays flagged). */
export const STILL_DETECTED_NOTE = "Closed in tracker, still detected: the scanner still reports it";

/** Applies a scanner's newer view to a finding, reopening it if it was resolved. */
async function updateFinding(db: Db, finding: Finding, f: ScannedFinding, ctx: ImportContext, stamp: string): Promise<void> {
  // A remediation policy rule overrode the severity: the override stands, and the scanner's
  // severity is what the rule restores when it stops matching.
  const undo = finding.policy_rule && finding.policy_undo ? (JSON.parse(finding.policy_undo) as { severity?: Severity }) : undefined;
  const overridden = undo?.severity !== undefined;
  const severity = overridden ? finding.severity : f.severity;
  const next = {
    title: f.title,
    description: f.description,
    severity,
    severity_rank: SEVERITY_RANK[severity],
    cvss: f.cvss,
    ecosystem: f.ecosystem ?? finding.ecosystem,
    fixed_version: f.fixedVersion,
    first_detected_at: f.firstDetectedAt < finding.first_detected_at ? f.firstDetectedAt : finding.first_detected_at,
    last_seen_at: f.lastSeenAt > finding.last_seen_at ? f.lastSeenAt : finding.last_seen_at,
    // A scanner that gives exposure and exploitation signals replaces earlier ones; one that gives none leaves them.
    ...(f.signals ? signalColumns(f.signals) : {}),
  };
  // An image its registry no longer has stays resolved, whatever a scanner still says of it.
  const reopen = finding.status === "resolved" && !(await onGoneAsset(db, finding.asset_id));
  const changes: Record<string, unknown> = Object.fromEntries(Object.entries(next).filter(([k, v]) => finding[k as keyof Finding] !== v));
  // A new severity (or an earlier first detection) moves the deadline, under today's policy.
  if ("severity" in changes || "first_detected_at" in changes) changes.due_at = dueAt(next.first_detected_at, next.severity, await loadSla(db));
  if (overridden && undo!.severity !== f.severity) changes.policy_undo = JSON.stringify({ ...undo, severity: f.severity });
  // What the risk score (and the policy) reads changed: the rescore after the import scores it again.
  if (RISK_INPUTS.some((k) => k in changes)) changes.risk = -1;
  if (!reopen && Object.keys(changes).length === 0) return;
  if (Object.keys(changes).length) await updateFindingFields(db, finding.id, changes, stamp);
  Object.assign(finding, changes);
  if (reopen) {
    await moveFindings(
      db,
      [finding],
      { to: "open", actor: ctx.actor, note: finding.tracker_closed_at ? STILL_DETECTED_NOTE : "Reported again by the scanner" },
      stamp,
    );
    finding.status = "open";
  }
}

/** The scanner's dismissals, on findings still open (people's decisions are not overridden). */
async function applyDismissals(db: Db, records: Accepted[], findings: Map<string, Finding>, actor: string, stamp: string): Promise<void> {
  for (const a of records) {
    const dismissed = a.finding.dismissed;
    const finding = findings.get(a.fingerprint);
    if (!dismissed || !finding || (finding.status !== "open" && finding.status !== "in_remediation")) continue;
    await moveFindings(db, [finding], { to: dismissed.status, actor, reason: dismissed.reason, note: dismissed.reason }, stamp);
    finding.status = dismissed.status;
  }
}

async function onGoneAsset(db: Db, assetId: number): Promise<boolean> {
  return Boolean(await db.selectFrom("assets").select("id").where("id", "=", assetId).where("gone_at", "is not", null).executeTakeFirst());
}

async function reopenStillReported(db: Db, findingIds: number[], actor: string, stamp: string): Promise<void> {
  for (const ids of chunks(findingIds, CHUNK)) {
    const resolved = await db
      .selectFrom("findings")
      .select(["id", "status", "tracker_closed_at"])
      .where("id", "in", ids)
      .where("status", "=", "resolved")
      .where((eb) =>
        eb.not(eb.exists(eb.selectFrom("assets").select("assets.id").whereRef("assets.id", "=", "findings.asset_id").where("assets.gone_at", "is not", null))),
      )
      .execute();
    await moveFindings(
      db,
      resolved,
      { to: "open", actor, note: (r) => (r.tracker_closed_at ? STILL_DETECTED_NOTE : "Still reported by the scanner after it was marked resolved") },
      stamp,
    );
  }
}

/**
 * Resolves the given findings that no scanner reports open any more. Statuses a person set
 * on purpose (false positive) stay; everything else becomes resolved, with a history entry.
 */
export async function resolveUnreported(db: Db, findingIds: number[], actor: string, stamp: string, note: string): Promise<number> {
  let resolved = 0;
  for (const ids of chunks(findingIds, CHUNK)) {
    const stillReported = new Set(
      (await db.selectFrom("finding_sources").select("finding_id").where("finding_id", "in", ids).where("status", "=", "open").execute()).map(
        (r) => r.finding_id,
      ),
    );
    const candidates = await db
      .selectFrom("findings")
      .select(["id", "status"])
      .where(
        "id",
        "in",
        ids.filter((id) => !stillReported.has(id)),
      )
      .where("status", "not in", ["resolved", "false_positive"])
      .execute();
    resolved += await moveFindings(db, candidates, { to: "resolved", actor, note }, stamp);
  }
  return resolved;
}

export function mergeCounts(into: SyncCounts, add: SyncCounts): SyncCounts {
  into.fetched += add.fetched;
  into.new += add.new;
  into.updated += add.updated;
  into.unchanged += add.unchanged;
  into.resolved += add.resolved;
  for (const [reason, n] of Object.entries(add.skipped)) into.skipped[reason] = (into.skipped[reason] ?? 0) + n;
  return into;
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export { chunks };

async function inChunks<T, R>(items: T[], query: (batch: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (const batch of chunks(items, CHUNK)) out.push(...(await query(batch)));
  return out;
}
