// Reading findings for the Vulnerabilities section: filters parsed once from the URL,
// keyset pagination over an index for every sort order, and counts by severity.
import { sql } from "kysely";
import type { AliasedExpression, Expression, ExpressionBuilder, RawBuilder, SqlBool } from "kysely";
import type { Database, Db, Finding, FindingStatus, Severity } from "../db/schema.js";
import { SEVERITIES, SEVERITY_RANK, STATUSES } from "./normalize.js";
import { packageKeys } from "../vuln/packages.js";
import { dialectOf, fromJson, jsonArrayFrom } from "../db/dialect.js";
import { EPSS_BANDS } from "../db/facets.js";

export type SortKey = "severity" | "risk" | "first_detected" | "last_seen" | "cve" | "package";
export const SORTS: Record<
  SortKey,
  { column: "severity_rank" | "risk" | "first_detected_at" | "last_seen_at" | "cve" | "package_lc"; label: string; defaultDir: "asc" | "desc" }
> = {
  severity: { column: "severity_rank", label: "Severity", defaultDir: "desc" },
  risk: { column: "risk", label: "Risk", defaultDir: "desc" },
  first_detected: { column: "first_detected_at", label: "First detected", defaultDir: "desc" },
  last_seen: { column: "last_seen_at", label: "Last seen", defaultDir: "desc" },
  cve: { column: "cve", label: "CVE", defaultDir: "asc" },
  package: { column: "package_lc", label: "Package", defaultDir: "asc" },
};

export const PAGE_SIZE = 50;
export const DEFAULT_STATUSES: FindingStatus[] = ["open", "in_remediation"];

export interface FindingFilter {
  severities: Severity[];
  /** Empty means every status. */
  statuses: FindingStatus[];
  scanner: number | undefined;
  asset: number | undefined;
  q: string;
  /** Deadline (SLA): overdue, or due within a week; relative to `now`. */
  due: { kind: "overdue" | "soon"; now: string } | undefined;
  /** Only findings whose CVE is in CISA's Known Exploited Vulnerabilities. */
  kev: boolean;
  /** Only findings whose CVE's EPSS probability is at least this (0–1). */
  epssMin: number | undefined;
  sort: SortKey;
  dir: "asc" | "desc";
  after: Cursor | undefined;
  before: Cursor | undefined;
}

interface Cursor {
  value: string | number;
  id: number;
}

/** The EPSS thresholds the table filters by (probabilities: 1%, 10%, 50%). */
export const EPSS_THRESHOLDS = ["0.01", "0.1", "0.5"];

/** Parses the query string; anything unknown is ignored rather than an error. */
/** "Due soon": a deadline within this many days. */
export const DUE_SOON_DAYS = 7;

export function parseFilter(params: URLSearchParams, now: Date = new Date()): FindingFilter {
  const severities = params.getAll("severity").filter((s): s is Severity => (SEVERITIES as string[]).includes(s));
  const statusParams = params.getAll("status");
  const statuses = statusParams.includes("all") ? [] : statusParams.filter((s): s is FindingStatus => (STATUSES as string[]).includes(s));
  const sort = (Object.keys(SORTS) as SortKey[]).find((k) => k === params.get("sort")) ?? "severity";
  const dirParam = params.get("dir");
  return {
    severities,
    statuses: statusParams.length === 0 ? DEFAULT_STATUSES : statuses,
    scanner: positiveInt(params.get("scanner")),
    asset: positiveInt(params.get("asset")),
    q: (params.get("q") ?? "").trim().slice(0, 100),
    due:
      params.get("due") === "overdue" || params.get("due") === "soon" ? { kind: params.get("due") as "overdue" | "soon", now: now.toISOString() } : undefined,
    kev: params.get("kev") === "1",
    epssMin: EPSS_THRESHOLDS.includes(params.get("epss") ?? "") ? Number(params.get("epss")) : undefined,
    sort,
    dir: dirParam === "asc" || dirParam === "desc" ? dirParam : SORTS[sort].defaultDir,
    after: decodeCursor(params.get("after")),
    before: decodeCursor(params.get("before")),
  };
}

/** The query string for a filter, changing some of its parts (pagination resets unless given). */
export interface QueryChange {
  after?: string;
  before?: string;
  sort?: string;
  dir?: string;
  /** An asset id to narrow to, or null to show every asset. */
  asset?: number | null;
}

