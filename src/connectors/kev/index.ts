// CISA's Known Exploited Vulnerabilities catalogue: the JSON feed (catalogVersion, dateReleased,
// vulnerabilities: cveID, vendorProject, product, vulnerabilityName, dateAdded, dueDate,
// knownRansomwareCampaignUse, notes…), read whole or not at all.
import { ExternalError } from "../../http.js";
import { type ExploitationFeed, FeedFormatError } from "../types.js";

export interface KevRow {
  cve: string;
  dateAdded: string;
  dueDate: string | null;
  ransomware: string;
  name: string;
  notes: string;
}

const CVE = /^CVE-\d{4}-\d{4,7}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_BYTES = 64 * 1024 * 1024;

function field(entry: Record<string, unknown>, name: string, max = 2000): string {
  const value = entry[name];
  return typeof value === "string" ? value.slice(0, max) : "";
}

export const kevFeed: ExploitationFeed<KevRow> = {
  id: "kev",
  name: "CISA Known Exploited Vulnerabilities",
  defaultUrl: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
  about: "The CVEs CISA has evidence of being exploited, with the date each was added, CISA's due date and known ransomware use.",
  async fetch(url, ctx) {
    const res = await ctx
      .http("CISA KEV")
      .request({ url, headers: { accept: "application/json", "user-agent": "Patchbay" }, binary: true, large: true, maxBytes: MAX_BYTES });
    if (!res.bytes) throw new ExternalError("remote", "CISA KEV", "The KEV feed answered without a body.");
    return res.bytes;
  },
  parse(bytes) {
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (err) {
      throw new FeedFormatError(`This is not the KEV catalogue's JSON (${err instanceof Error ? err.message : String(err)}).`);
    }
    const root = doc as { vulnerabilities?: unknown; dateReleased?: unknown; catalogVersion?: unknown };
    if (!root || typeof root !== "object" || !Array.isArray(root.vulnerabilities))
      throw new FeedFormatError('This is not the KEV catalogue: it has no "vulnerabilities" list.');
    const rows: KevRow[] = [];
    for (const [i, item] of root.vulnerabilities.entries()) {
      const entry = (item ?? {}) as Record<string, unknown>;
      const cve = field(entry, "cveID", 40).trim();
      const dateAdded = field(entry, "dateAdded", 20);
      const dueDate = field(entry, "dueDate", 20);
      if (!CVE.test(cve) || !DAY.test(dateAdded) || (dueDate && !DAY.test(dueDate)))
        throw new FeedFormatError(
          `Entry ${i + 1} of the KEV catalogue is not readable (cveID "${cve.slice(0, 40)}", dateAdded "${dateAdded}"): nothing was loaded.`,
        );
      rows.push({
        cve,
        dateAdded,
        dueDate: dueDate || null,
        ransomware: field(entry, "knownRansomwareCampaignUse", 20) || "Unknown",
        name: field(entry, "vulnerabilityName", 300),
        notes: field(entry, "notes", 2000),
      });
    }
    const released = typeof root.dateReleased === "string" ? root.dateReleased : null;
    return { date: released, modelVersion: typeof root.catalogVersion === "string" ? root.catalogVersion : null, rows };
  },
};
