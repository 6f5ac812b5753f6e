// `npm run bench`: measures the built bundle as a user runs it, writes bench-results.json
// and prints a table with each figure beside its target.
//   cold start  spawn → first 200 from /healthz, fresh data directory (median of 5)
//   idle RSS    resident memory after start-up, sign-in and a Hub view, left idle 3 s
//   bundle      size of dist/server.js
//   Hub page    server time (Server-Timing) for GET /integrations over 1,000 requests,
//               beside /healthz (the floor: routing, middleware and one query)
//   Jira push   1,000 new findings pushed (Push to Integrators on the whole table) to the
//               Jira simulator limited to 10 requests/s (429 + Retry-After beyond it):
//               time against the rate limit's minimum, duplicates, lost pushes
//   hostile     each parser of untrusted text: adversarial ÷ benign input time, same size
//   upload      a 50 MB Trivy report through POST /api/v1/scans: time, peak RSS, re-upload;
//               then a 200 MB one (the upload limit) on a fresh server: time, peak RSS
//   pages       the pages that read findings at 100,000 (imported) and 1,000,000 (seeded)
//               findings, each after a write (uncached) with the repeat view beside it
//   fixes       50 fix pull requests opened on the GitHub simulator under GitHub's secondary
//               limits: time against the limits' minimum, duplicates and missing ones
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { openDatabase } from "../../src/db/database.js";
import type { Severity } from "../../src/db/schema.js";
import { SEVERITY_RANK, fingerprint } from "../../src/findings/normalize.js";
import { packageKey } from "../../src/vuln/packages.js";
import { DEFAULT_SLA, dueAt } from "../../src/findings/sla.js";
import { csvExport, exportBatches } from "../../src/findings/export.js";
import { parseFilter } from "../../src/findings/query.js";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { BUNDLE, HttpSession, ROOT, killLiveServers, seedRepositoriesIn, startServer } from "../process.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, startWiz } from "../sim/wiz-fixture.js";
import { JiraSim, securityBugMapping } from "../sim/jira.js";
import { hostileRatios } from "./hostile.js";
import { cycloneDxSbom, trivyReport } from "./reports.js";
import { OsvSim } from "../sim/osv.js";
import { seedLargeDatabase } from "./seed.js";
import { fixBenchmark } from "./fixes.js";
import { feedBenchmark, rescoreBenchmark } from "./feeds.js";
import { startSim } from "../sim/serve.js";
import { type Kysely, sql } from "kysely";
import { copyToPostgres } from "../../src/db/migrate-to-postgres.js";
import { type OpenPostgres, openPostgres } from "../../src/db/postgres.js";
import { freshDatabase } from "../postgres/database.js";

interface Row {
  name: string;
  value: number;
  unit: string;
  target: number;
  note: string;
}

