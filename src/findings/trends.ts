// Trends: open findings by severity over the last 90 days, and how fast findings are fixed
// (mean time to remediate, and the share fixed within their SLA). Daily snapshots are written
// by a nightly job; days before the first snapshot are reconstructed once from detection and
// resolution dates (findings accepted or marked false positive since cannot be dated, and are
// left out of those days). The chart is drawn server-side as SVG, with its numbers as a table.
import type { Services } from "../services.js";
import type { Db, Severity } from "../db/schema.js";
import { jobKind } from "../jobs/queue.js";
import type { JobHandler } from "../jobs/worker.js";
import { SEVERITIES, SEVERITY_RANK } from "./normalize.js";
import { cachedCount } from "./query.js";

export const TREND_DAYS = 90;
export const SNAPSHOT_JOB = jobKind("findings.snapshot", { label: "Trend snapshot", dedupe: "one" });
const DAY = 86_400_000;
const OPEN = ["open", "in_remediation"] as const;

const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Open findings by severity right now (the trigger-kept counts). */
async function openNow(db: Db): Promise<Record<Severity, number>> {
  const rows = await db
    .selectFrom("finding_counts")
    .select(["severity_rank", (eb) => eb.fn.sum<number>("n").as("n")])
    .where("status", "in", [...OPEN])
    .groupBy("severity_rank")
    .execute();
  const out = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const r of rows) {
    const severity = SEVERITIES.find((s) => SEVERITY_RANK[s] === r.severity_rank);
    if (severity) out[severity] = Number(r.n);
  }
  return out;
}

/**
 * Writes today's snapshot, and reconstructs the missing days of the window (one pass over
 * the findings: detections and resolutions by day, summed up).
 */
export async function writeSnapshots(db: Db, now: Date): Promise<{ reconstructed: number }> {
  const today = dayOf(now.getTime());
  const first = dayOf(now.getTime() - (TREND_DAYS - 1) * DAY);
  const have = new Set((await db.selectFrom("finding_snapshots").select("day").distinct().where("day", ">=", first).execute()).map((r) => r.day));
  const missing: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); dayOf(t) < today; t += DAY) if (!have.has(dayOf(t))) missing.push(dayOf(t));
  if (missing.length) {
    const [detected, resolved] = await Promise.all([
      db
        .selectFrom("findings")
        .select([(eb) => eb.fn<string>("substr", ["first_detected_at", eb.val(1), eb.val(10)]).as("day"), "severity", (eb) => eb.fn.countAll<number>().as("n")])
        .where("status", "in", [...OPEN, "resolved"])
        .groupBy(["day", "severity"])
        .execute(),
      db
        .selectFrom("findings")
        .select([(eb) => eb.fn<string>("substr", ["resolved_at", eb.val(1), eb.val(10)]).as("day"), "severity", (eb) => eb.fn.countAll<number>().as("n")])
        .where("status", "=", "resolved")
        .where("resolved_at", "is not", null)
        .groupBy(["day", "severity"])
        .execute(),
    ]);
    // Open at the end of day D: detected on or before D, not resolved on or before D.
    const openAt = (day: string, severity: Severity) =>
      detected.filter((r) => r.severity === severity && r.day <= day).reduce((n, r) => n + Number(r.n), 0) -
      resolved.filter((r) => r.severity === severity && r.day <= day).reduce((n, r) => n + Number(r.n), 0);
    const rows = missing.flatMap((day) => SEVERITIES.map((severity) => ({ day, severity, open: Math.max(0, openAt(day, severity)) })));
    for (let i = 0; i < rows.length; i += 300)
      await db
        .insertInto("finding_snapshots")
        .values(rows.slice(i, i + 300))
        .onConflict((oc) => oc.doNothing())
        .execute();
  }
  const current = await openNow(db);
  for (const severity of SEVERITIES) {
    await db
      .insertInto("finding_snapshots")
      .values({ day: today, severity, open: current[severity] })
      .onConflict((oc) => oc.columns(["day", "severity"]).doUpdateSet({ open: current[severity] }))
      .execute();
  }
  await db
    .deleteFrom("finding_snapshots")
    .where("day", "<", dayOf(now.getTime() - 400 * DAY))
    .execute();
  return { reconstructed: missing.length };
}

export function snapshotHandler(deps: Pick<Services, "db" | "now">): JobHandler {
  return async ({ logger }) => {
    const { reconstructed } = await writeSnapshots(deps.db, deps.now());
    logger.info("finding snapshots written", { reconstructed });
  };
}

