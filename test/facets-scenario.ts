// What the trigger-kept facets (finding_facets: findings by status and severity per CVE, package and
// scanner) must equal at every step: the same counts taken from the findings and their scanner
// records themselves. The steps are the writes Patchbay makes: imports (one statement for many
// findings and records), triage and severity changes, a scanner's second record of a finding, a
// record gone, records moved to another finding (two spellings of a package merged), findings
// deleted (their records go with them), and a scanner removed.
import { type Insertable, sql } from "kysely";
import type { Db, FindingTable } from "../src/db/schema.js";
import { SEVERITY_RANK } from "../src/findings/normalize.js";
import { findingRow, insertIntegration, insertRepositoryAsset } from "./finding-row.js";
import { dialectOf } from "../src/db/dialect.js";
import { filterWhere, findingsOverview, listFindings, parseFilter } from "../src/findings/query.js";

type Facet = { facet: string; key: string; status: string; severity_rank: number; n: number };

const line = (r: Facet) => `${r.facet}|${r.key}|${r.status}|${r.severity_rank}=${Number(r.n)}`;

/** The facets as the triggers kept them, rows of zero left out; then the resolutions by day. */
export async function keptFacets(db: Db): Promise<string[]> {
  const rows = await db.selectFrom("finding_facets").selectAll().where("n", "<>", 0).execute();
  const days = await db.selectFrom("resolution_days").selectAll().where("n", "<>", 0).execute();
  const assets = await db.selectFrom("asset_counts").selectAll().where("n", "<>", 0).execute();
  return [...rows.map(line).sort(), ...days.map(resolved).sort(), ...assets.map(asset).sort()];
}

type AssetCount = { asset_id: number; status: string; severity_rank: number; n: number };
const asset = (r: AssetCount) => `asset ${Number(r.asset_id)}|${r.status}|${Number(r.severity_rank)}=${Number(r.n)}`;

type Resolved = { day: string; severity: string; n: number; days: number; with_sla: number; within_sla: number };
// Days to resolve rounded: a sum kept by additions and subtractions may differ from a fresh one in its last bits.
const resolved = (r: Resolved) => `${r.day}|${r.severity}=${Number(r.n)}/${Number(r.days).toFixed(6)}/${Number(r.with_sla)}/${Number(r.within_sla)}`;

/** The facets counted afresh from the findings and their scanner records. */
export async function countedFacets(db: Db): Promise<string[]> {
  const rows = (
    await sql<Facet>`
      select 'cve' as facet, cve as key, status, severity_rank, count(*) as n from findings group by cve, status, severity_rank
      union all select 'package', package_lc, status, severity_rank, count(*) from findings group by package_lc, status, severity_rank
      union all select 'due', substr(due_at, 1, 10), status, severity_rank, count(*) from findings where due_at is not null
        group by substr(due_at, 1, 10), status, severity_rank
      union all select 'epss', case when e.score >= 0.5 then '3' when e.score >= 0.1 then '2' when e.score >= 0.01 then '1' else '0' end, f.status, f.severity_rank,
          count(*)
        from findings f join epss_scores e on e.cve = f.cve
        group by case when e.score >= 0.5 then '3' when e.score >= 0.1 then '2' when e.score >= 0.01 then '1' else '0' end, f.status, f.severity_rank
      union all select 'scanner', cast(s.integration_id as text), f.status, f.severity_rank, count(*)
        from (select distinct finding_id, integration_id from finding_sources) s join findings f on f.id = s.finding_id
        group by s.integration_id, f.status, f.severity_rank`.execute(db)
  ).rows;
  const days = (
    await sql<Resolved>`
      select substr(resolved_at, 1, 10) as day, severity, count(*) as n, sum(${daysToResolve(db)}) as days,
             sum(case when due_at is not null then 1 else 0 end) as with_sla, sum(case when due_at is not null and resolved_at <= due_at then 1 else 0 end) as within_sla
        from findings where status = 'resolved' and resolved_at is not null group by substr(resolved_at, 1, 10), severity`.execute(db)
  ).rows;
  const assets = (
    await sql<AssetCount>`select asset_id, status, severity_rank, count(*) as n from findings group by asset_id, status, severity_rank`.execute(db)
  ).rows;
  return [...rows.map(line).sort(), ...days.map(resolved).sort(), ...assets.map(asset).sort()];
}

function daysToResolve(db: Db) {
  return dialectOf(db) === "postgres"
    ? sql`extract(epoch from (resolved_at::timestamptz - first_detected_at::timestamptz)) / 86400.0`
    : sql`julianday(resolved_at) - julianday(first_detected_at)`;
}

const SEVERITY = ["critical", "high", "medium", "low"] as const;
const PACKAGES = ["lodash", "lodash-es", "zope.interface", "zope-interface", "axios", "qs"];

