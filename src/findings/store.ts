// One finding with everything the detail page shows: its asset, every source with the
// scanner's raw record, and its status history.
import { type ExpressionBuilder, type Insertable, sql } from "kysely";
import type {
  Asset,
  AssetTable,
  Criticality,
  Database,
  Db,
  Finding,
  FindingEvent,
  FindingSource,
  FindingSourceTable,
  FindingTable,
  Severity,
} from "../db/schema.js";
import { chunks } from "../db/chunks.js";
import { SEVERITIES, SEVERITY_RANK } from "./normalize.js";
import { contains } from "../db/search.js";
import { type Beside, DEFAULT_STATUSES, cachedCount } from "./query.js";
import { dialectOf, fromJson, insertMany, jsonArrayFrom, jsonObjectFrom } from "../db/dialect.js";

export interface FindingDetail<X = undefined> {
  finding: Finding;
  asset: Asset;
  sources: (FindingSource & { integration_name: string; integration_kind: string })[];
  events: FindingEvent[];
  /** What the caller's `beside` column read with the finding (its tickets). */
  beside: X;
}

// The columns a finding's page shows of its asset, sources and history: all of them (SQLite's
// JSON objects need their names; the types below fail to compile when a table gains one).
const ASSET_COLUMNS = [
  "id",
  "kind",
  "asset_key",
  "name",
  "repository_id",
  "details",
  "integration_id",
  "gone_at",
  "scanned_at",
  "criticality",
  "created_at",
  "updated_at",
] as const;
const SOURCE_COLUMNS = ["id", "finding_id", "integration_id", "external_id", "status", "raw", "content_hash", "url", "first_seen_at", "updated_at"] as const;
const EVENT_COLUMNS = ["id", "finding_id", "at", "actor", "from_status", "to_status", "note"] as const;
type Every<T, L extends readonly (keyof T)[]> = Exclude<keyof T, L[number]> extends never ? true : never;
const _everyColumn: [Every<Asset, typeof ASSET_COLUMNS>, Every<FindingSource, typeof SOURCE_COLUMNS>, Every<FindingEvent, typeof EVENT_COLUMNS>] = [
  true,
  true,
  true,
];
void _everyColumn;

/** A finding with its asset, its scanners' records, its history and what `beside` adds: one statement. */
export async function findingDetail<X = undefined>(db: Db, id: number, beside?: Beside<X>): Promise<FindingDetail<X> | undefined> {
  const row = await db
    .selectFrom("findings")
    .selectAll("findings")
    .select((eb) => [
      jsonObjectFrom(db, eb.selectFrom("assets").select(ASSET_COLUMNS).whereRef("assets.id", "=", "findings.asset_id")).as("asset_json"),
      jsonArrayFrom(
        db,
        eb
          .selectFrom("finding_sources")
          .innerJoin("integrations", "integrations.id", "finding_sources.integration_id")
          .select(SOURCE_COLUMNS.map((c) => `finding_sources.${c}` as const))
          .select(["integrations.name as integration_name", "integrations.kind as integration_kind"])
          .whereRef("finding_sources.finding_id", "=", "findings.id")
          .orderBy("finding_sources.id"),
      ).as("sources_json"),
      jsonArrayFrom(
        db,
        eb.selectFrom("finding_events").select(EVENT_COLUMNS).whereRef("finding_events.finding_id", "=", "findings.id").orderBy("id", "desc"),
      ).as("events_json"),
    ])
    .$if(beside !== undefined, (q) => q.select(beside!))
    .where("findings.id", "=", id)
    .executeTakeFirst();
  if (!row) return undefined;
  const { asset_json, sources_json, events_json, beside: read, ...finding } = row as typeof row & { beside: X };
  const asset = fromJson(asset_json);
  if (!asset) return undefined;
  return { finding, asset, sources: fromJson(sources_json), events: fromJson(events_json), beside: read };
}