export function filterQuery(filter: FindingFilter, change: QueryChange = {}): string {
  const params = new URLSearchParams();
  for (const s of filter.severities) params.append("severity", s);
  if (filter.statuses.length === 0) params.append("status", "all");
  else if (filter.statuses.join() !== DEFAULT_STATUSES.join()) for (const s of filter.statuses) params.append("status", s);
  if (filter.scanner) params.set("scanner", String(filter.scanner));
  const asset = change.asset === undefined ? filter.asset : change.asset;
  if (asset) params.set("asset", String(asset));
  if (filter.q) params.set("q", filter.q);
  if (filter.due) params.set("due", filter.due.kind);
  if (filter.kev) params.set("kev", "1");
  if (filter.epssMin !== undefined) params.set("epss", String(filter.epssMin));
  const sort = change.sort ?? filter.sort;
  if (sort !== "severity") params.set("sort", sort);
  const dir = change.dir ?? (change.sort ? undefined : filter.dir);
  if (dir && dir !== SORTS[sort as SortKey].defaultDir) params.set("dir", dir);
  if (change.after) params.set("after", change.after);
  if (change.before) params.set("before", change.before);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export interface FindingRow extends Finding {
  asset_name: string;
  asset_kind: string;
  sources: string;
}

export interface FindingPage<X = undefined> {
  rows: (FindingRow & { beside: X })[];
  nextCursor: string | undefined;
  prevCursor: string | undefined;
}

function where(filter: FindingFilter, options: { withSeverity: boolean; postgres?: boolean; plan?: PagePlan }) {
  return (eb: ExpressionBuilder<Database, "findings">): Expression<SqlBool> => {
    const parts: Expression<SqlBool>[] = [];
    // On SQLite a planned page takes the index its plan names: walking the page's order, or gathering
    // the prefix's matches. The status and severity indexes are no option then ("+column"): with
    // its statistics SQLite would take the status index and sort every open finding.
    const sqlitePlan = options.postgres ? undefined : options.plan;
    const walkOrder = sqlitePlan === "walk" || sqlitePlan === "semi";
    const status = sqlitePlan ? sql<string>`+findings.status` : sql<string>`findings.status`;
    const severity = sqlitePlan ? sql<string>`+findings.severity` : sql<string>`findings.severity`;
    if (filter.statuses.length) parts.push(eb(status, "in", filter.statuses));
    if (options.withSeverity && filter.severities.length) parts.push(eb(severity, "in", filter.severities));
    if (filter.asset) parts.push(eb("findings.asset_id", "=", filter.asset));
    if (filter.scanner) {
      parts.push(
        eb.exists(
          eb
            .selectFrom("finding_sources")
            .select("finding_sources.id")
            .whereRef("finding_sources.finding_id", "=", "findings.id")
            .where("finding_sources.integration_id", "=", filter.scanner),
        ),
      );
    }
    if (filter.due) {
      const { kind, now } = filter.due;
      const soon = new Date(Date.parse(now) + DUE_SOON_DAYS * 86_400_000).toISOString();
      parts.push(kind === "overdue" ? eb("findings.due_at", "<", now) : eb.and([eb("findings.due_at", ">=", now), eb("findings.due_at", "<", soon)]));
    }
    // What the exploitation feeds say of the CVE: in KEV, or an EPSS probability at least this.
    // KEV is small: the findings of its CVEs are found from it. EPSS thresholds take many CVEs:
    // each finding's is probed by primary key instead of gathering them all first.
    // PostgreSQL plans an IN over the catalogue as a walk of the page's order (37,000 findings for a
    // page at a million); the catalogue as an array parameter of its own goes through the CVE index.
    if (filter.kev)
      parts.push(
        options.postgres
          ? sql<SqlBool>`findings.cve = any(array(select kev_entries.cve from kev_entries))`
          : eb("findings.cve", "in", eb.selectFrom("kev_entries").select("kev_entries.cve")),
      );
    // Each finding's score probed by primary key. On SQLite as a scalar subquery: as EXISTS, SQLite
    // first builds a Bloom filter over every score (40 ms a page at a million) though the page's
    // order finds 50 matches within a few hundred findings.
    // Few matches (the facets say), the CVEs over the threshold are gathered first and their findings
    // found by the CVE index instead: walking the order would read most findings to fill a page.
    if (filter.epssMin !== undefined) {
      const score = eb.selectFrom("epss_scores").whereRef("epss_scores.cve", "=", "findings.cve");
      const over = (min: number) => eb.selectFrom("epss_scores").select("epss_scores.cve").where("epss_scores.score", ">=", min);
      parts.push(
        options.plan === "gather"
          ? options.postgres
            ? sql<SqlBool>`findings.cve = any(array(${over(filter.epssMin)}))`
            : eb("findings.cve", "in", over(filter.epssMin))
          : options.postgres
            ? eb.exists(score.select("epss_scores.cve").where("epss_scores.score", ">=", filter.epssMin))
            : eb(score.select("epss_scores.score"), ">=", filter.epssMin),
      );
    }
    if (filter.q) {
      // Prefix matches use the cve and package indexes; a CVE id is matched in any case, a
      // package by each key its ecosystem may give the name ("zope.interface" finds zope-interface).
      // Walking the page's order instead (SQLite, many matches), the column is no index's: "+column".
      // Walking it with the matches' ids ("semi"): their set from the prefix's index alone (a few
      // hundred nanoseconds a match), then each finding the walk passes tested by its id, which the
      // order's index holds, so only members are read from the table.
      if (sqlitePlan === "semi")
        parts.push(
          eb(
            sql<number>`+findings.id`,
            "in",
            eb
              .selectFrom("findings as m")
              .select("m.id")
              .where((inner) => prefixMatch(inner, filter.q, sql.ref("m.cve"), sql.ref("m.package_lc"))),
          ),
        );
      else
        parts.push(
          walkOrder
            ? prefixMatch(eb, filter.q, sql<string>`+findings.cve`, sql<string>`+findings.package_lc`)
            : prefixMatch(eb, filter.q, sql.ref("findings.cve"), sql.ref("findings.package_lc")),
        );
    }
    return eb.and(parts);
  };
}

/** A CVE id prefix (any case) or a package name prefix (each key its ecosystem may give the name), over the given columns. */
function prefixMatch<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  text: string,
  cve: RawBuilder<string>,
  pkg: RawBuilder<string>,
): Expression<SqlBool> {
  const q = text.toLowerCase();
  if (/^cve-/i.test(q)) return eb.and([eb(cve, ">=", q.toUpperCase()), eb(cve, "<", q.toUpperCase() + "\uffff")]);
  return eb.or(packageKeys(q).map((key) => eb.and([eb(pkg, ">=", key), eb(pkg, "<", key + "\uffff")])));
}