/** Runs the steps, calling `check` after each with its name. */
/** The moment the scenario's deadlines are spread around, and the page's counts taken at. */
export const NOW = "2026-12-05T12:00:00.000Z";

export async function facetScenario(db: Db, check: (step: string) => Promise<void>): Promise<void> {
  const stamp = "2026-12-01T00:00:00.000Z";
  const one = await insertIntegration(db, "wiz", "Wiz");
  const two = await insertIntegration(db, "ci-upload", "CI uploads");
  const asset = await insertRepositoryAsset(db, "acme/api");
  // Some CVEs scored before their findings arrive, in every band.
  const score = (cve: string, value: number) => ({ cve, score: value, percentile: value, changed_at: stamp });
  await db
    .insertInto("epss_scores")
    .values([score("CVE-2024-1000", 0.005), score("CVE-2024-1001", 0.02), score("CVE-2024-1002", 0.2), score("CVE-2024-1003", 0.7)])
    .execute();
  const rows: Insertable<FindingTable>[] = [];
  for (let i = 0; i < 60; i++)
    rows.push(
      findingRow(i, {
        asset_id: asset,
        severity: SEVERITY[i % 4]!,
        package: PACKAGES[i % PACKAGES.length]!,
        cve: `CVE-2024-${1000 + (i % 9)}`,
        status: i % 5 === 0 ? "resolved" : "open",
        resolved_at: i % 5 === 0 ? new Date(Date.parse(NOW) - (i % 11) * 86_400_000).toISOString() : null,
        // Deadlines spread over the days around NOW, some on NOW's own day before and after it, some none.
        due_at: i % 7 === 0 ? null : new Date(Date.parse(NOW) + ((i % 13) - 6) * 86_400_000 + ((i % 5) - 2) * 3_600_000).toISOString(),
      }),
    );
  const ids = (await db.insertInto("findings").values(rows).returning("id").execute()).map((r) => r.id);
  await check("findings imported");
  const source = (findingId: number, integrationId: number, external: string) => ({
    finding_id: findingId,
    integration_id: integrationId,
    external_id: external,
    status: "open" as const,
    raw: "{}",
    content_hash: "h",
    url: null,
    first_seen_at: stamp,
    updated_at: stamp,
  });
  // Every finding from the first scanner, a third of them twice (two of its records), every fourth from the second too.
  await db
    .insertInto("finding_sources")
    .values([
      ...ids.map((id) => source(id, one, `a-${id}`)),
      ...ids.filter((_, i) => i % 3 === 0).map((id) => source(id, one, `b-${id}`)),
      ...ids.filter((_, i) => i % 4 === 0).map((id) => source(id, two, `c-${id}`)),
    ])
    .execute();
  await check("scanner records imported");
  await db
    .insertInto("finding_sources")
    .values(source(ids[1]!, two, "late"))
    .execute();
  await check("a second scanner's first record of a finding");
  await db.updateTable("findings").set({ status: "false_positive" }).where("id", "in", ids.slice(0, 20)).execute();
  await db.updateTable("findings").set({ severity: "critical", severity_rank: SEVERITY_RANK.critical }).where("id", "in", ids.slice(10, 30)).execute();
  await db.updateTable("findings").set({ cve: "CVE-2025-0001" }).where("id", "=", ids[5]!).execute();
  await check("triage, severity and CVE changed");
  // An SLA change moves deadlines: to another day, within their day, and away.
  await db.updateTable("findings").set({ due_at: "2026-11-20T08:00:00.000Z" }).where("id", "in", ids.slice(30, 40)).execute();
  await db
    .updateTable("findings")
    .set({ due_at: sql<string>`substr(due_at, 1, 10) || 'T23:59:59.000Z'` })
    .where("id", "in", ids.slice(40, 45))
    .execute();
  await db.updateTable("findings").set({ due_at: null }).where("id", "in", ids.slice(45, 48)).execute();
  await check("deadlines moved");
  // A feed's load, as Patchbay writes it (insert or update): scores crossing bands, staying in theirs, new, and one gone.
  for (const [cve, value] of [
    ["CVE-2024-1000", 0.6],
    ["CVE-2024-1001", 0.03],
    ["CVE-2024-1002", 0.05],
    ["CVE-2024-1005", 0.15],
  ] as const)
    await db
      .insertInto("epss_scores")
      .values(score(cve, value))
      .onConflict((oc) => oc.column("cve").doUpdateSet((eb) => ({ score: eb.ref("excluded.score"), percentile: eb.ref("excluded.percentile") })))
      .execute();
  await db.deleteFrom("epss_scores").where("cve", "=", "CVE-2024-1003").execute();
  await check("EPSS scores loaded");
  // Fixed, and one fix undone: a resolution counts on its day, and stops counting when reopened.
  await db.updateTable("findings").set({ status: "resolved", resolved_at: NOW }).where("id", "in", ids.slice(48, 56)).execute();
  await db.updateTable("findings").set({ status: "open", resolved_at: null }).where("id", "=", ids[10]!).execute();
  await check("findings resolved and reopened");
  await db.updateTable("findings").set({ updated_at: "2026-12-02T00:00:00.000Z" }).execute();
  await check("every finding written without a counted change");
  // A record gone: of a finding with another record of the same scanner (still counted), and a last one.
  await db
    .deleteFrom("finding_sources")
    .where("external_id", "in", [`b-${ids[0]}`, `c-${ids[4]}`])
    .execute();
  await check("records gone");
  // Two spellings merged: the records of zope-interface's findings move to zope.interface's.
  await db.updateTable("finding_sources").set({ finding_id: ids[2]! }).where("finding_id", "in", [ids[3]!, ids[9]!]).execute();
  await db.updateTable("finding_sources").set({ integration_id: two }).where("external_id", "=", `a-${ids[7]}`).execute();
  await check("records moved to another finding and scanner");
  // Findings moved to another asset (a repository renamed into one Patchbay already knew), some of them triaged at once.
  const other = await insertRepositoryAsset(db, "acme/web");
  await db.updateTable("findings").set({ asset_id: other }).where("id", "in", ids.slice(20, 30)).execute();
  await db.updateTable("findings").set({ asset_id: asset, status: "false_positive" }).where("id", "in", ids.slice(25, 28)).execute();
  await check("findings moved to another asset");
  await db.deleteFrom("findings").where("id", "in", [ids[3]!, ids[9]!, ids[12]!, ids[13]!]).execute();
  await check("findings deleted with their records");
  await db.deleteFrom("integrations").where("id", "=", two).execute();
  await check("a scanner removed with its records");
}

