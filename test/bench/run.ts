// `npm run bench`: measures the built bundle as a user runs it, writes bench-results.json
// and prints a table with each figure beside its target.
//   cold start  spawn → first 200 from /healthz, fresh data directory (median of 5)
//   idle RSS    resident memory after start-up, sign-in and a Hub view, left idle 3 s
//   bundle      size of dist/server.js
//   Hub page    server time (Server-Timing) for GET /integrations over 1,000 requests,
//               beside /healthz (the floor: routing, middleware and one query)
import fs from "node:fs";
import path from "node:path";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { BUNDLE, HttpSession, ROOT, startServer } from "../process.js";

interface Row {
  name: string;
  value: number;
  unit: string;
  target: number;
  note: string;
}

const rows: Row[] = [];

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

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function serverTimes(session: HttpSession, pathname: string, n: number): Promise<{ server: number[]; client: number[] }> {
  const server: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await session.send(pathname);
    await res.arrayBuffer();
    client.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${pathname} answered ${res.status}`);
    server.push(Number(/dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")![1]));
  }
  return { server: server.sort((a, b) => a - b), client: client.sort((a, b) => a - b) };
}

const cold = await coldStart();
rows.push({ name: "cold start (median of 5)", value: percentile(cold, 50), unit: "ms", target: 1000, note: `min ${cold[0]!.toFixed(0)} ms, max ${cold.at(-1)!.toFixed(0)} ms` });

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
rows.push({ name: "Hub page server time p50", value: percentile(hub.server, 50), unit: "ms", target: 20, note: `floor /healthz p50 ${percentile(health.server, 50).toFixed(2)} ms` });
rows.push({ name: "Hub page server time p95", value: percentile(hub.server, 95), unit: "ms", target: 50, note: `floor /healthz p95 ${percentile(health.server, 95).toFixed(2)} ms` });
rows.push({ name: "Hub page round trip p95", value: percentile(hub.client, 95), unit: "ms", target: 100, note: "loopback, sequential, 1,000 requests" });
rows.push({ name: "idle RSS after 2,200 requests", value: rssMb(server.proc.pid!), unit: "MB", target: 200, note: "" });
await server.kill("SIGTERM");
fs.rmSync(dir, { recursive: true, force: true });

const bundleKb = fs.statSync(BUNDLE).size / 1024;
rows.push({ name: "bundle dist/server.js", value: bundleKb, unit: "KB", target: 2048, note: "esbuild, not minified, native modules external" });

const results = {
  measuredAt: new Date().toISOString(),
  node: process.version,
  machine: `${(await import("node:os")).cpus().length} cores`,
  results: rows.map((r) => ({ ...r, value: Number(r.value.toFixed(2)), ratioToTarget: Number((r.value / r.target).toFixed(3)) })),
};
fs.writeFileSync(path.join(ROOT, "bench-results.json"), JSON.stringify(results, null, 2) + "\n");

const pad = (s: string, n: number) => s.padEnd(n);
process.stdout.write(`\n${pad("benchmark", 32)}${pad("value", 14)}${pad("target", 12)}${pad("ratio", 8)}note\n`);
for (const r of results.results) {
  process.stdout.write(`${pad(r.name, 32)}${pad(`${r.value} ${r.unit}`, 14)}${pad(`≤ ${r.target} ${r.unit}`, 12)}${pad(r.ratioToTarget.toFixed(2), 8)}${r.note}\n`);
}
process.stdout.write("\nWritten to bench-results.json\n");