/**
 * The page's order (walking backwards reverses it, then the page is flipped back) and its ids, from an index alone where one serves.
 * `budget`: the walk reads at most this many findings along the order (their ids from the order's index, then each row).
 */
function pageOrder(db: Db, filter: FindingFilter, pageSize: number, plan: PagePlan = undefined, budget?: number) {
  const column = SORTS[filter.sort].column;
  const backwards = filter.before !== undefined;
  const cursor = filter.before ?? filter.after;
  const dir: "asc" | "desc" = backwards ? (filter.dir === "asc" ? "desc" : "asc") : filter.dir;
  let ids = db
    .selectFrom("findings")
    .select(["findings.id"])
    .where(where(filter, { withSeverity: true, postgres: dialectOf(db) === "postgres", plan }))
    .orderBy(`findings.${column}`, dir)
    .orderBy("findings.id", dir)
    .limit(pageSize + 1);
  if (cursor) {
    // A row-value comparison, so the (column, id) index serves the page directly.
    ids = ids.where((eb) => eb(eb.refTuple(`findings.${column}`, "findings.id"), dir === "desc" ? "<" : ">", eb.tuple(cursor.value as never, cursor.id)));
  }
  if (budget !== undefined) {
    ids = ids.where("findings.id", "in", (eb) => {
      let stretch = eb.selectFrom("findings as w").select("w.id");
      if (cursor)
        stretch = stretch.where((inner) =>
          inner(inner.refTuple(`w.${column}`, "w.id"), dir === "desc" ? "<" : ">", inner.tuple(cursor.value as never, cursor.id)),
        );
      return stretch.orderBy(`w.${column}`, dir).orderBy("w.id", dir).limit(budget);
    });
  }
  return { column, backwards, dir, ids };
}

/**
 * Where the plans change, tuned at a million findings (tests lower them to reach each plan with a few thousand):
 * `walkAbove`, matches of a prefix search above which SQLite walks the page's order rather than gathering the matches
 * to sort them; `semiUpTo`, matches up to which it walks with their ids at hand ("semi"; the set costs about 5 ms a 20,000);
 * `broadProbe`, the CVE facet rows a prefix's range and its two ends are probed for before the prefix
 * is counted as what lies outside it (broadCveCounts).
 */
