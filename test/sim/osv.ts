// OSV API simulator (api.osv.dev): POST /v1/querybatch (up to 1,000 queries; ids and
// modified times only, in the order asked; a result with more advisories than a page holds
// carries next_page_token, asked for again with page_token), GET /v1/vulns/<id> in the OSV
// schema, and the API's error shape ({code, message}). Advisories are matched the way OSV
// does: the version is listed in "versions", or falls in an ECOSYSTEM/SEMVER range.
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export interface SimAdvisory {
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  summary?: string;
  details?: string;
  severity?: { type: string; score: string }[];
  affected: { package: { ecosystem: string; name: string }; ranges?: { type: string; events: Record<string, string>[] }[]; versions?: string[] }[];
  database_specific?: Record<string, unknown>;
  references?: { type: string; url: string }[];
}

/** Numeric-aware version order, for the simulator's own range checks. */
function order(a: string, b: string): number {
  const x = a.replace(/^v/, "").split(/[.-]/);
  const y = b.replace(/^v/, "").split(/[.-]/);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? "0";
    const q = y[i] ?? "0";
    const d = /^\d+$/.test(p) && /^\d+$/.test(q) ? Number(p) - Number(q) : p < q ? -1 : p > q ? 1 : 0;
    if (d) return d;
  }
  return 0;
}

function affects(advisory: SimAdvisory, ecosystem: string, name: string, version: string): boolean {
  return advisory.affected.some((a) => {
    if (a.package.ecosystem !== ecosystem || a.package.name !== name) return false;
    if (a.versions?.includes(version)) return true;
    return (a.ranges ?? []).some((r) => {
      if (r.type === "GIT") return false;
      let inside = false;
      for (const e of r.events) {
        if (e.introduced !== undefined && (e.introduced === "0" || order(version, e.introduced) >= 0)) inside = true;
        if (e.fixed !== undefined && order(version, e.fixed) >= 0) inside = false;
        if (e.last_affected !== undefined && order(version, e.last_affected) > 0) inside = false;
      }
      return inside;
    });
  });
}

export class OsvSim {
  readonly faults = new FaultKnobs();
  readonly advisories = new Map<string, SimAdvisory>();
  /** Advisories per result page (OSV pages large results; small here to exercise paging). */
  pageSize = 1000;
  /** Every package version asked about, "ecosystem:name@version". */
  readonly queried: string[] = [];
  readonly detailReads: string[] = [];

  add(advisory: SimAdvisory): void {
    this.advisories.set(advisory.id, advisory);
  }

  app(): Hono {
    const app = new Hono();
    const error = (code: number, message: string) => JSON.stringify({ code, message });
    app.use(
      "*",
      this.faults.middleware((status) => error(status === 404 ? 5 : 13, status === 404 ? "Not Found" : "Internal error")),
    );
    app.post("/v1/querybatch", async (c) => {
      let body: { queries?: { package?: { name?: string; ecosystem?: string; purl?: string }; version?: string; commit?: string; page_token?: string }[] };
      try {
        body = await c.req.json();
      } catch {
        return c.body(error(3, "Invalid JSON payload."), 400, { "content-type": "application/json" });
      }
      const queries = body.queries;
      if (!Array.isArray(queries)) return c.body(error(3, "Invalid query."), 400, { "content-type": "application/json" });
      if (queries.length > 1000) return c.body(error(3, "Too many queries."), 400, { "content-type": "application/json" });
      const results = [];
      for (const q of queries) {
        const name = q.package?.name;
        const ecosystem = q.package?.ecosystem;
        if (!name || !ecosystem || !q.version || q.package?.purl) return c.body(error(3, "Invalid query."), 400, { "content-type": "application/json" });
        this.queried.push(`${ecosystem}:${name}@${q.version}`);
        const matches = [...this.advisories.values()].filter((a) => affects(a, ecosystem, name, q.version!)).sort((a, b) => a.id.localeCompare(b.id));
        const start = q.page_token ? Number(Buffer.from(q.page_token, "base64url").toString()) : 0;
        const page = matches.slice(start, start + this.pageSize);
        const more = start + this.pageSize < matches.length;
        results.push({
          ...(page.length ? { vulns: page.map((a) => ({ id: a.id, modified: a.modified })) } : {}),
          ...(more ? { next_page_token: Buffer.from(String(start + this.pageSize)).toString("base64url") } : {}),
        });
      }
      return c.json({ results });
    });
    app.get("/v1/vulns/:id", (c) => {
      const advisory = this.advisories.get(c.req.param("id"));
      this.detailReads.push(c.req.param("id"));
      if (!advisory) return c.body(error(5, "Bug not found."), 404, { "content-type": "application/json" });
      return c.json({ schema_version: "1.6.0", ...advisory });
    });
    return app;
  }
}