export interface Trend {
  days: string[];
  series: Record<Severity, number[]>;
  /** Per severity, for findings resolved in the window: mean days to fix, how many, and how many within their SLA. */
  remediation: { severity: Severity; resolved: number; meanDays: number | null; withinSla: number; withSla: number }[];
}

export async function loadTrend(db: Db, now: Date): Promise<Trend | undefined> {
  const first = dayOf(now.getTime() - (TREND_DAYS - 1) * DAY);
  const rows = await db.selectFrom("finding_snapshots").selectAll().where("day", ">=", first).orderBy("day").execute();
  if (!rows.length) return undefined;
  const days = [...new Set(rows.map((r) => r.day))];
  const index = new Map(days.map((d, i) => [d, i]));
  const series = Object.fromEntries(SEVERITIES.map((s) => [s, days.map(() => 0)])) as Record<Severity, number[]>;
  for (const r of rows) series[r.severity][index.get(r.day)!] = r.open;
  // Today's point is live.
  const today = dayOf(now.getTime());
  if (index.has(today)) {
    const current = await cachedCount(db, "trend:open-now", () => openNow(db));
    for (const s of SEVERITIES) series[s][index.get(today)!] = current[s];
  }
  // Time to remediate over the chart's days, from the trigger-kept resolutions by day (not the findings).
  const stats = await db
    .selectFrom("resolution_days")
    .select([
      "severity",
      (eb) => eb.fn.sum<number>("n").as("resolved"),
      (eb) => eb.fn.sum<number>("days").as("days"),
      (eb) => eb.fn.sum<number>("with_sla").as("withSla"),
      (eb) => eb.fn.sum<number>("within_sla").as("withinSla"),
    ])
    .where("day", ">=", first)
    .groupBy("severity")
    .execute();
  const remediation = SEVERITIES.map((severity) => {
    const r = stats.find((x) => x.severity === severity);
    return {
      severity,
      resolved: Number(r?.resolved ?? 0),
      meanDays: r && Number(r.resolved) > 0 ? Number(r.days) / Number(r.resolved) : null,
      withinSla: Number(r?.withinSla ?? 0),
      withSla: Number(r?.withSla ?? 0),
    };
  });
  return { days, series, remediation };
}

const COLORS: Record<Severity, string> = { critical: "#b42318", high: "#dc6803", medium: "#b08800", low: "#1570ef", info: "#667085" };

/** The open-findings chart as SVG markup (text escaped: only numbers and fixed words go in). */
export function trendSvg(trend: Trend): string {
  const width = 720;
  const height = 260;
  const pad = { left: 48, right: 16, top: 16, bottom: 36 };
  const max = Math.max(1, ...SEVERITIES.flatMap((s) => trend.series[s]));
  const step = niceStep(max / 4);
  const top = Math.ceil(max / step) * step;
  const n = trend.days.length;
  const x = (i: number) => pad.left + (n === 1 ? 0 : (i / (n - 1)) * (width - pad.left - pad.right));
  const y = (v: number) => pad.top + (1 - v / top) * (height - pad.top - pad.bottom);
  const parts: string[] = [];
  for (let v = 0; v <= top; v += step) {
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e4e7ec"/>`);
    parts.push(`<text x="${pad.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#475467">${v.toLocaleString("en")}</text>`);
  }
  const labelEvery = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += labelEvery)
    parts.push(`<text x="${x(i).toFixed(1)}" y="${height - 12}" text-anchor="middle" font-size="11" fill="#475467">${trend.days[i]!.slice(5)}</text>`);
  for (const s of SEVERITIES) {
    const points = trend.series[s].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    parts.push(`<polyline fill="none" stroke="${COLORS[s]}" stroke-width="2" points="${points}"><title>${s}</title></polyline>`);
  }
  const legend = SEVERITIES.map(
    (s, i) =>
      `<g transform="translate(${pad.left + i * 110},${height - 2})"><rect width="10" height="3" y="-4" fill="${COLORS[s]}"/><text x="14" font-size="11" fill="#344054">${s}</text></g>`,
  ).join("");
  const last = SEVERITIES.map((s) => `${trend.series[s][n - 1]} ${s}`).join(", ");
  return `<svg viewBox="0 0 ${width} ${height + 14}" width="100%" role="img" aria-labelledby="trend-title trend-desc" xmlns="http://www.w3.org/2000/svg"><title id="trend-title">Open findings by severity, ${trend.days[0]} to ${trend.days[n - 1]}</title><desc id="trend-desc">On ${trend.days[n - 1]}: ${last}.</desc>${parts.join("")}${legend}</svg>`;
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}
