// Exploitation feed simulators: CISA's KEV catalogue (the JSON CISA publishes, with its
// catalogVersion, dateReleased, count and vulnerabilities) and FIRST's EPSS daily scores (the
// gzipped CSV with its "#model_version:…,score_date:…" line and "cve,epss,percentile" header),
// each at its public path, with fault knobs.
import zlib from "node:zlib";
import { Hono } from "hono";
import { FaultKnobs } from "./faults.js";

export interface KevSimEntry {
  cveID: string;
  vendorProject: string;
  product: string;
  vulnerabilityName: string;
  dateAdded: string;
  shortDescription: string;
  requiredAction: string;
  dueDate: string;
  knownRansomwareCampaignUse: "Known" | "Unknown";
  notes: string;
  cwes: string[];
}

export function kevEntry(cve: string, dateAdded: string, opts: Partial<KevSimEntry> = {}): KevSimEntry {
  const due = new Date(Date.parse(`${dateAdded}T00:00:00Z`) + 21 * 86_400_000).toISOString().slice(0, 10);
  return {
    cveID: cve,
    vendorProject: "Acme",
    product: "Widget",
    vulnerabilityName: `Acme Widget flaw (${cve})`,
    dateAdded,
    shortDescription: "A flaw that attackers exploit.",
    requiredAction: "Apply mitigations per vendor instructions or discontinue use of the product if mitigations are unavailable.",
    dueDate: due,
    knownRansomwareCampaignUse: "Unknown",
    notes: `https://nvd.nist.gov/vuln/detail/${cve}`,
    cwes: ["CWE-787"],
    ...opts,
  };
}

export class FeedsSim {
  readonly faults = new FaultKnobs();
  kev: KevSimEntry[] = [];
  kevReleased = "2026-12-05T16:00:01.0000Z";
  /** cve → [epss, percentile] as the file writes them. */
  epss = new Map<string, [string, string]>();
  epssModel = "v2025.03.14";
  epssDate = "2026-12-05T12:55:00+0000";
  /** Serve EPSS uncompressed (a mirror that unpacks it). */
  epssPlain = false;

  kevJson(): string {
    return JSON.stringify({
      title: "CISA Catalog of Known Exploited Vulnerabilities",
      catalogVersion: "2026.12.05",
      dateReleased: this.kevReleased,
      count: this.kev.length,
      vulnerabilities: this.kev,
    });
  }

  epssCsv(): string {
    const rows = [...this.epss].map(([cve, [score, pct]]) => `${cve},${score},${pct}`);
    return `#model_version:${this.epssModel},score_date:${this.epssDate}\ncve,epss,percentile\n${rows.join("\n")}\n`;
  }

  app(): Hono {
    const app = new Hono();
    app.use(
      "*",
      this.faults.middleware((status) => `<html><body>${status}</body></html>`),
    );
    app.get("/sites/default/files/feeds/known_exploited_vulnerabilities.json", (c) => c.body(this.kevJson(), 200, { "content-type": "application/json" }));
    app.get("/epss_scores-current.csv.gz", (c) => {
      const csv = this.epssCsv();
      if (this.epssPlain) return c.body(csv, 200, { "content-type": "text/csv" });
      return c.body(zlib.gzipSync(csv) as unknown as ArrayBuffer, 200, { "content-type": "application/gzip" });
    });
    return app;
  }
}