export const PAGE_PLANS = { walkAbove: 5_000, semiUpTo: 100_000, broadProbe: 5_000 };

/**
 * How a page under a CVE or package prefix or an EPSS threshold is best found, from how many
 * findings match (the facets say, in a few rows): none, and there is nothing to read; more than
 * `walkAbove`, and walking the page's order testing each finding finds a page within about
 * total ÷ matches × 50 findings; fewer, and the matches are gathered (by the prefix's index, or the CVEs
 * over the threshold) and sorted. SQLite otherwise takes a prefix's index whatever the order
 * (23,000 matches for "CVE-2021-4" at a million, sorted: 60 ms) and walks the order for a
 * threshold however few match (every finding, with no EPSS loaded). PostgreSQL weighs a prefix's
 * two plans itself.
 *
 * Where the matches lie along the order is not known: a package found only in older scans, or a
 * CVE range imported together, leaves a long stretch of the order with none (an imported
 * million's "lodash" by first detection walked 111,000 findings, 394 ms). So a prefix with up to
 * `semiUpTo` matches walks with their ids at hand ("semi": a stretch without matches costs an
 * index entry a finding, not a row); with more, the walk reads a bounded stretch first ("budget":
 * four times what a page needs were the matches spread evenly) and, should that stretch not fill
 * the page, walks again with the ids at hand.
 */
type PagePlan = "walk" | "gather" | "semi" | "empty" | undefined;
async function pagePlan(db: Db, filter: FindingFilter, pageSize: number): Promise<{ plan: PagePlan; budget?: number }> {
  if (!filter.q && filter.epssMin === undefined) return { plan: undefined };
  const counts = await facetCounts(db, { ...filter, severities: [] });
  if (!counts) return { plan: undefined };
  const matches = (filter.severities.length ? filter.severities : SEVERITIES).reduce((sum, s) => sum + counts[s], 0);
  if (matches === 0) return { plan: "empty" };
  const column = SORTS[filter.sort].column;
  if (filter.q && (column === "cve" || column === "package_lc")) return { plan: undefined };
  if (matches <= PAGE_PLANS.walkAbove) return { plan: "gather" };
  if (!filter.q || dialectOf(db) === "postgres") return { plan: "walk" };
  if (matches <= PAGE_PLANS.semiUpTo) return { plan: "semi" };
  const total = (await findingCountsByStatus(db))
    .filter((r) => filter.statuses.length === 0 || filter.statuses.includes(r.status as FindingStatus))
    .reduce((sum, r) => sum + Number(r.n), 0);
  return { plan: "walk", budget: Math.min(20_000, Math.max(1_000, Math.ceil((4 * (pageSize + 1) * total) / matches))) };
}

/** A column a caller reads beside each row of a page (its tickets), named "beside". */
export type Beside<X> = (eb: ExpressionBuilder<Database, "findings">) => AliasedExpression<X, "beside">;

/**
 * A page of findings, in one statement: the page's ids from the index (the subquery), then the
 * rows' details (asset, scanners, and what `beside` adds) for those alone. Computed per
 * candidate row, the scanners' names cost seconds at a million findings when the order needs a sort.
 */
export async function listFindings<X = undefined>(db: Db, filter: FindingFilter, pageSize = PAGE_SIZE, beside?: Beside<X>): Promise<FindingPage<X>> {
  const { plan, budget } = await pagePlan(db, filter, pageSize);
  if (plan === "empty") return { rows: [], nextCursor: undefined, prevCursor: undefined };
  const read = (order: ReturnType<typeof pageOrder>) =>
    db
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .selectAll("findings")
      .select(["assets.name as asset_name", "assets.kind as asset_kind"])
      .select(sourceNames)
      .$if(beside !== undefined, (q) => q.select(beside!))
      .where("findings.id", "in", order.ids)
      .orderBy(`findings.${order.column}`, order.dir)
      .orderBy("findings.id", order.dir)
      .execute() as Promise<(FindingRow & { beside: X })[]>;
  let order = pageOrder(db, filter, pageSize, plan, budget);
  let rows = await read(order);
  // The bounded stretch did not fill the page: the matches lie further along the order.
  if (budget !== undefined && rows.length <= pageSize) rows = await read((order = pageOrder(db, filter, pageSize, "semi")));
  const { column, backwards } = order;
  const more = rows.length > pageSize;
  if (more) rows.pop();
  if (backwards) rows.reverse();
  const first = rows[0];
  const last = rows.at(-1);
  const hasNext = backwards ? true : more;
  const hasPrev = backwards ? more : filter.after !== undefined;
  return {
    rows,
    nextCursor: hasNext && last ? encodeCursor({ value: last[column], id: last.id }) : undefined,
    prevCursor: hasPrev && first ? encodeCursor({ value: first[column], id: first.id }) : undefined,
  };
}