/** A handful of real advisories (abridged), matching the lockfile samples in test/fixtures. */
export function realAdvisories(): SimAdvisory[] {
  return [
    {
      id: "GHSA-p6mc-m468-83gw",
      modified: "2024-02-13T22:39:25Z",
      published: "2020-07-15T19:15:48Z",
      aliases: ["CVE-2020-8203"],
      summary: "Prototype Pollution in lodash",
      details:
        "Versions of lodash prior to 4.17.19 are vulnerable to Prototype Pollution. The function zipObjectDeep allows a malicious user to modify the prototype of Object.",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H" }],
      affected: [{ package: { ecosystem: "npm", name: "lodash" }, ranges: [{ type: "SEMVER", events: [{ introduced: "3.7.0" }, { fixed: "4.17.19" }] }] }],
      database_specific: { severity: "HIGH", cwe_ids: ["CWE-1321", "CWE-770"], github_reviewed: true },
    },
    {
      id: "GHSA-35jh-r3h4-6jhm",
      modified: "2024-03-05T11:00:00Z",
      aliases: ["CVE-2021-23337"],
      summary: "Command Injection in lodash",
      details: "lodash versions prior to 4.17.21 are vulnerable to Command Injection via the template function.",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H" }],
      affected: [{ package: { ecosystem: "npm", name: "lodash" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "4.17.21" }] }] }],
      database_specific: { severity: "HIGH", github_reviewed: true },
    },
    {
      id: "GHSA-hrpp-h998-j3pp",
      modified: "2023-08-01T00:00:00Z",
      aliases: ["CVE-2022-24999"],
      summary: "qs vulnerable to Prototype Pollution",
      details: "qs before 6.10.3 allows attackers to cause a Node process hang.",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" }],
      affected: [
        { package: { ecosystem: "npm", name: "qs" }, ranges: [{ type: "SEMVER", events: [{ introduced: "6.7.0" }, { fixed: "6.7.3" }] }] },
        { package: { ecosystem: "npm", name: "qs" }, ranges: [{ type: "SEMVER", events: [{ introduced: "6.5.0" }, { fixed: "6.5.3" }] }] },
      ],
      database_specific: { severity: "HIGH" },
    },
    {
      id: "PYSEC-2021-99",
      modified: "2021-07-01T00:00:00Z",
      aliases: ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm"],
      details: "Django before 2.2.24, 3.x before 3.1.12, and 3.2.x before 3.2.4 has a potential directory traversal via django.contrib.admindocs.",
      affected: [{ package: { ecosystem: "PyPI", name: "django" }, ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "3.2" }, { fixed: "3.2.5" }] }] }],
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N" }],
    },
    {
      id: "GO-2023-1571",
      modified: "2023-06-12T18:45:41Z",
      aliases: ["CVE-2022-41723", "GHSA-vvpx-j8f3-3w6h"],
      summary: "Denial of service via crafted HTTP/2 stream in net/http and golang.org/x/net",
      details: "A maliciously crafted HTTP/2 stream could cause excessive CPU consumption in the HPACK decoder.",
      affected: [{ package: { ecosystem: "Go", name: "golang.org/x/net" }, ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "0.7.0" }] }] }],
    },
    {
      id: "GHSA-jfh8-c2jp-5v3q",
      modified: "2024-01-01T00:00:00Z",
      aliases: ["CVE-2021-44228"],
      summary: "Remote code injection in Log4j",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" }],
      affected: [
        {
          package: { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "2.13.0" }, { fixed: "2.15.0" }] }],
        },
      ],
      database_specific: { severity: "CRITICAL" },
    },
    {
      id: "RUSTSEC-2021-0003",
      modified: "2021-02-01T00:00:00Z",
      aliases: ["CVE-2021-25900"],
      summary: "Buffer overflow in SmallVec::insert_many",
      affected: [
        {
          package: { ecosystem: "crates.io", name: "smallvec" },
          ranges: [{ type: "SEMVER", events: [{ introduced: "0.6.3" }, { fixed: "0.6.14" }, { introduced: "1.0.0" }, { fixed: "1.6.1" }] }],
        },
      ],
    },
    {
      id: "GHSA-withdrawn-0001",
      modified: "2022-01-01T00:00:00Z",
      withdrawn: "2022-01-02T00:00:00Z",
      aliases: ["CVE-2099-0001"],
      summary: "Withdrawn advisory",
      affected: [{ package: { ecosystem: "npm", name: "express" }, versions: ["4.17.1"] }],
    },
  ];
}
