// The findings of a Vulnerabilities filter as CSV or JSON, streamed: read a thousand at a time
// by id (so memory stays flat at a million rows) and written as they come. Scanner text is
// untrusted: in CSV, a value that a spreadsheet would run as a formula is written as text.
import type { Db, FindingStatus, Severity } from "../db/schema.js";
import { type FindingFilter, filterWhere, sourceNames } from "./query.js";
import { withoutTrailingSlash } from "../text.js";

const BATCH = 1000;

export interface ExportRow {
  id: number;
  cve: string;
  title: string;
  severity: Severity;
  cvss: number | null;
  status: FindingStatus;
  package: string | null;
  ecosystem: string | null;
  installed_version: string | null;
  fixed_version: string | null;
  asset: string;
  asset_kind: string;
  sources: string;
  first_detected_at: string;
  last_seen_at: string;
  due_at: string | null;
  url: string;
}

export const EXPORT_COLUMNS: (keyof ExportRow)[] = [
  "id",
  "cve",
  "title",
  "severity",
  "cvss",
  "status",
  "package",
  "ecosystem",
  "installed_version",
  "fixed_version",
  "asset",
  "asset_kind",
  "sources",
  "first_detected_at",
  "last_seen_at",
  "due_at",
  "url",
];

/** The filter's findings in id order, a batch at a time. */
export async function* exportBatches(db: Db, filter: FindingFilter, baseUrl: string): AsyncGenerator<ExportRow[]> {
  const base = withoutTrailingSlash(baseUrl);
  for (let after = 0; ;) {
    const rows = await db
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select([
        "findings.id",
        "findings.cve",
        "findings.title",
        "findings.severity",
        "findings.cvss",
        "findings.status",
        "findings.package",
        "findings.ecosystem",
        "findings.installed_version",
        "findings.fixed_version",
        "assets.name as asset",
        "assets.kind as asset_kind",
        "findings.first_detected_at",
        "findings.last_seen_at",
        "findings.due_at",
      ])
      .select(sourceNames)
      .where(filterWhere({ ...filter, after: undefined, before: undefined }))
      .where("findings.id", ">", after)
      .orderBy("findings.id")
      .limit(BATCH)
      .execute();
    if (!rows.length) return;
    yield rows.map((r) => ({ ...r, sources: (r.sources ?? "").split(",").filter(Boolean).join(", "), url: `${base}/vulnerabilities/${r.id}` }) as ExportRow);
    after = rows.at(-1)!.id;
    if (rows.length < BATCH) return;
  }
}

/** One CSV field (RFC 4180), with a leading =, +, -, @, tab or CR made inert for spreadsheets. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The export as text chunks: the header line, then a chunk per batch. */
export async function* csvExport(batches: AsyncIterable<ExportRow[]>): AsyncGenerator<string> {
  yield EXPORT_COLUMNS.join(",") + "\r\n";
  for await (const batch of batches) yield batch.map((row) => EXPORT_COLUMNS.map((c) => csvField(row[c])).join(",") + "\r\n").join("");
}

/** The export as a JSON array, a chunk per batch. */
export async function* jsonExport(batches: AsyncIterable<ExportRow[]>): AsyncGenerator<string> {
  let first = true;
  yield "[";
  for await (const batch of batches) {
    let chunk = "";
    for (const row of batch) {
      chunk += (first ? "\n" : ",\n") + JSON.stringify(row);
      first = false;
    }
    yield chunk;
  }
  yield first ? "]\n" : "\n]\n";
}