/**
 * Counts over the whole table cost tens of milliseconds at 100,000 findings; many people
 * looking at the same view between two writes share one answer. An answer is reused only
 * while the database is unchanged: no change through this connection (total_changes) and
 * none through another (data_version).
 */
const countCaches = new WeakMap<Db, Map<string, { generation: string; value: unknown }>>();
const COUNT_CACHE_SIZE = 200;

/**
 * The database's generation, as a column: on PostgreSQL a sequence every statement that changes
 * findings, their sources or assets bumps, in any process (migration 0039); on SQLite the
 * changes through this connection and the data version others' commits move.
 */
function generationColumn(db: Db): RawBuilder<string> {
  return dialectOf(db) === "postgres"
    ? sql<string>`(select last_value::text from data_generation)`
    : sql<string>`(total_changes() || ':' || (select data_version from pragma_data_version))`;
}

/** `known`: the generation the caller read in its own statement, before asking. */
export async function cachedCount<T>(db: Db, key: string, compute: () => Promise<T>, known?: string): Promise<T> {
  const current = known ?? String((await db.selectNoFrom(generationColumn(db).as("g")).executeTakeFirstOrThrow()).g);
  let countCache = countCaches.get(db);
  if (!countCache) countCaches.set(db, (countCache = new Map()));
  const hit = countCache.get(key);
  if (hit && hit.generation === current) return hit.value as T;
  const value = await compute();
  countCache.delete(key);
  countCache.set(key, { generation: current, value });
  if (countCache.size > COUNT_CACHE_SIZE) countCache.delete(countCache.keys().next().value!);
  return value;
}

export interface FindingsOverview<X> {
  /** Findings by severity under the filters, the severity filter itself aside. */
  counts: Record<Severity, number>;
  /** Severities whose count stopped at COUNT_CAP (an EPSS threshold counts at most that many, so the page stays fast). */
  capped: Severity[];
  /** How many findings there are at all: a page with none says where they come from. */
  total: number;
  /** The integrations whose findings the scanner filter offers. */
  scanners: { id: number; name: string }[];
  /** What the caller's `beside` column read (whether any tracker assignment exists). */
  beside: X;
}

/** A column the Vulnerabilities page reads beside its overview, named "beside". */
export type PageBeside<X> = (eb: ExpressionBuilder<Database, never>) => AliasedExpression<X, "beside">;

/**
 * What the Vulnerabilities page shows around its rows, in one statement: the trigger-kept totals
 * by status and severity (no scan of the findings table), the scanners, and `beside`. Filtered by
 * status alone (the default view) that is all; other filters count by rank, which the (status,
 * severity_rank, id) index covers, cached between writes (the statement reads the generation too).
 */