/** The highest finding id so far (0 with none): findings after it are "new". */
export async function newestFindingId(db: Db): Promise<number> {
  const row = await db
    .selectFrom("findings")
    .select((eb) => eb.fn.max<number>("id").as("id"))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/** The finding a template preview renders: this one when it exists, else the newest open one. */
export async function previewFinding(db: Db, wanted: number | undefined): Promise<number | undefined> {
  const row = await db
    .selectFrom("findings")
    .select("id")
    .$if(wanted !== undefined, (q) => q.where("id", "=", wanted!))
    .$if(wanted === undefined, (q) => q.where("status", "in", ["open", "in_remediation"]).orderBy("id", "desc"))
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/** The newest open findings' ids, at most `limit`. */
export async function newestOpenFindingIds(db: Db, limit: number): Promise<number[]> {
  const rows = await db.selectFrom("findings").select("id").where("status", "in", ["open", "in_remediation"]).orderBy("id", "desc").limit(limit).execute();
  return rows.map((r) => r.id);
}

export function findFinding(db: Db, id: number): Promise<Finding | undefined> {
  return db.selectFrom("findings").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Findings some source of this integration reports and no other integration's source does. */
function onlyFrom(integrationId: number) {
  const source = (eb: ExpressionBuilder<Database, "findings">) =>
    eb.selectFrom("finding_sources").select("finding_sources.id").whereRef("finding_sources.finding_id", "=", "findings.id");
  return (eb: ExpressionBuilder<Database, "findings">) =>
    eb.and([eb.exists(source(eb).where("integration_id", "=", integrationId)), eb.not(eb.exists(source(eb).where("integration_id", "!=", integrationId)))]);
}

/** How many findings only this integration reports (what disconnecting it removes). */
export async function countFindingsOnlyFrom(db: Db, integrationId: number): Promise<number> {
  const row = await db
    .selectFrom("findings")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where(onlyFrom(integrationId))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Removes the findings only this integration reports, before the integration itself goes
 * (its sources go with it). Findings other scanners also report stay, with their sources.
 */
export async function deleteFindingsOnlyFrom(db: Db, integrationId: number): Promise<void> {
  await db.deleteFrom("findings").where(onlyFrom(integrationId)).execute();
}

/** Open findings by severity for each of these assets, or each of these repositories' assets. */
export async function openFindingCounts(db: Db, by: "asset" | "repository", ids: number[]): Promise<Map<number, Record<Severity, number>>> {
  if (ids.length === 0) return new Map();
  // Shared by everyone viewing the same page until the next write.
  return cachedCount(db, JSON.stringify(["open", by, ids]), () => computeOpenFindingCounts(db, by, ids));
}

async function computeOpenFindingCounts(db: Db, by: "asset" | "repository", ids: number[]): Promise<Map<number, Record<Severity, number>>> {
  // The assets first, then their counts by asset id alone. (Joined, PostgreSQL estimated a page of
  // repositories' assets at more rows than a scan of every finding, and read the whole table.)
  const owner = new Map<number, number>();
  if (by === "asset") for (const id of ids) owner.set(id, id);
  else
    for (const batch of chunks(ids, 500))
      for (const a of await db.selectFrom("assets").select(["id", "repository_id"]).where("repository_id", "in", batch).execute())
        owner.set(a.id, a.repository_id!);
  const counts = new Map<number, Record<Severity, number>>();
  for (const batch of chunks([...owner.keys()], 500)) {
    // From the per-asset totals the triggers keep (migration 0052), not the findings themselves.
    const grouped = await db
      .selectFrom("asset_counts")
      .select(["asset_id", "severity_rank", (eb) => eb.fn.sum<number>("n").as("n")])
      .where("asset_id", "in", batch)
      .where("status", "in", DEFAULT_STATUSES)
      .groupBy(["asset_id", "severity_rank"])
      .execute();
    for (const row of grouped) {
      const severity = SEVERITIES.find((s) => SEVERITY_RANK[s] === row.severity_rank)!;
      const key = owner.get(Number(row.asset_id))!;
      const entry = counts.get(key) ?? (Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>);
      entry[severity] += Number(row.n);
      counts.set(key, entry);
    }
  }
  return counts;
}

/** Container images by name, a page after `after`: with their registry's name and their source repository. */
export async function listImages(db: Db, opts: { q: string; showGone: boolean; after: string; limit: number }) {
  let query = db
    .selectFrom("assets")
    .leftJoin("repositories", "repositories.id", "assets.repository_id")
    .leftJoin("integrations", "integrations.id", "assets.integration_id")
    .select([
      "assets.id",
      "assets.name",
      "assets.details",
      "assets.gone_at",
      "assets.updated_at",
      "assets.criticality",
      "repositories.full_name as repository",
      "repositories.criticality as repository_criticality",
      "repositories.url as repository_url",
      "integrations.name as integration_name",
    ])
    .where("assets.kind", "=", "container_image")
    .orderBy("assets.name")
    .limit(opts.limit);
  if (opts.q) query = query.where(contains("assets.name", opts.q));
  if (!opts.showGone) query = query.where("assets.gone_at", "is", null);
  if (opts.after) query = query.where("assets.name", ">", opts.after);
  return query.execute();
}

// Writes. Status and history go through status.ts; everything else a finding, its sources or
// its asset carries is written here.

/** Inserts new findings (at most a few hundred at a time) and gives their rows. */
/**
 * Inserts new findings; gives the rows inserted. A fingerprint another process inserted meanwhile
 * is left alone (not an error): the caller reads it back as an existing finding.
 */
export function insertFindings(db: Db, rows: Insertable<FindingTable>[]): Promise<Finding[]> {
  return insertMany<"findings", Finding>(db, "findings", rows, { conflict: ["fingerprint"], returning: true });
}

/** Records what a scanner's newer record changed on a finding (never its status: see status.ts). */
export async function updateFindingFields(db: Db, id: number, changes: Record<string, unknown>, stamp: string): Promise<void> {
  await db
    .updateTable("findings")
    .set({ ...changes, updated_at: stamp })
    .where("id", "=", id)
    .execute();
}

/** Inserts scanner records; one another process recorded meanwhile (the same integration's record) is left as it is. */
export async function insertSources(db: Db, rows: Insertable<FindingSourceTable>[]): Promise<void> {
  for (const chunk of chunks(rows, 400)) await insertMany(db, "finding_sources", chunk, { conflict: ["integration_id", "external_id"] });
}

/** A scanner record seen again: open, with its latest content, under the finding it now belongs to. */
export async function refreshSource(
  db: Db,
  id: number,
  set: { finding_id: number; raw: string; content_hash: string; url: string | null },
  stamp: string,
): Promise<void> {
  await db
    .updateTable("finding_sources")
    .set({ ...set, status: "open", updated_at: stamp })
    .where("id", "=", id)
    .execute();
}

/** Scanner records their scanner no longer reports. */
export async function resolveSources(db: Db, ids: number[], stamp: string): Promise<void> {
  for (const part of chunks(ids, 400)) await db.updateTable("finding_sources").set({ status: "resolved", updated_at: stamp }).where("id", "in", part).execute();
}

/**
 * An integration's open sources that no page of a finished run reported (the run's pages hold the
 * external ids each reported), a batch at a time in id order after `after`. The comparison stays
 * in the database — a million reported ids are not held in memory: SQLite indexes the run's ids
 * once for NOT IN; PostgreSQL anti-joins them by hash.
 */
export async function unreportedSources(
  db: Db,
  integrationId: number,
  runId: number,
  after: number,
  limit: number,
): Promise<{ id: number; finding_id: number }[]> {
  const reported =
    dialectOf(db) === "postgres"
      ? sql<boolean>`not exists (select 1 from sync_pages p cross join lateral jsonb_array_elements_text(p.external_ids::jsonb) as reported(id) where p.run_id = ${runId} and reported.id = finding_sources.external_id)`
      : sql<boolean>`finding_sources.external_id not in (select reported.value from sync_pages p, json_each(p.external_ids) as reported where p.run_id = ${runId})`;
  return db
    .selectFrom("finding_sources")
    .select(["id", "finding_id"])
    .where("integration_id", "=", integrationId)
    .where("status", "=", "open")
    .where("id", ">", after)
    .where(reported)
    .orderBy("id")
    .limit(limit)
    .execute();
}

/** Inserts assets not seen before; gives their ids with kind and key. */
/** Inserts assets; gives those inserted (one another process inserted meanwhile is left alone: read it back). */
export function insertAssets(db: Db, rows: Insertable<AssetTable>[]): Promise<{ id: number; kind: string; asset_key: string }[]> {
  return db
    .insertInto("assets")
    .values(rows)
    .onConflict((oc) => oc.columns(["kind", "asset_key"]).doNothing())
    .returning(["id", "kind", "asset_key"])
    .execute();
}

/**
 * The images a scanner or an upload reported on now (those Patchbay already holds), to the day: a
 * re-import of the same data within a day writes nothing.
 */
export async function markImagesScanned(db: Db, keys: string[], stamp: string): Promise<void> {
  const dayAgo = new Date(Date.parse(stamp) - 86_400_000).toISOString();
  for (const part of chunks(keys, 400))
    await db
      .updateTable("assets")
      .set({ scanned_at: stamp })
      .where("kind", "=", "container_image")
      .where("asset_key", "in", part)
      .where((eb) => eb.or([eb("scanned_at", "is", null), eb("scanned_at", "<", dayAgo)]))
      .execute();
}

/** An image an upload reported on, with findings or without: its asset made where it is new, and marked scanned. */
export async function recordImageScan(db: Db, image: { key: string; name: string; digest: string }, stamp: string): Promise<void> {
  await db
    .insertInto("assets")
    .values({
      kind: "container_image",
      asset_key: image.key,
      name: image.name,
      repository_id: null,
      details: JSON.stringify({ digest: image.digest }),
      scanned_at: stamp,
      created_at: stamp,
      updated_at: stamp,
    })
    .onConflict((oc) => oc.columns(["kind", "asset_key"]).doUpdateSet({ scanned_at: stamp }))
    .execute();
}

/** Records a container image as its registry lists it now: new, updated, or unchanged. */
export async function saveImageAsset(
  db: Db,
  key: string,
  values: { name: string; repository_id: number | null; integration_id: number; details: string },
  stamp: string,
): Promise<"new" | "updated" | "unchanged"> {
  const existing = await db
    .selectFrom("assets")
    .select(["id", "details", "repository_id", "gone_at"])
    .where("kind", "=", "container_image")
    .where("asset_key", "=", key)
    .executeTakeFirst();
  const row = { ...values, gone_at: null, updated_at: stamp };
  if (!existing) {
    await db
      .insertInto("assets")
      .values({ kind: "container_image", asset_key: key, created_at: stamp, ...row })
      .execute();
    return "new";
  }
  if (existing.details === values.details && existing.repository_id === values.repository_id && existing.gone_at === null) return "unchanged";
  await db.updateTable("assets").set(row).where("id", "=", existing.id).execute();
  return "updated";
}

/** Records a remediation policy decision on a finding (the rule, what to undo, where it may be pushed, an overridden severity). */
export async function setPolicyDecision(
  db: Db,
  id: number,
  set: { policy_rule: string | null; policy_undo: string | null; policy_push: string | null; severity?: Severity; severity_rank?: number },
  stamp: string,
): Promise<void> {
  await db
    .updateTable("findings")
    .set({ ...set, updated_at: stamp })
    .where("id", "=", id)
    .execute();
}

/** Sets (or, with null, clears) an image's own criticality; false when there is no such image. */
export async function saveImageCriticality(db: Db, assetId: number, criticality: Criticality | null, stamp: string): Promise<boolean> {
  const result = await db
    .updateTable("assets")
    .set({ criticality, updated_at: stamp })
    .where("id", "=", assetId)
    .where("kind", "=", "container_image")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The integration's images it no longer lists, marked gone; gives their ids. */
export async function markImagesGone(db: Db, integrationId: number, listed: Set<string>, stamp: string): Promise<number[]> {
  const rows = await db.selectFrom("assets").select(["id", "asset_key"]).where("integration_id", "=", integrationId).where("gone_at", "is", null).execute();
  const gone = rows.filter((a) => !listed.has(a.asset_key)).map((a) => a.id);
  if (gone.length) await db.updateTable("assets").set({ gone_at: stamp, updated_at: stamp }).where("id", "in", gone).execute();
  return gone;
}