/** The Vulnerabilities page's counts under facet-served filters, against the same filter counted over the findings. */
export async function overviewMatchesFindings(db: Db): Promise<void> {
  // Two of the scenario's CVEs in CISA's catalogue.
  for (const cve of ["CVE-2024-1001", "CVE-2024-1004"])
    await db
      .insertInto("kev_entries")
      .values({ cve, date_added: "2025-01-10", due_date: "2025-01-31", ransomware: "Unknown", name: cve, notes: "", first_seen_at: NOW, changed_at: NOW })
      .execute();
  for (const query of ["kev=1", "kev=1&status=all&sort=cve", "epss=0.1&sort=risk", "epss=0.01&status=all"]) {
    // The page lists what the filter matches over the findings.
    const filter = parseFilter(new URLSearchParams(query), new Date(NOW));
    const page = await listFindings(db, filter, 100);
    const expected = await db.selectFrom("findings").select("id").where(filterWhere(filter)).execute();
    const ids = (rows: { id: number }[]) =>
      rows
        .map((r) => r.id)
        .sort((x, y) => x - y)
        .join();
    if (page.rows.length === 0 || ids(page.rows) !== ids(expected))
      throw new Error(`${query}: the page lists ${ids(page.rows)}, the findings ${ids(expected)}`);
  }
  // Nothing matches (the facets say so): an empty page, nothing read.
  for (const query of ["q=no-such-package", "epss=0.5&status=risk_accepted"]) {
    const page = await listFindings(db, parseFilter(new URLSearchParams(query), new Date(NOW)), 100);
    if (page.rows.length !== 0) throw new Error(`${query}: the page lists ${page.rows.length} findings, none match`);
  }
  const queries = [
    "q=lodash",
    "q=zope.interface",
    "q=CVE-2024-100",
    "status=all&q=axios",
    "scanner=1",
    "scanner=1&status=all",
    "status=false_positive&scanner=1",
    "due=overdue",
    "due=soon",
    "due=overdue&status=all",
    "due=soon&status=all",
    "kev=1",
    "kev=1&status=all",
    "epss=0.01",
    "epss=0.1&status=all",
    "epss=0.5",
  ];
  for (const query of queries) {
    const filter = parseFilter(new URLSearchParams(query), new Date(NOW));
    const { counts } = await findingsOverview(db, filter);
    const rows = await db
      .selectFrom("findings")
      .select(["findings.severity", (eb) => eb.fn.countAll<number>().as("n")])
      .where(filterWhere(filter))
      .groupBy("findings.severity")
      .execute();
    const expected = Object.fromEntries(Object.keys(counts).map((s) => [s, Number(rows.find((r) => r.severity === s)?.n ?? 0)]));
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    if (JSON.stringify(counts) !== JSON.stringify(expected) || total === 0)
      throw new Error(`${query}: the page counts ${JSON.stringify(counts)}, the findings ${JSON.stringify(expected)}`);
  }
}