export async function findingsOverview<X = undefined>(db: Db, filter: FindingFilter, beside?: PageBeside<X>): Promise<FindingsOverview<X>> {
  const row = (await db
    .selectNoFrom((eb) => [
      jsonArrayFrom(db, eb.selectFrom("finding_counts").select(["finding_counts.status", "finding_counts.severity_rank", "finding_counts.n"])).as("totals"),
      jsonArrayFrom(
        db,
        eb
          .selectFrom("integrations")
          .select(["integrations.id", "integrations.name"])
          .where((inner) =>
            inner.exists(inner.selectFrom("finding_sources").select("finding_sources.id").whereRef("finding_sources.integration_id", "=", "integrations.id")),
          )
          .orderBy("integrations.name"),
      ).as("scanners"),
      generationColumn(db).as("generation"),
    ])
    .$if(beside !== undefined, (q) => q.select(beside!))
    .executeTakeFirstOrThrow()) as {
    totals: { status: string; severity_rank: number; n: number }[];
    scanners: { id: number; name: string }[];
    generation: string;
    beside: X;
  };
  const totals = fromJson(row.totals);
  const byStatusAlone = !filter.asset && !filter.scanner && !filter.q && !filter.due && !filter.kev && filter.epssMin === undefined;
  const key = JSON.stringify(["severity", filter.statuses, filter.asset, filter.scanner, filter.q, filter.due]);
  const count = async () =>
    bySeverity(
      await db
        .selectFrom("findings")
        .select(["findings.severity_rank", (eb) => eb.fn.countAll<number>().as("n")])
        .where(where(filter, { withSeverity: false, postgres: dialectOf(db) === "postgres" }))
        .groupBy("findings.severity_rank")
        .execute(),
    );
  // The cache follows the findings' generation; a feed's load changes what KEV and EPSS filters
  // match without changing findings, so those count afresh — each severity up to COUNT_CAP.
  const facet = byStatusAlone ? undefined : await facetCounts(db, filter);
  const counts = byStatusAlone
    ? bySeverity(totals.filter((r) => filter.statuses.length === 0 || filter.statuses.includes(r.status as FindingStatus)))
    : facet
      ? facet
      : filter.epssMin !== undefined
        ? await cappedCounts(db, filter)
        : filter.kev
          ? await count()
          : await cachedCount(db, key, count, String(row.generation));
  const capped = !facet && filter.epssMin !== undefined ? SEVERITIES.filter((s) => counts[s] >= COUNT_CAP) : [];
  return { counts, capped, total: totals.reduce((sum, r) => sum + Number(r.n), 0), scanners: fromJson(row.scanners), beside: row.beside };
}

/**
 * Findings by severity from the trigger-kept facets (finding_facets), where the filter is statuses
 * and one of: a CVE or package prefix, KEV, an EPSS threshold, a scanner, a deadline window. A few
 * index rows per CVE, package, EPSS band, scanner or day instead of the findings themselves;
 * undefined for any other filter.
 */
async function facetCounts(db: Db, filter: FindingFilter): Promise<Record<Severity, number> | undefined> {
  const narrowing = [filter.q, filter.kev || undefined, filter.epssMin, filter.scanner, filter.asset, filter.due].filter((x) => x !== undefined && x !== "");
  if (narrowing.length !== 1 || filter.asset) return undefined;
  if (filter.due) return dueCounts(db, filter, filter.due);
  if (filter.kev && dialectOf(db) === "postgres") return kevCountsPostgres(db, filter);
  if (filter.q && /^cve-/i.test(filter.q)) {
    const broad = await broadCveCounts(db, filter, filter.q.toUpperCase());
    if (broad) return broad;
  }
  const rows = await db
    .selectFrom("finding_facets")
    .select(["finding_facets.severity_rank", (eb) => eb.fn.sum<number>("finding_facets.n").as("n")])
    .$if(filter.statuses.length > 0, (q) => q.where("finding_facets.status", "in", filter.statuses))
    .where((eb) => {
      if (filter.scanner) return eb.and([eb("finding_facets.facet", "=", "scanner"), eb("finding_facets.key", "=", String(filter.scanner))]);
      // The EPSS bands at and above the threshold's (the bands are the page's thresholds).
      if (filter.epssMin !== undefined)
        return eb.and([eb("finding_facets.facet", "=", "epss"), eb("finding_facets.key", ">=", String(EPSS_BANDS.indexOf(filter.epssMin) + 1))]);
      if (filter.kev)
        return eb.and([eb("finding_facets.facet", "=", "cve"), eb("finding_facets.key", "in", eb.selectFrom("kev_entries").select("kev_entries.cve"))]);
      const q = filter.q!.toLowerCase();
      const cve = /^cve-/i.test(q);
      const prefixes: string[] = cve ? [q.toUpperCase()] : disjointPrefixes(packageKeys(q));
      return eb.and([
        eb("finding_facets.facet", "=", cve ? "cve" : "package"),
        eb.or(prefixes.map((key) => eb.and([eb("finding_facets.key", ">=", key), eb("finding_facets.key", "<", key + "\uffff")]))),
      ]);
    })
    .groupBy("finding_facets.severity_rank")
    .execute();
  return bySeverity(rows.map((r) => ({ severity_rank: r.severity_rank, n: Number(r.n) })));
}

/**
 * KEV's counts on PostgreSQL: each catalogue CVE's rows looked up by key (an aggregate per CVE keeps
 * the planner from hashing every CVE's rows instead: 55 → 19 ms at a million findings).
 */
