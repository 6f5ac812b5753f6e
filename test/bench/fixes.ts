// `npm run bench` (--only fixes): 50 fix pull requests opened on the GitHub simulator with
// GitHub's secondary limits on content-creating requests enforced (80 a minute, 500 an hour, per
// account): the time against the least those limits allow for the writes the fixes need, and
// the pull requests duplicated or missing.
import path from "node:path";
import SQLite from "better-sqlite3";
import { ADMIN, TEST_KEY, tempDir } from "../helpers.js";
import { HttpSession, startServer } from "../process.js";
import { GitHubSim } from "../sim/github.js";
import { startSim } from "../sim/serve.js";
import { trivyFilesystemReport } from "./reports.js";

const FIXES = 50;
const TOKEN = "github_pat_bench_fixes_01";

interface Row {
  name: string;
  value: number;
  unit: string;
  target: number;
  note: string;
}

function pom(): string {
  const deps = Array.from(
    { length: FIXES },
    (_, i) =>
      `    <dependency>\n      <groupId>com.acme.bench</groupId>\n      <artifactId>lib-${String(i).padStart(2, "0")}</artifactId>\n      <version>1.0.0</version>\n    </dependency>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.acme</groupId>\n  <artifactId>payments</artifactId>\n  <version>1.0.0</version>\n  <dependencies>\n${deps.join("\n")}\n  </dependencies>\n</project>\n`;
}

/** Whether `done` came true within `ms`. */
async function within(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; !done();) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
  return true;
}

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; !done();) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function fixBenchmark(): Promise<Row[]> {
  const github = new GitHubSim();
  github.addToken(TOKEN);
  github.repos.push({ id: 7001, full_name: "acme/payments", private: true, visibility: "private", archived: false, default_branch: "main" });
  github.files.set("acme/payments", { "pom.xml": pom() });
  const sim = await startSim(github.app());
  const dir = tempDir("patchbay-bench-");
  const server = await startServer({
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_SECRET_KEY: TEST_KEY,
    PATCHBAY_LOG_LEVEL: "warn",
    PATCHBAY_ORIGIN_MAP: `https://api.github.com=${sim.url}`,
  });
  try {
    await server.ready();
    const sqlite = new SQLite(path.join(dir, "patchbay.db"), { timeout: 10_000 });
    const count = (query: string) => (sqlite.prepare(query).get() as { n: number }).n;
    const session = new HttpSession(server.url);
    await session.send("/setup", { username: ADMIN.username, password: ADMIN.password, confirm: ADMIN.password });
    if ((await session.send("/integrations/github", { githubUrl: "https://github.com", token: TOKEN })).status !== 303)
      throw new Error("connecting GitHub failed");
    await until("the repository sync", () => count("select count(*) as n from repositories where full_name = 'acme/payments'") === 1, 60_000);
    await session.send("/integrations/ci-upload", {});
    const created = await (await session.send("/settings/tokens", { name: "bench", scopes: "upload" })).text();
    const token = /pbt_[a-z2-7]{32}/.exec(created)?.[0];
    if (!token) throw new Error("no API token was shown");
    const report = trivyFilesystemReport(
      Array.from({ length: FIXES }, (_, i) => ({
        id: `CVE-2026-${String(70000 + i)}`,
        pkg: `com.acme.bench:lib-${String(i).padStart(2, "0")}`,
        installed: "1.0.0",
        fixed: "1.0.1",
        severity: "HIGH",
      })),
    );
    const uploaded = await fetch(`${server.url}/api/v1/scans?asset=acme/payments`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: report,
    });
    if (uploaded.status !== 201) throw new Error(`the upload answered ${uploaded.status}: ${await uploaded.text()}`);
    const ids = (sqlite.prepare("select id from findings where status = 'open' order by id").all() as { id: number }[]).map((r) => r.id);
    if (ids.length !== FIXES) throw new Error(`expected ${FIXES} findings, found ${ids.length}`);

    const writesNow = () => [...github.writes.values()].reduce((n, times) => n + times.length, 0);
    const writesBefore = writesNow();
    const refusedBefore = github.secondaryRefusals;
    const started = performance.now();
    for (const id of ids) {
      const res = await session.send(`/vulnerabilities/${id}/fix`, { path: "pom.xml" });
      if (res.status !== 303) throw new Error(`asking for fix ${id} answered ${res.status}`);
    }
    // At most ten minutes (the limits' minimum is about two): a slower run is reported as it stands.
    const finished = await within(() => github.pulls.length >= FIXES, 600_000);
    const seconds = (performance.now() - started) / 1000;
    const writes = writesNow() - writesBefore;
    // A stopped run is held to the minimum for all the fixes, at the writes each one took.
    const needed = finished ? writes : Math.round((writes / Math.max(github.pulls.length, 1)) * FIXES);
    const perMinute = github.secondaryLimits.perMinute;
    // The window starts empty: the first `perMinute` writes go at once, each later batch a minute after.
    const minimum = Math.floor((needed - 1) / perMinute) * 60;
    const branches = new Set(github.pulls.map((p) => p.head));
    const duplicates = github.pulls.length - branches.size;
    const fixed = github.pulls.filter((p) => /<version>1\.0\.1<\/version>/.test(github.branchFiles("acme/payments", p.head)?.["pom.xml"] ?? "")).length;
    sqlite.close();
    return [
      {
        name: `open ${FIXES} fix pull requests on GitHub`,
        value: seconds,
        unit: "s",
        target: Number((minimum * 1.2).toFixed(1)),
        note: `${finished ? "" : `stopped after ${seconds.toFixed(0)} s with ${github.pulls.length} of ${FIXES} opened; `}${(seconds / Math.max(minimum, 1)).toFixed(2)}× the secondary limit's minimum (${minimum} s for ${finished ? `the ${writes}` : `about ${needed} (${writes} so far)`} content-creating requests at ${perMinute} a minute); ${github.secondaryRefusals - refusedBefore} refused by GitHub's limit`,
      },
      {
        name: "fix pull requests: duplicates + missing",
        value: duplicates + (finished ? FIXES - fixed : 0),
        unit: "",
        target: 1,
        note: `${github.pulls.length} pull requests from ${branches.size} branches, ${fixed} carrying the fixed version${finished ? "" : " (missing ones not counted: the run was stopped)"}; the default branch written ${github.defaultBranchWrites.length} times`,
      },
    ];
  } finally {
    await server.kill("SIGTERM");
    await sim.close();
  }
}