/** Each figure as it is measured (printed as it comes, for a long run's progress), and the table at the end. */
const rows = new (class extends Array<Row> {
  override push(...items: Row[]): number {
    for (const r of items) process.stderr.write(`  ${r.name}: ${r.value.toFixed(2)} ${r.unit} (target ${r.target.toFixed(1)})\n`);
    return super.push(...items);
  }
})();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function coldStart(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const dir = tempDir("patchbay-bench-");
    const started = performance.now();
    const server = await startServer({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY });
    await server.ready(30_000);
    times.push(performance.now() - started);
    await server.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

function rssMb(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
}

const FINDINGS = 1_000_000;
/** PostgreSQL's import: 100,000 findings (the million would add five minutes to the bench), paced against SQLite's. */
const PG_FINDINGS = 100_000;
/** The push benchmarks: tickets pushed, Jira's requests per second, its site (declared before the sections run). */
const COUNT = 1000;
const RATE = 10;
/** Issue 28's target for those 1,000 (Jira's bulk create, 50 a request), and the least one request per ticket could take at RATE. */
const PUSH_TARGET_S = 15;
const perTicketFloor = (COUNT - RATE) / RATE;
const site = "https://acme.atlassian.net";

/**
 * Import 1,000,000 Wiz findings (2,000 pages of 500) from the simulator over loopback, then the
 * same data again, then the pages at that size; and the floor: the same rows written straight
 * through better-sqlite3 in one transaction. Gives SQLite's seconds per finding.
 */
async function importBenchmarks(): Promise<number> {
  const wiz = await startWiz();
  for (const f of wizTenant({ importable: FINDINGS, repositories: DEFAULT_REPOSITORIES.slice(0, 3), images: 50 })) wiz.sim.findings.push(f);
  const dir = tempDir("patchbay-bench-");
  const server = await startServer(
    { PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_LOG_LEVEL: "warn", PATCHBAY_ORIGIN_MAP: wiz.originMap, ...UNCACHED },
    // BENCH_CPU_PROFILE=<dir>: the server's CPU profile of the import, to see where its time goes.
    { nodeArgs: process.env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [] },
  );
  await server.ready();
  const sqlite = new SQLite(path.join(dir, "patchbay.db"), { timeout: 10_000 });
  const stamp = new Date().toISOString();
  const insertRepo = sqlite.prepare("insert into repositories (integration_id, provider, full_name, created_at, updated_at) values (null, 'github', ?, ?, ?)");
  for (const name of DEFAULT_REPOSITORIES.slice(0, 3)) insertRepo.run(name, stamp, stamp);

  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  const connect = await session.send("/integrations/wiz", WIZ_FORM);
  if (connect.status !== 303) throw new Error(`connecting Wiz failed: ${connect.status}`);
  const first = await waitForRun(sqlite, 1).catch((err) => {
    fs.writeFileSync(path.join(ROOT, "test-results", "import-server.log"), server.output());
    throw err;
  });
  const peak = rssMb(server.proc.pid!, "VmHWM");
  const findings = (sqlite.prepare("select count(*) as n from findings").get() as { n: number }).n;
  if (findings !== FINDINGS) throw new Error(`expected ${FINDINGS} findings, found ${findings}`);

  const fingerprint = () =>
    JSON.stringify(
      ["findings", "finding_sources", "assets", "finding_events"].map((t) =>
        sqlite
          .prepare(
            `select count(*) as n, max(updated_at_or_at) as m from (select ${t === "finding_events" ? "at" : "updated_at"} as updated_at_or_at from ${t})`,
          )
          .get(),
      ),
    );
  const before = fingerprint();
  await session.send("/integrations/wiz/1/sync", {});
  const second = await waitForRun(sqlite, 2);
  const unchanged = before === fingerprint();
  const counts = second.counts;
  const written = unchanged ? "0 finding rows written (row counts and newest timestamps unchanged)" : "SOME FINDING ROWS WRITTEN";
  if (!unchanged) throw new Error("the re-import of unchanged data wrote finding rows");

  await pageViews(session, sqliteStore(path.join(dir, "patchbay.db")), "1M imported", 100);
  sqlite.close();
  await server.kill("SIGTERM");
  await wiz.close();

  // Issue 28's targets: the import within 1.5× the floor measured now, the re-import within half the import.
  const floor = await rawInsertFloor(wiz.sim.findings.length);
  rows.push({
    name: "floor: raw better-sqlite3 insert",
    value: floor,
    unit: "s",
    target: first.seconds,
    note: `the same ${FINDINGS.toLocaleString("en")} findings + sources + events through prepared statements in one transaction (the summary tables' triggers firing)`,
  });
  rows.push({
    name: `import ${FINDINGS.toLocaleString("en")} findings`,
    value: first.seconds,
    unit: "s",
    target: 1.5 * floor,
    note: `${(first.seconds / floor).toFixed(2)}× the floor's ${floor.toFixed(1)} s (target 1.5×); ${Math.round(FINDINGS / first.seconds).toLocaleString("en")} findings/s, ${FINDINGS / 500} pages of 500 from the Wiz simulator`,
  });
  rows.push({ name: "import peak RSS", value: peak, unit: "MB", target: 400, note: "server process high-water mark (VmHWM) over the import" });
  rows.push({
    name: "re-import, unchanged data",
    value: second.seconds,
    unit: "s",
    target: 0.5 * first.seconds,
    note: `${(second.seconds / first.seconds).toFixed(2)}× the import (target 0.5×); ${counts.new} new, ${counts.updated} updated, ${counts.unchanged.toLocaleString("en")} unchanged; ${written}`,
  });
  // BENCH_KEEP_IMPORT=1 leaves the imported million in place, to look at its query plans afterwards.
  if (process.env.BENCH_KEEP_IMPORT) console.log(`  the imported database is kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
  return first.seconds / FINDINGS;
}

/** Where the page views' writes go between requests, and a finding in the middle of the table. */
interface PageStore {
  write(): unknown;
  middle: number;
  close(): unknown;
}

function sqliteStore(file: string): PageStore {
  const writer = new SQLite(file, { timeout: 10_000 });
  let writes = 0;
  return {
    // A real change (an unchanged value would not count as one).
    write: () =>
      void writer.prepare("insert into meta (key, value) values ('bench', ?) on conflict(key) do update set value = excluded.value").run(String(++writes)),
    middle: (writer.prepare("select id from findings order by id limit 1 offset (select count(*) / 2 from findings)").get() as { id: number }).id,
    close: () => writer.close(),
  };
}

/** On PostgreSQL a cached count lasts until a statement changes findings, their sources or assets: each write is one. */
async function postgresStore(db: Kysely<any>): Promise<PageStore> {
  const middle = (await sql<{ id: number }>`select id from findings order by id limit 1 offset (select count(*) / 2 from findings)`.execute(db)).rows[0]!.id;
  return { write: () => sql`update assets set updated_at = updated_at where id = -1`.execute(db), middle, close: () => undefined };
}

/**
 * The servers whose pages are timed reuse no view: each figure is the cost of reading and
 * rendering it (a write through another connection, as pageViews makes, is not this process's,
 * and a kept view would otherwise answer for up to a second).
 */
const UNCACHED = { PATCHBAY_VIEW_REUSE_MS: "0" };

const PAGE_VIEWS = (middle: number): [string, string, string, number][] => [
  ["/vulnerabilities", "/vulnerabilities", "default view: open, by severity", 50],
  ["/vulnerabilities, filtered", "/vulnerabilities?severity=critical&severity=high&q=lodash&sort=first_detected", "severity + package + sort", 50],
  ["/vulnerabilities, by scanner", "/vulnerabilities?scanner=1&status=all&sort=cve", "scanner + all statuses + CVE order", 50],
  ["/vulnerabilities, by risk", "/vulnerabilities?sort=risk", "open, highest risk first", 50],
  ["/vulnerabilities, in KEV", "/vulnerabilities?kev=1&sort=risk", "in CISA's KEV, by risk", 50],
  ["/vulnerabilities, EPSS ≥ 10%", "/vulnerabilities?epss=0.1&sort=risk", "EPSS probability at least 0.1, by risk", 50],
  ["/vulnerabilities, CVE prefix", "/vulnerabilities?status=all&q=CVE-2021-4", "CVE id prefix, all statuses", 50],
  ["/vulnerabilities, overdue", "/vulnerabilities?due=overdue", "open past their SLA deadline", 50],
  ["/repositories", "/repositories", "open findings by severity per repository", 50],
  ["/images", "/images", "open findings by severity per image", 50],
  ["finding detail", `/vulnerabilities/${middle}`, "one finding, its sources, history and ticket, and the mappings that cover it", 50],
  ["/packages", "/packages?q=lodash", "the dependency search", 50],
  ["/trends", "/trends", "open findings over 90 days and time to remediate", 50],
];

/**
 * The pages that read the findings table, each measured after a real write through another
 * connection (counts are shared until the database changes, so every figure is the uncached
 * cost), with the repeat view's p95 in the note. Gives each view's p95; `beside` (SQLite's
 * figures) makes the rows PostgreSQL's, each targeted at twice SQLite's.
 */
async function pageViews(session: HttpSession, store: PageStore, size: string, n: number, beside?: Map<string, number>): Promise<Map<string, number>> {
  await (await session.send("/vulnerabilities")).arrayBuffer();
  const p95s = new Map<string, number>();
  // The floor under every page: /healthz reads the database twice, one statement after the other.
  await serverTimes(session, "/healthz", 50, store.write);
  const floor = percentile((await serverTimes(session, "/healthz", n, store.write)).server, 95);
  p95s.set("floor", floor);
  const sqliteFloor = beside?.get("floor");
  for (const [name, url, what, target] of PAGE_VIEWS(store.middle)) {
    // Steady state, as a server that has been up a while: the view's code paths compiled, and the
    // connections its parallel queries use open (on PostgreSQL each new one starts with cold caches).
    await serverTimes(session, url, 50, store.write);
    const cold = await serverTimes(session, url, n, store.write);
    const warm = await serverTimes(session, url, n);
    const p95 = percentile(cold.server, 95);
    p95s.set(name, p95);
    const sqliteP95 = beside?.get(name);
    rows.push({
      name: `${beside ? "PostgreSQL: " : ""}${name} p95, ${size}`,
      value: p95,
      unit: "ms",
      // Issue 28: every view within its target at a million findings, on PostgreSQL as on SQLite.
      target,
      note: `${sqliteP95 !== undefined ? `${(p95 / sqliteP95).toFixed(2)}× SQLite's ${sqliteP95.toFixed(1)} ms; ` : ""}${what}; after a write each time, p50 ${percentile(cold.server, 50).toFixed(1)} ms; repeat views p95 ${percentile(warm.server, 95).toFixed(1)} ms; floor (/healthz, two statements in turn) p95 ${floor.toFixed(1)} ms${sqliteFloor !== undefined ? ` (SQLite's ${sqliteFloor.toFixed(1)} ms)` : ""}`,
    });
  }
  await store.close();
  return p95s;
}

/** Streams one export; gives its rows, bytes, seconds and the server's peak RSS meanwhile. */
async function streamExport(
  session: HttpSession,
  pid: number,
  query: string,
): Promise<{ rows: number; mb: number; seconds: number; peak: number; status: number }> {
  let peak = rssMb(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  const started = performance.now();
  const res = await fetch(`${session.url}/vulnerabilities/export.csv?${query}`, { headers: { cookie: session.cookie } });
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) lines++;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  return { rows: lines - 1, mb: bytes / 1024 / 1024, seconds, peak: Math.max(peak, rssMb(pid)), status: res.status };
}

/**
 * The export's own code (the generator the route streams) over the same database in this
 * process, the heap measured after a forced collection every 50 batches: what the export holds
 * alive while it runs, without the garbage a collector has not come to yet.
 */
async function liveHeapDuringExport(file: string, query: string): Promise<{ mb: number; rows: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the bench with node --expose-gc (npm run bench does)");
  const { db, close } = await openDatabase(file);
  try {
    gc();
    const base = process.memoryUsage().heapUsed;
    let live = 0;
    let chunks = 0;
    let rows = 0;
    for await (const chunk of csvExport(exportBatches(db, parseFilter(new URLSearchParams(query)), "http://bench.example"))) {
      rows += chunk.split("\n").length - 1;
      if (++chunks % 50 === 0) {
        gc();
        live = Math.max(live, process.memoryUsage().heapUsed - base);
      }
    }
    return { mb: live / 1024 / 1024, rows: rows - 1 };
  } finally {
    await close();
  }
}

/**
 * The million findings exported as CSV, streamed by the server: its time and RSS growth (which
 * holds SQLite's page cache, filled as the export reads the table). Then what the export keeps
 * alive, for the critical tenth and for all of them: flat memory is the same for both.
 */
async function exportMillion(session: HttpSession, pid: number, file: string): Promise<void> {
  const before = rssMb(pid);
  const all = await streamExport(session, pid, "status=all");
  rows.push({
    name: "export 1M findings as CSV",
    value: all.seconds,
    unit: "s",
    target: 120,
    note: `${all.rows.toLocaleString("en")} rows, ${all.mb.toFixed(0)} MB, streamed; HTTP ${all.status}`,
  });
  rows.push({
    name: "export 1M: server memory growth",
    value: all.peak - before,
    unit: "MB",
    // SQLite's page cache (64 MB, see openSqlite) fills as the export reads the whole table; the rest must not grow with the rows.
    target: 128,
    note: `RSS ${before.toFixed(0)} MB before, ${all.peak.toFixed(0)} MB at most while exporting (sampled every 100 ms; SQLite's page cache is 64 MB of it)`,
  });
  const tenth = await liveHeapDuringExport(file, "status=all&severity=critical");
  const whole = await liveHeapDuringExport(file, "status=all");
  rows.push({
    name: "export: live heap, all vs a tenth",
    value: whole.mb / Math.max(tenth.mb, 0.5),
    unit: "x",
    target: 1.5,
    note: `what the export holds alive (after a forced collection every 50 batches): ${whole.mb.toFixed(1)} MB at most over ${whole.rows.toLocaleString("en")} rows, ${tenth.mb.toFixed(1)} MB over ${tenth.rows.toLocaleString("en")}`,
  });
}

/** The same pages over a million findings, seeded straight into the database (an import of that size would take minutes). */
async function millionFindings(): Promise<void> {
  const dir = tempDir("patchbay-bench-");
  const file = path.join(dir, "patchbay.db");
  const { close } = await openDatabase(file);
  await close();
  const seeded = seedLargeDatabase(file, { findings: 1_000_000, repositories: 2_000, images: 500 });
  const server = await startServer({
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_LOG_LEVEL: "warn",
    ...UNCACHED,
  });
  await server.ready(120_000);
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  const sqliteViews = await pageViews(session, sqliteStore(file), "1M", 100);
  await exportMillion(session, server.proc.pid!, file);
  rows.push({
    name: "1M: database size",
    value: fs.statSync(file).size / 1024 / 1024,
    unit: "MB",
    target: 1024,
    note: `1,000,000 findings + 1,100,000 scanner rows over 2,500 assets, 100,000 tickets with their changelogs, seeded in ${seeded.seconds.toFixed(0)} s`,
  });
  await server.kill("SIGTERM");
  await postgresMillion(file, sqliteViews);
  fs.rmSync(dir, { recursive: true, force: true });
}

async function waitForRun(sqlite: SQLite.Database, n: number): Promise<{ seconds: number; counts: { new: number; updated: number; unchanged: number } }> {
  const deadline = Date.now() + 1_800_000;
  for (;;) {
    const run = sqlite.prepare("select * from sync_runs order by id limit 1 offset ?").get(n - 1) as
      { status: string; started_at: string; finished_at: string | null; counts: string; error: string | null } | undefined;
    // Done once its job is too (the planner's statistics refreshed after the run): a scan asked for meanwhile would join it.
    const running = sqlite.prepare("select count(*) as n from jobs where type = 'scanner.sync' and status in ('queued', 'running')").get() as { n: number };
    if (run?.status === "succeeded" && running.n === 0)
      return { seconds: (Date.parse(run.finished_at!) - Date.parse(run.started_at)) / 1000, counts: JSON.parse(run.counts) };
    if (run?.status === "failed" || run?.status === "interrupted") throw new Error(`scan ${n} failed: ${run.error}`);
    if (Date.now() > deadline) throw new Error(`scan ${n} did not finish in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The same rows (the import's fingerprints, severities and deadlines) through better-sqlite3's prepared statements in one transaction. */
async function rawInsertFloor(count: number): Promise<number> {
  const dir = tempDir("patchbay-floor-");
  const { close } = await openDatabase(path.join(dir, "floor.db"));
  await close();
  const sqlite = new SQLite(path.join(dir, "floor.db"));
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  const stamp = new Date().toISOString();
  sqlite
    .prepare("insert into integrations (kind, name, settings, status, created_at, updated_at) values ('wiz', 'Wiz', '{}', 'connected', ?, ?)")
    .run(stamp, stamp);
  const tenant = wizTenant({ importable: count, repositories: DEFAULT_REPOSITORIES.slice(0, 3), images: 50 });
  const started = performance.now();
  const asset = sqlite.prepare(
    "insert into assets (kind, asset_key, name, details, created_at, updated_at) values (?, ?, ?, '{}', ?, ?) on conflict do nothing",
  );
  const assetId = sqlite.prepare("select id from assets where kind = ? and asset_key = ?").pluck();
  // The import's values where they decide index and summary rows: the severity, and the deadline the default SLA gives it.
  const finding = sqlite.prepare(
    "insert into findings (fingerprint, cve, title, description, severity, severity_rank, cvss, ecosystem, package, package_lc, installed_version, fixed_version, asset_id, status, first_detected_at, last_seen_at, due_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, 'npm', ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
  );
  const source = sqlite.prepare(
    "insert into finding_sources (finding_id, integration_id, external_id, status, raw, content_hash, first_seen_at, updated_at) values (?, 1, ?, 'open', ?, ?, ?, ?)",
  );
  const event = sqlite.prepare("insert into finding_events (finding_id, at, actor, to_status) values (?, ?, 'floor', 'open')");
  sqlite.transaction(() => {
    for (const f of tenant) {
      const kind = f.vulnerableAsset.type === "CONTAINER_IMAGE" ? "container_image" : "repository";
      const key = String(f.vulnerableAsset.imageId ?? f.vulnerableAsset.repositoryName);
      asset.run(kind, key, key, stamp, stamp);
      const id = assetId.get(kind, key) as number;
      const raw = JSON.stringify(f);
      const severity = (f.severity === "INFORMATIONAL" ? "info" : String(f.severity).toLowerCase()) as Severity;
      // The import's fingerprint (a hash: the unique index takes each new finding at a random place), not the scanner's id.
      const row = finding.run(
        fingerprint(String(f.name), packageKey("npm", String(f.detailedName)), String(f.version), key),
        f.name,
        f.name,
        f.CVEDescription,
        severity,
        SEVERITY_RANK[severity],
        f.score,
        f.detailedName,
        String(f.detailedName).toLowerCase(),
        f.version,
        f.fixedVersion,
        id,
        f.firstDetectedAt,
        f.lastDetectedAt,
        dueAt(String(f.firstDetectedAt), severity, DEFAULT_SLA),
        stamp,
        stamp,
      );
      source.run(row.lastInsertRowid, f.id, raw, raw.length.toString(16), stamp, stamp);
      event.run(row.lastInsertRowid, stamp);
    }
  })();
  const seconds = (performance.now() - started) / 1000;
  sqlite.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return seconds;
}

async function serverTimes(session: HttpSession, pathname: string, n: number, before?: () => unknown): Promise<{ server: number[]; client: number[] }> {
  const server: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < n; i++) {
    await before?.();
    const t = performance.now();
    const res = await session.send(pathname);
    await res.arrayBuffer();
    client.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${pathname} answered ${res.status}`);
    server.push(Number(/dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")![1]));
  }
  return { server: server.sort((a, b) => a - b), client: client.sort((a, b) => a - b) };
}

// `npm run bench -- --only upload,sbom` (or BENCH_ONLY=upload,sbom) runs only those sections and
// prints them without writing bench-results.json.
const SECTIONS = ["start", "hub", "hostile", "import", "million", "push", "fixes", "feeds", "rescore", "upload", "sbom"];
const onlyArg = process.argv.find((a, i) => process.argv[i - 1] === "--only") ?? process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const onlyList = (onlyArg ?? process.env.BENCH_ONLY)
  ?.split(",")
  .map((x) => x.trim())
  .filter(Boolean);
const unknown = onlyList?.filter((x) => !SECTIONS.includes(x)) ?? [];
if (unknown.length) {
  process.stderr.write(`No bench section ${unknown.join(", ")}: choose from ${SECTIONS.join(", ")}.\n`);
  process.exit(2);
}
const only = onlyList ? new Set(onlyList) : null;
const want = (section: string) => !only || only.has(section);

/** Sections that failed: the rest still run, and every figure measured is written. */
const failed: { section: string; error: string }[] = [];
async function section(name: string, run: () => Promise<void>): Promise<void> {
  if (!want(name)) return;
  try {
    await run();
  } catch (err) {
    failed.push({ section: name, error: (err as Error).message.split("\n")[0]! });
    process.stderr.write(`Bench section ${name} failed, the others go on: ${(err as Error).stack}\n`);
    await killLiveServers();
  }
}

/** The machine's CPU times so far (/proc/stat's first line: user, nice, system, idle, iowait, irq, softirq, steal). */
function cpuTimes(): number[] {
  const line = fs.existsSync("/proc/stat") ? fs.readFileSync("/proc/stat", "utf8").split("\n")[0]! : "";
  return line.split(/\s+/).slice(1, 9).map(Number);
}
const cpuAtStart = cpuTimes();
/**
 * The share of CPU time the hypervisor gave other guests since `from` (steal): a figure taken
 * while it is high is slower than this machine is, so the results say how much there was.
 */
function stealSince(from: number[]): number | undefined {
  const now = cpuTimes();
  if (now.length < 8 || from.length < 8) return undefined;
  const total = now.reduce((n, t, i) => n + t - from[i]!, 0);
  return total > 0 ? (now[7]! - from[7]!) / total : undefined;
}

await section("start", async () => {
  const cold = await coldStart();
  rows.push({
    name: "cold start (median of 5)",
    value: percentile(cold, 50),
    unit: "ms",
    target: 1000,
    note: `min ${cold[0]!.toFixed(0)} ms, max ${cold.at(-1)!.toFixed(0)} ms`,
  });
});

await section("hub", async () => {
  const dir = tempDir("patchbay-bench-");
  const server = await startServer({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_LOG_LEVEL: "warn" });
  await server.ready();
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  await (await session.send("/integrations")).arrayBuffer();
  await new Promise((r) => setTimeout(r, 3000));
  rows.push({ name: "idle RSS", value: rssMb(server.proc.pid!), unit: "MB", target: 150, note: "after start-up, sign-in and one Hub view" });

  await serverTimes(session, "/integrations", 100); // warm-up
  const hub = await serverTimes(session, "/integrations", 1000);
  const health = await serverTimes(session, "/healthz", 1000);
  rows.push({
    name: "Hub page server time p50",
    value: percentile(hub.server, 50),
    unit: "ms",
    target: 20,
    note: `floor /healthz p50 ${percentile(health.server, 50).toFixed(2)} ms`,
  });
  rows.push({
    name: "Hub page server time p95",
    value: percentile(hub.server, 95),
    unit: "ms",
    target: 50,
    note: `floor /healthz p95 ${percentile(health.server, 95).toFixed(2)} ms`,
  });
  rows.push({ name: "Hub page round trip p95", value: percentile(hub.client, 95), unit: "ms", target: 100, note: "loopback, sequential, 1,000 requests" });
  rows.push({ name: "idle RSS after 2,200 requests", value: rssMb(server.proc.pid!), unit: "MB", target: 200, note: "" });
  await server.kill("SIGTERM");
  fs.rmSync(dir, { recursive: true, force: true });
});

await section("hostile", async () => {
  for (const r of hostileRatios()) {
    rows.push({
      name: `hostile ${r.parser}: ${r.name}`.slice(0, 45),
      value: r.ratio,
      unit: "×",
      target: 20,
      note: `adversarial ÷ benign at 256 KB: ${r.adversarialMs.toFixed(1)} ms ÷ ${r.benignMs.toFixed(1)} ms (linear parsers stay near 1)`,
    });
  }
});

await section("import", async () => postgresImport(await importBenchmarks()));
await section("million", millionFindings);
await section("push", async () => (await pushBenchmark(), await postgresPush()));
await section("fixes", async () => void rows.push(...(await fixBenchmark())));
await section("feeds", async () => void rows.push(...(await feedBenchmark())));
await section("rescore", async () => void rows.push(...(await rescoreBenchmark())));
await section("upload", uploadBenchmark);
await section("sbom", sbomBenchmark);

/** A fresh PostgreSQL database on the test server, opened (migrated) for the bench's own queries; undefined, with a note, when none answers. */
async function postgresDatabase(): Promise<{ url: string; pg: OpenPostgres; drop(): Promise<void> } | undefined> {
  try {
    const fresh = await freshDatabase();
    const pg = await openPostgres(fresh.url);
    return { url: fresh.url, pg, drop: async () => (await pg.close(), await fresh.drop()) };
  } catch (err) {
    process.stderr.write(`PostgreSQL figures left out: ${(err as Error).message}\n`);
    return undefined;
  }
}

async function waitForPostgresRun(db: Kysely<any>, n: number): Promise<number> {
  for (const deadline = Date.now() + 600_000; ;) {
    const run = (
      await sql<{
        status: string;
        started_at: string;
        finished_at: string | null;
        error: string | null;
      }>`select * from sync_runs order by id limit 1 offset ${n - 1}`.execute(db)
    ).rows[0];
    if (run?.status === "succeeded") return (Date.parse(run.finished_at!) - Date.parse(run.started_at)) / 1000;
    if (run?.status === "failed") throw new Error(`scan ${n} failed on PostgreSQL: ${run.error}`);
    if (Date.now() > deadline) throw new Error(`scan ${n} did not finish in time on PostgreSQL`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A 100,000-finding Wiz import on PostgreSQL (the server on this machine), beside SQLite's seconds per finding. */
async function postgresImport(sqliteSecondsPerFinding: number): Promise<void> {
  const database = await postgresDatabase();
  if (!database) return;
  const wiz = await startWiz();
  for (const f of wizTenant({ importable: PG_FINDINGS, repositories: DEFAULT_REPOSITORIES.slice(0, 3), images: 50 })) wiz.sim.findings.push(f);
  const dir = tempDir("patchbay-bench-");
  const server = await startServer({
    DATABASE_URL: database.url,
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_LOG_LEVEL: "error",
    PATCHBAY_ORIGIN_MAP: wiz.originMap,
  });
  await server.ready();
  const stamp = new Date().toISOString();
  for (const name of DEFAULT_REPOSITORIES.slice(0, 3))
    await database.pg.db
      .insertInto("repositories")
      .values({ integration_id: null, provider: "github", full_name: name, created_at: stamp, updated_at: stamp })
      .execute();
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  await session.send("/integrations/wiz", WIZ_FORM);
  const seconds = await waitForPostgresRun(database.pg.db, 1);
  const findings = Number((await sql<{ n: number }>`select count(*) as n from findings`.execute(database.pg.db)).rows[0]!.n);
  if (findings !== PG_FINDINGS) throw new Error(`expected ${PG_FINDINGS} findings on PostgreSQL, found ${findings}`);
  const sqliteRate = 1 / sqliteSecondsPerFinding;
  rows.push({
    name: `PostgreSQL: import ${PG_FINDINGS.toLocaleString("en")} findings`,
    value: seconds,
    unit: "s",
    target: 1.5 * sqliteSecondsPerFinding * PG_FINDINGS,
    note: `${Math.round(PG_FINDINGS / seconds).toLocaleString("en")} findings/s, ${(PG_FINDINGS / seconds / sqliteRate).toFixed(2)}× SQLite's ${Math.round(sqliteRate).toLocaleString("en")} findings/s over its million`,
  });
  await server.kill("SIGTERM");
  await wiz.close();
  await database.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The million-finding database copied to PostgreSQL (migrate-to-postgres's copy), and the same page views there. */
async function postgresMillion(file: string, sqliteViews: Map<string, number>): Promise<void> {
  const database = await postgresDatabase();
  if (!database) return;
  const source = await openDatabase(file);
  const started = performance.now();
  const copied = await copyToPostgres(source.sqlite, database.pg.db, { final: true, source: file, now: new Date() });
  const copySeconds = (performance.now() - started) / 1000;
  await source.close();
  rows.push({
    name: "PostgreSQL: migrate-to-postgres copy, 1M",
    value: copySeconds,
    unit: "s",
    target: 600,
    note: `${copied.rows.toLocaleString("en")} rows in ${copied.tables.length} tables, one transaction, counts checked, then ANALYZE`,
  });
  const dir = tempDir("patchbay-bench-");
  const server = await startServer({
    DATABASE_URL: database.url,
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_LOG_LEVEL: "error",
    ...UNCACHED,
  });
  await server.ready(120_000);
  const session = new HttpSession(server.url);
  await session.send("/login", { username: ADMIN.username, password: ADMIN.password });
  await pageViews(session, await postgresStore(database.pg.db), "1M", 100, sqliteViews);
  await server.kill("SIGTERM");
  await database.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The Jira push of 1,000 findings through the 10 requests/s limit on PostgreSQL, with two
 * replicas sharing the work (their pacing shared through the database): its time against the
 * limit's minimum, as SQLite's single process is measured.
 */
async function postgresPush(): Promise<void> {
  const database = await postgresDatabase();
  if (!database) return;
  const { jira, jiraServer, wiz } = await pushSims();
  const dirs = [tempDir("patchbay-bench-"), tempDir("patchbay-bench-")];
  const servers = [];
  for (const dir of dirs) {
    const server = await startServer({
      DATABASE_URL: database.url,
      PATCHBAY_DATA_DIR: dir,
      PATCHBAY_SECRET_KEY: TEST_KEY,
      PATCHBAY_LOG_LEVEL: "error",
      PATCHBAY_ORIGIN_MAP: `${site}=${jiraServer.url},${wiz.originMap}`,
    });
    await server.ready();
    servers.push(server);
  }
  const db = database.pg.db;
  const stamp = new Date().toISOString();
  await db
    .insertInto("repositories")
    .values({ integration_id: null, provider: "github", full_name: DEFAULT_REPOSITORIES[0]!, created_at: stamp, updated_at: stamp })
    .execute();
  const session = new HttpSession(servers[0]!.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  await session.send("/integrations/wiz", WIZ_FORM);
  await waitForPostgresRun(db, 1);
  await session.send("/integrations/jira", { apiToken: "ATATT-bench", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: site });
  await session.send("/trackers/2/mappings", securityBugMapping());
  await session.send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "info", groupBy: "finding", pushMode: "explicit" });
  jira.rateLimitPerSecond = RATE;
  const before = jira.faults.requests.length;
  const started = performance.now();
  await session.send("/vulnerabilities/push", { query: "", confirm: "yes" });
  for (const deadline = Date.now() + 600_000; ;) {
    const parts = (
      await sql<{ n: number; done: number }>`select count(*) as n, count(finished_at) as done from push_batch_parts where batch_id = 1`.execute(db)
    ).rows[0]!;
    if (parts.n > 0 && parts.done === parts.n) break;
    if (Date.now() > deadline) throw new Error("the push on PostgreSQL did not finish in time");
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const traffic = jira.faults.requests.slice(before);
  const served = traffic.length - jira.rateLimited.length;
  const minimum = (served - RATE) / RATE;
  const markers = new Set(jira.issues.map((i) => (i.fields.labels as string[]).find((l) => l.startsWith("patchbay-"))));
  const linked = Number((await sql<{ n: number }>`select count(*) as n from tickets where linked_at is not null`.execute(db)).rows[0]!.n);
  if (jira.issues.length !== COUNT || markers.size !== COUNT || linked !== COUNT)
    throw new Error(`the push on PostgreSQL lost or duplicated tickets: ${jira.issues.length} issues, ${markers.size} distinct, ${linked} linked`);
  rows.push({
    name: "PostgreSQL, 2 replicas: push 1,000 to Jira",
    value: seconds,
    unit: "s",
    target: PUSH_TARGET_S,
    note: `${jira.bulkCreates.length} bulk creates; ${served} requests (${minimum.toFixed(1)} s at 10/s), ${jira.rateLimited.length} answered 429; 0 duplicates, 0 lost; one request per ticket could not go under ${perTicketFloor} s`,
  });
  for (const server of servers) await server.kill("SIGTERM");
  await jiraServer.close();
  await wiz.close();
  await database.drop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
}

/** A fresh server with CI uploads connected and an upload token. */
async function uploadServer(
  env: Record<string, string> = {},
  repositories: string[] = [],
): Promise<{ server: Awaited<ReturnType<typeof startServer>>; dir: string; token: string }> {
  const dir = tempDir("patchbay-bench-");
  const server = await startServer({ PATCHBAY_DATA_DIR: dir, PATCHBAY_SECRET_KEY: TEST_KEY, PATCHBAY_LOG_LEVEL: "warn", ...env });
  await server.ready();
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  if (repositories.length) seedRepositoriesIn(dir, repositories);
  await session.send("/integrations/ci-upload", {});
  if (env.PATCHBAY_ORIGIN_MAP?.includes("api.osv.dev")) await session.send("/integrations/dependency-monitor", {});
  const token = /pbt_[a-z2-7]{32}/.exec(await (await session.send("/settings/tokens", { name: "bench", scopes: "upload" })).text())?.[0];
  if (!token) throw new Error("creating the API token failed");
  return { server, dir, token };
}

/**
 * Ten clients each upload a 190 MB CycloneDX SBOM at once, retrying on 429 as CI clients do:
 * every upload completes, and the server's peak memory stays bounded (two are read at once,
 * their packages spooled to disk and looked up in OSV in batches).
 */
async function sbomBenchmark(): Promise<void> {
  const sbom = Buffer.from(cycloneDxSbom(190));
  const osv = new OsvSim();
  osv.add({
    id: "GHSA-bench-0001",
    modified: "2024-01-01T00:00:00Z",
    aliases: ["CVE-2024-0001"],
    summary: "A flaw in pkg-1",
    affected: [{ package: { ecosystem: "npm", name: "pkg-1" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "9.0.0" }] }] }],
  });
  const osvServer = await startSim(osv.app());
  const { server, dir, token } = await uploadServer({ PATCHBAY_ORIGIN_MAP: `https://api.osv.dev=${osvServer.url}` }, ["acme/web"]);
  let refusals = 0;
  let dropped = 0;
  const started = performance.now();
  // As CI clients do (curl --retry): a 429 is retried after Retry-After, a dropped connection after 2 s.
  const client = async () => {
    for (;;) {
      let res: Response;
      try {
        res = await fetch(`${server.url}/api/v1/scans?asset=acme/web`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: sbom,
        });
      } catch {
        dropped++;
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      if (res.status === 429) {
        refusals++;
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? "30") * 1000));
        continue;
      }
      const body = (await res.json()) as { created?: number; unchanged?: number; error?: string };
      if (res.status !== 201) throw new Error(`SBOM upload failed: ${res.status} ${body.error}`);
      return body;
    }
  };
  const results = await Promise.all(Array.from({ length: 10 }, client));
  const seconds = (performance.now() - started) / 1000;
  const peak = rssMb(server.proc.pid!, "VmHWM");
  rows.push({
    name: "10 × 190 MB SBOM uploads: peak RSS",
    value: peak,
    unit: "MB",
    target: 500,
    note: `all ${results.length} completed in ${seconds.toFixed(0)} s; ${refusals} answered 429 and retried, ${dropped} connections dropped and retried`,
  });
  await server.kill("SIGTERM");
  await osvServer.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Upload a 50 MB Trivy report through POST /api/v1/scans: time to the answer, peak RSS, and the re-upload. */
async function uploadBenchmark(): Promise<void> {
  const report = Buffer.from(trivyReport(50));
  const { server, dir, token } = await uploadServer();
  const send = async () => {
    const started = performance.now();
    const res = await fetch(`${server.url}/api/v1/scans?full=true`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: report,
    });
    const body = (await res.json()) as { created?: number; unchanged?: number; error?: string };
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${body.error}`);
    return { seconds: (performance.now() - started) / 1000, body };
  };
  const first = await send();
  const peak = rssMb(server.proc.pid!, "VmHWM");
  const again = await send();
  const mb = report.length / 1024 / 1024;
  rows.push({
    name: `upload ${mb.toFixed(0)} MB Trivy report`,
    value: first.seconds,
    unit: "s",
    target: 10,
    note: `${first.body.created?.toLocaleString("en")} findings created, ${(mb / first.seconds).toFixed(1)} MB/s, POST /api/v1/scans`,
  });
  rows.push({
    name: "upload peak RSS",
    value: peak,
    unit: "MB",
    target: 300,
    note: "server high-water mark; the report streams through in chunks, its records spooled to disk",
  });
  rows.push({
    name: "re-upload, nothing changed",
    value: again.seconds,
    unit: "s",
    target: first.seconds,
    note: `${again.body.unchanged?.toLocaleString("en")} unchanged, 0 written`,
  });
  await server.kill("SIGTERM");
  fs.rmSync(dir, { recursive: true, force: true });
  await largeUpload();
}

/** A report at the upload limit (200 MB) on a fresh server: time and the server's peak memory, which streaming keeps where a 50 MB one leaves it. */
async function largeUpload(): Promise<void> {
  const report = Buffer.from(trivyReport(199));
  const { server, dir, token } = await uploadServer();
  const started = performance.now();
  const res = await fetch(`${server.url}/api/v1/scans?full=true`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: report,
  });
  const body = (await res.json()) as { created?: number; error?: string };
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${body.error}`);
  const seconds = (performance.now() - started) / 1000;
  const mb = report.length / 1024 / 1024;
  rows.push({
    name: `upload ${mb.toFixed(0)} MB Trivy report`,
    value: seconds,
    unit: "s",
    target: 40,
    note: `${body.created?.toLocaleString("en")} findings created, ${(mb / seconds).toFixed(1)} MB/s (target: four times the 50 MB one's)`,
  });
  // What stays live is bounded (with --max-old-space-size=160 the same upload peaks near 245 MB);
  // the rest is garbage V8 collects lazily while 140,000 records go through.
  rows.push({
    name: `upload ${mb.toFixed(0)} MB: peak RSS`,
    value: rssMb(server.proc.pid!, "VmHWM"),
    unit: "MB",
    target: 400,
    note: "server high-water mark; four times the report, a third more memory than the 50 MB one",
  });
  await server.kill("SIGTERM");
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The push benchmarks' services: a Jira with its SEC project, and a Wiz tenant of COUNT findings in one repository. */
async function pushSims() {
  const jira = new JiraSim();
  jira.addToken("ATATT-bench", "svc@acme.example");
  jira.addProject("SEC", "Security");
  const jiraServer = await startSim(jira.app());
  const wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: COUNT, repositories: DEFAULT_REPOSITORIES.slice(0, 1), images: 10 }));
  return { jira, jiraServer, wiz };
}

/**
 * Push 1,000 new findings to Jira through a 10 requests/s limit: the time, beside the least
 * the limit allows for the requests the push needs (one create per finding, plus the create
 * metadata the mapping is checked against), and the count of duplicate and missing issues.
 */
async function pushBenchmark(): Promise<void> {
  const { jira, jiraServer, wiz } = await pushSims();
  const dir = tempDir("patchbay-bench-");
  const server = await startServer({
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_LOG_LEVEL: "warn",
    PATCHBAY_ORIGIN_MAP: `${site}=${jiraServer.url},${wiz.originMap}`,
  });
  await server.ready();
  const sqlite = new SQLite(path.join(dir, "patchbay.db"), { timeout: 10_000 });
  const stamp = new Date().toISOString();
  sqlite
    .prepare("insert into repositories (integration_id, provider, full_name, created_at, updated_at) values (null, 'github', ?, ?, ?)")
    .run(DEFAULT_REPOSITORIES[0], stamp, stamp);
  const session = new HttpSession(server.url);
  await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
  await session.send("/integrations/wiz", WIZ_FORM);
  await waitForRun(sqlite, 1);
  const open = (sqlite.prepare("select count(*) as n from findings where status = 'open'").get() as { n: number }).n;
  if (open !== COUNT) throw new Error(`expected ${COUNT} open findings, found ${open}`);
  const connected = await session.send("/integrations/jira", { apiToken: "ATATT-bench", cloudId: jira.cloudId, email: "svc@acme.example", siteUrl: site });
  if (connected.status !== 303) throw new Error(`connecting Jira failed: ${connected.status}`);
  const mapping = await session.send("/trackers/2/mappings", securityBugMapping());
  if (mapping.status !== 303) throw new Error(`saving the mapping failed: ${mapping.status}`);
  await session.send("/trackers/mappings/1/assignments", { scope: "all", minSeverity: "info", groupBy: "finding", pushMode: "explicit" });
  jira.rateLimitPerSecond = RATE;
  const before = jira.faults.requests.length;
  const started = performance.now();
  await session.send("/vulnerabilities/push", { query: "", confirm: "yes" });
  const deadline = Date.now() + 600_000;
  for (;;) {
    // A bulk push is finished when each tracker's part is (the parts carry the progress since lanes per tracker).
    const parts = sqlite.prepare("select count(*) as n, count(finished_at) as done from push_batch_parts where batch_id = 1").get() as {
      n: number;
      done: number;
    };
    if (parts.n > 0 && parts.done === parts.n) break;
    if (Date.now() > deadline) throw new Error("the push did not finish in time");
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const traffic = jira.faults.requests.slice(before);
  const limited = jira.rateLimited.length;
  const served = traffic.length - limited;
  const minimum = (served - RATE) / RATE; // the bucket starts full: the first RATE go at once
  const markers = new Set(jira.issues.map((i) => (i.fields.labels as string[]).find((l) => l.startsWith("patchbay-"))));
  const duplicates = jira.issues.length - markers.size;
  const linked = (sqlite.prepare("select count(*) as n from tickets where linked_at is not null").get() as { n: number }).n;
  const errors = (sqlite.prepare("select count(*) as n from push_errors").get() as { n: number }).n;
  if (duplicates !== 0 || linked !== COUNT || jira.issues.length !== COUNT || errors !== 0) {
    throw new Error(`push lost or duplicated tickets: ${jira.issues.length} issues, ${duplicates} duplicates, ${linked} linked, ${errors} errors`);
  }
  rows.push({
    name: "push 1,000 findings to Jira",
    value: seconds,
    unit: "s",
    target: PUSH_TARGET_S,
    note: `${jira.bulkCreates.length} bulk creates of up to 50; ${served} requests (${minimum.toFixed(1)} s at 10/s), ${limited} answered 429; one request per ticket could not go under ${perTicketFloor} s`,
  });
  rows.push({
    name: "push: duplicates + lost",
    value: duplicates + (COUNT - linked),
    unit: "",
    target: 1,
    note: `${jira.issues.length} issues, ${linked} linked tickets, ${errors} push errors`,
  });

  // Reconciliation of those 1,000 tickets (report only), with 50 drifted in Jira behind Patchbay's back.
  for (const issue of jira.issues.slice(0, 50)) issue.statusId = "10002";
  const searchesBefore = jira.faults.requests.filter((r) => r.path.endsWith("/search/jql")).length;
  const reconcileStarted = performance.now();
  await session.send("/trackers/mappings/1/reconcile", {});
  for (const deadline = Date.now() + 1_800_000; ;) {
    const run = sqlite.prepare("select status, checked, differences from reconcile_runs where direction != 'link' order by id desc limit 1").get() as
      { status: string; checked: number; differences: number } | undefined;
    if (run && run.status !== "running") {
      if (run.status !== "succeeded" || run.checked !== COUNT || run.differences !== 50)
        throw new Error(`reconciliation ended ${run.status}: ${run.checked} checked, ${run.differences} differences`);
      break;
    }
    if (Date.now() > deadline) throw new Error("the reconciliation did not finish in time");
    await new Promise((r) => setTimeout(r, 50));
  }
  const reconcileSeconds = (performance.now() - reconcileStarted) / 1000;
  const searches = jira.faults.requests.filter((r) => r.path.endsWith("/search/jql")).length - searchesBefore;
  rows.push({
    name: "reconcile 1,000 Jira tickets",
    value: reconcileSeconds,
    unit: "s",
    target: 30,
    note: `report only, 50 drifted found; ${searches} searches of 50 issues at 10 requests/s`,
  });
  sqlite.close();
  await server.kill("SIGTERM");
  await jiraServer.close();
  await wiz.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

// The load test runs under npm run test:soak (about two minutes of 50 users); its last figures join these.
const loadFile = path.join(ROOT, "test-results", "load.json");
if (fs.existsSync(loadFile)) {
  const load = JSON.parse(fs.readFileSync(loadFile, "utf8")) as {
    users: number;
    importSeconds?: { alone: number; loaded: number; pace: number };
    duringImport: { requests: number; p95: number; p99: number; failures: Record<string, number> };
    duringPush: { requests: number; p95: number; p99: number; failures: Record<string, number> };
  };
  const when = fs.statSync(loadFile).mtime.toISOString().slice(0, 16).replace("T", " ");
  // Issue 28's targets: the import keeps half its pace (slowed at most 2×) while people browse, pages within 300 ms.
  if (load.importSeconds)
    rows.push({
      name: `load: import slowed by ${load.users} users browsing`,
      value: load.importSeconds.loaded / load.importSeconds.alone,
      unit: "×",
      target: 2,
      note: `100,000 findings in ${load.importSeconds.loaded.toFixed(1)} s while they browse, ${load.importSeconds.alone.toFixed(1)} s alone: ${(load.importSeconds.pace * 100).toFixed(0)}% of its pace (the target: at least half); npm run test:soak, ${when} UTC`,
    });
  for (const [name, phase] of [
    ["during a 100k import", load.duringImport],
    ["during a 1,000-ticket push", load.duringPush],
  ] as const) {
    const failed = Object.values(phase.failures).reduce((a, b) => a + b, 0);
    rows.push({
      name: `load: ${load.users} users ${name}, p95`,
      value: phase.p95,
      unit: "ms",
      target: 300,
      note: `${phase.requests.toLocaleString("en")} requests, p99 ${phase.p99.toFixed(0)} ms, ${failed} failed; npm run test:soak, ${when} UTC`,
    });
  }
}

const bundleKb = fs.statSync(BUNDLE).size / 1024;
const chunksDir = path.join(path.dirname(BUNDLE), "chunks");
const chunkKb = fs.existsSync(chunksDir)
  ? fs
      .readdirSync(chunksDir)
      .filter((f) => f.endsWith(".js"))
      .reduce((n, f) => n + fs.statSync(path.join(chunksDir, f)).size / 1024, 0)
  : 0;
rows.push({
  name: "bundle dist/server.js",
  value: bundleKb,
  unit: "KB",
  target: 3072,
  note: `esbuild, every dependency but the two native modules inside, whitespace and syntax minified (names kept); read at start. Besides it, ${chunkKb.toFixed(0)} KB in dist/chunks/ (undici), read only when a proxy or the outbound address guard is set`,
});

// Every figure with its target and the floor its note names; a partial run (--only) replaces the
// figures it measured and keeps the rest from the last runs, each with when it was measured.
const measuredAt = new Date().toISOString();
const steal = stealSince(cpuAtStart);
const file = path.join(ROOT, "bench-results.json");
const fresh = rows.map((r) => ({ ...r, value: Number(r.value.toFixed(2)), ratioToTarget: Number((r.value / r.target).toFixed(3)), measuredAt }));
let kept: typeof fresh = [];
if (only && fs.existsSync(file)) {
  try {
    const previous = JSON.parse(fs.readFileSync(file, "utf8")) as { measuredAt?: string; results?: typeof fresh };
    kept = (previous.results ?? [])
      .filter((r) => !fresh.some((f) => f.name === r.name))
      .map((r) => ({ ...r, measuredAt: r.measuredAt ?? previous.measuredAt ?? "" }));
  } catch {
    kept = [];
  }
}
const results = {
  measuredAt,
  node: process.version,
  machine: `${(await import("node:os")).cpus().length} cores`,
  ...(steal !== undefined ? { cpuSteal: Number(steal.toFixed(3)) } : {}),
  ...(only ? { sections: [...only] } : {}),
  ...(failed.length ? { failed } : {}),
  results: [...kept, ...fresh],
};
fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");

const pad = (s: string, n: number) => s.padEnd(n);
process.stdout.write(`\n${pad("benchmark", 46)}${pad("value", 14)}${pad("target", 14)}${pad("ratio", 8)}note\n`);
for (const r of fresh) {
  process.stdout.write(
    `${pad(r.name, 46)}${pad(`${r.value} ${r.unit}`, 14)}${pad(`≤ ${Number(r.target.toFixed(1))} ${r.unit}`, 14)}${pad(r.ratioToTarget.toFixed(2), 8)}${r.note}\n`,
  );
}
process.stdout.write(
  only ? `\nA partial run (--only ${[...only].join(",")}): its figures replace those in bench-results.json\n` : "\nWritten to bench-results.json\n",
);
if (steal !== undefined && steal >= 0.05)
  process.stdout.write(
    `The hypervisor gave ${(steal * 100).toFixed(0)}% of this machine's CPU time to other guests during the run (steal): these figures are slower than the machine is; measure again when it is quiet.\n`,
  );
for (const f of failed) process.stdout.write(`Section ${f.section} failed: ${f.error}\n`);
process.exit(failed.length ? 1 : 0);