async function kevCountsPostgres(db: Db, filter: FindingFilter): Promise<Record<Severity, number>> {
  const statuses = filter.statuses.length ? sql`and f.status = any(${filter.statuses})` : sql``;
  const rows = (
    await sql<{ severity_rank: number; n: number }>`
      select x.severity_rank, sum(x.n) as n from kev_entries k cross join lateral (
        select f.severity_rank, sum(f.n) as n from finding_facets f where f.facet = 'cve' and f.key = k.cve ${statuses} group by f.severity_rank
      ) x group by x.severity_rank`.execute(db)
  ).rows;
  return bySeverity(rows.map((r) => ({ severity_rank: Number(r.severity_rank), n: Number(r.n) })));
}

/**
 * Findings due in a window (before now: overdue; now to DUE_SOON_DAYS ahead: soon) by severity: the
 * whole days inside it from the facets (a deadline's day), the two days it cuts from the findings
 * themselves along the (status, due_at) index.
 */
async function dueCounts(db: Db, filter: FindingFilter, due: NonNullable<FindingFilter["due"]>): Promise<Record<Severity, number>> {
  const day = (iso: string) => iso.slice(0, 10);
  const nextDay = (iso: string) => new Date(Date.parse(`${day(iso)}T00:00:00.000Z`) + 86_400_000).toISOString();
  const from = due.kind === "overdue" ? undefined : due.now;
  const to = due.kind === "overdue" ? due.now : new Date(Date.parse(due.now) + DUE_SOON_DAYS * 86_400_000).toISOString();
  // Whole days: after the first day the window touches (or from the start) and before the last.
  const whole = db
    .selectFrom("finding_facets")
    .select(["finding_facets.severity_rank", (eb) => eb.fn.sum<number>("finding_facets.n").as("n")])
    .where("finding_facets.facet", "=", "due")
    .$if(filter.statuses.length > 0, (q) => q.where("finding_facets.status", "in", filter.statuses))
    .$if(from !== undefined, (q) => q.where("finding_facets.key", ">", day(from!)))
    .where("finding_facets.key", "<", day(to))
    .groupBy("finding_facets.severity_rank")
    .execute();
  // The cut days, from the findings: the first day's part from `from`, the last day's up to `to`.
  const edges: [string, string][] = [[`${day(to)}T00:00:00.000Z`, to]];
  if (from !== undefined) edges.push(day(from) === day(to) ? [from, to] : [from, nextDay(from)]);
  if (from !== undefined && day(from) === day(to)) edges.shift();
  const parts = await Promise.all(
    edges.map(([start, end]) =>
      db
        .selectFrom("findings")
        .select(["findings.severity_rank", (eb) => eb.fn.countAll<number>().as("n")])
        .$if(filter.statuses.length > 0, (q) => q.where("findings.status", "in", filter.statuses))
        .where("findings.due_at", ">=", start)
        .where("findings.due_at", "<", end)
        .groupBy("findings.severity_rank")
        .execute(),
    ),
  );
  return bySeverity([...(await whole), ...parts.flat()].map((r) => ({ severity_rank: r.severity_rank, n: Number(r.n) })));
}

/** Facet rows of CVEs in `where`, counted up to PAGE_PLANS.broadProbe. */
async function facetRowsUpTo(db: Db, where: (eb: ExpressionBuilder<Database, "finding_facets">) => Expression<SqlBool>): Promise<number> {
  const row = await db
    .selectFrom((eb) =>
      eb
        .selectFrom("finding_facets")
        .select("finding_facets.n")
        .where("finding_facets.facet", "=", "cve")
        .where(where)
        .limit(PAGE_PLANS.broadProbe)
        .as("probe"),
    )
    .select((eb) => eb.fn.countAll<number>().as("rows"))
    .executeTakeFirstOrThrow();
  return Number(row.rows);
}

/**
 * A broad CVE prefix ("CVE-2", typed on the way to an id, over a million findings with a CVE each)
 * counted as what lies outside it: the findings by status and severity (finding_counts: every
 * finding has a CVE, so a row among the CVE facets) less the facet rows before and after its
 * range, where those are few. Summing a million facet rows took 410 ms; the two ends beside them,
 * a few rows. Undefined where the range is narrow (summed as it is) or both sides are wide.
 */
