// `npm run bench` (--only feeds): FIRST's EPSS file at its real size (250,000 CVEs, gzipped)
// loaded into a fresh database, then the next day's file (a tenth of the scores changed) loaded
// over it: each load's time and the loading process's peak RSS, against the targets (≤ 10 s,
// ≤ 400 MB). The feed is loaded through the same code the daily job and the upload form use.
import { spawnSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { openDatabase } from "../../src/db/database.js";
import { loadFeed } from "../../src/exploitation/feeds.js";
import { seedLargeDatabase } from "./seed.js";
import { tempDir } from "../helpers.js";

interface Row {
  name: string;
  value: number;
  unit: string;
  target: number;
  note: string;
}

const ROWS = 250_000;

export function epssFile(day: number): Uint8Array {
  const lines = [`#model_version:v2025.03.14,score_date:2026-12-0${day}T12:55:00+0000`, "cve,epss,percentile"];
  for (let i = 0; i < ROWS; i++) {
    // A tenth of the scores move from one day to the next.
    const bump = day > 1 && i % 10 === 0 ? 7 : 0;
    const score = ((i * 7919 + bump) % 100_000) / 100_000;
    lines.push(`CVE-${2000 + (i % 26)}-${String(10_000 + i).padStart(5, "0")},${score.toFixed(5)},${(i / ROWS).toFixed(5)}`);
  }
  return zlib.gzipSync(lines.join("\n") + "\n");
}

/** Runs one of the bench's child scripts (a process of its own, so its peak RSS is its own) and reads its JSON answer. */
function runChild<T>(script: string, args: string[], what: string): T {
  const child = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(new URL(script, import.meta.url)), ...args], {
    encoding: "utf8",
    maxBuffer: 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`The ${what} process failed: ${child.stderr.slice(-2000)}`);
  return JSON.parse(child.stdout) as T;
}

/**
 * `--only feeds`: the two days' EPSS files written here, loaded in a child process
 * (feeds-child.ts) so that the peak RSS is the loads', not the bench's.
 */
export async function feedBenchmark(): Promise<Row[]> {
  const dir = tempDir("patchbay-bench-");
  const file = path.join(dir, "patchbay.db");
  const created = await openDatabase(file);
  await created.close();
  const files = [1, 2].map((day) => {
    const target = path.join(dir, `epss-day${day}.csv.gz`);
    writeFileSync(target, epssFile(day));
    return target;
  });
  const r = runChild<{
    first: number;
    again: number;
    rows: number;
    written: number;
    rowsAgain: number;
    writtenAgain: number;
    peakMb: number;
    openedMb: number;
  }>("./feeds-child.ts", [file, ...files], "EPSS loading");
  return [
    {
      name: "load a 250,000-row EPSS file (fresh)",
      value: r.first,
      unit: "s",
      target: 10,
      note: `${r.rows.toLocaleString("en")} rows, ${r.written.toLocaleString("en")} written; gzipped file ${(statSync(files[0]!).size / 1024 / 1024).toFixed(1)} MB`,
    },
    {
      name: "load the next day's EPSS file",
      value: r.again,
      unit: "s",
      target: 10,
      note: `${r.writtenAgain.toLocaleString("en")} of ${r.rowsAgain.toLocaleString("en")} scores changed and written, the rest compared and left`,
    },
    {
      name: "EPSS loads: peak RSS",
      value: r.peakMb,
      unit: "MB",
      target: 400,
      note: `the loading process alone, both loads (the kernel's maxRSS); ${r.openedMb.toFixed(0)} MB with the database open`,
    },
  ];
}

/**
 * `--only rescore`: a million findings (the bench's seeded database) scored from scratch
 * after an EPSS load, then again with nothing changed, in a child process (rescore-child.ts) so
 * that the peak RSS is the scoring's, not the seeding's: times and peak RSS (targets ≤ 60 s,
 * ≤ 400 MB).
 */
export async function rescoreBenchmark(): Promise<Row[]> {
  const dir = tempDir("patchbay-bench-");
  const file = path.join(dir, "patchbay.db");
  const first = await openDatabase(file);
  await first.close();
  const seeded = seedLargeDatabase(file, { findings: 1_000_000, repositories: 2_000, images: 500 });
  const loading = await openDatabase(file);
  await loadFeed({ db: loading.db, now: () => new Date() }, "epss", epssFile(1));
  await loading.close();
  const r = runChild<{
    first: number;
    again: number;
    scored: number;
    changed: number;
    deadlines: number;
    changedAgain: number;
    peakMb: number;
    openedMb: number;
  }>("./rescore-child.ts", [file], "scoring");
  return [
    {
      name: "1M: score every finding",
      value: r.first,
      unit: "s",
      target: 60,
      note: `${r.scored.toLocaleString("en")} scored, ${r.changed.toLocaleString("en")} scores and ${r.deadlines.toLocaleString("en")} due dates written (seeded in ${seeded.seconds.toFixed(0)} s, EPSS 250,000 rows loaded)`,
    },
    { name: "1M: score again, nothing changed", value: r.again, unit: "s", target: 60, note: `${r.changedAgain} written` },
    {
      name: "1M scoring: peak RSS",
      value: r.peakMb,
      unit: "MB",
      target: 400,
      note: `the scoring process alone (the kernel's maxRSS); ${r.openedMb.toFixed(0)} MB with the database open`,
    },
  ];
}
