// The Vulnerabilities pages under a CVE or package prefix, whichever way SQLite is told to find
// them, list exactly what the filter matches, in the page's order, forwards and backwards. The
// findings are laid out as an import leaves them: the prefix's matches all older (or all newer)
// than the rest, so a walk of the order meets a long stretch without one. The plans' thresholds
// are tuned at a million findings; here they are lowered so that a few thousand reach each plan.
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import type { Db, Severity } from "../../src/db/schema.js";
import { PAGE_PLANS, SORTS, filterWhere, findingsOverview, listFindings, parseFilter, type FindingFilter } from "../../src/findings/query.js";
import { findingRow, insertRepositoryAsset } from "../finding-row.js";
import { tempDir } from "../helpers.js";

const TUNED = { ...PAGE_PLANS };
const SEVERITIES: Severity[] = ["critical", "high", "medium", "low", "info"];
const FINDINGS = 4_000;
/** The first 1,500 findings (the lowest ids) are lodash's, detected in January under CVE-2021-4xxxx; the rest express's, detected since. */
const LODASH = 1_500;

let db: Db;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await openDatabase(path.join(tempDir(), "patchbay.db")));
  const asset = await insertRepositoryAsset(db, "acme/payments-api");
  const rows = Array.from({ length: FINDINGS }, (_, n) => {
    const lodash = n < LODASH;
    return findingRow(n, {
      asset_id: asset,
      severity: SEVERITIES[(n * 7) % 5]!,
      package: lodash ? "lodash" : "express",
      cve: lodash ? `CVE-2021-4${String(n).padStart(4, "0")}` : `CVE-2024-${10_000 + n}`,
      // Few distinct days, so that many findings share a value and the id breaks the tie.
      first_detected_at: `2026-${lodash ? "01" : "06"}-0${1 + (n % 7)}T08:00:00.000Z`,
      status: n % 11 === 0 ? "resolved" : "open",
    });
  });
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto("findings")
      .values(rows.slice(i, i + 500))
      .execute();
});
afterAll(async () => close());
afterEach(() => Object.assign(PAGE_PLANS, TUNED));

/** Every id the filter matches, in the page's order, as the findings themselves give it. */
async function expected(filter: FindingFilter): Promise<number[]> {
  const column = SORTS[filter.sort].column;
  const rows = await db.selectFrom("findings").select("id").where(filterWhere(filter)).orderBy(column, filter.dir).orderBy("id", filter.dir).execute();
  return rows.map((r) => r.id);
}

/** Every page from the first, following "next"; then back from the last, following "previous". */
async function paged(query: string): Promise<{ forwards: number[]; backwards: number[]; first: number[] }> {
  const forwards: number[] = [];
  const pages: number[][] = [];
  let after: string | undefined;
  let last: { prev: string | undefined } = { prev: undefined };
  do {
    const page = await listFindings(db, parseFilter(new URLSearchParams(`${query}${after ? `&after=${after}` : ""}`)));
    pages.push(page.rows.map((r) => r.id));
    forwards.push(...page.rows.map((r) => r.id));
    after = page.nextCursor;
    last = { prev: page.prevCursor };
  } while (after);
  const backwards = [...pages.at(-1)!];
  for (let before = last.prev; before;) {
    const page = await listFindings(db, parseFilter(new URLSearchParams(`${query}&before=${before}`)));
    backwards.unshift(...page.rows.map((r) => r.id));
    before = page.prevCursor;
  }
  return { forwards, backwards, first: pages[0]! };
}

describe.each([
  // The matches' ids gathered first, then walked along the order.
  { plan: "semi", limits: { walkAbove: 100, semiUpTo: 5_000 } },
  // A bounded stretch of the order first; where the matches lie beyond it, the walk again with their ids.
  { plan: "budget", limits: { walkAbove: 100, semiUpTo: 200 } },
  // Gathered and sorted.
  { plan: "gather", limits: { walkAbove: 5_000, semiUpTo: 5_000 } },
])("a prefix's pages, planned as $plan", ({ limits }) => {
  it.each([
    "q=lodash&sort=first_detected",
    "severity=critical&severity=high&q=lodash&sort=first_detected",
    "status=all&q=CVE-2021-4",
    "q=express&sort=first_detected&dir=asc",
    "q=express&sort=last_seen",
  ])("%s: every match once, in order, forwards and backwards", async (query) => {
    Object.assign(PAGE_PLANS, limits);
    const all = await expected(parseFilter(new URLSearchParams(query)));
    expect(all.length).toBeGreaterThan(300);
    const { forwards, backwards, first } = await paged(query);
    expect(first).toEqual(all.slice(0, 50));
    expect(forwards).toEqual(all);
    expect(backwards).toEqual(all);
  });
});

describe("a CVE prefix's counts by severity", () => {
  // Probed for 1,000 rows: "CVE-2" and "CVE-20" take in all 4,000 findings (counted as the
  // findings less the few facet rows outside them); "CVE-2024" has 2,500 inside and 1,500 outside
  // (summed as it is); with 2,000, "CVE-2024-1" is counted as what lies outside it too.
  it.each([
    ["q=CVE-2", 1_000],
    ["q=CVE-20&status=all", 1_000],
    ["q=cve-2&status=resolved", 1_000],
    ["q=CVE-2024&status=all", 1_000],
    ["q=CVE-2024-1", 2_000],
    ["q=CVE-2024-1&status=all", 2_000],
    ["q=CVE-2021-4&status=all", 1_000],
  ] as const)("%s (probed for %i rows): the findings it matches", async (query, broadProbe) => {
    Object.assign(PAGE_PLANS, { broadProbe });
    const filter = parseFilter(new URLSearchParams(query));
    const rows = await db
      .selectFrom("findings")
      .select(["severity", (eb) => eb.fn.countAll<number>().as("n")])
      .where(filterWhere({ ...filter, severities: [] }))
      .groupBy("severity")
      .execute();
    const expectedCounts = Object.fromEntries(SEVERITIES.map((s) => [s, Number(rows.find((r) => r.severity === s)?.n ?? 0)]));
    expect(Object.values(expectedCounts).some((n) => n > 0)).toBe(true);
    expect((await findingsOverview(db, filter)).counts).toEqual(expectedCounts);
  });
});