async function broadCveCounts(db: Db, filter: FindingFilter, prefix: string): Promise<Record<Severity, number> | undefined> {
  const end = prefix + "\uffff";
  if ((await facetRowsUpTo(db, (eb) => eb.and([eb("finding_facets.key", ">=", prefix), eb("finding_facets.key", "<", end)]))) < PAGE_PLANS.broadProbe)
    return undefined;
  // The two ends, each a range of the facets' key (an OR of the two would be a walk of every CVE's rows).
  const ends: ((eb: ExpressionBuilder<Database, "finding_facets">) => Expression<SqlBool>)[] = [
    (eb) => eb("finding_facets.key", "<", prefix),
    (eb) => eb("finding_facets.key", ">=", end),
  ];
  let outside = 0;
  for (const side of ends) if ((outside += await facetRowsUpTo(db, side)) >= PAGE_PLANS.broadProbe) return undefined;
  const totals = (await findingCountsByStatus(db)).filter((r) => filter.statuses.length === 0 || filter.statuses.includes(r.status as FindingStatus));
  const beside = (
    await Promise.all(
      ends.map((side) =>
        db
          .selectFrom("finding_facets")
          .select(["finding_facets.severity_rank", (eb) => eb.fn.sum<number>("finding_facets.n").as("n")])
          .where("finding_facets.facet", "=", "cve")
          .where(side)
          .$if(filter.statuses.length > 0, (q) => q.where("finding_facets.status", "in", filter.statuses))
          .groupBy("finding_facets.severity_rank")
          .execute(),
      ),
    )
  ).flat();
  return bySeverity([
    ...totals.map((r) => ({ severity_rank: r.severity_rank, n: Number(r.n) })),
    ...beside.map((r) => ({ severity_rank: r.severity_rank, n: -Number(r.n) })),
  ]);
}

/** Prefixes none of which starts with another (a name matched by two of them would be counted twice). */
function disjointPrefixes(keys: string[]): string[] {
  const sorted = [...new Set(keys)].sort();
  return sorted.filter((key, i) => !sorted.slice(0, i).some((shorter) => key.startsWith(shorter)));
}

/** The most findings of one severity an EPSS threshold counts (the page says "1,000+"). */
export const COUNT_CAP = 1_000;

/** Findings by severity under the filters, each severity counted up to COUNT_CAP along the (status, severity_rank, id) index. */
async function cappedCounts(db: Db, filter: FindingFilter): Promise<Record<Severity, number>> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const s of SEVERITIES) {
    const row = await db
      .selectFrom((eb) =>
        eb
          .selectFrom("findings")
          .select("findings.id")
          .where(where(filter, { withSeverity: false, postgres: dialectOf(db) === "postgres" }))
          .where("findings.severity_rank", "=", SEVERITY_RANK[s])
          .limit(COUNT_CAP)
          .as("capped"),
      )
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    counts[s] = Number(row.n);
  }
  return counts;
}

function bySeverity(rows: { severity_rank: number; n: number }[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const row of rows) {
    const severity = SEVERITIES.find((s) => SEVERITY_RANK[s] === row.severity_rank);
    if (severity) counts[severity] += Number(row.n);
  }
  return counts;
}

/** Findings by status and severity rank, from the trigger-kept counts (no scan of the findings table). */
export function findingCountsByStatus(db: Db): Promise<{ status: string; severity_rank: number; n: number }[]> {
  return db.selectFrom("finding_counts").select(["status", "severity_rank", "n"]).execute();
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.value, cursor.id])).toString("base64url");
}

function decodeCursor(text: string | null): Cursor | undefined {
  if (!text) return undefined;
  try {
    const [value, id] = JSON.parse(Buffer.from(text, "base64url").toString()) as [unknown, unknown];
    if ((typeof value === "string" || typeof value === "number") && typeof id === "number" && Number.isInteger(id)) return { value, id };
  } catch {
    // A mangled cursor shows the first page.
  }
  return undefined;
}

function positiveInt(value: string | null): number | undefined {
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The names of the integrations that report a finding, comma-separated, as the column "sources". */
export function sourceNames(eb: ExpressionBuilder<Database, "findings">) {
  return (
    eb
      .selectFrom("finding_sources")
      .innerJoin("integrations", "integrations.id", "finding_sources.integration_id")
      // string_agg: PostgreSQL's, and SQLite's since 3.44.
      .select(sql<string>`string_agg(integrations.name, ',')`.as("names"))
      .whereRef("finding_sources.finding_id", "=", "findings.id")
      .as("sources")
  );
}

/** The filter as a predicate on findings (severity included), for work over a whole selection. */
export function filterWhere(filter: FindingFilter) {
  return where(filter, { withSeverity: true });
}
